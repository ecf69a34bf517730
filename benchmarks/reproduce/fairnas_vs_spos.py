"""FairNAS vs SPOS (Chu et al.; Guo et al.; method spec 4): does strict fairness rank better?

Two ways to train the NB201 weight-sharing supernet (:mod:`nasbench_tools.supernet.samplers`):

* **SPOS** (``spos``, spec 4.1 and 3.4): one uniformly drawn op per edge and step, drawn
  independently in every cell, a node whose inputs are all ``none`` redrawn (ABS's NB201
  supernet). Every op is updated ``Binomial(steps, 1/5)`` times in expectation ("expectation
  fairness").
* **FairNAS** (``fairnas``, spec 4.2): per step every edge of every cell draws a permutation of
  its 5 ops, and the 5 single-path models it defines (every op exactly once) run forward and
  backward on the same batch (``batches="same"``, the reference re-implementation), gradients
  summed, then one SGD step ("strict fairness").

FairNAS runs 5 passes per batch, so "the same budget" has two meanings, compared separately:

* **equal images**: the same number of images drawn from the loader (FairNAS's 5 passes over
  one batch count once): FairNAS and SPOS train the same epochs on the same data and batches;
* **equal passes**: the same number of forward/backward passes: SPOS trains 5x the epochs
  (``passes_match="spos_longer"``) or FairNAS 1/5 of them (``"fairnas_shorter"``).

Both budgets are checked on what the trainer logged it fed (images drawn, passes run, summed over
its epoch records), never assumed; a mismatch stops the run. The trainer also logs, per cell, edge
and op, how many passes switched the op on and in how many steps its weights got a non-zero
gradient: the **update coverage** reported per sampler (strict fairness is about forward passes;
in NB201 an op that runs can still get no gradient, behind a dead node; see ``fairness`` in
:mod:`~nasbench_tools.supernet.samplers`).

Every architecture of the built benchmark is evaluated with each supernet's weights after BN
recalibration (reset, cumulative average over training images; spec 4.3) on the benchmark's own
validation images, and ranked against its stand-alone validation accuracy (seed mean): Kendall
tau-b per seed with bootstrap intervals, mean and sd over seeds, tau of the seed-mean one-shot
accuracy; paired bootstrap of the FairNAS - SPOS tau difference per budget, whose interval
half-width is the smallest difference this n can detect; the ground truth's own seed agreement
beside. The verdict is read off the paired intervals.

Presets: ``quick`` (8 classes on digits, tests), ``cpu`` (the 200 architectures of
``nb201-fmnist``), ``paper`` (ABS's NB201 SPOS recipe, a GPU and CIFAR-10).

Run: ``python benchmarks/reproduce/fairnas_vs_spos.py --preset cpu --out runs/fairnas_vs_spos``
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as H
import _supernets as S

SCRIPT = "fairnas_vs_spos"

PAPER = {
    "source": "Chu et al., FairNAS (ICCV 2021; arXiv 1907.01845); method spec 4.2",
    "kendall_tau_fairnas_13_models": 0.9487,
    "kendall_tau_status": "FairNAS's tau over 13 stand-alone-trained models of its own "
    "MobileNet-like ImageNet space, as quoted in xiaomi-automl/FairNAS issue #7; the paper's "
    "table was not read [UNVERIFIED]",
    "kendall_tau_fairnas_nb101_eval_nas": -0.23,
    "eval_nas_status": "Yu et al.'s 'Evaluating the search phase of NAS' measured FairNAS on "
    "NB101, as quoted in the same issue (the FairNAS authors reply that the supernet was not "
    "trained) [UNVERIFIED]",
    "nb201_fairnas_vs_spos_tau": None,
    "setting": "FairNAS: m = 6 MobileNet choices x 18 layers on ImageNet, strict fairness; "
    "no NB201 FairNAS-vs-SPOS ranking number is published",
    "claim": "strict fairness (every op updated once per step) gives a supernet whose one-shot "
    "accuracy ranks architectures better than uniform sampling (expectation fairness)",
}

#: The compared supernets: name -> sampler.
SAMPLER_OF = {"fairnas": "fairnas", "spos": "spos", "spos-long": "spos", "fairnas-short": "fairnas"}


@dataclass(frozen=True)
class FairConfig:
    """Settings of the FairNAS vs SPOS reproduction.

    Attributes
    ----------
    supernet : SupernetSpec
        Training of every supernet (the sampler is set per run); ``epochs`` is FairNAS's and
        SPOS's at equal images.
    passes_match : {"spos_longer", "fairnas_shorter"}
        How the equal-passes pair is made: SPOS trained ``r`` times the epochs, or FairNAS
        ``1/r`` of them (``epochs`` must then be a multiple of ``r``), with ``r`` = FairNAS's
        passes per batch (5 on NB201 with ``batches="same"``; 1 with ``"distinct"``, where the
        two budgets coincide).
    fairness, batches, sharing : str
        FairNAS's options (spec 4.2; reference: ``"forward"``, ``"same"``, ``"per_cell"``);
        SPOS uses ``sharing`` too.
    seeds : tuple of int
        Supernet seeds (each seed trains every supernet on the same images in the same order).
    eval_images, calib_images : int
        Validation images per child; training images for BN recalibration.
    n_boot, boot_seed, chunk, report_n_boot, figures
        As in the other reproductions (``figures``: the report's; the reproduction's own figures
        are drawn by ``notebooks/reproduce/fairnas_vs_spos.ipynb`` from the run folder).
    """

    supernet: S.SupernetSpec
    passes_match: str = "spos_longer"
    fairness: str = "forward"
    batches: str = "same"
    sharing: str = "per_cell"
    seeds: tuple = (0, 1, 2)
    eval_images: int = 1000
    calib_images: int = 500
    n_boot: int = 1000
    boot_seed: int = 0
    chunk: int = 100
    report_n_boot: int = 1000
    figures: str = "summary"


def passes_per_batch(c: FairConfig) -> int:
    """FairNAS's forward/backward passes per batch drawn, from its sampler on the NB201 space."""
    import torch

    from nasbench_tools.nn.nb201 import NB201Supernet
    from nasbench_tools.supernet.samplers import make_sampler

    with torch.device("meta"):
        space = NB201Supernet(C=1, N=1).space
    s = make_sampler("fairnas", space, **_fair_options(c))
    return s.models_per_step // s.batches_per_step


