"""ABS (Hu et al., "Angle-based Search Space Shrinking", ECCV 2020; method spec 3): does the
angle rank a weight-sharing supernet's children better and more stably than one-shot accuracy,
and does angle-based shrinking drop fewer good operators?

A SPOS supernet (NB201, uniform single-path sampling drawn independently in every cell with
ABS's rejection of all-``none`` nodes, the ``spos`` sampler with ``sharing="per_cell"``; spec
3.4) is trained with several seeds on the built benchmark's ``search-train`` images, keeping the
weights at initialisation (W0) and after every epoch. At each epoch of ``checkpoints``, every
architecture of the ground truth (one genotype shared by all cells) is scored five ways:

``angle``
    ABS's angle between the child's weight vector at W0 and at the checkpoint (radians, larger
    is better; :mod:`nasbench_tools.proxies.angle`, spec 3.1-3.2).
``oneshot_recal``
    One-shot accuracy on the benchmark's validation images after BN recalibration on its
    training images (statistics reset; spec 4.3), :func:`nasbench_tools.supernet.evaluate`.
``oneshot_norecal``
    The same with the supernet's running BN statistics (ABS's "Acc. w/o ReBN").
``magnitude``
    ABS's magnitude baseline (spec 3.3): a DARTS supernet (softmax mixing, first order, the
    toolkit's ``darts`` method, :mod:`nasbench_tools.differentiable`) with the same skeleton and
    epochs, trained on subsets of the same ``search-train`` half (alpha on ``search-valid``,
    as DARTS does); an operator's magnitude is its softmax weight on its edge after that
    epoch, an architecture's score the sum of the log weights of its ops
    (``dnas_log_magnitude``, :mod:`nasbench_tools.proxies.differentiable`). One DARTS run per
    seed; it is not the SPOS supernet (SPOS has no architecture weights).
``random``
    Uniform random numbers, seeded by ``(random_seed, seed, epoch)``: the null reference.

**Ranking** (per metric, seed and epoch): Kendall tau-b against the ground truth (the
benchmark's validation accuracy after its protocol's epochs, seed mean) with a percentile
bootstrap interval (architectures resampled, the same resamples for every metric); per metric
and epoch the mean over seeds and the seed standard deviation (``sd``: ddof 1; ``sd_population``:
ddof 0, the form of ABS's numbers).

**How early a metric becomes useful**: ``useful_from`` is the first checkpoint epoch from which
on (that checkpoint and every later one) the 95 % bootstrap interval of tau-b lies wholly above
0 for every seed; ``first_above_zero`` the first checkpoint where it does for every seed, whether
or not it stays so. ``None``: never.

**Shrinking** (spec 3.5, Algorithm 2, one round at the last checkpoint, per seed): each of NB201's
30 ``(edge, op)`` operators is scored by the mean of the metric over the ground truth's
architectures that contain it (:func:`nasbench_tools.proxies.angle.operator_means`); operators
are taken in ascending score (ties by edge, then op index) and dropped unless no higher-scored
operator of the same edge remains, until ``n_drop`` are dropped (ABS's ``drop_legal``; an edge
is never emptied). Metrics: ``angle``, ``angle_all`` (the mean angle over all 15,625 NB201
architectures, ABS's exhaustive score), ``oneshot_recal``, ``oneshot_norecal`` (what ABS's
``dropnode_by_acc.py`` uses: accuracy without recalibration), ``magnitude`` (the operator's
softmax weight itself, as ABS's ``dropnode_by_magnitude.py``), and random operator scores
(``random_draws`` draws). Judged by the ground truth: an operator's ground-truth score is the
mean validation accuracy of the ground truth's architectures containing it
(:func:`nasbench_tools.differentiable.operator_importance`; ABS sums over all 15,625, where every
operator is held by 3,125 architectures, so sum and mean rank alike; over a sample only the
mean is fair); rank 1 is the best. Reported: the ground-truth ranks of the dropped operators,
how many of the ground-truth top ``top`` each metric dropped, whether it dropped the best. An
operator held by no architecture of the ground truth has no score on either side and is left
out (the count of operators scored is reported; 30 on the cpu preset).

The smallest tau difference this n can detect: the paired-bootstrap half-width of the tau
difference angle - one-shot accuracy (recalibrated) at the last checkpoint, per seed (the
largest over seeds is reported).

Presets: ``quick`` (the tests: 8 NB201 classes built on digits; tiny supernets, 3 epochs),
``cpu`` (the 200 classes of ``nb201-fmnist``, 3 seeds), ``paper`` (ABS's NB201 settings,
spec 3.4: 250 epochs, 10 seeds, a GPU and your CIFAR-10 build).

Run: ``python benchmarks/reproduce/abs.py --preset cpu --out runs/abs``
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as H
import _supernets as S

SCRIPT = "abs"

#: The metrics scored per architecture (keys of ``results.json``) and how figures name them.
METRICS = {
    "angle": "angle",
    "oneshot_recal": "one-shot acc. (BN recal.)",
    "oneshot_norecal": "one-shot acc. (no recal.)",
    "magnitude": "magnitude (DARTS)",
    "random": "random",
}
#: The shrinking metrics (operator scores) and how figures name them.
SHRINK_METRICS = {
    "angle": "angle",
    "angle_all": "angle (all 15,625)",
    "oneshot_recal": "acc. (BN recal.)",
    "oneshot_norecal": "acc. (no recal.)",
    "magnitude": "magnitude",
}

#: ABS's numbers (method spec 3.6, recomputed from the ABS repo's stored data [V-data]).
PAPER = {
    "source": "Hu et al., ABS, ECCV 2020 (arXiv 2004.13431); numbers recomputed from the ABS "
    "repo's stored correlation data and figure code, method spec 3.6 [V-data]; the paper's "
    "Table 1 was not read [UNVERIFIED]",
    "setting": "NB201 SPOS supernet (C=16, N=5), 250 epochs on CIFAR-10/100 or ImageNet16-120; "
    "Kendall tau over all 15,625 architectures against NB201's test accuracy",
    "kendall_tau_10_seeds": {
        "form": "[mean, population sd] over 10 supernet seeds at the end of training",
        "cifar10": {
            "random": [-0.002, 0.006],
            "oneshot_norecal": [0.041, 0.037],
            "oneshot_recal": [0.540, 0.052],
            "angle": [0.575, 0.002],
        },
        "cifar100": {
            "random": [-0.001, 0.004],
            "oneshot_norecal": [0.052, 0.021],
            "oneshot_recal": [0.525, 0.043],
            "angle": [0.604, 0.002],
        },
        "imagenet16-120": {
            "random": [0.003, 0.002],
            "oneshot_norecal": [0.069, 0.018],
            "oneshot_recal": [0.538, 0.023],
            "angle": [0.545, 0.002],
        },
    },
    "kendall_tau_by_epoch_cifar10": {
        "form": "one run; epochs counted from 1 (ABS's 0-based epochs 9, 19, ..., 249)",
        "angle": {"10": 0.569, "250": 0.580},
        "oneshot_recal": {"10": 0.151, "20": 0.005, "250": 0.581},
    },
    "kendall_tau_early_training_cifar10": {
        "form": "mean of 5 repeats (Fig. 6, values in visualize.py)",
        "epochs": [2, 4, 6, 8, 10],
        "angle": [0.558, 0.580, 0.580, 0.558, 0.546],
        "oneshot_recal": [0.048, 0.128, 0.216, 0.266, 0.308],
    },
    "shrinking_top10_dropped": {
        "form": "ground-truth top-10 operators among the 20 dropped, experiments 1/2/3 (Fig. 7)",
        "angle": [1, 1, 1],
        "accuracy": [8, 6, 7],
        "magnitude": [7, 8, 8],
    },
    "shrinking_best_dropped": {"angle": "never", "accuracy": "in all 3", "magnitude": "never"},
    "claim": "the angle ranks a supernet's children better and far more stably across seeds "
    "than one-shot accuracy, BN recalibration is essential for accuracy, the angle is useful "
    "early in training, and angle-based shrinking drops fewer of the ground truth's best "
    "operators (1 of the top 10) than accuracy- or magnitude-based shrinking (6-8)",
}


@dataclass(frozen=True)
class MagnitudeSpec:
    """The DARTS supernet behind the magnitude baseline.

    Its skeleton (``C``, ``N``) and epochs are the SPOS supernet's; everything else is the
    ``preset`` of :data:`nasbench_tools.differentiable.PRESETS` (AutoDL's NB201 DARTS: SGD lr
    0.025 cosine per step to 0.001, Nesterov, weight decay 5e-4, alpha by Adam) with these
    changes. ``train_images`` / ``valid_images``: seeded subsets of ``search-train`` (weights)
    and ``search-valid`` (alpha; ``None``: all).
    """

    preset: str = "darts-nb201"
    method: str = "darts"
    train_images: int | None = None
    valid_images: int | None = None
    batch_size: int = 64
    arch_lr: float = 3e-4


@dataclass(frozen=True)
class ABSConfig:
    """Settings of the ABS reproduction.

    Attributes
    ----------
    supernet : SupernetSpec
        The SPOS supernet (sampler ``spos``, per-cell sampling, rejection of all-none nodes).
    magnitude : MagnitudeSpec
        The DARTS supernet of the magnitude baseline.
    checkpoints : tuple of int
        Epochs (from 1) at which children are scored; increasing, the last the final epoch.
    seeds : tuple of int
        Supernet seeds (SPOS and DARTS).
    eval_images, calib_images : int
        Validation images per child; training images for BN recalibration.
    calib_batch : int
    calib_momentum : float or None
        BN momentum while recalibrating (``None``: cumulative average; ABS: 0.1).
    angle_reference : {"w0", "epoch1"}
        The angle's reference weights: W0 (the paper, spec 3.1) or the weights after epoch 1
        (what ABS's released NB201 code loads).
    n_drop, top : int
        Operators dropped by shrinking; size of the ground-truth top set that judges it.
    random_seed, random_draws : int
        Seed of the random scores; random operator scorings for the shrinking baseline.
    n_boot, boot_seed, chunk, report_n_boot, figures
        As in the other reproductions.
    """

    supernet: S.SupernetSpec
    magnitude: MagnitudeSpec
    checkpoints: tuple = (1, 2, 4)
    seeds: tuple = (0, 1, 2)
    eval_images: int = 500
    calib_images: int = 250
    calib_batch: int = 256
    calib_momentum: float | None = None
    angle_reference: str = "w0"
    n_drop: int = 20
    top: int = 10
    random_seed: int = 0
    random_draws: int = 10_000
    n_boot: int = 1000
    boot_seed: int = 0
    chunk: int = 100
    report_n_boot: int = 1000
    figures: str = "summary"

    def __post_init__(self):
        cp = list(self.checkpoints)
        if not cp or cp != sorted(set(cp)) or cp[0] < 1 or cp[-1] != self.supernet.epochs:
            raise H.ReproductionError(
                f"abs checkpoints {tuple(cp)}: expected increasing epochs from 1 ending at the "
                f"supernet's last epoch ({self.supernet.epochs})"
            )
        if self.angle_reference not in ("w0", "epoch1"):
            raise H.ReproductionError(
                f"abs angle_reference {self.angle_reference!r}: expected 'w0' or 'epoch1'"
            )
        if self.n_drop < 1 or self.top < 1:
            raise H.ReproductionError(f"abs n_drop {self.n_drop}, top {self.top}: must be >= 1")


def _spos(**kw) -> S.SupernetSpec:
    opts = (("sharing", "per_cell"), ("reject_zero_nodes", True))
    return S.SupernetSpec(sampler="spos", sampler_options=opts, bn="none", **kw)


PRESETS = H.PresetRegistry(SCRIPT)
PRESETS.register(
    H.Preset(
        "quick",
        ABSConfig(
            _spos(model=(("C", 4), ("N", 1)), epochs=3, batch_size=32, train_images=256),
            MagnitudeSpec(train_images=128, valid_images=64, batch_size=32, arch_lr=3e-3),
            checkpoints=(2, 3),
            seeds=(0, 1),
            eval_images=128,
            calib_images=128,
            n_drop=10,
            top=5,
            random_draws=200,
            n_boot=100,
            chunk=8,
            report_n_boot=50,
            figures="none",
        ),
        "tests: 8 NB201 classes built on digits (21 of the 30 operators held); C=4 supernets, "
        "3 epochs on 256 images scored after epochs 2 and 3 (epoch 2 is not the newest "
        "checkpoint), 2 seeds; 10 operators dropped, judged by the top 5",
        {"nb201": H.GroundTruthRole("NB201, two seeds", quick=H.QUICK_NB201)},
    )
)
#: CPU seconds (one thread, process time, measured on this machine while a benchmark build ran
#: on both cores) of the cpu preset's pieces on Fashion-MNIST 16x16: a SPOS training step of the
#: C=8 N=1 supernet at batch 64 0.051 s; one child on 500 validation images after recalibrating
#: BN on 250 training images 0.161 s, without recalibration 0.088 s; a first-order DARTS step at
#: batch 64 (weights and alpha) 0.413 s, a DARTS evaluation of 2,500 validation images 3.06 s
#: (1,000: about 1.2 s; the search's end masks each of the 30 operators: 31 evaluations). Hence
#: per seed: SPOS 936 steps x 0.051 = 48 s; children 4 checkpoints x 200 x (0.161 + 0.088) =
#: 199 s; DARTS 234 steps x 0.413 + 37 evaluations x 1.2 = 141 s; angles and loading about 3 s:
#: about 390 s, 20 minutes for 3 seeds. An estimate from those pieces; the run's timing.json
#: records what it took.
CPU_COST = {
    "spos_step_batch64_s": 0.051,
    "child_eval_500_recal_250_s": 0.161,
    "child_eval_500_running_s": 0.088,
    "darts_step_batch64_s": 0.413,
    "darts_eval_2500_valid_s": 3.06,
}
PRESETS.register(
    H.Preset(
        "cpu",
        ABSConfig(
            _spos(model=(("C", 8), ("N", 1)), epochs=6, batch_size=64, train_images=10_000),
            MagnitudeSpec(train_images=2500, valid_images=1000, batch_size=64, arch_lr=3e-3),
            checkpoints=(1, 2, 4, 6),
            seeds=(0, 1, 2),
            eval_images=500,
            calib_images=250,
            chunk=100,
        ),
        "the 200 NB201 classes of nb201-fmnist; SPOS supernets C=8 N=1 at 16x16, 6 epochs on "
        "10,000 images, scored after epochs 1, 2, 4, 6; DARTS for the magnitude 6 epochs on "
        "2,500 training + 1,000 validation images; 3 seeds; about 20 CPU minutes by the "
        "measured cost of its pieces (CPU_COST)",
        {"nb201": H.GroundTruthRole("NB201 Fashion-MNIST, N=1, two seeds", "nb201-fmnist")},
        shrunk=(
            "SPOS supernet: C=8, N=1 at 16x16 Fashion-MNIST, 6 epochs on 10,000 images (60,000 "
            "images seen) instead of C=16, N=5 for 250 epochs on 25,000 CIFAR-10 images "
            "(6.25 million; 104x fewer)",
            "children: the 200 NB201 isomorphism classes of the built benchmark instead of all "
            "15,625 architectures (78x fewer), scored after epochs 1, 2, 4 and 6 instead of "
            "every 10 epochs to 250",
            "BN recalibration on 250 training images (cumulative average) per child instead of "
            "ABS's 20,000 (80x fewer; ABS: EMA 0.1 on batches of 512); one-shot accuracy on 500 "
            "validation images",
            "seeds: 3 instead of ABS's 10 (the seed sd of 3 values is itself uncertain); "
            "shrinking judged once per seed (ABS: 3 experiments)",
            "magnitude: a DARTS supernet of the same skeleton and epochs on 2,500 training and "
            "1,000 validation images (234 steps), alpha learning rate 3e-3 instead of 3e-4 "
            "(10x, as the toolkit's cpu DARTS preset: 234 steps would barely move alpha)",
            "ground truth: the benchmark's validation accuracy after its last epoch (5 in nb201-fmnist, 4 in nb201-fmnist-v1; seed mean of 2) "
            "instead of NB201's 200-epoch CIFAR-10 test accuracy",
        ),
    )
)
PRESETS.register(
    H.Preset(
        "paper",
        ABSConfig(
            _spos(model=(("C", 16), ("N", 5)), epochs=250, batch_size=64, train_images=None),
            MagnitudeSpec(train_images=None, valid_images=None, batch_size=64, arch_lr=3e-4),
            checkpoints=tuple(range(10, 251, 10)),
            seeds=tuple(range(10)),
            eval_images=10_000,
            calib_images=20_000,
            calib_batch=512,
            calib_momentum=0.1,
            chunk=500,
        ),
        "a GPU and a CIFAR-10 NB201 benchmark you built (nbt build-bench --preset paper): "
        "--ground-truth nb201=STORE; ABS's NB201 settings (spec 3.4): C=16 N=5, 250 epochs, "
        "batch 64, lr 0.025 cosine to 0.001, 10 seeds, ReBN on 20,000 images",
        {"nb201": H.GroundTruthRole("NB201 on CIFAR-10")},
        shrunk=(
            "children: the architectures of your built benchmark (ABS: all 15,625); one-shot "
            "accuracy on the first 10,000 validation images; no augmentation",
            "magnitude: DARTS for the supernet's 250 epochs (ABS's script takes its epochs "
            "from the command line)",
        ),
    )
)


# --------------------------------------------------------------------------- units
def _ckpt(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def _angle_unit(rep: H.Reproduction, name: str, run_dir: Path, keys, protocol, epoch: int,
                c: ABSConfig) -> dict:  # fmt: skip
    """The angle of every child at ``epoch`` and the mean angle of each operator over all
    15,625 NB201 architectures (ABS's exhaustive shrinking score)."""

    def fn() -> dict:
        import torch

        from nasbench_tools.proxies.angle import (
            AngleLayout,
            angle_stats,
            angles_from_stats,
            operator_means,
        )
        from nasbench_tools.proxies.supernet import REFERENCES
        from nasbench_tools.spaces.nb201 import op_index_matrix

        torch.set_num_threads(1)
        model = S.supernet(run_dir, protocol, _ckpt(epoch))
        ref = torch.load(S.checkpoint_path(run_dir, REFERENCES[c.angle_reference]),
                         map_location="cpu", weights_only=True)["model"]  # fmt: skip
        stats = angle_stats(AngleLayout.from_supernet(model), ref, model.state_dict())
        ops = op_index_matrix()
        every = angles_from_stats(stats, ops)
        return {
            "angle": every[np.asarray(keys, dtype=np.int64)].tolist(),
            "operator_angle_all": operator_means(every, ops).tolist(),
            "reference": c.angle_reference,
            "checkpoint": _ckpt(epoch),
        }

    return rep.unit(f"angle:{name}:e{epoch}", fn, f"ABS angles after epoch {epoch}")


def _darts_config(c: ABSConfig, protocol, seed: int):
    from nasbench_tools.differentiable import SearchConfig

    m = c.magnitude
    model = dict(c.supernet.model)
    return SearchConfig.from_preset(
        m.preset, method=m.method, C=model["C"], N=model["N"], dataset=protocol.dataset,
        subset=m.train_images, valid_subset=m.valid_images, data_seed=protocol.split_seed,
        resize=protocol.image_size, channels=protocol.channels, augment="none",
        epochs=c.supernet.epochs, batch_size=m.batch_size, arch_lr=m.arch_lr, seed=seed,
        threads=1, log_every=1_000_000,
    )  # fmt: skip


def _darts_unit(rep: H.Reproduction, seed: int, protocol, c: ABSConfig) -> dict:
    """A DARTS search (resumable), recording the softmax weights of the 30 operators after
    every checkpoint epoch."""
    run_dir = rep.work / "runs" / f"darts-s{seed}"

    def fn() -> dict:
        import torch

        from nasbench_tools.differentiable import run_search

        torch.set_num_threads(1)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        result = run_search(_darts_config(c, protocol, seed), run_dir, resume=True,
                            progress=False, ground_truths=())  # fmt: skip
        by_epoch = {int(h["epoch"]): h for h in result.history if h.get("phase") == "search"}
        return {
            "magnitude": {str(e): by_epoch[e]["magnitude"] for e in c.checkpoints},
            "valid_accuracy": {str(e): by_epoch[e]["valid_accuracy"] for e in c.checkpoints},
            "method": c.magnitude.method,
        }

    return rep.unit(f"darts:s{seed}", fn, f"DARTS supernet for the magnitudes (seed {seed})")


# --------------------------------------------------------------------------- scores
def _log_magnitude(magnitude, keys) -> np.ndarray:
    """``dnas_log_magnitude`` of ``keys`` from a (6, 5) softmax table."""
    from nasbench_tools.proxies.differentiable import arch_scores
    from nasbench_tools.scores import ScoreTable
    from nasbench_tools.spaces import get_space

    m = np.asarray(magnitude, dtype=float)
    table = ScoreTable("nb201", list(get_space("nb201").operators()),
                       {"magnitude": m.reshape(-1)}, {"label": "darts"}, level="operator")  # fmt: skip
    return arch_scores(table, keys, ["dnas_log_magnitude"])["dnas_log_magnitude"]


def random_scores(c: ABSConfig, seed: int, epoch: int, n: int) -> np.ndarray:
    """The random baseline's scores: ``default_rng([random_seed, seed, epoch]).random(n)``."""
    return np.random.default_rng([c.random_seed, seed, epoch]).random(n)


def _scores(rep: H.Reproduction, keys, protocol, c: ABSConfig) -> dict:
    """metric -> seed -> epoch -> scores of ``keys`` (plus the units behind them)."""
    choices = S.nb201_choices(keys)
    out: dict = {m: {} for m in METRICS}
    extra: dict = {"angle_all_operators": {}, "magnitude_operators": {}}
    for seed in c.seeds:
        name = f"spos-s{seed}"
        run_dir = S.train_unit(rep, name, c.supernet, protocol, seed, keep_checkpoints=None)
        darts = _darts_unit(rep, seed, protocol, c)
        for m in METRICS:
            out[m][seed] = {}
        extra["angle_all_operators"][seed], extra["magnitude_operators"][seed] = {}, {}
        for e in c.checkpoints:
            a = _angle_unit(rep, name, run_dir, keys, protocol, e, c)
            out["angle"][seed][e] = np.asarray(a["angle"])
            extra["angle_all_operators"][seed][e] = np.asarray(a["operator_angle_all"])
            common = {"eval_images": c.eval_images, "chunk": c.chunk, "checkpoint": _ckpt(e)}
            out["oneshot_recal"][seed][e] = np.asarray(S.evaluate_children(
                rep, name, run_dir, choices, protocol, calib_images=c.calib_images,
                calib_batch=c.calib_batch, calib_momentum=c.calib_momentum,
                label=f"e{e}-recal", **common,
            ))  # fmt: skip
            out["oneshot_norecal"][seed][e] = np.asarray(S.evaluate_children(
                rep, name, run_dir, choices, protocol, calib_images=0, label=f"e{e}-running",
                **common,
            ))  # fmt: skip
            mag = np.asarray(darts["magnitude"][str(e)], dtype=float)
            extra["magnitude_operators"][seed][e] = mag
            out["magnitude"][seed][e] = _log_magnitude(mag, keys)
            out["random"][seed][e] = random_scores(c, seed, e, len(keys))
    return {"scores": out, **extra}


# --------------------------------------------------------------------------- ranking numbers
def _spread(values: dict) -> dict:
    """Mean, sd (ddof 1) and population sd (ddof 0) of the defined per-seed values."""
    from nasbench_tools.analysis import seed_spread

    v = {s: x for s, x in values.items() if x is not None}
    if not v:
        return {"mean": None, "sd": None, "sd_population": None, "seeds_defined": 0}
    pop = seed_spread(v, ddof=0)
    sd = seed_spread(v, ddof=1).std if len(v) > 1 else None
    return {"mean": pop.mean, "sd": sd, "sd_population": pop.std, "seeds_defined": len(v)}


def _above_zero(per_seed: dict) -> bool:
    return all(e["low"] is not None and e["low"] > 0 for e in per_seed.values())


def usefulness(by_epoch: dict, epochs) -> dict:
    """``first_above_zero`` and ``useful_from`` (module docstring) from ``{epoch: per_seed}``."""
    ok = [_above_zero(by_epoch[str(e)]["per_seed"]) for e in epochs]
    first = next((e for e, o in zip(epochs, ok) if o), None)
    since = None
    for e, o in zip(reversed(epochs), reversed(ok)):
        if not o:
            break
        since = e
    return {"first_above_zero": first, "useful_from": since}


def _ranking(y: np.ndarray, scores: dict, c: ABSConfig) -> dict:
    out = {}
    for m in METRICS:
        by_epoch = {}
        for e in c.checkpoints:
            per_seed = {
                str(s): H.metric_ci(y, scores[m][s][e], n_boot=c.n_boot, seed=c.boot_seed)
                for s in c.seeds
            }
            by_epoch[str(e)] = {
                "per_seed": per_seed,
                **_spread({s: v["value"] for s, v in per_seed.items()}),
                "seeds_above_zero": sum(
                    1 for v in per_seed.values() if v["low"] is not None and v["low"] > 0
                ),
            }
        out[m] = {"by_epoch": by_epoch, **usefulness(by_epoch, list(c.checkpoints))}
    return out


# --------------------------------------------------------------------------- shrinking
def shrink(op_scores, n_drop: int) -> list[tuple[int, int]]:
    """ABS's one-round shrinking (spec 3.5): ``(edge, op)`` indices dropped, in drop order.

    ``op_scores`` is ``(6, 5)`` (higher is better; NaN: not scored, left out). Operators are
    visited in ascending score (ties: edge, then op index); one is dropped when a higher-ranked
    scored operator of its edge exists later in that order (so an edge keeps at least one), until
    ``n_drop`` are dropped. Fewer droppable operators raise :class:`ReproductionError`.
    """
    s = np.asarray(op_scores, dtype=float)
    cand = [(s[e, o], e, o) for e in range(s.shape[0]) for o in range(s.shape[1])
            if np.isfinite(s[e, o])]  # fmt: skip
    order = sorted(cand)
    dropped: list[tuple[int, int]] = []
    for i, (_, e, o) in enumerate(order):
        if len(dropped) == n_drop:
            break
        if any(e2 == e for _, e2, _ in order[i + 1 :]):
            dropped.append((e, o))
    if len(dropped) < n_drop:
        raise H.ReproductionError(
            f"shrinking: only {len(dropped)} of {len(cand)} scored operators can be dropped "
            f"without emptying an edge; n_drop is {n_drop}"
        )
    return dropped


def ground_truth_ranks(importance) -> np.ndarray:
    """``(6, 5)`` rank of each operator by its ground-truth score (1 = best; ties by edge, then
    op index; 0 where the operator has no score)."""
    imp = np.asarray(importance, dtype=float)
    flat = imp.reshape(-1)
    idx = [i for i in range(flat.size) if np.isfinite(flat[i])]
    idx.sort(key=lambda i: (-flat[i], i))
    ranks = np.zeros(flat.size, dtype=int)
    for r, i in enumerate(idx, 1):
        ranks[i] = r
    return ranks.reshape(imp.shape)


def _op_name(e: int, o: int) -> list[str]:
    from nasbench_tools.spaces.nb201 import EDGES, OPS

    return [f"{EDGES[e][0]}->{EDGES[e][1]}", OPS[o]]


def _judge(dropped, ranks: np.ndarray, top: int) -> dict:
    r = [int(ranks[e, o]) or None for e, o in dropped]
    return {
        "dropped": [_op_name(e, o) for e, o in dropped],
        "dropped_ranks": r,
        "top_dropped": sum(1 for x in r if x is not None and x <= top),
        "best_dropped": 1 in r,
    }


def _shrink_metric(op_scores, ranks, c: ABSConfig) -> dict:
    s = np.asarray(op_scores, dtype=float)
    fin = s[np.isfinite(s)]
    if fin.size == 0 or np.ptp(fin) == 0:
        return {"undefined": "every operator has the same score (a constant metric)"}
    return _judge(shrink(s, c.n_drop), ranks, c.top)


def _shrinking(scores: dict, extra: dict, keys, importance, c: ABSConfig) -> dict:
    from nasbench_tools.proxies.angle import operator_means
    from nasbench_tools.spaces.nb201 import op_index_matrix

    ranks = ground_truth_ranks(importance)
    ops = op_index_matrix()[np.asarray(keys, dtype=np.int64)]
    last = c.checkpoints[-1]
    scored = np.isfinite(importance)
    by_metric: dict = {}
    for m in SHRINK_METRICS:
        per_seed = {}
        for seed in c.seeds:
            if m == "angle_all":
                op = np.where(scored, extra["angle_all_operators"][seed][last], np.nan)
            elif m == "magnitude":
                op = np.where(scored, extra["magnitude_operators"][seed][last], np.nan)
            else:
                op = operator_means(scores[m][seed][last], ops)
            per_seed[str(seed)] = _shrink_metric(op, ranks, c)
        counts = {s: d.get("top_dropped") for s, d in per_seed.items()}
        by_metric[m] = {
            "per_seed": per_seed,
            "top_dropped": _spread(counts),
            "best_dropped_seeds": sum(1 for d in per_seed.values() if d.get("best_dropped")),
        }
    rng = np.random.default_rng([c.random_seed, 1])
    draws = [
        _judge(shrink(np.where(scored, rng.random(scored.shape), np.nan), c.n_drop), ranks, c.top)
        for _ in range(c.random_draws)
    ]
    counts = np.array([d["top_dropped"] for d in draws])
    lo, hi = np.quantile(counts, [0.025, 0.975])
    return {
        "epoch": last,
        "n_drop": c.n_drop,
        "top": c.top,
        "operators_scored": int(scored.sum()),
        "ground_truth_operator_score": "mean validation accuracy (seed mean) of the ground "
        "truth's architectures holding the operator (operator_importance); rank 1 = best",
        "ground_truth_rank": {
            " ".join(_op_name(e, o)): int(ranks[e, o])
            for e in range(6)
            for o in range(5)
            if ranks[e, o]
        },
        "operator_scores": "mean of the metric over the ground truth's architectures holding "
        "the operator; angle_all over all 15,625; magnitude: the operator's softmax weight",
        "by_metric": by_metric,
        "random": {
            "draws": c.random_draws,
            "mean_top_dropped": float(counts.mean()),
            "interval": [float(lo), float(hi)],
            "share_best_dropped": float(np.mean([d["best_dropped"] for d in draws])),
        },
    }


# --------------------------------------------------------------------------- outputs
def _fmt(v, digits: int = 3) -> str:
    return "undefined" if v is None else f"{v:.{digits}f}"


def _epoch(e) -> str:
    return "never" if e is None else f"epoch {e}"


def _ms(d: dict) -> str:
    sd = d.get("sd")
    return f"{_fmt(d['mean'])} ± {_fmt(sd)}" if sd is not None else _fmt(d["mean"])


def _tables(rep: H.Reproduction, ranking: dict, shrinking: dict, c: ABSConfig) -> None:
    import pandas as pd

    from nasbench_tools.analysis import to_markdown

    c10 = PAPER["kendall_tau_10_seeds"]["cifar10"]
    rows = []
    for m, label in METRICS.items():
        r = ranking[m]
        row = {"metric": label}
        for e in c.checkpoints:
            row[f"tau epoch {e}"] = _ms(r["by_epoch"][str(e)])
        row["useful from"] = _epoch(r["useful_from"])
        row["first > 0"] = _epoch(r["first_above_zero"])
        p = c10.get(m)
        row["ABS C10 (10 seeds)"] = "" if p is None else f"{p[0]:.3f} ± {p[1]:.3f}"
        rows.append(row)
    to_markdown(pd.DataFrame(rows).set_index("metric"), rep.path("tables", "tau.md"))
    paper = PAPER["shrinking_top10_dropped"]
    rows = []
    for m, label in SHRINK_METRICS.items():
        d = shrinking["by_metric"][m]
        row = {"metric": label}
        for s, v in d["per_seed"].items():
            row[f"seed {s}"] = str(v.get("top_dropped", "undefined"))
        row["mean"] = _fmt(d["top_dropped"]["mean"], 2)
        row["best dropped (seeds)"] = str(d["best_dropped_seeds"])
        p = paper.get({"oneshot_recal": "accuracy", "oneshot_norecal": "accuracy"}.get(m, m))
        row["ABS Fig. 7"] = "" if p is None or m == "angle_all" else "/".join(map(str, p))
        rows.append(row)
    rnd = shrinking["random"]
    rows.append({"metric": "random", "mean": f"{rnd['mean_top_dropped']:.2f} "
                 f"[{rnd['interval'][0]:.0f}, {rnd['interval'][1]:.0f}]"})  # fmt: skip
    to_markdown(pd.DataFrame(rows).set_index("metric").fillna(""),
                rep.path("tables", "shrinking.md"))  # fmt: skip


def plot_tau_by_epoch(results: dict, ax=None):
    """Mean Kendall tau-b over seeds against the supernet epoch, one line per metric
    (:class:`~nasbench_tools.analysis.displays.CorrelationBudgetDisplay`), error bars +-1 seed sd
    (sample sd; none with one seed), the legend below the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from nasbench_tools.analysis.displays import CorrelationBudgetDisplay
    from nasbench_tools.analysis.style import COLUMN_WIDTH

    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_WIDTH, COLUMN_WIDTH * 1.05), layout="constrained")
    ranking = results["measured"]["ranking"]
    checkpoints = results["setting"]["checkpoints"]
    step = 0.012 * (max(checkpoints) - min(checkpoints) or 1)
    for i, (m, label) in enumerate(METRICS.items()):
        by = ranking[m]["by_epoch"]
        epochs = [e for e in checkpoints if by[str(e)]["mean"] is not None]
        if not epochs:
            continue
        x = np.asarray(epochs, dtype=float) + (i - 2) * step  # side by side, not on top
        mean = np.array([by[str(e)]["mean"] for e in epochs])
        sd = np.array([by[str(e)]["sd"] or 0.0 for e in epochs])
        d = CorrelationBudgetDisplay.from_values(x, mean, label=label)
        d.plot(ax, xlabel="supernet epoch", legend=False, color=f"C{i}")
        ax.errorbar(x, mean, yerr=sd, fmt="none", ecolor=f"C{i}", elinewidth=0.8, capsize=1.5)
    ax.axhline(0, color="0.6", linewidth=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6)
    return ax


def plot_shrinking(results: dict, ax=None):
    """ABS Fig. 7: the ground-truth rank (1 = best) of every operator each metric dropped, one
    column of dots per seed, the ground-truth top-``top`` boundary dashed."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from nasbench_tools.analysis.style import COLUMN_WIDTH

    sh = results["measured"]["shrinking"]
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_WIDTH, COLUMN_WIDTH * 0.9), layout="constrained")
    labels = []
    for i, (m, label) in enumerate(SHRINK_METRICS.items()):
        labels.append(label.replace(" (", "\n("))
        seeds = sh["by_metric"][m]["per_seed"]
        for j, (seed, d) in enumerate(seeds.items()):
            r = [x for x in d.get("dropped_ranks", []) if x is not None]
            x = i + (j - (len(seeds) - 1) / 2) * 0.18
            ax.scatter([x] * len(r), r, s=5, color=f"C{j}", label=None if i else f"seed {seed}")
    ax.axhline(sh["top"] + 0.5, linestyle="--", color="0.4", linewidth=0.8,
               label=f"top {sh['top']}")  # fmt: skip
    ax.set_xticks(range(len(labels)), labels, fontsize=6)
    ax.set_ylabel("ground-truth rank of dropped op (1: best)")
    ax.set_ylim(sh["operators_scored"] + 0.7, 0.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=6)
    return ax


