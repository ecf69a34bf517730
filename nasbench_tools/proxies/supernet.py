"""Supernet proxies from a ``nbt train-supernet`` run folder: the ABS angle, one-shot accuracy
with an explicit BN recalibration preset, and ABS's operator (shrinking) score.

A run folder (:mod:`nasbench_tools.supernet.train`) holds ``checkpoints/init.pt`` (W0, the weights
at initialisation), ``checkpoints/epoch-NNNN.pt`` after each epoch (``epoch-0001.pt`` is never
pruned) and the resolved config, which names the data.

**Angle** (:func:`supernet_angles`; definition in :mod:`nasbench_tools.proxies.angle`): the angle
between a child's weight vector at a reference and at a checkpoint (default: the newest).
References (:data:`REFERENCES`):

``w0`` (default)
    The weights at initialisation: the paper's formula and method spec 3.1.
``epoch1``
    The weights after the first epoch: what ABS's released NB201 code actually loads as its
    reference (``seed-*_epoch-0.pth`` is written after the first epoch's training).

**One-shot accuracy** (:func:`one_shot_accuracies`): each child runs with the supernet's weights
(one genotype shared by every cell) on the run's validation split (``search-valid`` for
``split="search"`` runs; a ``split="standard"`` run validates on ``test``, which is then said in
the result and warned about, never passed off as a validation split). Before each child, BN
statistics are re-estimated on the run's training split with a preset of
:data:`~nasbench_tools.supernet.recalibrate.BN_PRESETS`, or not at all (``bn="none"``: the
supernet's running statistics, a mixture over every child trained):

============  ===========================================================================
``spos``      SPOS's tester: reset, 25,600 training images in batches of 128, EMA 0.1
``abs``       ABS's NB201 code: reset, the first 20,000 training images, batches of 512, EMA 0.1
``mixpath``   MixPath's NB101 code: no reset, every image given, batches of 96, EMA 0.1
``cumulative`` reset, 20,000 images, batches of 512, exact average (the toolkit's default)
``none``      no recalibration
============  ===========================================================================

``bn_images`` caps the images (a small training split cannot feed 20,000). ABS's stored data
(spec 3.6) show why this matters: on CIFAR-10 Kendall tau over all NB201 archs is 0.041 without
recalibration and 0.540 with it.

**Operator score** (:func:`operator_table`): for every operator ``(edge, op)``, the mean angle
over the scored architectures that contain it (ABS's shrinking score, spec 3.5), as an
operator-level :class:`~nasbench_tools.scores.ScoreTable`.

**Isomorphic cells.** Two isomorphic cells use different supernet weights (different edges hold
the ops), so their angles and one-shot accuracies differ: every function scores every
architecture it is given, all 15,625 by default. ``dedup=True`` (table functions) keeps one
representative per isomorphism class (NATS-Bench's ``unique_str``; the smallest benchmark index),
an explicit choice that changes the operator means.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NasbenchToolsError
from ..scores import ScoreTable
from ..spaces import get_space
from ..spaces.nb201 import EDGES, OPS, op_index_matrix
from ..spaces.nb201 import SPACE as NB201_SPACE
from .angle import AngleError, AngleLayout, angle_stats, angles_from_stats, operator_means
from .base import NETWORK_OPTIONS, ProxyError, ScoreRequest, register_proxy, settings

__all__ = [
    "BN_CHOICES",
    "REFERENCES",
    "SupernetProxyError",
    "angle_table",
    "class_representatives",
    "one_shot_accuracies",
    "one_shot_table",
    "operator_table",
    "supernet_angles",
]

#: Angle references: option -> checkpoint name in ``run/checkpoints``.
REFERENCES = {"w0": "init", "epoch1": "epoch-0001"}
#: The registered supernet (:mod:`nasbench_tools.supernet.models`) whose children are NB201 cells.
NB201_SUPERNET = "nb201"
#: ``bn`` choices of :func:`one_shot_accuracies`.
BN_CHOICES = ("spos", "abs", "mixpath", "cumulative", "none")
#: The run config's dataset name -> a score table's ``data``.
_DATA_NAMES = {
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
    "fashion-mnist": "fashion-mnist",
    "digits": "digits",
}


class SupernetProxyError(ProxyError):
    """A supernet proxy cannot be computed from this run folder or with these options."""


# --------------------------------------------------------------------------- run folders
def _checkpoint(run: Path, name: str | None) -> Path:
    from ..supernet.train import _checkpoint_path

    if not run.is_dir():
        raise SupernetProxyError(
            f"{run}: no such run folder (expected `nbt train-supernet` output)"
        )
    try:
        return _checkpoint_path(run, name)
    except NasbenchToolsError as exc:
        raise SupernetProxyError(str(exc)) from None


def _state(path: Path) -> dict:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise SupernetProxyError(
            f"{path}: unreadable checkpoint ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise SupernetProxyError(f"{path}: not a nasbench_tools supernet checkpoint")
    return state


@dataclass
class _Loaded:
    model: Any
    config: Any
    path: Path
    train: Any
    valid: Any


#: The last loaded run (model, config, data), reused while its checkpoint file is unchanged. It is
#: never handed out: callers get numbers, and :func:`evaluate` restores the BN statistics it
#: recalibrates.
_CACHE: dict[tuple, _Loaded] = {}


def _load_model(run: Path, checkpoint: str | None, device: str = "cpu") -> _Loaded:
    """The model, config and data of a run folder's checkpoint (the run's own two splits)."""
    from ..supernet.config import TrainConfig
    from ..supernet.train import _build, _load_data

    path = _checkpoint(run, checkpoint)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, str(device))
    if key in _CACHE:
        return _CACHE[key]
    state = _state(path)
    try:
        config = TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError, NasbenchToolsError) as exc:
        raise SupernetProxyError(f"{path}: no usable training config ({exc})") from None
    if config.supernet != NB201_SUPERNET:
        raise SupernetProxyError(
            f"{run}: supernet {config.supernet!r}; the supernet proxies score NB201 "
            "architectures and need an `nb201` run"
        )
    train, valid = _load_data(config)
    model, _ = _build(config, train)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError) as exc:
        raise SupernetProxyError(
            f"{path}: its weights do not fit the supernet its config describes ({str(exc)[:200]})"
        ) from None
    loaded = _Loaded(model.to(device).eval(), config, path, train, valid)
    _CACHE.clear()
    _CACHE[key] = loaded
    return loaded


def _epoch(path: Path) -> int:
    """The epoch of a checkpoint: from its name when it is the trainer's, else from the file."""
    if path.name == "init.pt":
        return 0
    m = re.fullmatch(r"epoch-(\d+)\.pt", path.name)
    return int(m.group(1)) if m else int(_state(path)["epoch"])


