"""The shared harness of the paper reproductions in ``benchmarks/reproduce/``.

Every reproduction script (``depth_gap.py``, ``bender.py``, ``mixpath.py``; later ABS, FairNAS vs
SPOS, DARTS vs DARTS-PT) is a short function of a config dataclass, run through this harness:

* **Presets** (:class:`Preset`, one :class:`PresetRegistry` per script): ``quick`` (the tests: a
  tiny ground truth built on scikit-learn digits by ``nbt build-bench``'s quick protocol inside
  the output folder, seconds), ``cpu`` (this machine, against the embedded Fashion-MNIST
  benchmark the project built) and ``paper`` (the papers' settings, for GPU users with CIFAR and
  their own built benchmark). A preset is a documented config dataclass plus the sentences that
  say what it shrank against the paper and by how much; both are dumped to ``config.json``.
* **Ground truths** by role (:class:`GroundTruthRole`): a registered benchmark name (the ``cpu``
  presets: ``nb201-fmnist``, ``nb201-fmnist-n3``, ``nb101-mixpath-fmnist``; the journal records
  the store's sha256, so a run never resumes on other data under the same name), a path or a
  built benchmark's name given with ``--ground-truth ROLE=PATH`` (or ``ROLE=NAME``), or for
  ``quick`` a store built on demand (:class:`QuickStore`) and cached under
  ``OUT/work/ground_truth`` by a name derived from every build setting. A missing registered
  benchmark fails with one line naming it and the flag that replaces it.
* **Output folder**::

      OUT/config.json     preset, resolved config, what was shrunk, ground-truth sources
      OUT/journal.jsonl   one fsync-ed line per finished unit (nasbench_tools._journal)
      OUT/results.json    the numbers, the paper's numbers beside them, the detectable tau
                          difference, provenance (config, ground-truth and data sha256, package
                          and torch versions, seeds); no clock time, so a resumed run writes
                          the same bytes as an uninterrupted one
      OUT/timing.json     wall and CPU seconds per unit computed (measured, so it differs)
      OUT/report/         an ``nbt report`` folder (built through nasbench_tools.report)
      OUT/tables/, OUT/figures/, OUT/scores/   the script's own tables, figures, score tables
      OUT/work/           supernet runs, quick ground truths (resumable)

* **Resumability**: :meth:`Reproduction.unit` runs a unit (a supernet's training, one batch of
  child evaluations, an analysis) only when the journal lacks it, and always returns the record
  as read back from the journal, so a stopped run (``kill -9`` included: a torn last line is
  dropped) continues where it stopped and ends with identical ``results.json``. Supernet runs
  resume from their own per-epoch checkpoints (bit-exact on CPU).
* **Progress**: one line per unit on stderr (computed or taken from the journal, its seconds).
* **Detectable difference** (:func:`detectable_difference`, :func:`detectable_tau_difference`).

Run a script as ``python benchmarks/reproduce/SCRIPT.py --preset quick --out DIR``; ``--list``
prints the presets.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_tools import __version__
from nasbench_tools._io import atomic_write, sha256_of
from nasbench_tools._journal import append_record, open_journal
from nasbench_tools.errors import NasbenchToolsError

__all__ = [
    "GroundTruthRole",
    "Preset",
    "PresetRegistry",
    "QuickStore",
    "Reproduction",
    "ReproductionError",
    "SimulatedStop",
    "detectable_difference",
    "detectable_tau_difference",
    "estimate_dict",
    "ground_truth_seed_agreement",
    "main",
    "metric_ci",
    "paired_outcome",
    "seed_taus",
]

#: Journal format (the script's name is part of the config it checks).
JOURNAL_FORMAT = "nasbench_tools.reproduce-journal"


class ReproductionError(NasbenchToolsError):
    """A reproduction cannot run with these arguments (the message names the argument)."""


class SimulatedStop(Exception):
    """Raised by :meth:`Reproduction.unit` after ``stop_after`` newly computed units (tests)."""


# =========================================================================== presets
@dataclass(frozen=True)
class QuickStore:
    """A tiny ground truth that ``nbt build-bench`` builds on demand (the quick presets).

    Attributes
    ----------
    space : str
        ``"nb201"`` or ``"nb101"``.
    sample : int or None
        A seeded sample (``sample_seed``) of this many NB201 isomorphism classes.
    arch_set : str or None
        A named architecture set instead (``"mixpath-nb101"``).
    first : int or None
        Keep only the first ``first`` architectures of the selection (sorted keys).
    keys_of : str or None
        Build the architectures of another role's store (e.g. the N=3 store of the quick depth
        gap holds the N=1 store's architectures).
    seeds : tuple of int
    protocol : str
        A build protocol preset (``quick``).
    changes : tuple of (name, value)
        Protocol fields replaced (``(("N", 3), ("epochs", 2))``).
    """

    space: str = "nb201"
    sample: int | None = 8
    arch_set: str | None = None
    first: int | None = None
    keys_of: str | None = None
    seeds: tuple = (0, 1)
    protocol: str = "quick"
    changes: tuple = ()
    sample_seed: int = 0

    def name(self) -> str:
        """A file name that changes with every setting (the cache key)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, default=list)
        return f"{self.space}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.h5"


