"""The report's configuration: everything that decides its numbers, dumped next to them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis.pairwise import CORRECTIONS
from ..analysis.paper_tables import INTERVAL_STYLES
from ..errors import AnalysisError, NasbenchToolsError
from ..scores import SENTINEL_POLICIES

__all__ = ["POOLS", "ReportConfig"]

#: ``"each"``: every row on the architectures its proxy scored (n per row stated, a warning
#: where they differ); ``"common"``: every row of a section on the architectures all its
#: proxies scored.
POOLS = ("each", "common")


@dataclass
class ReportConfig:
    """Everything that decides a report's numbers (dumped next to them in ``config.json``)."""

    ground_truth: str = "nb201"
    #: dataset -> (split, epochs) of the ground truth each proxy is ranked against (seed mean).
    targets: dict = field(
        default_factory=lambda: {
            "cifar10-valid": ["x-valid", 200],
            "cifar100": ["ori-test", 200],
            "ImageNet16-120": ["ori-test", 200],
        }
    )
    #: the low-fidelity proxy: the same dataset's accuracy at this split after 12 epochs.
    low_fidelity: list = field(default_factory=lambda: ["x-valid", 12])
    #: seeds of the benchmark compared with each other: "all" (every seed the target has) or a
    #: list of at least two.
    agreement_seeds: list | str = "all"
    embedded_scores: bool = True
    #: NAS-Bench-Suite-Zero's failure value -1e8: "exclude" (missing, counted) or "keep" (raw).
    zc_sentinels: str = "exclude"
    nb101_sample: bool = True
    scores: list = field(default_factory=list)
    n_boot: int = 200
    seed: int = 0
    #: top-K sizes: counts (10) or fractions of the architectures scored ("5%").
    top: list = field(default_factory=lambda: [10, "1%", "5%"])
    #: the top-K size of the headline table's P@top-K column.
    headline_top: str = "5%"
    #: "each" or "common" (see :data:`POOLS`).
    pool: str = "each"
    #: scatter panels in "rank" space (percentile ranks) or "value" space (clipped).
    scatter: str = "rank"
    #: how tables print an interval: "brackets", "range", "pm" or "none".
    interval: str = "brackets"
    #: paired tests: every pair ("all") or each against the best ("best"), corrected by
    #: "holm", "bonferroni" or "none".
    pairs: str = "all"
    correction: str = "holm"
    #: the headline table's LaTeX caption (None: one written from the config) and label.
    caption: str | None = None
    label: str = "tab:headline"
    figures: str = "all"  # "all" | "summary" | "none"
    html: bool = True
    #: search trajectory files (``nbt search -o``) shown in a "Search" section.
    search: list = field(default_factory=list)
    #: numbers of queries at which the search section also tabulates every strategy.
    search_at_queries: list = field(default_factory=list)

    def validate(self) -> None:
        """Refuse any setting the report cannot honour, naming it."""
        from ..analysis import parse_top

        _choice("figures", self.figures, ("all", "summary", "none"))
        _choice("pool", self.pool, POOLS)
        _choice("scatter", self.scatter, ("rank", "value"))
        _choice("interval", self.interval, INTERVAL_STYLES)
        _choice("pairs", self.pairs, ("all", "best"))
        _choice("correction", self.correction, CORRECTIONS)
        _choice("zc_sentinels", self.zc_sentinels, SENTINEL_POLICIES)
        for q in self.search_at_queries:
            if isinstance(q, bool) or not isinstance(q, int) or q < 1:
                raise NasbenchToolsError(
                    f"search_at_queries must hold positive query counts, got {q!r}"
                )
        if isinstance(self.n_boot, bool) or not isinstance(self.n_boot, int) or self.n_boot < 0:
            raise NasbenchToolsError(f"n_boot must be a non-negative int, got {self.n_boot!r}")
        seeds = self.agreement_seeds
        if seeds != "all" and (
            not isinstance(seeds, list | tuple)
            or len(set(seeds)) < 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)
        ):
            raise NasbenchToolsError(
                f"agreement_seeds must be 'all' or a list of at least two seeds, got {seeds!r}"
            )
        try:
            self.top = parse_top(self.top)
            (self.headline_top,) = (str(t) for t in parse_top([self.headline_top]))
        except AnalysisError as exc:
            raise NasbenchToolsError(f"top: {exc}") from None
        if self.caption is not None and not isinstance(self.caption, str):
            raise NasbenchToolsError(f"caption must be a str, got {self.caption!r}")
        if not isinstance(self.label, str) or not self.label:
            raise NasbenchToolsError(f"label must be a non-empty str, got {self.label!r}")

    @property
    def ks(self) -> list:
        """The top-K sizes every proxy is asked for: ``top`` and the headline's."""
        out = list(self.top)
        if self.headline_top not in [str(t) for t in out]:
            out.append(self.headline_top)
        return out


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise NasbenchToolsError(f"{name} must be one of {list(choices)}, got {value!r}")