def _keys(keys: Any) -> np.ndarray:
    n = len(op_index_matrix())
    if keys is None:
        return np.arange(n)
    k = np.asarray(keys)
    if k.ndim != 1 or (k.size and not np.issubdtype(k.dtype, np.integer)):
        raise SupernetProxyError(f"keys must be a 1-D array of NB201 indices, got {k.dtype}")
    bad = (k < 0) | (k >= n)
    if bad.any():
        raise SupernetProxyError(f"NB201 index {int(k[bad][0])} is outside 0..{n - 1}")
    return k.astype(np.int64)


def class_representatives(keys: Any = None) -> np.ndarray:
    """The first key (in the order given) of each NB201 isomorphism class among ``keys``
    (NATS-Bench's ``unique_str``); all 15,625 when omitted, giving 6,466 representatives."""
    k = _keys(keys)
    ids = get_space("nb201").class_ids(k)
    _, first = np.unique(ids, return_index=True)
    return k[np.sort(first)]


# --------------------------------------------------------------------------- angle
def supernet_angles(
    run: str | os.PathLike,
    keys: Any = None,
    *,
    reference: str = "w0",
    checkpoint: str | None = None,
) -> tuple[np.ndarray, dict]:
    """The ABS angle (radians, higher is better) of NB201 architectures from a run folder.

    Parameters
    ----------
    run : path
        A ``nbt train-supernet`` run folder of an ``nb201`` supernet.
    keys : int array, optional
        NB201 benchmark indices (all 15,625 when omitted).
    reference : {"w0", "epoch1"}
        See the module docstring.
    checkpoint : str, optional
        The current weights: ``"epoch-0005"`` or a file; the newest checkpoint when omitted.

    Returns
    -------
    (angles, info)
        ``info`` names the two checkpoints and their epochs.
    """
    if reference not in REFERENCES:
        raise SupernetProxyError(
            f"unknown angle reference {reference!r}; expected one of {sorted(REFERENCES)}"
        )
    run = Path(run)
    k = _keys(keys)
    loaded = _load_model(run, checkpoint)
    model, path = loaded.model, loaded.path
    ref_name = REFERENCES[reference]
    try:
        ref_path = _checkpoint(run, ref_name)
    except SupernetProxyError:
        raise SupernetProxyError(
            f"{run}: reference {reference!r} needs checkpoints/{ref_name}.pt, which this run "
            + (
                "has not written yet (train at least one epoch)"
                if reference == "epoch1"
                else "lacks (runs from before W0 was saved cannot give the W0 angle)"
            )
        ) from None
    try:
        angles = angles_from_stats(
            angle_stats(
                AngleLayout.from_supernet(model), _state(ref_path)["model"], model.state_dict()
            ),
            op_index_matrix()[k],
        )
    except AngleError as exc:
        raise SupernetProxyError(f"{run}: {exc}") from None
    info = {
        "reference": reference,
        "reference_checkpoint": ref_path.name,
        "reference_epoch": _epoch(ref_path),
        "checkpoint": path.name,
        "epoch": _epoch(path),
    }
    return angles, info