def _fair_options(c: FairConfig) -> dict:
    return {"sharing": c.sharing, "batches": c.batches, "fairness": c.fairness}


def plan(c: FairConfig) -> dict:
    """The supernets to train (name -> epochs) and the two compared pairs."""
    r, e = passes_per_batch(c), c.supernet.epochs
    if c.passes_match not in ("spos_longer", "fairnas_shorter"):
        raise H.ReproductionError(
            f"passes_match must be 'spos_longer' or 'fairnas_shorter', got {c.passes_match!r}"
        )
    runs = {"fairnas": e, "spos": e}
    if r == 1:
        passes = ("fairnas", "spos")
    elif c.passes_match == "spos_longer":
        runs["spos-long"] = e * r
        passes = ("fairnas", "spos-long")
    else:
        if e % r:
            raise H.ReproductionError(
                f"passes_match 'fairnas_shorter': epochs ({e}) must be a multiple of FairNAS's "
                f"{r} passes per batch"
            )
        runs["fairnas-short"] = e // r
        passes = ("fairnas-short", "spos")
    return {"runs": runs, "equal_images": ("fairnas", "spos"), "equal_passes": passes,
            "passes_per_batch": r}  # fmt: skip


def _spec(c: FairConfig, name: str, epochs: int) -> S.SupernetSpec:
    sampler = SAMPLER_OF[name]
    if sampler == "fairnas":
        opts = tuple(_fair_options(c).items())
    else:
        opts = (("sharing", c.sharing), ("reject_zero_nodes", True))
    return dataclasses.replace(c.supernet, sampler=sampler, sampler_options=opts, epochs=epochs)


