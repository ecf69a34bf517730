"""Depth gap (Yang et al., ICLR 2020; method spec 7): do rankings change with depth beyond seed noise?

The same architectures trained at two depths: the built benchmark's N=1 (``nb201-fmnist``, seeds
0 and 1) and N=3 (``nb201-fmnist-n3``, the 32 architectures of ``data/builds/nb201_fmnist_depth32.txt``,
seed 0) cells per stage. The script reports, over the architectures both hold:

* Kendall tau-b between the depths (N=1 seed 0 against N=3 seed 0: one seed on each side, so
  the comparison with the seed floor is like for like), Spearman, Pearson, with bootstrap
  intervals; the top-k overlap; the analysis layer's whole depth-gap report
  (:func:`nasbench_tools.analysis.depth_gap_report`: rank shift, accuracy shift, BR@k);
* the seed noise floor: tau-b between the N=1 seeds 0 and 1 over the same architectures, and
  ``delta = tau_seed - tau_depth`` with its paired interval (architectures resampled jointly);
  a depth gap "beyond seed noise" only when that interval excludes 0;
* the same with the N=1 seed mean on the depth side (less noisy than one seed, so its tau can
  beat the floor without the depths agreeing better than seeds do; shown, not used for the
  verdict);
* the smallest difference this n can detect: the half-width of delta's interval;
* Yang et al.'s numbers beside (spec 7.1, recomputed from their stored data, tag [V-data]).

The ``nbt report`` folder ranks the N=3 accuracies (and N=1 seed 0) against the N=1 benchmark
(seed mean), with the benchmark's own seed agreement over all its architectures.

Presets: ``quick`` (8 NB201 classes on digits, N=1 x 2 seeds and N=3 x 1 seed, built by the
quick protocol in the output folder), ``cpu`` (the built Fashion-MNIST benchmarks; nothing to
train, seconds), ``paper`` (your own build of Yang et al.'s setting: pass both stores).

Run: ``python benchmarks/reproduce/depth_gap.py --preset cpu --out runs/depth_gap``
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as H

SCRIPT = "depth_gap"

#: Yang et al. (method spec 7.1 and appendix A), recomputed from their stored data [V-data].
PAPER = {
    "source": "Yang, Esperanca & Carlucci, ICLR 2020; method spec 7.1 [V-data]",
    "setting": "32 DARTS-space architectures on CIFAR-10, 8 vs 20 cells",
    "n": 32,
    "kendall_tau_depth": 0.5355,
    "kendall_tau_depth_ci": [0.33, 0.70],
    "spearman_rho_depth": 0.728,
    "top5_overlap": 3,
    "top10_overlap": 7,
    "kendall_tau_seeds": 0.476,
    "kendall_tau_seeds_ci": [0.26, 0.65],
    "top10_overlap_seeds": 5,
    "delta_seed_minus_depth": -0.06,
    "beyond_seed_noise": False,
    "claim": "rankings change with depth (tau 0.54), but not beyond seed noise (tau 0.48 "
    "between seeds) at n = 32",
}


@dataclass(frozen=True)
class DepthGapConfig:
    """Settings of the depth-gap reproduction.

    Attributes
    ----------
    split : str
        The store split compared (``valid``).
    noise_seeds : tuple of int
        The two N=1 seeds whose agreement is the noise floor.
    depth_seed : int
        The seed of both depths in the depth comparison.
    k : tuple of int
        Top-k sizes.
    n_boot, boot_seed : int
        Bootstrap resamples of the depth-gap report (the spec asks for 10,000) and their seed.
    report_n_boot : int
        Resamples of the ``nbt report`` folder.
    figures : str
        The report's figures: ``all``, ``summary`` or ``none``.
    """

    split: str = "valid"
    noise_seeds: tuple = (0, 1)
    depth_seed: int = 0
    k: tuple = (1, 5, 10)
    n_boot: int = 10_000
    boot_seed: int = 0
    report_n_boot: int = 1000
    figures: str = "summary"

    @property
    def seeds(self) -> tuple:
        return tuple(sorted({*self.noise_seeds, self.depth_seed}))


PRESETS = H.PresetRegistry(SCRIPT)
_QUICK_N1 = H.QUICK_NB201
PRESETS.register(
    H.Preset(
        "quick",
        DepthGapConfig(k=(1, 3), n_boot=200, report_n_boot=50, figures="none"),
        "tests: 8 NB201 classes built on digits (quick protocol), N=1 x seeds 0,1 and N=3 x "
        "seed 0; seconds",
        {
            "n1": H.GroundTruthRole("NB201 at N=1, two seeds", quick=_QUICK_N1),
            "n3": H.GroundTruthRole(
                "the same architectures at N=3, seed 0",
                quick=H.QuickStore(
                    space="nb201",
                    sample=None,
                    keys_of="n1",
                    seeds=(0,),
                    changes=(*H.QUICK_CHANGES, ("N", 3)),
                ),
            ),
        },
    )
)
PRESETS.register(
    H.Preset(
        "cpu",
        DepthGapConfig(),
        "the built Fashion-MNIST benchmarks: nb201-fmnist (N=1, seeds 0,1) and "
        "nb201-fmnist-n3 (32 of its architectures at N=3, seed 0); nothing is trained",
        {
            "n1": H.GroundTruthRole("NB201 Fashion-MNIST at N=1, two seeds", "nb201-fmnist"),
            "n3": H.GroundTruthRole("32 of them at N=3, seed 0", "nb201-fmnist-n3"),
        },
        shrunk=(
            "depths 1 vs 3 cells per stage (3 vs 9 cells) instead of 8 vs 20 cells, on "
            "Fashion-MNIST 16x16 after 5 epochs (the cpu build protocol; 4 in the -v1 build) instead of CIFAR-10 "
            "after 600 epochs; n = 32 as in the paper",
        ),
    )
)
PRESETS.register(
    H.Preset(
        "paper",
        DepthGapConfig(),
        "your own builds: --ground-truth n1=STORE (search depth, two seeds) --ground-truth "
        "n3=STORE (evaluation depth), e.g. nbt build-bench --preset paper with --N",
        {
            "n1": H.GroundTruthRole("the search depth, two seeds"),
            "n3": H.GroundTruthRole("the evaluation depth"),
        },
    )
)


def _shared(rep: H.Reproduction, c: DepthGapConfig) -> dict:
    """Per-seed accuracies of both depths on the architectures both stores hold."""
    n1, n3 = rep.ground_truth("n1"), rep.ground_truth("n3")
    (ds1, e1), (ds3, e3) = rep.target("n1"), rep.target("n3")
    if ds1 != ds3:
        raise H.ReproductionError(f"the two depths were trained on {ds1!r} and {ds3!r}")
    _check_same_training(rep)
    keys = [k for k in n3.archs.keys.tolist() if k in set(n1.archs.keys.tolist())]
    if len(keys) < 3:
        raise H.ReproductionError(f"the two stores share {len(keys)} architectures; need >= 3")
    a = n1.vector(dataset=ds1, split=c.split, epochs=e1, seed="all")
    b = n3.vector(dataset=ds3, split=c.split, epochs=e3, seed="all")
    for seed in c.seeds:
        if seed not in a.seeds:
            raise H.ReproductionError(f"the N=1 store has seeds {list(a.seeds)}, not {seed}")
    if c.depth_seed not in b.seeds:
        raise H.ReproductionError(f"the N=3 store has seeds {list(b.seeds)}, not {c.depth_seed}")
    p1 = np.asarray(n1.archs.positions(keys))
    p3 = np.asarray(n3.archs.positions(keys))
    n1_by_seed = {s: a.values[p1, list(a.seeds).index(s)] for s in a.seeds}
    return {
        "keys": keys,
        "dataset": ds1,
        "epochs": [e1, e3],
        "n1": n1_by_seed,
        "n3": b.values[p3, list(b.seeds).index(c.depth_seed)],
    }


def _check_same_training(rep: H.Reproduction) -> None:
    """The depth gap compares depths, so the two stores must differ in ``N`` alone: the same
    protocol settings otherwise (its name aside) and the same data, or a ReproductionError
    naming each difference."""

    def training(role: str) -> dict:
        prov = rep.ground_truth(role).provenance
        return H.training_settings(prov, without=("protocol.N", "seeds"))

    a, b = training("n1"), training("n3")
    diff = [f"{k} ({a.get(k)} at N=1, {b.get(k)} at N=3)" for k in H.setting_differences(a, b)]
    if diff:
        raise H.ReproductionError(
            f"the N=1 store ({rep.ground_truth_path('n1')}) and the N=3 store "
            f"({rep.ground_truth_path('n3')}) were not trained alike: " + "; ".join(diff)
        )


def _report_dict(r) -> dict:
    """The numbers of a DepthGapReport (JSON)."""
    out = {
        "n": r.n_used,
        "kendall_tau": H.estimate_dict(r.kendall_tau),
        "kendall_pvalue": r.kendall_pvalue,
        "spearman_rho": H.estimate_dict(r.spearman_rho),
        "pearson_r": H.estimate_dict(r.pearson_r),
        "top_k_overlap": {str(k): v for k, v in r.overlap.items()},
        "best_rank_at_b_of_top_k_at_a": {str(k): r.br_text(k) for k in r.br_at_k},
        "rank_shift_mean": r.rank_shift_mean,
        "rank_shift_max": r.rank_shift_max,
        "discordant_fraction": r.discordant_fraction,
        "accuracy_shift_mean": r.shift_mean,
        "accuracy_shift_sd": r.shift_sd,
        "slope": r.slope,
    }
    for label, nf in r.noise.items():
        out["noise_floor"] = {"label": label, "kendall_tau": H.estimate_dict(nf.tau)}
        out["delta_seed_minus_depth"] = H.estimate_dict(r.delta[label])
        out["beyond_seed_noise"] = r.significant[label]
        diffs = r.replicates[f"noise:{label}"] - r.replicates["tau"]
        out["detectable_difference"] = H.detectable_difference(diffs, r.confidence)
    return out


def _analysis(rep: H.Reproduction, c: DepthGapConfig, d: dict) -> dict:
    from nasbench_tools.analysis import depth_gap_report, p_at_top_k

    s0, s1 = (d["n1"][s] for s in c.noise_seeds)
    one = d["n1"][c.depth_seed]
    names = ("N=1", "N=3")
    common = {"k": c.k, "n_boot": c.n_boot, "seed": c.boot_seed}
    single = depth_gap_report(
        one, d["n3"], names=names, noise_a=(s0, s1), noise_paired=True, **common
    )
    mean = np.mean([d["n1"][s] for s in c.noise_seeds], axis=0)
    averaged = depth_gap_report(
        mean, d["n3"], names=names, noise_a=(s0, s1), noise_paired=True, **common
    )
    seed_overlap = {str(k): float(p_at_top_k(s0, s1, k).statistic) * k for k in c.k}
    return {
        "single_seed": _report_dict(single),
        "n1_seed_mean": _report_dict(averaged),
        "seed_top_k_overlap": seed_overlap,
        "table": [[k, _plain(v)] for k, v in single.summary().items()],
    }


def _plain(v):
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer | np.floating):
        return float(v)
    return v


def _verdict(single: dict) -> str:
    t, f = single["kendall_tau"], single["noise_floor"]["kendall_tau"]
    de = single["delta_seed_minus_depth"]
    held = not single["beyond_seed_noise"]
    return (
        f"tau between depths {t['value']:.3f} [{t['low']:.3f}, {t['high']:.3f}] vs tau between "
        f"seeds {f['value']:.3f} [{f['low']:.3f}, {f['high']:.3f}] (n = {single['n']}); delta "
        f"{de['value']:+.3f} [{de['low']:+.3f}, {de['high']:+.3f}]: the depth gap is "
        + (
            "not beyond seed noise, as Yang et al. found"
            if held
            else "beyond seed noise here, unlike Yang et al.'s data"
        )
    )


def _score_table(rep: H.Reproduction, d: dict, c: DepthGapConfig):
    from nasbench_tools.scores import ScoreTable

    path = rep.path("scores", "depths.csv")
    ScoreTable(
        "nb201",
        np.asarray(d["keys"], dtype=np.int64),
        {
            f"N=3 seed {c.depth_seed}": d["n3"],
            f"N=1 seed {c.depth_seed}": d["n1"][c.depth_seed],
        },
        {"label": "depth", "source": f"benchmarks/reproduce/{SCRIPT}.py", "data": d["dataset"]},
    ).write(path)
    return path


def run(rep: H.Reproduction) -> dict:
    import pandas as pd

    from nasbench_tools.analysis import to_markdown

    c = rep.preset.config
    d = _shared(rep, c)
    res = rep.unit(
        f"depth_gap:{c.split}:seed{c.depth_seed}", lambda: _analysis(rep, c, d), "depth-gap report"
    )
    table = pd.DataFrame(
        {"value": [v for _, v in res["table"]]},
        index=pd.Index([k for k, _ in res["table"]], name="quantity"),
    )
    to_markdown(table, rep.path("tables", "depth_gap.md"))
    rep.report([_score_table(rep, d, c)], role="n1", n_boot=c.report_n_boot, figures=c.figures)
    single = res["single_seed"]
    numbers = {
        "claim": PAPER["claim"],
        "paper": PAPER,
        "setting": {
            "dataset": d["dataset"],
            "split": c.split,
            "epochs": {"N=1": d["epochs"][0], "N=3": d["epochs"][1]},
            "n": len(d["keys"]),
            "keys": d["keys"],
        },
        "measured": res,
        "detectable_difference": {
            "half_width": single["detectable_difference"],
            "n": single["n"],
            "definition": "half-width of the 95% percentile interval of delta = tau(N=1 seed "
            f"{c.noise_seeds[0]}, seed {c.noise_seeds[1]}) - tau(N=1, N=3), architectures "
            f"resampled jointly ({c.n_boot} resamples)",
        },
        "verdict": _verdict(single),
        "claim_held": not single["beyond_seed_noise"],
    }
    rep.write_results(numbers)
    return numbers


if __name__ == "__main__":
    sys.exit(H.main(SCRIPT, __doc__, PRESETS, run))