#: The quick protocol made cheaper still (2 epochs on 256 digits): the quick presets test code
#: paths, not findings.
QUICK_CHANGES = (("epochs", 2), ("train_subset", 256))
#: The NB201 ground truth every quick preset shares: 8 isomorphism classes x seeds 0 and 1.
QUICK_NB201 = QuickStore(space="nb201", sample=8, seeds=(0, 1), changes=QUICK_CHANGES)


@dataclass(frozen=True)
class GroundTruthRole:
    """Where one ground truth of a reproduction comes from.

    ``registered`` names an embedded benchmark (``load(name)``), ``quick`` a store to build;
    ``--ground-truth ROLE=PATH`` overrides either. ``what`` says what the role is, for messages.

    An ``optional`` role has neither: it is used only when given, and only for look-ups after
    the journalled units (for example the same-protocol accuracies of selections outside a
    sample), so it is not one of the journal's settings: giving it to a finished run adds its
    look-ups without redoing any unit. Its source is recorded in ``config.json`` and the
    results' provenance all the same.
    """

    what: str
    registered: str | None = None
    quick: QuickStore | None = None
    optional: bool = False

    def __post_init__(self):
        if self.optional and (self.registered or self.quick):
            raise ValueError(f"ground truth {self.what!r}: an optional role has no default")


@dataclass(frozen=True)
class Preset:
    """One preset of a reproduction.

    Attributes
    ----------
    name : str
        ``quick``, ``cpu`` or ``paper``.
    config : dataclass instance
        Every setting of the script (dumped to ``config.json`` and compared on resume).
    description : str
        What the preset is for and what it needs.
    ground_truth : dict
        role -> :class:`GroundTruthRole`.
    shrunk : tuple of str
        One sentence per setting reduced against the paper, with the factor.
    """

    name: str
    config: Any
    description: str
    ground_truth: Mapping[str, GroundTruthRole]
    shrunk: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "config": dataclasses.asdict(self.config),
            "shrunk": list(self.shrunk),
            "ground_truth": {
                role: {
                    "what": g.what,
                    "registered": g.registered,
                    "quick": None if g.quick is None else dataclasses.asdict(g.quick),
                    "optional": g.optional,
                }
                for role, g in self.ground_truth.items()
            },
        }


class PresetRegistry:
    """A script's presets: ``register``, ``get`` (an unknown name lists the known ones), ``names``."""

    def __init__(self, script: str):
        from nasbench_tools.registry import Registry

        self.script = script
        self._reg: Any = Registry(f"{script} preset", error=ReproductionError)

    def register(self, preset: Preset) -> Preset:
        return self._reg.register(preset.name, preset)

    def get(self, name: str) -> Preset:
        return self._reg.get(name)

    def names(self) -> list[str]:
        return self._reg.names()