PRESETS = H.PresetRegistry(SCRIPT)
PRESETS.register(
    H.Preset(
        "quick",
        FairConfig(
            S.SupernetSpec(model=(("C", 4), ("N", 1)), epochs=1, batch_size=32, train_images=256),
            seeds=(0, 1),
            eval_images=128,
            calib_images=128,
            n_boot=100,
            chunk=8,
            report_n_boot=50,
            figures="none",
        ),
        "tests: 8 NB201 classes built on digits; C=4 N=1 supernets, 1 epoch on 256 images "
        "(SPOS 5 at equal passes), 2 seeds",
        {"nb201": H.GroundTruthRole("stand-alone accuracy", quick=H.QUICK_NB201)},
    )
)
#: CPU seconds (one thread, process time; measured on this machine while a benchmark build ran on
#: both cores) of the cpu preset's pieces on Fashion-MNIST 16x16, C=8 N=1, batch 64, from units of
#: 20 and 100 steps: a SPOS step 0.069 s, a FairNAS step (5 passes over one batch) 0.30 s (0.35 s
#: taken: 5 SPOS passes), about 1.1 s to start a supernet run; one child evaluated on 500
#: validation images after recalibrating BN on 250 training images about 0.22 s. Hence per seed
#: (390 steps at 5,000 images x 5 epochs): FairNAS 390 x 0.35 = 137 s, SPOS 390 x 0.069 = 27 s,
#: SPOS at equal passes 1,950 x 0.069 = 135 s; 3 x 200 children x 0.22 s = 132 s of evaluation:
#: about 430 s a seed, 22 minutes for 3 seeds with the report. An estimate from those pieces; the
#: run's own timing.json records what it took.
CPU_COST = {
    "spos_step_batch64_s": 0.069,
    "fairnas_step_batch64_s": 0.30,
    "supernet_run_start_s": 1.1,
    "child_eval_500_recal_250_s": 0.22,
}
PRESETS.register(
    H.Preset(
        "cpu",
        FairConfig(
            S.SupernetSpec(model=(("C", 8), ("N", 1)), epochs=5, batch_size=64, train_images=5000),
            eval_images=500,
            calib_images=250,
        ),
        "the 200 architectures of nb201-fmnist (stand-alone: 5 epochs in nb201-fmnist, 4 in nb201-fmnist-v1, seed mean of 2); "
        "supernets C=8 N=1 at 16x16 on 5,000 images: FairNAS and SPOS 5 epochs (equal images), "
        "SPOS 25 epochs (equal passes); 3 seeds; about 22 CPU minutes by the measured cost of "
        "its pieces (CPU_COST)",
        {"nb201": H.GroundTruthRole("NB201 Fashion-MNIST, N=1", "nb201-fmnist")},
        shrunk=(
            "supernet training: 5 epochs on 5,000 Fashion-MNIST images at 16x16 (25,000 images "
            "drawn; SPOS at equal passes 125,000) instead of ABS's NB201 recipe of 250 epochs on "
            "the 25,000-image CIFAR-10 search half (6.25 million; 250x fewer)",
            "supernet: C=8, N=1 (3 searchable cells) instead of C=16, N=5 (15)",
            "BN recalibration on 250 training images per child instead of ABS's 20,000 (80x "
            "fewer); evaluation on 500 validation images per child instead of 10,000 (20x)",
            "ground truth: the 200 NB201 classes of the built Fashion-MNIST benchmark (5 epochs in nb201-fmnist, 4 in nb201-fmnist-v1; "
            "2 seeds) instead of NB201's 15,625 architectures at 200 epochs on CIFAR-10",
            "space: NB201 instead of FairNAS's MobileNet space (6 choices x 18 layers) on ImageNet",
        ),
    )
)
PRESETS.register(
    H.Preset(
        "paper",
        FairConfig(
            S.SupernetSpec(
                model=(("C", 16), ("N", 5)),
                epochs=250,
                batch_size=64,
                lr=0.025,
                lr_min=0.001,
                weight_decay=5e-4,
                train_images=None,
            ),
            passes_match="fairnas_shorter",
            eval_images=10_000,
            calib_images=20_000,
            chunk=500,
        ),
        "a GPU and a CIFAR-10 NB201 benchmark you built (nbt build-bench --preset paper): "
        "--ground-truth nb201=STORE; ABS's NB201 SPOS recipe (250 epochs, batch 64, lr "
        "0.025 cosine to 0.001, weight decay 5e-4) for FairNAS and SPOS, FairNAS 50 epochs at "
        "equal passes; BN recalibrated on 20,000 training images (ABS)",
        {"nb201": H.GroundTruthRole("stand-alone accuracy")},
        shrunk=(
            "space: NB201 (5 ops x 6 edges, 15 cells) instead of FairNAS's MobileNet space (6 "
            "choices x 18 layers) on ImageNet; no augmentation",
            "equal passes by FairNAS trained 50 epochs (1/5) rather than SPOS 1,250",
            "gradients clipped by norm 5 (the trainer's default) where FairNAS's "
            "re-implementation clips by value",
        ),
    )
)