def _figures(rep: H.Reproduction, results: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nasbench_tools.analysis.style import paper_style

    files = []
    for name, fn in (("tau_by_epoch", plot_tau_by_epoch), ("shrinking", plot_shrinking)):
        with paper_style():
            ax = fn(results)
            for ext in ("png", "pdf"):
                path = rep.path("figures", f"{name}.{ext}")
                ax.figure.savefig(path)
                files.append(str(path.relative_to(rep.out)))
            plt.close(ax.figure)
    return files


def _score_tables(rep: H.Reproduction, keys, scores: dict, shrinking_ops: dict, dataset: str,
                  c: ABSConfig) -> list[Path]:  # fmt: skip
    """``scores/archs_final.csv`` (every metric and seed at the last checkpoint; the report
    ranks it) and ``scores/archs_epoch<E>.csv`` for the earlier checkpoints."""
    from nasbench_tools.scores import ScoreTable

    paths = []
    for e in c.checkpoints:
        cols = {f"{m} s{s}": scores[m][s][e] for m in METRICS for s in c.seeds}
        name = "archs_final.csv" if e == c.checkpoints[-1] else f"archs_epoch{e}.csv"
        meta = {"label": f"abs epoch {e}", "source": f"benchmarks/reproduce/{SCRIPT}.py",
                "data": dataset}  # fmt: skip
        paths.append(ScoreTable("nb201", keys, cols, meta).write(rep.path("scores", name)))
    return paths


def run(rep: H.Reproduction) -> dict:
    from nasbench_tools.differentiable import operator_importance
    from nasbench_tools.proxies.differentiable import operator_matrix

    c = rep.preset.config
    gt = rep.ground_truth("nb201")
    dataset, epochs = rep.target("nb201")
    protocol = S.protocol_of(rep, "nb201")
    keys = np.asarray(gt.archs.keys, dtype=np.int64)
    y = np.asarray(gt.vector(dataset=dataset, split="valid", epochs=epochs), dtype=float)
    got = _scores(rep, keys, protocol, c)
    scores = got["scores"]
    ranking = _ranking(y, scores, c)
    imp = operator_matrix(
        operator_importance(gt, dataset=dataset, split="valid", epochs=epochs), "gt_accuracy"
    )
    shrinking = _shrinking(scores, got, keys, imp, c)
    last = c.checkpoints[-1]
    detect = [
        H.detectable_tau_difference(
            y, scores["angle"][s][last], scores["oneshot_recal"][s][last],
            labels=(f"angle s{s}", f"oneshot_recal s{s}"), n_boot=c.n_boot, seed=c.boot_seed,
        )
        for s in c.seeds
    ]  # fmt: skip
    halves = [d["half_width"] for d in detect if d["half_width"] is not None]
    tables = _score_tables(rep, keys, scores, got, dataset, c)
    rep.report([tables[-1]], role="nb201", n_boot=c.report_n_boot, figures=c.figures)
    _tables(rep, ranking, shrinking, c)
    held = _held(ranking, shrinking, c, max(halves) if halves else None)
    numbers = {
        "claim": PAPER["claim"],
        "paper": PAPER,
        "setting": {
            "dataset": dataset,
            "split": "valid",
            "epochs": epochs,
            "n": len(y),
            "ground_truth": "the benchmark's validation accuracy, seed mean",
            "keys": keys.tolist(),
            "checkpoints": list(c.checkpoints),
            "seeds": list(c.seeds),
            "sd": "sd: sample standard deviation over seeds (ddof 1); sd_population: ddof 0, "
            "the form of ABS's numbers",
            "useful": "useful_from: first checkpoint epoch from which on every seed's 95% "
            "bootstrap interval of tau-b lies above 0; first_above_zero: first checkpoint "
            "where it does",
        },
        "measured": {"ranking": ranking, "shrinking": shrinking},
        "detectable_difference": {
            "half_width": max(halves) if halves else None,
            "between": f"angle vs one-shot accuracy (BN recalibrated) at epoch {last}, per seed",
            "pairs": detect,
            "n": len(y),
        },
        "verdict": _verdict(ranking, shrinking, c, held),
        "claim_held": held,
    }
    numbers["figures"] = _figures(rep, numbers)
    rep.write_results(numbers)
    return numbers


def _final(ranking: dict, m: str, c: ABSConfig) -> dict:
    return ranking[m]["by_epoch"][str(c.checkpoints[-1])]


def _gt(a, b) -> bool | None:
    return None if a is None or b is None else bool(a > b)


def _no_later(a: int | None, b: int | None) -> bool | None:
    """Whether epoch ``a`` (None: never) comes no later than ``b``; None when neither occurs."""
    if a is None:
        return None if b is None else False
    return b is None or a <= b


def _held(ranking: dict, shrinking: dict, c: ABSConfig, half: float | None) -> dict:
    a, r, n = (_final(ranking, m, c) for m in ("angle", "oneshot_recal", "oneshot_norecal"))
    sh = shrinking["by_metric"]
    angle_top = sh["angle"]["top_dropped"]["mean"]
    others = [sh[m]["top_dropped"]["mean"] for m in ("oneshot_recal", "magnitude")]
    ua, ur = ranking["angle"]["useful_from"], ranking["oneshot_recal"]["useful_from"]
    diff = None if a["mean"] is None or r["mean"] is None else a["mean"] - r["mean"]
    return {
        "angle_ranks_better": _gt(a["mean"], r["mean"]),
        "angle_better_beyond_detectable": None
        if diff is None or half is None
        else bool(diff > half),
        "angle_more_stable": _gt(r["sd"], a["sd"]),
        "recalibration_essential": _gt(r["mean"], n["mean"]),
        "angle_useful_no_later": _no_later(ua, ur),
        "angle_shrinking_drops_fewest_top": None
        if angle_top is None or None in others
        else all(angle_top < o for o in others),
    }


def _verdict(ranking: dict, shrinking: dict, c: ABSConfig, held: dict) -> str:
    last = c.checkpoints[-1]
    taus = ", ".join(f"{METRICS[m]} {_ms(_final(ranking, m, c))}" for m in METRICS)
    useful = ", ".join(
        f"{METRICS[m]} {ranking[m]['useful_from'] if ranking[m]['useful_from'] else 'never'}"
        for m in METRICS
    )
    sh = shrinking["by_metric"]
    drops = ", ".join(
        f"{SHRINK_METRICS[m]} "
        + "/".join(str(d.get("top_dropped", "undef.")) for d in sh[m]["per_seed"].values())
        for m in SHRINK_METRICS
    )
    rnd = shrinking["random"]["mean_top_dropped"]
    yes = [k for k, v in held.items() if v is True]
    no = [k for k, v in held.items() if v is False]
    return (
        f"tau-b at epoch {last} (mean ± sd over {len(c.seeds)} seeds): {taus}; useful from "
        f"epoch: {useful}; ground-truth top-{shrinking['top']} operators among the "
        f"{shrinking['n_drop']} dropped (per seed): {drops} (random {rnd:.1f}; ABS: angle 1, "
        f"accuracy 6-8, magnitude 7-8); held here: {', '.join(yes) or 'none'}; not held: "
        f"{', '.join(no) or 'none'}"
    )


if __name__ == "__main__":
    sys.exit(H.main(SCRIPT, __doc__, PRESETS, run))
