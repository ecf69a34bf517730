"""DARTS vs DARTS-PT (Wang et al., ICLR 2021; method spec 8.2): does selecting by perturbation
pick better architectures than selecting by magnitude?

For every seed one DARTS supernet is searched on NB201 (:mod:`nasbench_tools.differentiable`,
method ``darts-pt``: softmax mixing, first-order DARTS on the benchmark's own training/validation
halves) and two selections are read from it, as DARTS-PT's paper compares them:

* **DARTS** (magnitude): at the end of the search phase, every edge keeps the op with the largest
  softmax weight (the ``argmax`` selection rule);
* **DARTS-PT** (perturbation): the same supernet is then tuned (SGD reset to lr/10) while DARTS-PT
  projects one edge at a time (uniformly random order), keeping the op whose masking lowers the
  supernet's validation accuracy most (BN in training mode).

Each selected architecture is looked up in the built benchmark: its stand-alone validation
accuracy (seed mean), rank and percentile among the benchmark's architectures. The benchmark is a
sample of NB201 isomorphism classes (NATS-Bench's ``unique_str``): a selection held as itself is
``exact``; one whose class the sample holds under another index is ``isomorphic`` and takes the
class representative's numbers (the same cell up to node order, trained by the benchmark); any
other is **not in the store**: reported so, with no accuracy, and listed in ``missing_archs.txt``.
Trained under the benchmark's own protocol (``nbt build-bench --preset cpu --space nb201
--archs-file OUT/missing_archs.txt --seeds 0,1 --out added.h5``) and given back with
``--ground-truth added=added.h5``, they are looked up there (``added``: the benchmark's protocol,
seeds and data, checked; rank and percentile among the sample's architectures); that re-run only
adds the look-ups, every search comes from the journal. The selections are also looked up in
NAS-Bench-201 itself (``transfer``: CIFAR numbers for a search on other images).

Operator level: Kendall tau-b over NB201's 30 ``(edge, op)`` pairs between each operator score
(``magnitude``: softmax weight at the end of the search; ``perturbation``: the supernet's
validation accuracy drop when the op alone is masked, every edge still mixed) and the
ground-truth operator score: **the mean stand-alone validation accuracy (seed mean) of the
benchmark's architectures that contain the (edge, op)** (ABS Fig. 7's ranking; pairs no
architecture of the sample contains are left out, and the count used is reported). Per seed with
bootstrap intervals (over operators), mean and sd over seeds, the tau of the seed-mean scores,
and the paired bootstrap of magnitude vs perturbation, whose half-width is the smallest tau
difference 30 operators can detect.

Presets: ``quick`` (8 classes on digits, tests), ``cpu`` (``nb201-fmnist``), ``paper``
(DARTS-PT's NB201 settings, a GPU and CIFAR-10).

Run: ``python benchmarks/reproduce/darts_vs_dartspt.py --preset cpu --out runs/darts_vs_dartspt``
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as H
import _supernets as S

SCRIPT = "darts_vs_dartspt"

PAPER = {
    "source": "Wang et al., Rethinking Architecture Selection in Differentiable NAS (ICLR 2021; "
    "arXiv 2108.04392); method spec 8.2",
    "darts_pt_nb201_cifar10_test_reruns": [88.21, 88.18],
    "darts_pt_reruns_status": "the maintainer's reruns of darts-201.sh + darts-proj-201.sh, "
    "seeds 0 and 1, CIFAR-10 test accuracy in NB201 (ruocwang/darts-pt issue #6)",
    "darts_nb201_cifar10_test": 54.30,
    "darts_pt_nb201_cifar10_test": 88.0,
    "paper_table_status": "DARTS about 54.30 % (collapse to parameter-free ops) and DARTS-PT about "
    "88 % on NB201 CIFAR-10: recollections, the paper's table was not read [UNVERIFIED]",
    "operator_tau": None,
    "setting": "NB201, CIFAR-10, supernet C=16 N=5 searched 100 epochs (batch 64, lr 0.025 cosine "
    "to 0.001, Adam alpha lr 3e-4), then 25 tuning epochs projecting one edge every 5",
    "claim": "magnitude-based selection fails (DARTS collapses to parameter-free ops) where "
    "perturbation-based selection from the same supernet picks a good architecture",
}

#: Ops without parameters (a DARTS "collapse" selects mostly these).
PARAMETER_FREE = ("none", "skip_connect", "avg_pool_3x3")


@dataclass(frozen=True)
class DartsConfig:
    """Settings of the DARTS vs DARTS-PT reproduction.

    Attributes
    ----------
    preset : str
        The differentiable-search preset (:data:`nasbench_tools.differentiable.PRESETS`) the
        search starts from; its method must select by projection after a bilevel DARTS search.
    options : tuple of (name, value)
        Fields of that preset replaced (``C``, ``N``, ``epochs``, ``proj_intv`` ...). The data
        (dataset, image size, channels, the train/valid halves' seed) always come from the
        benchmark's build protocol.
    train_images, valid_images : int or None
        Seeded subsets of ``search-train`` (weights) and ``search-valid`` (alpha, perturbation,
        projection); ``None``: all.
    augment : str or None
        Training augmentation (``None``: the dataset's default).
    seeds : tuple of int
    transfer : str or None
        An embedded NB201 benchmark the selections are also looked up in (``None``: skip).
    n_boot, boot_seed, report_n_boot, figures
        As in the other reproductions (``figures``: the report's; the reproduction's own figures
        are drawn by ``notebooks/reproduce/darts_vs_dartspt.ipynb`` from the run folder).
    """

    preset: str = "darts-pt-nb201"
    options: tuple = ()
    train_images: int | None = None
    valid_images: int | None = None
    augment: str | None = "none"
    seeds: tuple = (0, 1, 2)
    transfer: str | None = "nb201"
    n_boot: int = 1000
    boot_seed: int = 0
    report_n_boot: int = 1000
    figures: str = "summary"


PRESETS = H.PresetRegistry(SCRIPT)
#: Same-protocol accuracies of selections outside the benchmark's sample (optional).
ADDED = H.GroundTruthRole(
    "selections outside the sample trained under its protocol (nbt build-bench --archs-file "
    "OUT/missing_archs.txt)",
    optional=True,
)


PRESETS.register(
    H.Preset(
        "quick",
        DartsConfig(
            options=(
                ("C", 4),
                ("N", 1),
                ("epochs", 2),
                ("proj_intv", 2),
                ("batch_size", 32),
                ("arch_lr", 3e-3),
            ),
            train_images=64,
            valid_images=64,
            seeds=(0, 1),
            transfer=None,
            n_boot=100,
            report_n_boot=50,
            figures="none",
        ),
        "tests: 8 NB201 classes built on digits; a C=4 N=1 supernet searched 2 epochs on 64 "
        "images (64 validation images) and tuned 10, 2 seeds; no NB201 transfer look-up",
        {
            "nb201": H.GroundTruthRole("NB201 stand-alone accuracy", quick=H.QUICK_NB201),
            "added": ADDED,
        },
    )
)
#: CPU seconds (one thread, process time; measured on this machine while a benchmark build ran on
#: both cores) of one seed's search at the cpu preset's scale (C=8 N=1, Fashion-MNIST 16x16,
#: batch 64, 1,000 validation images): 124 s with 10 steps per epoch over 2 + 10 epochs, 140 s
#: over 4 + 10, so one epoch of 10 steps with its validation pass 7.9 s, and the rest (start,
#: 6 projections, the 30 perturbations at the end of the search) about 30 s; alone, a search step
#: (architecture + weights) took 0.39 s and a pass over the 1,000 validation images 1.3 s. Hence
#: per seed (20 epochs of 31 steps): between 20 x (31 x 0.39 + 1.3) + 67 x 1.3 = 357 s and
#: 20 x 31 x 0.75 + 30 = 500 s (the epoch cost above less its validation pass), 18-25 minutes for
#: 3 seeds. An estimate from those pieces; the run's own timing.json records what it took.
CPU_COST = {
    "search_unit_2_plus_10_epochs_of_10_steps_s": 124.4,
    "search_unit_4_plus_10_epochs_of_10_steps_s": 140.2,
    "search_step_batch64_s": 0.39,
    "valid_pass_1000_images_s": 1.29,
}
PRESETS.register(
    H.Preset(
        "cpu",
        DartsConfig(
            options=(("C", 8), ("N", 1), ("epochs", 10), ("proj_intv", 2), ("arch_lr", 3e-3)),
            train_images=2000,
            valid_images=1000,
        ),
        "nb201-fmnist (200 NB201 classes); the differentiable package's cpu settings: a C=8 N=1 "
        "supernet on 16x16 Fashion-MNIST searched 10 epochs on 2,000 images (alpha on 1,000) "
        "and tuned 10, projecting an edge every 2; 3 seeds; 18-25 CPU minutes by the measured "
        "cost of its pieces (CPU_COST)",
        {"nb201": H.GroundTruthRole("NB201 Fashion-MNIST, N=1", "nb201-fmnist"), "added": ADDED},
        shrunk=(
            "search: 10 epochs on 2,000 Fashion-MNIST images at 16x16 (20,000 images drawn) "
            "instead of DARTS-PT's 100 epochs on the 25,000-image CIFAR-10 search half (2.5 "
            "million; 125x fewer); alpha and the perturbations on 1,000 validation images "
            "instead of 25,000 (25x)",
            "tuning: 10 epochs projecting an edge every 2 instead of 25 projecting every 5",
            "supernet: C=8, N=1 (3 searchable cells) instead of C=16, N=5 (15)",
            "alpha's Adam learning rate 3e-3 instead of 3e-4 (10x: alpha must move within 10 "
            "epochs); no augmentation instead of random crop and flip",
            "ground truth: the 200 NB201 classes of the built Fashion-MNIST benchmark (5 epochs in nb201-fmnist, 4 in nb201-fmnist-v1; "
            "2 seeds) instead of NB201's 15,625 at 200 epochs on CIFAR-10; a selection outside "
            "the sample has no accuracy here (NB201's CIFAR numbers are given as transfer)",
        ),
    )
)
PRESETS.register(
    H.Preset(
        "paper",
        DartsConfig(augment=None),
        "a GPU and a CIFAR-10 NB201 benchmark you built (nbt build-bench --preset paper): "
        "--ground-truth nb201=STORE; DARTS-PT's NB201 settings (preset darts-pt-nb201: C=16 "
        "N=5, 100 search epochs, 25 tuning epochs, the whole search halves)",
        {"nb201": H.GroundTruthRole("NB201 stand-alone accuracy on CIFAR-10"), "added": ADDED},
        shrunk=(
            "the search's train/valid halves are the built benchmark's seeded halves of the "
            "CIFAR-10 training set (its split_seed), so the ground truth was validated on "
            "alpha's images, as NB201's cifar10-valid was; DARTS-PT's code takes fixed halves",
        ),
    )
)


# --------------------------------------------------------------------------- the search
def search_config(c: DartsConfig, protocol, seed: int):
    """The :class:`~nasbench_tools.differentiable.SearchConfig` of seed ``seed``, on the
    benchmark's data (its dataset, image size, channels and train/valid halves)."""
    from nasbench_tools.differentiable import SearchConfig

    cfg = SearchConfig.from_preset(
        c.preset, **dict(c.options), dataset=protocol.dataset, resize=protocol.image_size,
        channels=protocol.channels, data_seed=protocol.split_seed, subset=c.train_images,
        valid_subset=c.valid_images, augment=c.augment, seed=seed, threads=1, log_every=10**9,
    )  # fmt: skip
    r = cfg.resolved()
    if r.selection != "projection" or r.arch_update != "bilevel" or r.weighting != "softmax":
        raise H.ReproductionError(
            f"preset {c.preset!r} (method {r.method!r}) must search DARTS (softmax, bilevel) and "
            "select by projection, so both selections come from one supernet; use darts-pt-nb201"
        )
    return cfg


def _matrix(table, column: str) -> list:
    from nasbench_tools.proxies.differentiable import operator_matrix

    m = operator_matrix(table, column)
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in m]


def search_unit(rep: H.Reproduction, c: DartsConfig, protocol, seed: int) -> dict:
    """Search (or resume) seed ``seed``'s supernet; the unit records both selections and the
    operator scores (also in the run's ``scores/operators.csv``)."""
    import torch

    from nasbench_tools.differentiable import SELECTIONS, run_search
    from nasbench_tools.proxies.differentiable import operator_matrix, read_operator_table

    run_dir = rep.work / "runs" / f"darts-pt-s{seed}"
    cfg = search_config(c, protocol, seed)

    def fn() -> dict:
        torch.set_num_threads(1)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        res = run_search(cfg, run_dir, resume=True, progress=False, ground_truths=())
        table = read_operator_table(run_dir)
        darts = SELECTIONS.get("argmax")(None, operator_matrix(table, "magnitude")).arch
        pt = res.result["selected"]
        return {
            "darts": {"arch": darts.to_string(), "index": darts.index, "rule": "argmax"},
            "darts_pt": {"arch": pt["arch"], "index": pt["index"], "rule": pt["rule"]},
            "projections": res.result["projections"],
            "final_valid_accuracy": res.result["final_valid_accuracy"],
            "operators": {col: _matrix(table, col) for col in table.columns},
            "epochs": {"search": cfg.epochs, "total": len(res.history)},
        }

    return rep.unit(f"search:s{seed}", fn, f"DARTS search + DARTS-PT projection, seed {seed}")


# --------------------------------------------------------------------------- look-ups
def _held(a, keys: np.ndarray) -> tuple[int | None, str]:
    """Position of ``a`` in ``keys`` (itself, else its isomorphism class), and how it is held."""
    from nasbench_tools.spaces.nb201 import isomorphism_class_ids

    pos = np.flatnonzero(keys == a.index)
    if pos.size:
        return int(pos[0]), "exact"
    ids = isomorphism_class_ids()
    pos = np.flatnonzero(ids[keys] == ids[a.index])
    return (int(pos[0]), "isomorphic") if pos.size else (None, "no")


def lookup(arch, keys: np.ndarray, y: np.ndarray, added: tuple | None = None) -> dict:
    """A selected architecture in the benchmark (``keys``, accuracies ``y``): ``in_store``
    ``"exact"``, ``"isomorphic"`` (its ``unique_str`` class is held under another index) or
    ``"no"``; the held architecture's accuracy, rank (1 = best; ties share the best rank) and
    percentile (the share of the benchmark's architectures at or below its accuracy, in %).

    ``added`` (``(keys, accuracies)`` of the same protocol) is searched, exact then isomorphic,
    for an architecture the benchmark does not hold: then ``in_store`` is ``"added"`` and rank
    and percentile are where its accuracy falls among the benchmark's ``len(keys)``
    architectures (the added ones are not part of the sample)."""
    from nasbench_tools.spaces.nb201 import Arch

    a = Arch.parse(arch)
    keys = np.asarray(keys, dtype=np.int64)
    out = {"arch": a.to_string(), "index": a.index,
           "parameter_free_ops": sum(op in PARAMETER_FREE for op in a.ops)}  # fmt: skip
    i, kind = _held(a, keys)
    held_keys, held_y = keys, y
    if i is None and added is not None:
        held_keys, held_y = np.asarray(added[0], dtype=np.int64), added[1]
        i, kind = _held(a, held_keys)
        kind = "added" if i is not None else "no"
    if i is None:
        return out | {"in_store": "no", "store_index": None, "store_arch": None,
                      "accuracy": None, "rank": None, "percentile": None, "of": len(keys)}  # fmt: skip
    v = float(held_y[i])
    return out | {
        "in_store": kind,
        "store_index": int(held_keys[i]),
        "store_arch": Arch.from_index(int(held_keys[i])).to_string(),
        "accuracy": v,
        "rank": int(np.sum(y > v)) + 1,
        "percentile": 100.0 * float(np.mean(y <= v)),
        "of": len(keys),
    }


def _added(rep: H.Reproduction, dataset: str, epochs: int) -> tuple | None:
    """``(keys, seed-mean validation accuracies)`` of the ``added`` store, refused unless it was
    built under the benchmark's protocol and seeds on the same data."""
    if not rep.has_ground_truth("added"):
        return None
    from nasbench_tools.buildbench import Protocol, preset_with_settings

    main_prov = rep.ground_truth("nb201").provenance
    main = H.training_settings(main_prov)
    extra = H.training_settings(rep.ground_truth("added").provenance)
    diff = H.setting_differences(main, extra)
    if diff:
        p = main_prov.get("protocol")
        preset = p and preset_with_settings(Protocol(**p))
        how = f"--preset {preset}" if preset else "a protocol with the benchmark's settings"
        raise H.ReproductionError(
            f"--ground-truth added={rep.ground_truth_path('added')}: "
            + "; ".join(
                f"its {k} = {extra.get(k)!r}, the benchmark's {main.get(k)!r}" for k in diff
            )
            + f"; build it with the benchmark's protocol and seeds (nbt build-bench {how} "
            "--archs-file missing_archs.txt)"
        )
    gt = rep.ground_truth("added")
    y = np.asarray(gt.vector(dataset=dataset, split="valid", epochs=epochs), dtype=float)
    return np.asarray(gt.archs.keys, dtype=np.int64), y


def _transfer(arch, gt, search_data: str) -> list[dict]:
    from nasbench_tools.differentiable import lookup as nb201_lookup

    return nb201_lookup(arch, gt, search_data)


# --------------------------------------------------------------------------- numbers
def operator_numbers(imp: np.ndarray, by_seed: dict, c: DartsConfig) -> dict:
    """Taus of ``magnitude`` and ``perturbation`` (30 operators, seeds) against ``imp``."""
    defined = np.isfinite(imp)
    for m in by_seed.values():
        for col in ("magnitude", "perturbation"):
            defined &= np.isfinite(m[col])
    out: dict = {"n_operators": int(defined.sum())}
    means = {}
    for col in ("magnitude", "perturbation"):
        per = {s: m[col][defined] for s, m in by_seed.items()}
        out[col] = H.seed_taus(imp[defined], per, n_boot=c.n_boot, seed=c.boot_seed)
        means[col] = np.mean(list(per.values()), axis=0)
    out["paired_test"] = H.detectable_tau_difference(
        imp[defined], means["perturbation"], means["magnitude"],
        labels=("perturbation", "magnitude"), n_boot=c.n_boot, seed=c.boot_seed,
    )  # fmt: skip
    out["outcome"] = {"a better": "perturbation ranks operators better",
                      "b better": "magnitude ranks operators better"}.get(
        H.paired_outcome(out["paired_test"]), H.paired_outcome(out["paired_test"]))  # fmt: skip
    return out


def _summary(rows: list[dict]) -> dict:
    held = [r for r in rows if r["in_store"] != "no"]
    return {
        "archs": [r["arch"] for r in rows],
        "distinct": len({r["arch"] for r in rows}),
        "in_store": len(held),
        "seeds": len(rows),
        "mean_accuracy_in_store": float(np.mean([r["accuracy"] for r in held])) if held else None,
        "mean_percentile_in_store": float(np.mean([r["percentile"] for r in held]))
        if held
        else None,
        "mean_parameter_free_ops": float(np.mean([r["parameter_free_ops"] for r in rows])),
    }


def _selection_claim(per_seed: dict) -> dict:
    diffs = {
        s: d["darts_pt"]["accuracy"] - d["darts"]["accuracy"]
        for s, d in per_seed.items()
        if d["darts"]["accuracy"] is not None and d["darts_pt"]["accuracy"] is not None
    }
    if not diffs:
        held = None
    elif all(v > 0 for v in diffs.values()):
        held = True
    elif all(v <= 0 for v in diffs.values()):
        held = False
    else:
        held = None
    return {"darts_pt_minus_darts_points": diffs, "comparable_seeds": len(diffs),
            "claim_held": held}  # fmt: skip


def _f(v, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _verdict(sel: dict, ops: dict, missing: list[str]) -> str:
    d, p = sel["darts"], sel["darts_pt"]
    claim = sel["comparison"]
    text = (
        f"DARTS (magnitude) selected {d['distinct']} distinct arch(s) over {d['seeds']} seeds, "
        f"{_f(d['mean_parameter_free_ops'], 1)} of 6 ops parameter-free on average, mean "
        f"accuracy {_f(d['mean_accuracy_in_store'])} (percentile "
        f"{_f(d['mean_percentile_in_store'], 0)}) over the {d['in_store']} with a same-protocol accuracy; "
        f"DARTS-PT {p['distinct']} distinct, {_f(p['mean_parameter_free_ops'], 1)} "
        f"parameter-free, mean accuracy {_f(p['mean_accuracy_in_store'])} (percentile "
        f"{_f(p['mean_percentile_in_store'], 0)}) over {p['in_store']}; "
        f"DARTS-PT minus DARTS per comparable seed: "
        + (
            ", ".join(f"{v:+.2f}" for v in claim["darts_pt_minus_darts_points"].values())
            or "no seed has both in the store"
        )
    )
    t = ops["paired_test"]
    text += (
        f"; operator tau (n = {ops['n_operators']}) of the seed-mean scores: magnitude "
        f"{_f(ops['magnitude']['seed_mean_score']['value'], 3)}, perturbation "
        f"{_f(ops['perturbation']['seed_mean_score']['value'], 3)}"
    )
    if t.get("half_width") is not None:
        text += (
            f", difference {t['difference']:+.3f} [{t['low']:+.3f}, {t['high']:+.3f}] "
            f"(detectable {t['half_width']:.3f}): {ops['outcome']}"
        )
    if missing:
        text += f"; not in the built benchmark's sample: {', '.join(missing)}"
    return text


def run(rep: H.Reproduction) -> dict:
    from nasbench_tools.differentiable import operator_importance
    from nasbench_tools.groundtruth import load
    from nasbench_tools.proxies.differentiable import operator_matrix
    from nasbench_tools.scores import ScoreTable

    c = rep.preset.config
    gt = rep.ground_truth("nb201")
    dataset, epochs = rep.target("nb201")
    protocol = S.protocol_of(rep, "nb201")
    keys = np.asarray(gt.archs.keys, dtype=np.int64)
    y = np.asarray(gt.vector(dataset=dataset, split="valid", epochs=epochs), dtype=float)
    records = {str(seed): search_unit(rep, c, protocol, seed) for seed in c.seeds}
    importance = operator_importance(gt, dataset=dataset, split="valid", epochs=epochs)
    imp = operator_matrix(importance, "gt_accuracy")
    transfer = load(c.transfer) if c.transfer else None
    added = _added(rep, dataset, epochs)
    per_seed = {}
    for s, r in records.items():
        row = {}
        for method in ("darts", "darts_pt"):
            row[method] = lookup(r[method]["arch"], keys, y, added)
            if transfer is not None:
                row[method]["transfer"] = _transfer(r[method]["arch"], transfer, protocol.dataset)
        per_seed[s] = row
    selections = {
        "per_seed": per_seed,
        "darts": _summary([d["darts"] for d in per_seed.values()]),
        "darts_pt": _summary([d["darts_pt"] for d in per_seed.values()]),
        "comparison": _selection_claim(per_seed),
    }
    missing = sorted({d[m]["arch"] for d in per_seed.values() for m in d
                      if d[m]["in_store"] == "no"})  # fmt: skip
    if missing:
        (rep.path("missing_archs.txt")).write_text("".join(a + "\n" for a in missing))
    else:
        rep.path("missing_archs.txt").unlink(missing_ok=True)
    matrices = {
        s: {col: np.array(r["operators"][col], dtype=float).reshape(-1)
            for col in ("magnitude", "perturbation")}
        for s, r in records.items()
    }  # fmt: skip
    ops = operator_numbers(imp.reshape(-1), matrices, c)
    table = rep.path("scores", "archs.csv")
    arch_cols = _arch_scores(records, keys)
    ScoreTable(
        "nb201", keys, arch_cols,
        {"label": SCRIPT, "source": f"benchmarks/reproduce/{SCRIPT}.py", "data": dataset},
    ).write(table)  # fmt: skip
    rep.report([table], role="nb201", n_boot=c.report_n_boot, figures=c.figures)
    numbers = {
        "claim": PAPER["claim"],
        "paper": PAPER,
        "setting": {
            "dataset": dataset,
            "split": "valid",
            "epochs": epochs,
            "n": len(y),
            "ground_truth": "seed mean of the benchmark's validation accuracy",
            "benchmark_sample": f"{len(keys)} of NB201's 15,625 architectures (isomorphism "
            "classes); a selection outside it has an accuracy only from --ground-truth added "
            "(in_store 'added', trained under the same protocol)",
            "operator_ground_truth": "per (edge, op): the mean validation accuracy (seed mean) "
            "of the benchmark's architectures containing it",
            "operator_archs": importance.meta["n_archs"],
            "search": {
                k: v
                for k, v in search_config(c, protocol, c.seeds[0]).to_dict().items()
                if k != "seed"
            },
        },
        "measured": {
            "selections": selections,
            "operator_tau": ops,
            "operator_ground_truth": _nested(imp),
            "benchmark_keys": [int(k) for k in keys.tolist()],
            "benchmark_accuracy": y.tolist(),
            "searches": records,
        },
        "not_in_store": missing,
        "missing_archs_file": "missing_archs.txt" if missing else None,
        "detectable_difference": {
            "half_width": ops["paired_test"].get("half_width"),
            "between": "operator tau of perturbation vs magnitude (seed-mean scores)",
            "n": ops["n_operators"],
        },
        "verdict": _verdict(selections, ops, missing),
        "claim_held": {
            "selection": selections["comparison"]["claim_held"],
            "operator_tau": {"a better": True, "b better": False}.get(
                H.paired_outcome(ops["paired_test"])
            ),
        },
        "claim_held_means": "selection: true when DARTS-PT's selection is more accurate than "
        "DARTS's in every seed where both are in the store, false when it is in none, null "
        "otherwise; operator_tau: true/false when the paired 95% interval of perturbation minus "
        "magnitude tau excludes 0 (above/below), null when it contains 0",
    }
    rep.write_results(numbers)
    return numbers


def _nested(m: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in m]


def _arch_scores(records: dict, keys: np.ndarray) -> dict[str, np.ndarray]:
    """The benchmark's architectures scored by each seed's operator table (log magnitude and
    perturbation sums, :mod:`nasbench_tools.proxies.differentiable`), averaged over seeds."""
    from nasbench_tools.proxies.differentiable import arch_scores
    from nasbench_tools.scores import ScoreTable
    from nasbench_tools.spaces import get_space

    pairs = list(get_space("nb201").operators())
    per = []
    for r in records.values():
        cols = {k: np.array(v, dtype=float).reshape(-1) for k, v in r["operators"].items()
                if k in ("magnitude", "perturbation")}  # fmt: skip
        per.append(arch_scores(ScoreTable("nb201", pairs, cols, {}, level="operator"), keys))
    names = {"dnas_log_magnitude": "DARTS log magnitude (seed mean)",
             "dnas_perturbation": "DARTS-PT perturbation (seed mean)"}  # fmt: skip
    return {label: np.mean([p[n] for p in per], axis=0) for n, label in names.items()}


if __name__ == "__main__":
    sys.exit(H.main(SCRIPT, __doc__, PRESETS, run))
