"""MixPath (Chu et al.; method spec 2): does shadow BN make a multi-path supernet rank better?

Multi-path supernets (the ``mixpath`` sampler: per block ``k ~ U{1..m}`` paths, a uniform
``k``-subset, their outputs summed) are trained with the sum normalised three ways: **shadow BN**
(``BN_k`` for ``k`` active paths), **single BN** (one BN whatever ``k``: MixPath's "vanilla"),
**none**; the path norms have affine parameters, as MixPath's shadow BN has (affine-free, shadow
and single BN would train identically, since batch statistics carry no parameters, and be one
network once BN is recalibrated). Each is trained with 3 seeds on two spaces of the built
benchmark:

* ``nb201``: the NB201 supernet (the path norm acts on each edge's sum), ``m = 3`` of the 5 ops
  per edge; children are the benchmark's architectures (single path per edge, the same genotype
  in every cell), all 200 of ``nb201-fmnist``;
* ``nb101``: MixPath's NB101 sub-space supernet (the norm acts on the sum of the active nodes,
  before the fusion conv: the paper's semantics, which MixPath's released NB101 code never
  applies, spec 2.3), ``m = 4`` (MixPath's Table 1; with ``m = 3`` the 15 four-node graphs would
  never be trained), children the 34 distinct NB101 graphs of ``nb101-mixpath-fmnist``; each
  graph is evaluated through one sub-network: its nodes at the lowest indices, ops in the
  enumeration order (isomorphic sub-networks use different weights; spec 2.3.2).

Every child is evaluated twice: with the supernet's running BN statistics (before recalibration)
and after recalibrating BN on training images (reset, cumulative average; the toolkit default,
not MixPath's transductive test-set calibration, spec 2.3.4). Ground truth: the benchmark's
validation accuracy, seed mean (not one random repeat as MixPath's NB101 query; spec 2.3.2), all
children kept (MixPath drops the 30 lowest by supernet accuracy first; spec 2.3.3).

Reported per space, norm and recalibration: Kendall tau-b of one-shot accuracy against the
ground truth per seed (bootstrap intervals), their mean and sd over seeds, the tau of the
seed-mean one-shot accuracy; the ground truth's own seed agreement (tau between its seeds 0 and 1,
with interval) beside; paired tests shadow vs single and shadow vs none (seed-mean scores), whose
interval half-width is the smallest tau difference this n can detect. ``results.json`` keeps
each space's keys, ground-truth accuracies and seed-mean one-shot accuracies, from which
``notebooks/reproduce/mixpath.ipynb`` redraws the figures. The ``nbt report`` folder
covers the NB201 space (the report takes NB201 ground truths only); the NB101 numbers are in
``results.json`` and ``tables/tau.md``.

Presets: ``quick`` (8 NB201 classes and 8 of the NB101 graphs on digits), ``cpu`` (the built
Fashion-MNIST benchmarks), ``paper`` (MixPath's NB101 recipe: 200 epochs, a GPU and CIFAR-10).

Run: ``python benchmarks/reproduce/mixpath.py --preset cpu --out runs/mixpath``
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as H
import _supernets as S

SCRIPT = "mixpath"

PAPER = {
    "source": "Chu et al., MixPath (arXiv 2001.05887); method spec 2.4",
    "best_kendall_tau_nb101_sbn_calibrated": 0.597,
    "best_kendall_tau_status": "abstract v2/v3; which table cell (m) is [UNVERIFIED]",
    "per_seed_tables": "Table 1 (m=4) and Table 5 (m=3) per-seed tau: not retrieved [UNVERIFIED]",
    "setting": "NB101 sub-space, CIFAR-10, 200 epochs, 70 sampled models (100 minus the 30 "
    "lowest by supernet accuracy), GT one random NB101 repeat",
    "claim": "shadow BN with BN calibration ranks better than a single (vanilla) BN across 3 "
    "seeds (best tau about 0.6)",
}

#: Names of the two spaces and their ground-truth roles.
SPACES = {"nb201": "nb201", "nb101": "nb101"}


@dataclass(frozen=True)
class MixPathConfig:
    """Settings of the MixPath reproduction.

    Attributes
    ----------
    nb201, nb101 : SupernetSpec
        Training of each space's supernet (``bn`` and the sampler are set per run).
    m_nb201, m_nb101 : int
        Most paths summed per block.
    norms : tuple of str
        Path norms compared (``shadow``, ``single``, ``none``).
    seeds : tuple of int
        Supernet seeds.
    spaces : tuple of str
        ``nb201`` and/or ``nb101``.
    eval_images, calib_images : int
        Validation images per child; training images for BN recalibration.
    n_boot, boot_seed, chunk, report_n_boot, figures
        As in the other reproductions.
    """

    nb201: S.SupernetSpec
    nb101: S.SupernetSpec
    m_nb201: int = 3
    m_nb101: int = 4
    norms: tuple = ("shadow", "single", "none")
    seeds: tuple = (0, 1, 2)
    spaces: tuple = ("nb201", "nb101")
    eval_images: int = 1000
    calib_images: int = 500
    n_boot: int = 1000
    boot_seed: int = 0
    chunk: int = 50
    report_n_boot: int = 1000
    figures: str = "summary"


def _nb101_spec(**kw) -> S.SupernetSpec:
    return S.SupernetSpec(supernet="nb101-mixpath", lr_min=1e-8, weight_decay=3e-4, **kw)


PRESETS = H.PresetRegistry(SCRIPT)
_QUICK_MODEL_101 = (("num_nodes", 4), ("stem_channels", 4), ("num_stacks", 3),
                    ("cells_per_stack", 1))  # fmt: skip
PRESETS.register(
    H.Preset(
        "quick",
        MixPathConfig(
            S.SupernetSpec(model=(("C", 4), ("N", 1)), epochs=1, batch_size=32, train_images=256),
            _nb101_spec(model=_QUICK_MODEL_101, epochs=1, batch_size=32, train_images=256),
            norms=("shadow", "single"),
            seeds=(0, 1),
            eval_images=128,
            calib_images=128,
            n_boot=100,
            chunk=8,
            report_n_boot=50,
            figures="none",
        ),
        "tests: 8 NB201 classes and the first 8 MixPath NB101 graphs built on digits; tiny "
        "supernets, 1 epoch on 256 images, 2 norms x 2 seeds",
        {
            "nb201": H.GroundTruthRole("NB201, two seeds", quick=H.QUICK_NB201),
            "nb101": H.GroundTruthRole(
                "MixPath's NB101 graphs, two seeds",
                quick=H.QuickStore(
                    space="nb101",
                    sample=None,
                    arch_set="mixpath-nb101",
                    first=8,
                    seeds=(0, 1),
                    changes=H.QUICK_CHANGES,
                ),
            ),
        },
    )
)
#: CPU seconds (one thread, process time, measured on this machine while a build ran on both
#: cores) on Fashion-MNIST 16x16, shadow BN: a training step at batch 64 of the NB201 supernet
#: (C=8, N=1, m=3) 0.094 s and of the NB101 one (stem 8, 3 cells, m=4) 0.050 s; one child on
#: 1,000 validation images after recalibrating on 500 training images 0.222 s (NB201) and
#: 0.141 s (NB101), 0.128 / 0.081 s without recalibration. Hence for the cpu preset (390 steps
#: per supernet; 500 + 250 images per child): NB201 9 x (37 s + 200 x ~0.17 s) = 640 s, NB101
#: 9 x (20 s + 34 x ~0.11 s) = 210 s: about 15 minutes. An estimate from those pieces; the
#: run's own timing.json records what it took.
CPU_COST = {
    "nb201_step_batch64_s": 0.094,
    "nb101_step_batch64_s": 0.050,
    "nb201_child_eval_1000_recal_500_s": 0.222,
    "nb101_child_eval_1000_recal_500_s": 0.141,
}
PRESETS.register(
    H.Preset(
        "cpu",
        MixPathConfig(
            S.SupernetSpec(model=(("C", 8), ("N", 1)), epochs=5, batch_size=64, train_images=5000),
            _nb101_spec(
                model=(
                    ("num_nodes", 4),
                    ("stem_channels", 8),
                    ("num_stacks", 3),
                    ("cells_per_stack", 1),
                ),
                epochs=5,
                batch_size=64,
                train_images=5000,
            ),
            eval_images=500,
            calib_images=250,
            chunk=100,
        ),
        "nb201-fmnist (200 NB201 classes) and nb101-mixpath-fmnist (34 graphs); supernets "
        "5 epochs on 5,000 images, 3 norms x 3 seeds x 2 spaces; about 15 CPU minutes by the "
        "measured cost of its pieces (CPU_COST)",
        {
            "nb201": H.GroundTruthRole("NB201 Fashion-MNIST, N=1, two seeds", "nb201-fmnist"),
            "nb101": H.GroundTruthRole("MixPath NB101 graphs, two seeds", "nb101-mixpath-fmnist"),
        },
        shrunk=(
            "supernet training: 5 epochs on 5,000 Fashion-MNIST images at 16x16 (25,000 images "
            "seen) instead of 200 epochs on 50,000 CIFAR-10 images (10 million; 400x fewer)",
            "NB101 supernet: stem 8 channels and 1 cell per stack (3 cells) instead of 128 "
            "channels and 3 cells per stack (9 cells)",
            "BN recalibration on 250 training images per child instead of MixPath's 10,000 "
            "test images (40x fewer; ABS uses 20,000: 80x); evaluation on 500 validation "
            "images per child instead of 10,000 (20x fewer)",
        ),
    )
)
PRESETS.register(
    H.Preset(
        "paper",
        MixPathConfig(
            S.SupernetSpec(model=(("C", 16), ("N", 5)), epochs=250, batch_size=64),
            _nb101_spec(
                model=(
                    ("num_nodes", 4),
                    ("stem_channels", 128),
                    ("num_stacks", 3),
                    ("cells_per_stack", 3),
                ),
                epochs=200,
                batch_size=96,
                lr=0.025,
            ),
            eval_images=10_000,
            calib_images=20_000,
            chunk=500,
        ),
        "a GPU and CIFAR-10 benchmarks you built (nbt build-bench --preset paper): "
        "--ground-truth nb201=STORE --ground-truth nb101=STORE; MixPath's NB101 recipe",
        {
            "nb201": H.GroundTruthRole("NB201 on CIFAR-10, two seeds"),
            "nb101": H.GroundTruthRole("MixPath NB101 graphs on CIFAR-10, two seeds"),
        },
        shrunk=(
            "MixPath's cutout 16, crop/flip and no weight decay on BN are not applied: the "
            "reproduction trains without augmentation",
        ),
    )
)


# --------------------------------------------------------------------------- children
def nb101_choices(hashes, num_nodes: int, m: int) -> list[np.ndarray]:
    """One sub-network per NB101 graph: the first choice, in enumeration order (fewest nodes,
    lowest node indices, ops in MixPath's order), whose cell is the graph."""
    import torch

    from nasbench_tools.nn.nb101_mixpath import ALTERNATIVES, MixPathNB101Supernet

    with torch.device("meta"):
        net = MixPathNB101Supernet(num_nodes=num_nodes, stem_channels=1, num_stacks=1,
                                   cells_per_stack=1)  # fmt: skip
    first: dict[str, np.ndarray] = {}
    for k in range(1, m + 1):
        for nodes in itertools.combinations(range(num_nodes), k):
            for ops in itertools.product(range(len(ALTERNATIVES)), repeat=k):
                choice = net.space.empty(1)
                choice[0, 0, list(nodes)] = ops
                first.setdefault(net.arch_key(choice), choice)
    missing = [h for h in hashes if h not in first]
    if missing:
        raise H.ReproductionError(
            f"NB101 graph {missing[0]} is not a sub-network of a {num_nodes}-node MixPath cell "
            f"with at most {m} active nodes"
        )
    return [first[h] for h in hashes]


def _children(space: str, keys, c: MixPathConfig) -> list[np.ndarray]:
    if space == "nb201":
        return S.nb201_choices(keys)
    return nb101_choices(keys.tolist(), dict(c.nb101.model)["num_nodes"], c.m_nb101)


def _spec(c: MixPathConfig, space: str, norm: str) -> S.SupernetSpec:
    base, m = (c.nb201, c.m_nb201) if space == "nb201" else (c.nb101, c.m_nb101)
    opts = (("m", m), ("sharing", "shared"))
    return dataclasses.replace(base, bn=norm, sampler="mixpath", sampler_options=opts)


# --------------------------------------------------------------------------- numbers
def _space(rep: H.Reproduction, space: str, c: MixPathConfig) -> dict:
    gt = rep.ground_truth(space)
    dataset, epochs = rep.target(space)
    protocol = S.protocol_of(rep, space)
    keys = gt.archs.keys
    y = np.asarray(gt.vector(dataset=dataset, split="valid", epochs=epochs), dtype=float)
    gt_all = gt.vector(dataset=dataset, split="valid", epochs=epochs, seed="all")
    choices = _children(space, keys, c)
    scores: dict[str, dict[str, dict]] = {}
    for norm in c.norms:
        before, after = {}, {}
        for seed in c.seeds:
            name = f"{space}-{norm}-s{seed}"
            run_dir = S.train_unit(rep, name, _spec(c, space, norm), protocol, seed)
            common = {"eval_images": c.eval_images, "chunk": c.chunk}
            before[seed] = S.evaluate_children(rep, name, run_dir, choices, protocol,
                                               calib_images=0, **common)  # fmt: skip
            after[seed] = S.evaluate_children(rep, name, run_dir, choices, protocol,
                                              calib_images=c.calib_images, **common)  # fmt: skip
        scores[norm] = {"before": before, "after": after}
    taus = {
        norm: {when: H.seed_taus(y, v, n_boot=c.n_boot, seed=c.boot_seed) for when, v in d.items()}
        for norm, d in scores.items()
    }
    mean_scores = {
        f"{norm} {when}": np.mean(list(v.values()), axis=0)
        for norm, d in scores.items()
        for when, v in d.items()
    }
    tests = [
        H.detectable_tau_difference(y, mean_scores[f"shadow {w}"], mean_scores[f"{o} {w}"],
                                    labels=(f"shadow {w}", f"{o} {w}"), n_boot=c.n_boot,
                                    seed=c.boot_seed)
        for o in c.norms if o != "shadow" for w in ("after", "before")
    ] if "shadow" in c.norms else []  # fmt: skip
    wins = _wins(taus, c)
    return {
        "dataset": dataset,
        "epochs": epochs,
        "n": len(y),
        "keys": [k if isinstance(k, str) else int(k) for k in keys.tolist()],
        "ground_truth_accuracy": y.tolist(),
        "tau": taus,
        "ground_truth_seed_agreement": H.ground_truth_seed_agreement(
            gt_all, n_boot=c.n_boot, seed=c.boot_seed
        ),
        "paired_tests": tests,
        "shadow_beats_single_after_recalibration": wins,
        "one_shot_seed_mean": {k: v.tolist() for k, v in mean_scores.items()},
    }


def _wins(taus: dict, c: MixPathConfig) -> dict | None:
    if "shadow" not in taus or "single" not in taus:
        return None
    sh, si = taus["shadow"]["after"]["per_seed"], taus["single"]["after"]["per_seed"]
    per_seed = {
        s: None if None in (sh[s]["value"], si[s]["value"]) else sh[s]["value"] > si[s]["value"]
        for s in sh
    }
    return {"per_seed": per_seed, "all_seeds": all(v is True for v in per_seed.values())}


def _fmt(e: dict) -> str:
    if e["value"] is None:
        return "undefined (constant score)"
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def _num(v) -> str:
    return "undefined" if v is None else f"{v:.3f}"


def _mean_sd(t: dict) -> str:
    """``mean (sd), n seeds``; one seed is shown as itself, without an sd."""
    n = t["seeds_defined"]
    if n == 0:
        return "undefined"
    if n == 1:
        return f"{t['mean_over_seeds']:.3f}, 1 seed (no sd)"
    return f"{t['mean_over_seeds']:.3f} ({t['sd_over_seeds']:.3f}), {n} seeds"


def _tau_table(rep: H.Reproduction, by_space: dict) -> None:
    import pandas as pd

    from nasbench_tools.analysis import to_markdown

    rows = []
    for space, d in by_space.items():
        for norm, whens in d["tau"].items():
            for when, t in whens.items():
                row = {"space": space, "norm": norm, "BN": f"{when} recalibration"}
                for s, e in t["per_seed"].items():
                    row[f"tau seed {s}"] = _fmt(e)
                row["mean (sd)"] = _mean_sd(t)
                rows.append(row)
        agr = d["ground_truth_seed_agreement"]["mean_seed_vs_seed"]
        rows.append({"space": space, "norm": "ground truth seed vs seed", "BN": "",
                     "mean (sd)": f"{agr['value']:.3f} [{agr['low']:.3f}, {agr['high']:.3f}]"})  # fmt: skip
    to_markdown(pd.DataFrame(rows).set_index(["space", "norm", "BN"]).fillna(""),
                rep.path("tables", "tau.md"))  # fmt: skip


def run(rep: H.Reproduction) -> dict:
    from nasbench_tools.scores import ScoreTable

    c = rep.preset.config
    by_space = {space: _space(rep, space, c) for space in c.spaces}
    _tau_table(rep, by_space)
    if "nb201" in by_space:
        d = by_space["nb201"]
        table = rep.path("scores", "nb201_oneshot.csv")
        ScoreTable(
            "nb201", np.asarray(d["keys"], dtype=np.int64),
            {f"{k} recalibration": np.asarray(v) for k, v in d["one_shot_seed_mean"].items()},
            {"label": "mixpath", "source": f"benchmarks/reproduce/{SCRIPT}.py",
             "data": d["dataset"]},
        ).write(table)  # fmt: skip
        rep.report([table], role="nb201", n_boot=c.report_n_boot, figures=c.figures)
    halfs = [t["half_width"] for d in by_space.values() for t in d["paired_tests"]
             if t["between"] == ["shadow after", "single after"] and t["half_width"] is not None]  # fmt: skip
    held = {s: (d["shadow_beats_single_after_recalibration"] or {}).get("all_seeds")
            for s, d in by_space.items()}  # fmt: skip
    numbers = {
        "claim": PAPER["claim"],
        "paper": PAPER,
        "measured": by_space,
        "detectable_difference": {
            "half_width": max(halfs) if halfs else None,
            "between": "shadow vs single BN after recalibration, seed-mean one-shot accuracy",
            "per_space": {s: d["paired_tests"] for s, d in by_space.items()},
        },
        "verdict": "; ".join(_verdict(s, d) for s, d in by_space.items()),
        "claim_held": held,
    }
    rep.write_results(numbers)
    return numbers


def _verdict(space: str, d: dict) -> str:
    t = d["tau"]
    parts = [
        f"{norm} {_num(t[norm]['after']['mean_over_seeds'])} "
        f"(before recalibration {_num(t[norm]['before']['mean_over_seeds'])})"
        for norm in t
    ]
    agr = d["ground_truth_seed_agreement"]["mean_seed_vs_seed"]["value"]
    return (
        f"{space} (n = {d['n']}): mean tau over seeds after recalibration "
        + ", ".join(parts)
        + f"; ground truth seed vs seed {agr:.3f}"
    )


if __name__ == "__main__":
    sys.exit(H.main(SCRIPT, __doc__, PRESETS, run))