# --------------------------------------------------------------------------- one-shot accuracy
def _preset(bn: str, bn_images: int | None):
    import dataclasses

    from ..supernet.recalibrate import resolve_preset

    if bn not in BN_CHOICES:
        raise SupernetProxyError(f"unknown bn {bn!r}; expected one of {list(BN_CHOICES)}")
    if bn == "none":
        if bn_images is not None:
            raise SupernetProxyError("bn_images has no effect with bn='none'")
        return None
    preset = resolve_preset(bn)
    if bn_images is not None:
        if not isinstance(bn_images, int) or isinstance(bn_images, bool) or bn_images < 1:
            raise SupernetProxyError(f"bn_images must be a positive int, got {bn_images!r}")
        preset = dataclasses.replace(preset, n_images=bn_images)
    return preset


def one_shot_accuracies(
    run: str | os.PathLike,
    keys: Any,
    *,
    bn: str = "cumulative",
    bn_images: int | None = None,
    checkpoint: str | None = None,
    batch_size: int = 512,
    device: str = "cpu",
    progress: bool = False,
) -> tuple[np.ndarray, dict]:
    """Top-1 accuracy (percent) of NB201 children with the supernet's weights.

    Parameters
    ----------
    run : path
        A ``nbt train-supernet`` run folder of an ``nb201`` supernet.
    keys : int array
        NB201 benchmark indices.
    bn : {"spos", "abs", "mixpath", "cumulative", "none"}
        BN recalibration preset before each child (module docstring); required choice, recorded.
    bn_images : int, optional
        Recalibrate on this many training images instead of the preset's count.
    checkpoint : str, optional
        Weights to use (the newest checkpoint when omitted).
    batch_size : int
        Evaluation batch size.

    Returns
    -------
    (accuracies, info)
        ``info``: the preset, the images recalibrated on, the split evaluated (its real name)
        and its size, the checkpoint and its epoch.
    """
    from tqdm.auto import tqdm

    from ..errors import RecalibrationError
    from ..supernet.recalibrate import evaluate

    preset = _preset(bn, bn_images)
    run = Path(run)
    k = _keys(keys)
    loaded = _load_model(run, checkpoint, device)
    model, config, path, train, valid = (
        loaded.model, loaded.config, loaded.path, loaded.train, loaded.valid
    )  # fmt: skip
    names = ("search-train", "search-valid") if config.split == "search" else ("train", "test")
    if names[1] == "test":
        warnings.warn(
            f"{run} was trained with split='standard': its validation split is the test set, so "
            "these one-shot accuracies are test accuracies (recorded as evaluated_on)",
            stacklevel=2,
        )
    accs = np.empty(len(k))
    calibrated = None
    for i, key in enumerate(tqdm(k, desc="one-shot", disable=not progress)):
        try:
            r = evaluate(
                model, model.choice_of(int(key)), valid, batch_size=batch_size,
                recalibrate=preset, calibration_images=train, device=device,
            )  # fmt: skip
        except RecalibrationError as exc:
            raise SupernetProxyError(f"{run}: {exc} (set bn_images)") from None
        accs[i] = r["accuracy"]
        calibrated = r["calibration_images"]
    info = {
        "bn": bn,
        "bn_images": 0 if preset is None else calibrated,
        "calibrated_on": None if preset is None else f"{config.dataset}:{names[0]}",
        "evaluated_on": f"{config.dataset}:{names[1]}",
        "evaluated_images": len(valid),
        "checkpoint": path.name,
        "epoch": _epoch(path),
    }
    return accs, info


