"""``nbt report``: one folder that compares proxies against ground truth, with every number kept.

The report composes the analysis layer (rank metrics with bootstrap intervals, the benchmark's
seed agreement, paired tests between proxies, duplicate audits), its displays and its paper
tables into::

    OUT/index.md, OUT/index.html   the same page: how to read the numbers, the headline table,
                                   then every section with its tables and figures
    OUT/numbers.json               every number shown, the resolved config, data hashes,
                                   package version
    OUT/config.json                the resolved config alone
    OUT/tables/                    headline.{md,tex,csv} (one table, three renderings) and
                                   headline_numbers.csv; per section the proxy table
                                   ({slug}.{md,tex,csv}), all its numbers ({slug}_numbers.csv)
                                   and its paired tests ({slug}_pairwise.{md,tex,csv})
    OUT/figures/                   per section, PNG and PDF at paper size (3.3 or 7 in wide):
                                   forest plot, P@K-vs-K curves, paired-test matrix, proxy
                                   heatmap (zero-cost sections), budget curve and rank change
                                   (where the ground truth has two budgets on one split), and a
                                   rank-space scatter of every proxy

Sections (:mod:`.sections`): for each NB201 dataset, the ground truth at its target split and
budget (seed mean) against the 12-epoch accuracy, #params, NASWOT and any user score table,
beside the benchmark's seed agreement (one seed against another, and one seed against the mean
of the others; context, not a limit: the ground truth is a mean of 2-3 seeds, which a proxy can
rank better than one seed ranks another); the NAS-Bench-Suite-Zero proxies against the accuracy
that suite recorded, with NASLib's failure value ``-1e8`` excluded as missing and counted
(``zc_sentinels``), and the user's tables joined on the architectures they share with that
sample (overlap n stated); and the NB101 sample's proxies over all 500 rows and over the 292
distinct cells. Every row states its n; a section warns when its rows use different
architectures, and ``pool="common"`` puts them all on the same ones. A score table goes to the
sections of the dataset its metadata names as its target (every section without one); a section
notes a table whose scores were computed on other images than its ground truth's
(:func:`nasbench_tools.scores.data_note`) or whose target split or budget differs. The folder is
written atomically (:func:`nasbench_tools._io.atomic_write`).

Modules: :mod:`.config` (:class:`ReportConfig`), :mod:`.sections` (assembling, pools, joins),
:mod:`.compute` (numbers), :mod:`.figures` (the figure registry), :mod:`.document` (Markdown and
HTML) and :mod:`.build` (the folder).
"""

from .build import build_report
from .compute import compute_sections
from .config import ReportConfig
from .sections import Section

__all__ = ["ReportConfig", "Section", "build_report", "compute_sections"]