# =========================================================================== detectable difference
def detectable_difference(replicates: Any, confidence: float = 0.95) -> float:
    """Half the width of the percentile bootstrap interval of a difference.

    ``replicates`` are bootstrap values of a difference of two statistics computed on the *same*
    resamples of the architectures (a paired bootstrap). With ``[L, U]`` the ``confidence``
    percentile interval of the valid (non-NaN) replicates, this returns ``(U - L) / 2``: a true
    difference smaller than that leaves 0 inside an interval of this width centred on it, so at
    this sample size it cannot be told from no difference (two-sided, level ``1 - confidence``).
    It assumes the interval's width does not change with the difference itself, so it is a
    resolution, not a power calculation. NaN with fewer than two valid replicates.
    """
    r = np.asarray(replicates, dtype=float)
    r = r[~np.isnan(r)]
    if r.size < 2:
        return float("nan")
    alpha = 1.0 - confidence
    lo, hi = np.quantile(r, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(hi - lo) / 2.0


def detectable_tau_difference(
    y_true: Any,
    score_a: Any,
    score_b: Any,
    *,
    labels: Sequence[str] = ("a", "b"),
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """The smallest Kendall tau-b difference between two proxies this sample size can detect.

    Defined as :func:`detectable_difference` of the paired bootstrap replicates of
    ``tau_b(y_true, score_a) - tau_b(y_true, score_b)`` (architectures resampled with
    replacement, both taus on every resample; :func:`nasbench_tools.analysis.paired_bootstrap_test`),
    i.e. the half-width of its 95 % percentile interval at this n. Returns the half-width, n,
    the observed difference and its interval.
    """
    from nasbench_tools.analysis import paired_bootstrap_test
    from nasbench_tools.errors import AnalysisError

    try:
        t = paired_bootstrap_test(
            y_true, score_a, score_b, "kendall_tau", alternative="two-sided", n_boot=n_boot,
            confidence=confidence, seed=seed,
        )  # fmt: skip
    except AnalysisError as exc:  # a constant score: no tau, so no difference to resolve
        return {"between": list(labels), "half_width": None, "undefined": str(exc)}
    return {
        "between": list(labels),
        "half_width": detectable_difference(t.replicates, confidence),
        "n": t.n_used,
        "difference": t.difference,
        "low": t.low,
        "high": t.high,
        "n_boot": n_boot,
        "n_valid": t.n_valid,
        "confidence": confidence,
        "definition": "half-width of the 95% percentile interval of the paired-bootstrap "
        "replicates of the tau-b difference (architectures resampled jointly)",
    }


def metric_ci(y_true: Any, y_score: Any, metric: str = "kendall_tau", *, n_boot: int,
              seed: int) -> dict:  # fmt: skip
    """:func:`estimate_dict` of a bootstrap interval, or, where the metric is undefined (a
    constant score: e.g. every child at chance before BN recalibration), ``value`` None and the
    reason under ``undefined``, never a NaN passed off as a number."""
    from nasbench_tools.analysis import bootstrap_ci
    from nasbench_tools.errors import AnalysisError

    try:
        return estimate_dict(bootstrap_ci(y_true, y_score, metric, n_boot=n_boot, seed=seed))
    except AnalysisError as exc:
        return {"value": None, "low": None, "high": None, "n_valid": 0, "n_boot": n_boot,
                "undefined": str(exc)}  # fmt: skip


def seed_taus(y_true: Any, by_seed: Mapping[Any, Any], *, n_boot: int, seed: int) -> dict:
    """Kendall tau-b of each seed's score against ``y_true`` (:func:`metric_ci`), their mean and
    sd (``sd_ddof`` 1) over the seeds where tau is defined, and the tau of the seed-mean score.
    Undefined taus (a constant score) are counted out, never NaN; with a single defined seed the
    mean is that seed's tau and the sd is ``None`` (one seed has no spread, not a spread of 0)."""
    from nasbench_tools.analysis import seed_spread

    per_seed = {str(s): metric_ci(y_true, v, n_boot=n_boot, seed=seed) for s, v in by_seed.items()}
    defined = {s: e["value"] for s, e in per_seed.items() if e["value"] is not None}
    out: dict = {"per_seed": per_seed, "seeds_defined": len(defined)}
    if len(defined) >= 2:
        spread = seed_spread(defined, ddof=1)
        out |= {"mean_over_seeds": spread.mean, "sd_over_seeds": spread.std,
                "sd_ddof": spread.ddof}  # fmt: skip
    else:
        only = next(iter(defined.values()), None)
        out |= {"mean_over_seeds": only, "sd_over_seeds": None, "sd_ddof": None}
    mean_score = np.mean([np.asarray(v, dtype=float) for v in by_seed.values()], axis=0)
    out["seed_mean_score"] = metric_ci(y_true, mean_score, n_boot=n_boot, seed=seed)
    return out


def ground_truth_seed_agreement(gt_all: Any, *, n_boot: int, seed: int) -> dict:
    """Kendall tau between the seeds of a ground truth (``gt.vector(..., seed="all")``): each
    pair with its bootstrap interval and their mean; the store's own noise floor."""
    from nasbench_tools.analysis import seed_agreement

    runs = {str(s): gt_all.values[:, j] for j, s in enumerate(gt_all.seeds)}
    a = seed_agreement(runs, "kendall_tau", n_boot=n_boot, seed=seed)
    return {
        "seeds": list(runs),
        "seed_vs_seed": {f"{p[0]} vs {p[1]}": estimate_dict(e) for p, e in a.pairs.items()},
        "mean_seed_vs_seed": estimate_dict(a.between),
    }


def paired_outcome(test: Mapping[str, Any]) -> str:
    """What a :func:`detectable_tau_difference` result says about "a ranks better than b":
    ``"a better"`` when its 95 % interval lies above 0, ``"b better"`` below 0, ``"not
    resolved"`` when it contains 0, ``"undefined"`` without an interval."""
    low, high = test.get("low"), test.get("high")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return "undefined"
    if low > 0:
        return "a better"
    if high < 0:
        return "b better"
    return "not resolved"


def training_settings(provenance: Mapping[str, Any], *, without: Sequence[str] = ()) -> dict:
    """How a built store's networks were trained, as flat comparable settings: ``protocol.<f>``
    for every protocol setting (defaults filled in, the preset's name left out), ``seeds`` and
    ``data_sha256``; the keys in ``without`` dropped. Two stores whose settings are equal hold
    comparable numbers."""
    from nasbench_tools.buildbench import Protocol

    p = provenance.get("protocol")
    out = {"seeds": provenance.get("seeds"), "data_sha256": provenance.get("data_sha256")}
    if p is not None:
        out |= {f"protocol.{k}": v for k, v in Protocol(**p).settings().items()}
    return {k: v for k, v in out.items() if k not in without}


def setting_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The keys (sorted) whose values differ between two :func:`training_settings`."""
    return [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def estimate_dict(e: Any) -> dict:
    """An :class:`~nasbench_tools.analysis.Estimate` (or BootstrapResult) as plain JSON."""
    value = getattr(e, "value", getattr(e, "estimate", None))
    return {
        "value": _num(value),
        "low": _num(e.low),
        "high": _num(e.high),
        "n_valid": e.n_valid,
        "n_boot": e.n_boot,
    }


def _num(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


# =========================================================================== the run
class Reproduction:
    """One run of a reproduction into an output folder (see the module docstring).

    Parameters
    ----------
    script : str
        The script's name (``"bender"``).
    preset : Preset
    out : path
        The output folder (created; a folder holding another preset's or config's journal is
        refused naming the differing settings, unless ``force``).
    ground_truth : dict, optional
        role -> path, overriding the preset's sources.
    force : bool
        Start again: the journal, results and work folder are removed first.
    progress : bool
        One line per unit on stderr.
    stop_after : int, optional
        Raise :class:`SimulatedStop` after this many newly computed units (tests).
    cache : path, optional
        Folder of the quick ground truths (default ``OUT/work/ground_truth``); the tests share
        one between scripts. A store's file name derives from every build setting.
    """

    def __init__(
        self,
        script: str,
        preset: Preset,
        out: str | os.PathLike,
        *,
        ground_truth: Mapping[str, str] | None = None,
        force: bool = False,
        progress: bool = True,
        stop_after: int | None = None,
        cache: str | os.PathLike | None = None,
    ):
        self.script, self.preset, self.out = script, preset, Path(out)
        self.cache = None if cache is None else Path(cache)
        self.progress, self.stop_after = progress, stop_after
        given = dict(ground_truth or {})
        unknown = sorted(set(given) - set(preset.ground_truth))
        if unknown:
            raise ReproductionError(
                f"--ground-truth {unknown[0]}=...: {script} has no ground truth {unknown[0]!r}; "
                f"its roles: {', '.join(preset.ground_truth)}"
            )
        self._given = given
        if self.out.exists() and not self.out.is_dir():
            raise ReproductionError(f"--out {self.out}: exists and is not a folder")
        if force and self.out.is_dir():
            for name in ("journal.jsonl", "results.json", "timing.json"):
                (self.out / name).unlink(missing_ok=True)
            import shutil

            for sub in ("work", "report", "tables", "figures", "scores"):
                shutil.rmtree(self.out / sub, ignore_errors=True)
        self.sources = self._resolve_sources()  # fails before anything is created
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = self.out / "work"
        self.work.mkdir(exist_ok=True)
        self._gts: dict[str, Any] = {}
        self._done: dict[str, dict] = {}
        self._computed = 0
        self.timing: dict[str, float] = {}
        self.cpu_timing: dict[str, float] = {}
        self._started = (time.perf_counter(), time.process_time())
        self.journal = self.out / "journal.jsonl"

    # ------------------------------------------------------------------ ground truths
    def _resolve_sources(self) -> dict[str, dict]:
        """role -> ``{"kind": "path"|"registered"|"quick", ...}``, checked now."""
        from nasbench_tools.groundtruth.benchmarks import BENCHMARKS

        out = {}
        for role, g in self.preset.ground_truth.items():
            if role in self._given:
                given = self._given[role]
                p = Path(given)
                if p.exists():
                    out[role] = {"kind": "path", "path": str(p.resolve())}
                elif _registered_store(given) is not None:
                    out[role] = {"kind": "registered", "name": given}
                else:
                    raise ReproductionError(
                        f"--ground-truth {role}={given}: no such file, nor a built benchmark "
                        f"shipped with nasbench_tools ({', '.join(_built_benchmarks())})"
                    )
            elif g.optional:
                continue
            elif g.registered is not None:
                have = g.registered in BENCHMARKS.names() and (
                    BENCHMARKS.get(g.registered).has_data
                )
                if not have:
                    raise ReproductionError(
                        f"{self.script} --preset {self.preset.name}: ground truth {role!r} "
                        f"({g.what}) is the benchmark {g.registered!r}, which this installation "
                        f"of nasbench_tools holds no data for; pass --ground-truth {role}=PATH"
                    )
                out[role] = {"kind": "registered", "name": g.registered}
            elif g.quick is not None:
                out[role] = {"kind": "quick", "store": g.quick}
            else:
                raise ReproductionError(
                    f"{self.script} --preset {self.preset.name}: ground truth {role!r} "
                    f"({g.what}) has no default; pass --ground-truth {role}=PATH"
                )
        return out

    def has_ground_truth(self, role: str) -> bool:
        """Whether ``role`` has a source (an optional role only when given)."""
        return role in self.sources

    def ground_truth(self, role: str):
        """The :class:`~nasbench_tools.groundtruth.api.GroundTruth` of ``role`` (a quick store
        is built first, resumably, into ``OUT/work/ground_truth``)."""
        if role not in self._gts:
            self._gts[role] = self._open(role)
        return self._gts[role]

    def ground_truth_path(self, role: str) -> str:
        """The path or registered name of ``role``'s ground truth (what ``nbt report`` opens)."""
        src = self.sources[role]
        if src["kind"] == "registered":
            return src["name"]
        if src["kind"] == "path":
            return src["path"]
        return str(self._quick_path(src["store"]))

    def _source_sha(self, role: str) -> str | None:
        """The sha256 of the file ``role``'s ground truth is read from (a registered built
        benchmark's embedded store included)."""
        src = self.sources[role]
        if src["kind"] == "registered":
            store = _registered_store(src["name"])
            return None if store is None else sha256_of(store)
        return _store_sha(self.ground_truth_path(role))

    def _quick_path(self, q: QuickStore) -> Path:
        return (self.cache or self.work / "ground_truth") / q.name()

    def _open(self, role: str):
        from nasbench_tools.groundtruth import load
        from nasbench_tools.groundtruth.target import open_ground_truth

        src = self.sources[role]
        if src["kind"] == "registered":
            return load(src["name"])
        if src["kind"] == "path":
            return open_ground_truth(src["path"], progress=False)
        path = self._quick_path(src["store"])
        if not path.exists():
            self._build_quick(role, src["store"], path)
        return open_ground_truth(str(path), progress=False)

    def _build_quick(self, role: str, q: QuickStore, path: Path) -> None:
        from nasbench_tools.buildbench import BuildJob, build_benchmark, get_protocol
        from nasbench_tools.proxies.scoring import select_keys
        from nasbench_tools.spaces import get_space
        from nasbench_tools.spaces.archsets import get_arch_set

        space = get_space(q.space)
        protocol = get_protocol(q.protocol).replace(**dict(q.changes))
        objects = None
        if q.keys_of is not None:
            keys = self.ground_truth(q.keys_of).archs.keys
            selection = {"archs": "of role", "role": q.keys_of}
            if not space.arch_from_key:
                raise ReproductionError(f"quick store of {role!r}: keys_of needs NB201 keys")
        elif q.arch_set is not None:
            objects = {space.key(a): a for a in get_arch_set(q.arch_set).archs()}
            keys, selection = select_keys(space, list(objects))
            selection |= {"arch_set": q.arch_set}
        else:
            keys, selection = select_keys(
                space, "all", sample=q.sample, seed=q.sample_seed, per_class=True
            )
        if q.first is not None:
            keys = keys[: q.first]
            selection = selection | {"first": q.first}
        path.parent.mkdir(parents=True, exist_ok=True)
        job = BuildJob(
            space, keys, tuple(q.seeds), protocol, selection, threads=1,
            command=f"{self.script} --preset {self.preset.name} (quick ground truth {role})",
            archs=None if objects is None else {k: objects[k] for k in keys.tolist()},
        )  # fmt: skip
        t0 = time.perf_counter()
        self.say(f"building the quick ground truth {role!r} ({len(keys)} archs x "
                 f"{len(q.seeds)} seeds, {q.protocol} protocol) -> {path.name}")  # fmt: skip
        build_benchmark(job, path, progress=False)
        self.timing[f"ground_truth:{role}"] = round(time.perf_counter() - t0, 2)

    def ground_truth_provenance(self) -> dict:
        """role -> source, sha256 of the store and of its data, protocol, seeds."""
        out = {}
        for role in self.sources:
            gt = self.ground_truth(role)
            prov = gt.provenance
            src = dict(self.sources[role])
            if src["kind"] == "quick":
                src = {"kind": "quick", "file": self._quick_path(src["store"]).name}
            data = prov.get("data_provenance") or {}
            out[role] = {
                "source": src,
                "benchmark": prov.get("benchmark", gt.name),
                "sha256": prov.get("source_sha256") or self._source_sha(role),
                "data_sha256": {s: (d or {}).get("sha256") for s, d in data.items()},
                "protocol": prov.get("protocol"),
                "seeds": prov.get("seeds"),
                "n_archs": len(gt),
            }
        return out

    # ------------------------------------------------------------------ journal and units
    def open(self) -> Reproduction:
        """Read (or start) the journal; a journal of other settings is refused by name."""
        config = json.loads(json.dumps({"script": self.script, **self._config_core()}))
        records = open_journal(
            self.journal, JOURNAL_FORMAT, config, what=f"{self.script} reproduction",
            error=ReproductionError,
        )  # fmt: skip
        for n, rec in enumerate(records, 2):
            if not isinstance(rec, dict) or "unit" not in rec or "result" not in rec:
                raise ReproductionError(f"{self.journal}:{n}: not a unit record; pass --force")
            self._done[rec["unit"]] = rec["result"]
        self._write(
            "config.json",
            {
                "script": self.script,
                "preset": self.preset.to_dict(),
                "ground_truth_sources": self._sources_json(),
            },
        )
        return self

    def _config_core(self) -> dict:
        """The journal's settings: optional (look-up only) roles are not among them."""
        sources = self._sources_json()
        for role, g in self.preset.ground_truth.items():
            if g.optional:
                sources.pop(role, None)
        return {"preset": self.preset.to_dict(), "ground_truth": sources}

    def _sources_json(self) -> dict:
        out = {}
        for role, src in self.sources.items():
            if src["kind"] == "quick":
                out[role] = {"kind": "quick", "store": dataclasses.asdict(src["store"])}
            elif src["kind"] == "path":
                out[role] = {"kind": "path", "sha256": _store_sha(src["path"])}
            else:  # a name's data can change between releases: its file's hash is a setting
                sha = self._source_sha(role)
                out[role] = dict(src) | ({"sha256": sha} if sha else {})
        return out

    def unit(self, key: str, fn: Callable[[], dict], what: str = "") -> dict:
        """The result of unit ``key``: from the journal, or computed by ``fn()`` and appended.

        Returns the record as read back from JSON either way, so a resumed run sees exactly
        what an uninterrupted one does.
        """
        if key in self._done:
            self.say(f"{key}: from the journal")
            return self._done[key]
        if self.stop_after is not None and self._computed >= self.stop_after:
            raise SimulatedStop(f"stopped before unit {key!r}")
        self.say(f"{key}: {what or 'computing'} ...")
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        seconds = time.perf_counter() - t0
        self.cpu_timing[key] = round(time.process_time() - c0, 2)
        back = append_record(self.journal, {"unit": key, "result": result})["result"]
        self._done[key] = back
        self._computed += 1
        self.timing[key] = round(seconds, 2)
        self.say(f"{key}: done in {seconds:.1f} s")
        return back

    def say(self, text: str) -> None:
        if self.progress:
            print(f"[{self.script} {self.preset.name}] {text}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ outputs
    def path(self, *parts: str) -> Path:
        """``OUT/parts...`` with its folder created."""
        p = self.out.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def _write(self, name: str, obj: Any) -> Path:
        path = self.path(name)
        with atomic_write(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json) + "\n")
        return path

    def write_results(self, numbers: Mapping[str, Any]) -> Path:
        """``OUT/results.json``: ``numbers`` with provenance (and ``OUT/timing.json``)."""
        import torch

        seeds = getattr(self.preset.config, "seeds", None)
        doc = {
            "reproduction": self.script,
            "preset": self.preset.name,
            "shrunk": list(self.preset.shrunk),
            **numbers,
            "provenance": {
                "config": dataclasses.asdict(self.preset.config),
                "seeds": list(seeds) if seeds is not None else None,
                "package_version": __version__,
                "torch_version": torch.__version__,
                "ground_truth": self.ground_truth_provenance(),
            },
        }
        wall0, cpu0 = self._started
        self._write("timing.json", {
            "seconds": self.timing,
            "cpu_seconds": self.cpu_timing,
            "this_invocation": {"wall_s": round(time.perf_counter() - wall0, 2),
                                "cpu_s": round(time.process_time() - cpu0, 2)},
            "note": "wall and CPU (this process, all its threads) seconds of the units computed "
                    "by this invocation; units read from the journal are not timed",
        })  # fmt: skip
        return self._write("results.json", doc)

    def report(self, score_tables: Sequence[Path], *, role: str, **options) -> Path:
        """An ``nbt report`` folder ``OUT/report`` for the NB201 ground truth ``role``: the
        store's own seed agreement and every score table ranked against its validation accuracy
        after the protocol's epochs (seed mean)."""
        from nasbench_tools.report import ReportConfig, build_report

        dataset, epochs = self.target(role)
        cfg = ReportConfig(
            ground_truth=self.ground_truth_path(role),
            targets={dataset: ["valid", epochs]},
            low_fidelity=["train", epochs],
            embedded_scores=False,
            nb101_sample=False,
            scores=[str(p) for p in score_tables],
            **options,
        )
        return build_report(cfg, self.out / "report", overwrite=True, progress=False)

    def target(self, role: str) -> tuple[str, int]:
        """``(dataset, epochs)`` of a built store (from its recorded protocol)."""
        prov = self.ground_truth(role).provenance
        protocol = prov.get("protocol")
        if not isinstance(protocol, dict) or "dataset" not in protocol:
            raise ReproductionError(
                f"ground truth {role!r} ({self.ground_truth_path(role)}) records no build "
                "protocol; the reproductions need a store written by nbt build-bench"
            )
        return protocol["dataset"], int(protocol["epochs"])


def _store_sha(path: str) -> str | None:
    p = Path(path)
    return sha256_of(p) if p.exists() else None


def _built_benchmarks() -> list[str]:
    """The registered benchmarks shipped as a built store (``load(name)`` opens them)."""
    from nasbench_tools.groundtruth.benchmarks import BENCHMARKS

    return BENCHMARKS.filter(lambda b: bool(b.store))


def _registered_store(name: str) -> Path | None:
    """The embedded store file of the registered benchmark ``name`` (``None``: not a built
    benchmark, or not one with its file in this installation)."""
    from nasbench_tools.groundtruth.benchmarks import BENCHMARKS
    from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path

    if name not in BENCHMARKS.names() or not BENCHMARKS.get(name).store:
        return None
    path = embedded_path(BENCHMARKS.get(name).store)
    return path if path.exists() else None


def _json(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, tuple | set):
        return list(o)
    raise TypeError(f"not JSON: {type(o).__name__}")


# =========================================================================== command line
def parse_ground_truth(items: Sequence[str]) -> dict[str, str]:
    """``["n1=PATH", ...]`` -> ``{"n1": "PATH"}`` (a bad item names itself)."""
    out = {}
    for item in items or ():
        role, sep, path = item.partition("=")
        if not sep or not role or not path:
            raise ReproductionError(f"--ground-truth {item!r}: expected ROLE=PATH or ROLE=NAME")
        if role in out:
            raise ReproductionError(f"--ground-truth names {role!r} twice")
        out[role] = path
    return out


def main(
    script: str,
    doc: str,
    presets: PresetRegistry,
    run: Callable[[Reproduction], dict],
    argv: Sequence[str] | None = None,
) -> int:
    """The command line of a reproduction script: ``--preset``, ``--out``, ``--ground-truth
    ROLE=PATH`` or ``ROLE=NAME`` (repeatable), ``--force``, ``--no-progress``, ``--list``. Exit code 2 with one
    line on stderr for a :class:`~nasbench_tools.errors.NasbenchToolsError`."""
    p = argparse.ArgumentParser(
        prog=f"benchmarks/reproduce/{script}.py",
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", default="quick", help="quick, cpu or paper (see --list)")
    p.add_argument("--out", help="output folder")
    p.add_argument(
        "--ground-truth", action="append", metavar="ROLE=PATH|NAME", default=[],
        help="a store file, or a built benchmark shipped with the package (e.g. nb201-fmnist-v1)",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="start again (drops the journal)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--list", action="store_true", help="print the presets and exit")
    args = p.parse_args(argv)
    try:
        if args.list:
            for name in presets.names():
                pr = presets.get(name)
                print(f"{name}: {pr.description}")
                for s in pr.shrunk:
                    print(f"    shrunk: {s}")
            return 0
        if not args.out:
            raise ReproductionError("--out is required (the output folder)")
        preset = presets.get(args.preset)
        rep = Reproduction(
            script, preset, args.out, ground_truth=parse_ground_truth(args.ground_truth),
            force=args.force, progress=not args.no_progress,
        )  # fmt: skip
        rep.open()
        run(rep)
        print(f"{script}: results in {rep.out / 'results.json'}")
        return 0
    except NasbenchToolsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_preset(
    script: str,
    presets: PresetRegistry,
    run: Callable[[Reproduction], dict],
    preset: str | Preset,
    out: str | os.PathLike,
    **options,
) -> dict:
    """Run a preset from Python (the tests): returns the parsed ``results.json``."""
    pr = presets.get(preset) if isinstance(preset, str) else preset
    rep = Reproduction(script, pr, out, **options).open()
    run(rep)
    return json.loads((rep.out / "results.json").read_text())


def with_config(preset: Preset, **changes) -> Preset:
    """A copy of ``preset`` whose config has ``changes`` (tests shrink a quick preset further)."""
    return dataclasses.replace(preset, config=dataclasses.replace(preset.config, **changes))
