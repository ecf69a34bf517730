"""Training protocols of a built benchmark: one validated dataclass and a registry of presets.

A :class:`Protocol` declares everything that decides a built benchmark's numbers: the dataset and
how it is cut (train / valid / test splits, subset sizes and seeds, image size and channels), the
network (``C``, ``N``), and the optimiser and schedule (SGD with momentum, optional Nesterov,
weight decay, a per-step cosine schedule from ``lr`` to ``lr_min``, batch size, epochs).

The splits are the ones NB201 calls ``cifar10-valid``: the network trains on one half of the
dataset's training set (``datasets.load(..., "search-train")``), is validated on the other half
(``"search-valid"``) and tested on the official test set (``"test"``). In the store they are the
splits ``train``, ``valid`` and ``test``.

Presets (:data:`PROTOCOLS`):

* ``quick``: scikit-learn digits (bundled), 8x8, ``C=4, N=1``, 3 epochs on 512 images (batch 32),
  validated and tested on 128 images each; about a second per network on one CPU thread, and the
  networks reach 50-70 % validation accuracy. For tests and trying the command, not for
  conclusions (128 test images give a resolution of 0.8 points).
* ``cpu``: Fashion-MNIST at 16x16 (one channel), ``C=8, N=1``, 5 epochs on 15,000 training
  images (a seeded subset of one half of the training set) without augmentation (batch 128,
  lr 0.05 cosine to 0, Nesterov, weight decay 5e-4), validated on 20,000 images of the other
  half and tested on 5,000 of the official test set; the epochs before the last are evaluated
  on the first 2,000 validation and test images (``curve_subset``), the last on all. About 47 s
  per network on one idle core here. Chosen by measurement against the seed-to-seed agreement
  of the validation accuracy (Kendall tau-b between seeds 0 and 1 over the same architectures):

  - at lr 0.1 (10 architectures x 2 seeds) random-crop augmentation doubled the seed noise (sd
    0.95 points at 4 epochs on 10,000 images; 0.55 without it), 15,000 training images lowered
    it, 3 epochs on 20,000 did not; a 10,000-image validation set alone gave the seed
    difference an sd of 0.24 points (two trained networks disagree on 6 % of the images);
  - a build at lr 0.1 agreed with itself at Kendall tau 0.566 over its first 102
    architectures; lr 0.05 did better on the same 102 (0.590), lr 0.025 not (20 architectures:
    0.480 vs 0.554);
  - the first cpu preset (now ``cpu-v1``: 4 epochs, every epoch evaluated on all images) built
    200 classes x 2 seeds that agreed at tau-b 0.532 [0.449, 0.602]; its seed noise (sd of one
    seed's accuracy) was 0.32 points over all 200 and 0.23 among the better half, of which the
    draw of 20,000 validation images accounts for about 0.12 (a quarter of the variance), the
    rest being training noise. Its per-epoch columns show the agreement still rising steeply
    when training stopped (valid accuracy tau-b 0.05, 0.19, 0.39, 0.53 after epochs 1-4), and
    four full evaluations were over a third of a network's cost;
  - validating on all 45,000 images the networks do not train on (``train_fraction=0.25``,
    ``curve_subset=2000``: 46 s per network instead of 57) agreed at 0.511 where ``cpu-v1``
    agreed at 0.638 on the same 60 classes (paired bootstrap difference -0.13 [-0.27, 0.02]);
  - cheaper networks trained longer did worse: 7 epochs at 12x12 (same cost) lowered the
    overall noise (0.22 vs 0.28 points, 32 architectures) but agreed at tau 0.42 against
    ``cpu-v1``'s 0.64 on the same 32; 2 epochs on 30,000 images and C=16 at 12x12 showed no
    gain on 11 and 5 architectures;
  - this preset, piloted on a seeded 60 of the 200 classes x 2 seeds
    (``data/builds/pilot_cpu_e5.py``, store ``data/builds/pilot_cpu_e5.h5``), agreed at tau-b
    0.595 where ``cpu-v1`` agreed at 0.490 on the same 60 (paired bootstrap difference +0.105
    [-0.042, +0.265]; seed noise sd 0.20 against 0.30 points) and cost less: about 47 s per
    network and core against 57 s (46.8 minutes of wall time for the 120 networks on 2 idle
    cores);
  - its build of the same 200 classes x 2 seeds (``load("nb201-fmnist")``) agrees
    with itself at tau-b 0.600 [0.539, 0.675] (``nbt report``), against ``cpu-v1``'s 0.532 on
    the same 200 (paired bootstrap difference +0.068 [-0.002, +0.138]); seed noise sd 0.24
    points against 0.32. Its per-epoch columns agree at 0.06, 0.20, 0.23, 0.41 after epochs
    1-4 (on 2,000 images) and 0.60 after the 5th (on 20,000). The 34 NB101 graphs
    (``load("nb101-mixpath-fmnist")``) agree at 0.734 (``cpu-v1``: 0.797; n = 34, the two
    intervals overlap widely).
* ``cpu-v1``: the first ``cpu`` preset, kept so the stores built with it can be extended
  comparably (their metadata records the name ``cpu``; :func:`preset_with_settings` finds a
  preset by its settings): 4 epochs, every epoch evaluated on all images, otherwise as ``cpu``.
* ``paper``: NB201's own protocol for CIFAR-10 (``C=16, N=5``, 32x32, 200 epochs, SGD Nesterov
  momentum 0.9, lr 0.1 cosine to 0 per step, weight decay 5e-4, batch 256, random crop and
  flip), from the benchmark's configuration ``configs/nas-benchmark/hyper-opts/200E.config`` of
  D-X-Y/AutoDL-Projects (commit 6effb6f): ``scheduler cos, eta_min 0.0, epochs 200, warmup 0,
  optim SGD, LR 0.1, decay 0.0005, momentum 0.9, nesterov 1, batch_size 256``. It needs CIFAR-10
  and a GPU. One difference stays: NB201 cut train/valid with its split file, this protocol with
  seeded halves (``split_seed``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..datasets import AUGMENTS, DATASETS
from ..errors import NasbenchToolsError
from ..registry import Registry

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "ProtocolError",
    "get_protocol",
    "list_protocols",
    "preset_with_settings",
    "register_protocol",
]


class ProtocolError(NasbenchToolsError, ValueError):
    """A protocol setting out of its domain (the message names the setting)."""


@dataclass(frozen=True)
class Protocol:
    """How every network of a built benchmark is trained and evaluated.

    Attributes
    ----------
    name : str
        The preset's name (recorded in the store; a changed setting keeps the name but not the
        protocol: every field is compared on resume).
    dataset : str
        A registered dataset (:data:`nasbench_tools.datasets.DATASETS`).
    epochs : int
        Training epochs (the schedule's length; the store's ``epochs`` budget).
    C, N : int
        NB201 skeleton: channels of the first stage, cells per stage.
    image_size, channels : int or None
        Resample / convert the images to this (``None``: the dataset's own).
    train_subset, valid_subset, test_subset : int or None
        Keep a seeded subset (``subset_seed``) of this many images of each split (``None``: all).
    split_seed, subset_seed : int
        Seeds of the train/valid cut and of the subsets (data, not training, seeds).
    train_fraction : float
        The share of the dataset's training set the networks train on (a seeded cut, before
        ``train_subset``); the rest is the validation split. 0.5: NB201's halves.
    lr, lr_min, momentum, weight_decay, nesterov : SGD and its per-step cosine schedule.
    batch_size, eval_batch_size : int
    augment : str
        ``"none"``, ``"crop"`` or ``"crop_flip"`` (:data:`nasbench_tools.datasets.AUGMENTS`).
    curve_subset : int or None
        Evaluate the epochs before the last on the first ``curve_subset`` images of the valid
        and test splits (themselves seeded samples), the last epoch on all of them; ``None``:
        every epoch on all. Evaluation on 25,000 images costs a third of a small network's
        training epoch, so this buys epochs; the store's per-epoch points before the last then
        carry the noise of the smaller set (recorded with the protocol).
    """

    name: str
    dataset: str
    epochs: int
    C: int
    N: int
    image_size: int | None = None
    channels: int | None = None
    train_subset: int | None = None
    valid_subset: int | None = None
    test_subset: int | None = None
    split_seed: int = 0
    subset_seed: int = 0
    train_fraction: float = 0.5
    lr: float = 0.1
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    batch_size: int = 256
    eval_batch_size: int = 512
    augment: str = "crop_flip"
    curve_subset: int | None = None

    def __post_init__(self):
        DATASETS.get(self.dataset)  # an unknown dataset names the known ones
        for f in ("epochs", "C", "N", "batch_size", "eval_batch_size"):
            _check_int(self, f, low=1)
        for f in ("image_size", "channels", "train_subset", "valid_subset", "test_subset",
                  "curve_subset"):  # fmt: skip
            if getattr(self, f) is not None:
                _check_int(self, f, low=1)
        if self.channels not in (None, 1, 3):
            raise ProtocolError(
                f"protocol {self.name!r}: channels must be 1 or 3, got {self.channels}"
            )
        for f in ("split_seed", "subset_seed"):
            _check_int(self, f, low=0)
        for f in ("lr", "lr_min", "momentum", "weight_decay"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < float("inf"):
                raise ProtocolError(
                    f"protocol {self.name!r}: {f} must be a finite number >= 0, got {v!r}"
                )
        tf = self.train_fraction
        if isinstance(tf, bool) or not isinstance(tf, int | float) or not 0 < tf < 1:
            raise ProtocolError(
                f"protocol {self.name!r}: train_fraction must be a number strictly between 0 "
                f"and 1, got {tf!r}"
            )
        if self.lr_min > self.lr:
            raise ProtocolError(
                f"protocol {self.name!r}: lr_min {self.lr_min} exceeds lr {self.lr}"
            )
        if not isinstance(self.nesterov, bool):
            raise ProtocolError(f"protocol {self.name!r}: nesterov must be a bool")
        if self.nesterov and self.momentum == 0:
            raise ProtocolError(f"protocol {self.name!r}: nesterov needs momentum > 0")
        if self.augment not in AUGMENTS:
            raise ProtocolError(
                f"protocol {self.name!r}: augment must be one of {list(AUGMENTS)}, "
                f"got {self.augment!r}"
            )

    def to_dict(self) -> dict:
        """Every setting, JSON-serialisable (what the journal and the store record)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> Protocol:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict:
        """Every setting but the name: what decides the numbers (two protocols with equal
        settings train identical networks, whatever they are called)."""
        d = self.to_dict()
        del d["name"]
        return d