# --------------------------------------------------------------------------- score tables
def _base_meta(run: Path, label: str) -> dict:
    from ..supernet.config import read_saved_config

    saved = read_saved_config(run / "config.json")
    config = saved["config"]
    data = _DATA_NAMES.get(config["dataset"])
    meta = {
        "label": label,
        "source": f"nbt train-supernet run {run}",
        "run_config": config,
        "run_data_sha256": saved["data"]["train"].get("sha256"),
    }
    if data is not None:
        meta["data"] = data
    return meta


def _select(keys: Any, dedup: bool) -> np.ndarray:
    return class_representatives(keys) if dedup else _keys(keys)


def angle_table(
    run: str | os.PathLike,
    keys: Any = None,
    *,
    reference: str = "w0",
    checkpoint: str | None = None,
    dedup: bool = False,
) -> ScoreTable:
    """Architecture-level score table with column ``angle`` (radians; higher is better).

    ``dedup=True`` scores one representative per isomorphism class among ``keys``.
    """
    run = Path(run)
    k = _select(keys, dedup)
    angles, info = supernet_angles(run, k, reference=reference, checkpoint=checkpoint)
    meta = {**_base_meta(run, "angle"), "angle": info, "dedup": dedup}
    return ScoreTable("nb201", k, {"angle": angles}, meta)


def one_shot_table(
    run: str | os.PathLike,
    keys: Any,
    *,
    bn: str = "cumulative",
    dedup: bool = False,
    **options,
) -> ScoreTable:
    """Architecture-level score table with column ``oneshot_acc`` (percent), or
    ``oneshot_acc_norebn`` for ``bn="none"``; options as :func:`one_shot_accuracies`."""
    run = Path(run)
    k = _select(keys, dedup)
    accs, info = one_shot_accuracies(run, k, bn=bn, **options)
    name = "oneshot_acc_norebn" if bn == "none" else "oneshot_acc"
    meta = {**_base_meta(run, name), "one_shot": info, "dedup": dedup}
    return ScoreTable("nb201", k, {name: accs}, meta)


def operator_table(
    run: str | os.PathLike,
    keys: Any = None,
    *,
    reference: str = "w0",
    checkpoint: str | None = None,
    dedup: bool = False,
) -> ScoreTable:
    """ABS's operator (shrinking) score: for each of the 30 NB201 ``(edge, op)`` pairs, the mean
    angle over the architectures among ``keys`` (all 15,625 by default, as ABS) that contain it.

    Column ``abs_op_angle`` (radians; higher is better: ABS drops the lowest). An operator held
    by no scored architecture gets NaN. ``dedup=True`` averages over one representative per
    isomorphism class instead.
    """
    run = Path(run)
    k = _select(keys, dedup)
    angles, info = supernet_angles(run, k, reference=reference, checkpoint=checkpoint)
    means = operator_means(angles, op_index_matrix()[k])
    op_keys = [(f"{src}->{dst}", op) for src, dst in EDGES for op in OPS]
    meta = {
        **_base_meta(run, "abs_op_angle"),
        "angle": info,
        "dedup": dedup,
        "archs_scored": len(k),
    }
    return ScoreTable("nb201", op_keys, {"abs_op_angle": means.reshape(-1)}, meta, level="operator")


# --------------------------------------------------------------------------- registry
def _checked(request: ScoreRequest) -> dict:
    space = get_space(request.space)
    if space is not NB201_SPACE:
        raise SupernetProxyError(f"supernet proxies score NB201 architectures, not {space.name}")
    given = sorted(set(request.options) & NETWORK_OPTIONS)
    if given:
        raise SupernetProxyError(
            f"supernet proxies take their network from the run folder; drop {', '.join(given)}"
        )
    return settings(request)