# --------------------------------------------------------------------------- coverage
_OP_PARAM = re.compile(r"^cells\.(\d+)\.edges\.(\d+)<-(\d+)\.(\d+)\.")


def coverage(budget: dict) -> dict:
    """Per ``(edge, op)`` of the NB201 cell, from a :func:`_supernets.training_budget`: how
    many passes switched it on (``drawn_*``) and how many steps updated its weights
    (``updated_*``; a step counts when any of the op's parameter tensors got a non-zero gradient
    entry; with the cells' BN without affine parameters, as here, a conv op has one tensor, so
    the count is exact): the mean count over the cells, the same per step, and the extremes over
    cells. Ops without weights have no ``updated_*``."""
    from nasbench_tools.spaces.nb201 import EDGES, OPS

    steps = budget["steps"]
    draws = np.asarray(budget["op_draws"], dtype=np.int64)  # (cells, 6, 5)
    updates: dict[tuple[int, int, int], int] = {}
    for name, n in budget["op_updates"].items():
        m = _OP_PARAM.match(name)
        if m is None:
            raise H.ReproductionError(f"op parameter {name!r} is not an NB201 cell edge's op")
        pos, dst, src, op = map(int, m.groups())
        key = (pos, EDGES.index((src, dst)), op)
        updates[key] = max(updates.get(key, 0), int(n))
    positions = sorted({k[0] for k in updates})
    rows = []
    for e, (src, dst) in enumerate(EDGES):
        for o, op in enumerate(OPS):
            d = draws[:, e, o]
            row = {"edge": f"{src}->{dst}", "op": op, "drawn_mean": float(d.mean()),
                   "drawn_per_step": float(d.mean() / steps), "drawn_min": int(d.min()),
                   "drawn_max": int(d.max())}  # fmt: skip
            u = [updates[(p, e, o)] for p in positions if (p, e, o) in updates]
            if u:
                row |= {"updated_mean": float(np.mean(u)),
                        "updated_per_step": float(np.mean(u) / steps), "updated_min": min(u),
                        "updated_max": max(u)}  # fmt: skip
            else:
                row |= {"updated_mean": None, "updated_per_step": None, "updated_min": None,
                        "updated_max": None}  # fmt: skip
            rows.append(row)
    weighted = [r for r in rows if r["updated_per_step"] is not None]
    return {
        "steps": steps,
        "cells": int(draws.shape[0]),
        "per_op": rows,
        "drawn_min_over_ops": int(draws.min()),
        "drawn_max_over_ops": int(draws.max()),
        "every_op_drawn_every_step": bool((draws == steps).all()),
        "updated_min_over_ops": min(r["updated_min"] for r in weighted),
        "updated_max_over_ops": max(r["updated_max"] for r in weighted),
        "update_coverage_mean": budget["update_coverage_mean"],
    }