def _check_int(p: Protocol, f: str, *, low: int) -> None:
    v = getattr(p, f)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ProtocolError(f"protocol {p.name!r}: {f} must be an integer >= {low}, got {v!r}")


#: name -> Protocol; an unknown name raises listing the known ones.
PROTOCOLS: Registry[Protocol] = Registry("build protocol", error=ProtocolError)


def register_protocol(protocol: Protocol) -> Protocol:
    return PROTOCOLS.register(protocol.name, protocol)


def get_protocol(name: str) -> Protocol:
    return PROTOCOLS.get(name)


def list_protocols() -> list[str]:
    return PROTOCOLS.names()


def preset_with_settings(protocol: Protocol) -> str | None:
    """The registered preset whose settings equal ``protocol``'s (its own name first), or
    ``None``: which ``--preset`` rebuilds networks comparable with a store's."""
    names = sorted(list_protocols(), key=lambda n: n != protocol.name)
    return next((n for n in names if get_protocol(n).settings() == protocol.settings()), None)


register_protocol(
    Protocol(
        "quick", "digits", epochs=3, C=4, N=1, train_subset=512, valid_subset=128,
        test_subset=128, batch_size=32, eval_batch_size=256, augment="crop",
    )
)  # fmt: skip
register_protocol(
    Protocol(
        "cpu", "fashion-mnist", epochs=5, C=8, N=1, image_size=16, channels=1,
        train_subset=15000, valid_subset=20000, test_subset=5000, batch_size=128, lr=0.05,
        eval_batch_size=1000, augment="none", curve_subset=2000,
    )
)  # fmt: skip
register_protocol(get_protocol("cpu").replace(name="cpu-v1", epochs=4, curve_subset=None))
register_protocol(
    Protocol(
        "paper", "cifar10", epochs=200, C=16, N=5, image_size=32, channels=3, lr=0.1,
        lr_min=0.0, momentum=0.9, weight_decay=5e-4, nesterov=True, batch_size=256,
        augment="crop_flip",
    )
)  # fmt: skip