def _run_names(run: Path) -> tuple[str, str, str]:
    """``(dataset, training split, validation split)`` of a run, from its ``config.json``."""
    from ..supernet.config import read_saved_config

    try:
        config = read_saved_config(run / "config.json")["config"]
    except NasbenchToolsError as exc:
        raise SupernetProxyError(str(exc)) from None
    if config.get("split", "search") == "search":
        return config["dataset"], "search-train", "search-valid"
    return config["dataset"], "train", "test"


def _resolve_angle(request: ScoreRequest) -> dict:
    """The angle's settings with the checkpoints named (``checkpoint=None`` = the newest)."""
    s = _checked(request)
    if s["reference"] not in REFERENCES:
        raise SupernetProxyError(
            f"unknown angle reference {s['reference']!r}; expected one of {sorted(REFERENCES)}"
        )
    run = Path(request.run)
    path = _checkpoint(run, s["checkpoint"])
    return {
        **s,
        "checkpoint": path.name,
        "epoch": _epoch(path),
        "reference_checkpoint": f"{REFERENCES[s['reference']]}.pt",
    }


def _resolve_one_shot(request: ScoreRequest) -> dict:
    """The one-shot settings with the checkpoint, the recalibration images and splits named."""
    s = _checked(request)
    run = Path(request.run)
    path = _checkpoint(run, s["checkpoint"])
    dataset, train, valid = _run_names(run)
    out = {**s, "checkpoint": path.name, "epoch": _epoch(path)}
    out["evaluated_on"] = f"{dataset}:{valid}"
    if "oneshot_acc" in request.names:
        if s["bn"] == "none":
            raise SupernetProxyError("oneshot_acc with bn='none' is oneshot_acc_norebn; ask for it")
        preset = _preset(s["bn"], s["bn_images"])
        out["bn_images"] = preset.n_images  # None: every training image (mixpath)
        out["calibrated_on"] = f"{dataset}:{train}"
    return out


@register_proxy(
    "angle",
    needs="supernet",
    deterministic=True,
    unit="rad",
    description="ABS angle between a child's weights at a reference (W0) and now (Hu et al. 2020)",
    group="supernet-angle",
    defaults={"reference": "w0", "checkpoint": None},
    chunk=0,
    resolve=_resolve_angle,
)
def _angle_proxy(request: ScoreRequest) -> dict[str, np.ndarray]:
    s = _checked(request)
    angles, _ = supernet_angles(
        request.run, request.keys, reference=s["reference"], checkpoint=s["checkpoint"]
    )
    return {"angle": angles}


_ONE_SHOT_DEFAULTS = {"checkpoint": None, "batch_size": 512}


@register_proxy(
    "oneshot_acc",
    needs="supernet",
    deterministic=True,
    unit="percent",
    description="top-1 of the child with supernet weights, BN recalibrated by preset `bn`",
    group="supernet-oneshot",
    defaults={**_ONE_SHOT_DEFAULTS, "bn": "cumulative", "bn_images": None},
    resolve=_resolve_one_shot,
)
@register_proxy(
    "oneshot_acc_norebn",
    needs="supernet",
    deterministic=True,
    unit="percent",
    description="top-1 of the child with supernet weights and the supernet's BN statistics",
    group="supernet-oneshot",
    defaults=_ONE_SHOT_DEFAULTS,
    resolve=_resolve_one_shot,
)
def _one_shot_proxy(request: ScoreRequest) -> dict[str, np.ndarray]:
    s = _checked(request)
    common = {"checkpoint": s["checkpoint"], "batch_size": s["batch_size"]}
    out = {}
    if "oneshot_acc" in request.names:
        if s["bn"] == "none":
            raise SupernetProxyError("oneshot_acc with bn='none' is oneshot_acc_norebn; ask for it")
        out["oneshot_acc"], _ = one_shot_accuracies(
            request.run, request.keys, bn=s["bn"], bn_images=s["bn_images"],
            device=request.device, **common,
        )  # fmt: skip
    if "oneshot_acc_norebn" in request.names:
        out["oneshot_acc_norebn"], _ = one_shot_accuracies(
            request.run, request.keys, bn="none", device=request.device, **common
        )
    return out