def check_budgets(budgets: dict, pairs: dict) -> dict:
    """Per seed and compared pair: the logged images and passes of both runs, and whether the
    pair's budget matches; a mismatch is an error, not a footnote."""
    out = {}
    for what, key in (("equal_images", "images"), ("equal_passes", "passes")):
        a, b = pairs[what]
        rows = {}
        for seed, by_run in budgets.items():
            x, y = by_run[a], by_run[b]
            rows[seed] = {
                a: {"images": x["images"], "passes": x["passes"], "steps": x["steps"]},
                b: {"images": y["images"], "passes": y["passes"], "steps": y["steps"]},
                "matched": x[key] == y[key],
            }
            if x[key] != y[key]:
                raise H.ReproductionError(
                    f"seed {seed}: {a} logged {x[key]:,} {key} but {b} {y[key]:,}; the {what} "
                    "comparison would not be one"
                )
        out[what] = {"pair": [a, b], "matched_on": key, "per_seed": rows}
    return out


# --------------------------------------------------------------------------- numbers
def _fmt(v, digits: int = 3) -> str:
    return "undefined" if v is None else f"{v:.{digits}f}"


def _comparison(y: np.ndarray, taus: dict, scores: dict, pair, c: FairConfig, label: str) -> dict:
    a, b = pair
    test = H.detectable_tau_difference(
        y, np.mean(list(scores[a].values()), axis=0), np.mean(list(scores[b].values()), axis=0),
        labels=(a, b), n_boot=c.n_boot, seed=c.boot_seed,
    )  # fmt: skip
    outcome = H.paired_outcome(test)
    pa, pb = taus[a]["per_seed"], taus[b]["per_seed"]
    wins = {
        s: None if None in (pa[s]["value"], pb[s]["value"]) else pa[s]["value"] > pb[s]["value"]
        for s in pa
    }
    held = {"a better": True, "b better": False}.get(outcome)
    return {
        "budget": label,
        "pair": [a, b],
        "paired_test": test,
        "outcome": {"a better": f"{a} ranks better", "b better": f"{b} ranks better"}.get(
            outcome, outcome
        ),
        "fairnas_wins_per_seed": wins,
        "claim_held": held,
    }


def _verdict(comp: dict, taus: dict, plan_: dict) -> str:
    a, b = comp["pair"]
    t = comp["paired_test"]
    ta, tb = taus[a], taus[b]
    text = (
        f"{comp['budget']} ({a} {plan_['runs'][a]} vs {b} {plan_['runs'][b]} epochs): mean tau "
        f"over seeds {a} {_fmt(ta['mean_over_seeds'])} (sd {_fmt(ta['sd_over_seeds'])}) vs {b} "
        f"{_fmt(tb['mean_over_seeds'])} (sd {_fmt(tb['sd_over_seeds'])}); seed-mean scores "
        f"{_fmt(ta['seed_mean_score']['value'])} vs {_fmt(tb['seed_mean_score']['value'])}"
    )
    if t.get("half_width") is None:
        return text + "; no paired interval (a constant score)"
    return (
        text + f", difference {t['difference']:+.3f} [{t['low']:+.3f}, {t['high']:+.3f}] "
        f"(detectable {t['half_width']:.3f}): {comp['outcome']}"
    )


