"""Bender et al. 2018 (method spec 5): one-shot accuracy against stand-alone accuracy.

A one-shot NB201 supernet is trained with **path dropout** (the ``oneshot`` sampler of
:mod:`nasbench_tools.supernet.samplers`: all paths on, each dropped with probability
``r(t) ** (1/k)`` so a whole edge is dropped with probability ``r(t)``, ``r`` ramped linearly
from 0 to ``drop_rate``, at least one path kept; weight decay only on the parameters a step
used). Every architecture of the built benchmark is then evaluated with the supernet's weights
(its ops zeroed out where the child does not use them) after BN recalibration, and compared with
its stand-alone validation accuracy (the benchmark's seed mean). Reported:

* the scatter (``figures/scatter.{png,pdf}``) and Kendall tau-b / Spearman with bootstrap
  intervals (``results.json`` keeps the keys and stand-alone accuracies and ``scores/`` the
  one-shot ones, so ``notebooks/reproduce/bender.ipynb`` redraws it from the run folder);
* the spread ratio: range of one-shot accuracy / range of stand-alone accuracy (max - min; and
  the same for the 10-90 % percentile range, less driven by one outlier). Bender et al.: the
  best lose 5-10 points from stand-alone to one-shot, poor ones up to 60, so the ratio is >> 1;
* top-10 by one-shot against 10 random architectures: mean stand-alone accuracy of the 10 best
  by one-shot score, against the mean over ``random_draws`` draws of 10 distinct architectures
  (its 2.5-97.5 % range over draws, and the share of draws at least as good). Bender et al.:
  one-shot top beats random by about 0.5 points;
* the drop-rate ablation: the same numbers for every rate of ``ablation_rates`` (Bender et al.'s
  ablation kept the rate constant; ``ramp`` says which schedule is used here);
* the smallest tau difference this n can detect: the paired-bootstrap half-width of the tau
  difference between the main rate and each ablation rate.

The spec marks the drop schedule, the exponent and the evaluation-time BN as unverified against
the paper; they are options of the sampler, and the paper states no numeric tau (spec 5).

Presets: ``quick`` (8 classes on digits), ``cpu`` (the 200 architectures of ``nb201-fmnist``),
``paper`` (NB201 at the toolkit's supernet recipe, for a GPU and CIFAR-10).

Run: ``python benchmarks/reproduce/bender.py --preset cpu --out runs/bender``
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as H
import _supernets as S

SCRIPT = "bender"

PAPER = {
    "source": "Bender et al., ICML 2018; method spec 5 [V-paper]",
    "setting": "their own cell space on CIFAR-10; one-shot model trained 5,000 steps (113 "
    "epochs) with path dropout",
    "top10_oneshot_minus_random_points": 0.5,
    "spread": "best architectures lose 5-10 points from stand-alone to one-shot, poor ones up "
    "to 60: the one-shot range is much wider than the stand-alone range",
    "kendall_tau": None,
    "claim": "one-shot accuracy spreads far wider than stand-alone accuracy, yet its top 10 "
    "beat 10 random architectures (by about 0.5 points)",
}


@dataclass(frozen=True)
class BenderConfig:
    """Settings of the Bender et al. reproduction.

    Attributes
    ----------
    supernet : SupernetSpec
        Training (sampler ``oneshot``; its ``drop_rate`` is replaced per rate).
    drop_rate : float
        The main rate.
    ablation_rates : tuple of float
        Further rates, each its own supernet.
    ramp : {"linear", "constant"}
    seeds : tuple of int
        Supernet seeds (each rate is trained once per seed; numbers use the seed mean of the
        one-shot accuracy).
    eval_images, calib_images : int
        Validation images per child; training images for BN recalibration (0: running stats).
    top : int
        Top-k of the one-shot vs random comparison.
    random_draws, draw_seed : int
        Random sets of ``top`` architectures.
    n_boot, boot_seed : int
    chunk : int
        Children per journal unit.
    report_n_boot : int
    figures : str
    """

    supernet: S.SupernetSpec
    drop_rate: float = 0.5
    ablation_rates: tuple = (0.0, 0.25, 0.75)
    ramp: str = "linear"
    seeds: tuple = (0,)
    eval_images: int = 2000
    calib_images: int = 1000
    top: int = 10
    random_draws: int = 10_000
    draw_seed: int = 0
    n_boot: int = 1000
    boot_seed: int = 0
    chunk: int = 50
    report_n_boot: int = 1000
    figures: str = "summary"

    @property
    def rates(self) -> tuple:
        return (self.drop_rate, *[r for r in self.ablation_rates if r != self.drop_rate])


def _spec(c: BenderConfig, rate: float) -> S.SupernetSpec:
    import dataclasses

    opts = {"drop_rate": rate, "ramp": c.ramp, "sharing": "per_cell"}
    return dataclasses.replace(c.supernet, sampler="oneshot", sampler_options=tuple(opts.items()))


PRESETS = H.PresetRegistry(SCRIPT)
PRESETS.register(
    H.Preset(
        "quick",
        BenderConfig(
            S.SupernetSpec(model=(("C", 4), ("N", 1)), epochs=1, batch_size=32, train_images=256),
            ablation_rates=(0.0,),
            eval_images=128,
            calib_images=128,
            top=3,
            random_draws=200,
            n_boot=100,
            chunk=4,
            report_n_boot=50,
            figures="none",
        ),
        "tests: 8 NB201 classes built on digits; a C=4 supernet, 1 epoch on 256 images",
        {"standalone": H.GroundTruthRole("stand-alone accuracy", quick=H.QUICK_NB201)},
    )
)
#: CPU seconds (one thread, process time, measured on this machine while a build ran on both
#: cores) of the cpu preset's pieces on Fashion-MNIST 16x16: a path-dropout training step of the
#: C=8 N=1 supernet at batch 64 (r = 0.5) 0.062 s; one child evaluated on 1,000 validation images
#: after recalibrating BN on 500 training images 0.158 s. Hence per rate about 3,125 steps x
#: 0.062 s = 195 s of training (more at the start, where r ramps from 0 and every path runs) and
#: 200 children x ~0.3 s = 60 s of evaluation: about 5 minutes per rate, 15 for three. An
#: estimate from those pieces; the run's own timing.json records what it took.
CPU_COST = {"train_step_batch64_s": 0.062, "child_eval_1000_recal_500_s": 0.158}
PRESETS.register(
    H.Preset(
        "cpu",
        BenderConfig(
            S.SupernetSpec(
                model=(("C", 8), ("N", 1)), epochs=10, batch_size=64, train_images=20_000
            ),
            ablation_rates=(0.0, 0.25),
            eval_images=2000,
            calib_images=1000,
            chunk=100,
        ),
        "the 200 architectures of nb201-fmnist (stand-alone: 5 epochs in nb201-fmnist, 4 in nb201-fmnist-v1, seed mean of 2); "
        "one-shot supernets C=8 N=1 at 16x16, 10 epochs on 20,000 images, rates 0.5, 0.0, "
        "0.25; about 15 CPU minutes by the measured cost of its pieces (CPU_COST)",
        {"standalone": H.GroundTruthRole("NB201 Fashion-MNIST, N=1", "nb201-fmnist")},
        shrunk=(
            "one-shot training: 10 epochs on 20,000 Fashion-MNIST images at 16x16 (200,000 "
            "images seen) instead of 5,000 steps of about 1,024 CIFAR-10 images (5.1 million; "
            "26x fewer)",
            "evaluation: 2,000 validation images per child after recalibrating BN on 1,000 "
            "training images, instead of the whole validation set",
            "space: 200 NB201 isomorphism classes (C=8, N=1) instead of Bender et al.'s cell "
            "space; ablation over 3 rates (0.5, 0.0, 0.25) with one supernet seed",
        ),
    )
)
PRESETS.register(
    H.Preset(
        "paper",
        BenderConfig(
            S.SupernetSpec(
                model=(("C", 16), ("N", 5)), epochs=250, batch_size=64, train_images=None
            ),
            ablation_rates=(0.0, 0.25, 0.75),
            eval_images=10_000,
            calib_images=20_000,
            seeds=(0, 1, 2),
            chunk=500,
        ),
        "a GPU and a CIFAR-10 NB201 benchmark you built (nbt build-bench --preset paper): "
        "--ground-truth standalone=STORE; the toolkit's NB201 supernet recipe with path dropout",
        {"standalone": H.GroundTruthRole("stand-alone accuracy")},
        shrunk=(
            "space: NB201 instead of Bender et al.'s cell space; schedule: the NB201 "
            "supernet recipe (250 epochs, batch 64) instead of 5,000 steps at batch 1,024",
        ),
    )
)


def _top_vs_random(y: np.ndarray, score: np.ndarray, c: BenderConfig) -> dict:
    """Mean stand-alone accuracy of the top by score against random sets of the same size."""
    k = min(c.top, len(y))
    order = np.lexsort((np.arange(len(y)), -score))  # best score first; ties by position
    top = float(np.mean(y[order[:k]]))
    rng = np.random.default_rng(c.draw_seed)
    draws = np.array([y[rng.choice(len(y), size=k, replace=False)].mean()
                      for _ in range(c.random_draws)])  # fmt: skip
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return {
        "k": k,
        "top_by_oneshot_mean": top,
        "random_mean": float(draws.mean()),
        "random_interval": [float(lo), float(hi)],
        "expected_random_mean": float(y.mean()),
        "gain_points": top - float(y.mean()),
        "share_of_draws_at_least_as_good": float(np.mean(draws >= top)),
        "draws": c.random_draws,
    }


def _rate_numbers(y: np.ndarray, s: np.ndarray, c: BenderConfig) -> dict:
    q_y, q_s = np.quantile(y, [0.1, 0.9]), np.quantile(s, [0.1, 0.9])
    return {
        "kendall_tau": H.metric_ci(y, s, n_boot=c.n_boot, seed=c.boot_seed),
        "spearman_rho": H.metric_ci(y, s, "spearman_rho", n_boot=c.n_boot, seed=c.boot_seed),
        "oneshot_range": [float(s.min()), float(s.max())],
        "standalone_range": [float(y.min()), float(y.max())],
        "spread_ratio": _ratio(s.max() - s.min(), y.max() - y.min()),
        "spread_ratio_10_90": _ratio(q_s[1] - q_s[0], q_y[1] - q_y[0]),
        "top_vs_random": _top_vs_random(y, s, c),
    }


def _ratio(a: float, b: float) -> float | None:
    """``a / b``; None where the stand-alone spread is 0 (no ratio, not an infinity)."""
    return float(a / b) if b > 0 else None


def _scatter(rep: H.Reproduction, y: np.ndarray, scores: dict, dataset: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nasbench_tools.analysis import COLUMN_WIDTH

    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, COLUMN_WIDTH * 0.8), layout="constrained")
    for (label, s), marker in zip(scores.items(), "os^vD"):
        ax.scatter(s, y, s=8, marker=marker, alpha=0.7, label=label)
    ax.set_xlabel("one-shot accuracy (%)", fontsize=8)
    ax.set_ylabel(f"stand-alone {dataset} valid acc. (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, title="path dropout r", title_fontsize=6)
    files = []
    for ext in ("png", "pdf"):
        path = rep.path("figures", f"scatter.{ext}")
        fig.savefig(path, dpi=200)
        files.append(str(path.relative_to(rep.out)))
    plt.close(fig)
    return files


def _f(v, digits: int = 2) -> str:
    return "undefined" if v is None else f"{v:.{digits}f}"


def claim_held(m: dict) -> bool:
    """Bender et al.'s claim at one drop rate's numbers ``m`` (:func:`_rate_numbers`): the
    one-shot range wider than the stand-alone range, and the top-k by one-shot score better than
    the upper end of the random draws' 2.5-97.5 % interval. A positive gain inside that interval
    is what a random pick of k would give as often as not, so it does not count."""
    t = m["top_vs_random"]
    wider = m["spread_ratio"] is not None and m["spread_ratio"] > 1
    return bool(wider and t["top_by_oneshot_mean"] > t["random_interval"][1])


def _verdict(c: BenderConfig, m: dict) -> str:
    t = m["top_vs_random"]
    lo, hi = t["random_interval"]
    return (
        f"at r={c.drop_rate}: one-shot range / stand-alone range {_f(m['spread_ratio'])}; "
        f"top-{t['k']} by one-shot {t['top_by_oneshot_mean']:.2f} vs random "
        f"{t['random_mean']:.2f} [{lo:.2f}, {hi:.2f}] (gain {t['gain_points']:+.2f} points; "
        f"paper about +0.5); tau {_f(m['kendall_tau']['value'], 3)}"
    )


def run(rep: H.Reproduction) -> dict:
    from nasbench_tools.scores import ScoreTable

    c = rep.preset.config
    gt = rep.ground_truth("standalone")
    dataset, epochs = rep.target("standalone")
    protocol = S.protocol_of(rep, "standalone")
    keys = gt.archs.keys
    y = np.asarray(gt.vector(dataset=dataset, split="valid", epochs=epochs), dtype=float)
    oneshot: dict[str, np.ndarray] = {}
    for rate in c.rates:
        per_seed = []
        for seed in c.seeds:
            name = f"oneshot-r{rate}-s{seed}"
            run_dir = S.train_unit(rep, name, _spec(c, rate), protocol, seed)
            choices = S.nb201_choices(keys)
            per_seed.append(
                S.evaluate_children(
                    rep,
                    name,
                    run_dir,
                    choices,
                    protocol,
                    eval_images=c.eval_images,
                    calib_images=c.calib_images,
                    chunk=c.chunk,
                )
            )
        oneshot[f"r={rate}"] = np.mean(per_seed, axis=0)
    by_rate = {label: _rate_numbers(y, s, c) for label, s in oneshot.items()}
    main = f"r={c.drop_rate}"
    detect = [
        H.detectable_tau_difference(y, oneshot[main], oneshot[other], labels=(main, other),
                                    n_boot=c.n_boot, seed=c.boot_seed)
        for other in oneshot if other != main
    ]  # fmt: skip
    table = rep.path("scores", "oneshot.csv")
    ScoreTable(
        "nb201", keys, {f"one-shot {k}": v for k, v in oneshot.items()},
        {"label": "bender", "source": f"benchmarks/reproduce/{SCRIPT}.py", "data": dataset},
    ).write(table)  # fmt: skip
    rep.report([table], role="standalone", n_boot=c.report_n_boot, figures=c.figures)
    m = by_rate[main]
    held = claim_held(m)
    numbers = {
        "claim": PAPER["claim"],
        "paper": PAPER,
        "one_shot_training": "path dropout (the oneshot sampler), "
        f"{c.ramp} ramp to r; {len(c.seeds)} supernet seed(s), one-shot accuracy averaged",
        "setting": {
            "dataset": dataset,
            "split": "valid",
            "epochs": epochs,
            "n": len(y),
            "standalone": "seed mean of the benchmark",
            "keys": [int(k) for k in keys.tolist()],
            "standalone_accuracy": y.tolist(),
        },
        "measured": {"by_rate": by_rate, "main_rate": main},
        "detectable_difference": {
            "pairs": detect,
            "half_width": max(
                (d["half_width"] for d in detect if d["half_width"] is not None), default=None
            ),
            "n": len(y),
        },
        "figures": _scatter(rep, y, oneshot, dataset),
        "verdict": _verdict(c, m),
        "claim_held": held,
    }
    rep.write_results(numbers)
    return numbers


if __name__ == "__main__":
    sys.exit(H.main(SCRIPT, __doc__, PRESETS, run))