def run(rep: H.Reproduction) -> dict:
    from nasbench_tools.scores import ScoreTable

    c = rep.preset.config
    p = plan(c)
    gt = rep.ground_truth("nb201")
    dataset, epochs = rep.target("nb201")
    protocol = S.protocol_of(rep, "nb201")
    keys = gt.archs.keys
    y = np.asarray(gt.vector(dataset=dataset, split="valid", epochs=epochs), dtype=float)
    choices = S.nb201_choices(keys)
    scores: dict[str, dict[int, list]] = {name: {} for name in p["runs"]}
    budgets: dict[str, dict[str, dict]] = {}
    for seed in c.seeds:
        for name, n_epochs in p["runs"].items():
            run_name = f"{name}-s{seed}"
            run_dir = S.train_unit(rep, run_name, _spec(c, name, n_epochs), protocol, seed)
            budgets.setdefault(str(seed), {})[name] = S.budget_unit(rep, run_name, run_dir)
            scores[name][seed] = S.evaluate_children(
                rep, run_name, run_dir, choices, protocol, eval_images=c.eval_images,
                calib_images=c.calib_images, chunk=c.chunk,
            )  # fmt: skip
    checked = check_budgets(budgets, p)
    taus = {
        name: H.seed_taus(y, v, n_boot=c.n_boot, seed=c.boot_seed) for name, v in scores.items()
    }
    comparisons = {
        what: _comparison(y, taus, scores, p[what], c, label)
        for what, label in (("equal_images", "equal images"), ("equal_passes", "equal passes"))
    }
    cov = {
        name: {seed: coverage(by_run[name]) for seed, by_run in budgets.items()}
        for name in p["runs"]
    }
    gt_all = gt.vector(dataset=dataset, split="valid", epochs=epochs, seed="all")
    mean_scores = {name: np.mean(list(v.values()), axis=0) for name, v in scores.items()}
    table = rep.path("scores", "oneshot.csv")
    ScoreTable(
        "nb201", keys, {f"{n} ({p['runs'][n]} ep.)": v for n, v in mean_scores.items()},
        {"label": SCRIPT, "source": f"benchmarks/reproduce/{SCRIPT}.py", "data": dataset},
    ).write(table)  # fmt: skip
    rep.report([table], role="nb201", n_boot=c.report_n_boot, figures=c.figures)
    halfs = [d["paired_test"]["half_width"] for d in comparisons.values()]
    numbers = {
        "claim": PAPER["claim"],
        "paper": PAPER,
        "setting": {
            "dataset": dataset,
            "split": "valid",
            "epochs": epochs,
            "n": len(y),
            "standalone": "seed mean of the benchmark",
            "one_shot": f"accuracy on {c.eval_images} validation images after BN recalibration "
            f"on {c.calib_images} training images (reset, cumulative average)",
            "keys": [int(k) for k in keys.tolist()],
            "standalone_accuracy": y.tolist(),
        },
        "plan": {
            "runs": p["runs"],
            "passes_per_batch": p["passes_per_batch"],
            "equal_images": list(p["equal_images"]),
            "equal_passes": list(p["equal_passes"]),
            "passes_match": c.passes_match,
        },
        "budget_check": checked,
        "coverage": cov,
        "measured": {
            "tau": taus,
            "comparisons": comparisons,
            "ground_truth_seed_agreement": H.ground_truth_seed_agreement(
                gt_all, n_boot=c.n_boot, seed=c.boot_seed
            ),
            "one_shot_seed_mean": {n: v.tolist() for n, v in mean_scores.items()},
        },
        "detectable_difference": {
            "half_width": max((h for h in halfs if h is not None), default=None),
            "between": "FairNAS vs SPOS, seed-mean one-shot accuracy after recalibration "
            "(the larger of the two budgets' half-widths)",
            "per_budget": {w: d["paired_test"] for w, d in comparisons.items()},
        },
        "verdict": "; ".join(_verdict(comparisons[w], taus, p) for w in comparisons),
        "claim_held": {w: d["claim_held"] for w, d in comparisons.items()},
        "claim_held_means": "true: FairNAS's tau is higher and the paired 95% interval of the "
        "difference excludes 0; false: SPOS's is, likewise; null: the interval contains 0",
    }
    rep.write_results(numbers)
    return numbers


if __name__ == "__main__":
    sys.exit(H.main(SCRIPT, __doc__, PRESETS, run))
