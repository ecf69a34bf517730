"""Image datasets for supernet and stand-alone training, held in memory as uint8 tensors.

:func:`load` reads one split of a registered dataset (:data:`DATASETS`, a
:class:`~nasbench_tools.registry.Registry`; :func:`register_dataset` adds one) from its standard
on-disk format and returns an :class:`ImageData`; :func:`iterate_batches` yields normalised, optionally
augmented float batches from it with an explicit :class:`torch.Generator`, so every epoch's order
and augmentation are reproducible.

==================  ============================================  ==================================
name                files (default folder)                        classes, image
==================  ============================================  ==================================
``cifar10``         ``cifar-10-batches-py/`` (torchvision,        10, 3x32x32
                    ``download=False``) under ``$TORCH_HOME/
                    cifar.python`` (NB201's convention)
``cifar100``        ``cifar-100-python/``, same folder            100, 3x32x32
``imagenet16-120``  NB201's ``train_data_batch_1..10`` and         120, 3x16x16
                    ``val_data`` in ``$TORCH_HOME/cifar.python/
                    ImageNet16``; labels 1..120 kept
``fashion-mnist``   ``{train,t10k}-{images-idx3,labels-idx1}-      10, 1x28x28
                    ubyte[.gz]`` in ``/usr/share/datasets/
                    fashion-mnist`` (Debian ``dataset-fashion-
                    mnist``) or any folder
``digits``          scikit-learn's bundled 8x8 digits (values      10, 1x8x8
                    0..16 scaled to 0..255); train = the first
                    1,500 of a permutation with seed 0, test =
                    the other 297
==================  ============================================  ==================================

Splits: ``"train"``, ``"test"`` and NB201's search split. ``"search-train"`` /
``"search-valid"`` are the two halves of the training set for ``cifar10`` (NB201's
``cifar-split.txt``), ``fashion-mnist`` and ``digits``; for ``cifar100`` and ``imagenet16-120``
NB201 searches on the whole training set and validates on the ``xvalid`` half of the test set
(``cifar100-test-split.txt``, ``imagenet-16-120-test-split.txt``). Pass NB201's split file as
``split_file`` to use its exact indices; without one a permutation seeded by ``split_seed``
(default 0) halves the set, and :attr:`ImageData.provenance` records which was used.

``subset`` keeps a seeded random subset, ``resize`` resamples to a square side (bilinear,
antialiased), ``channels=3`` repeats a grey channel: small, fast CPU runs.

A missing dataset raises :class:`~nasbench_tools.errors.DatasetNotFoundError` naming the folder
looked in and what to put there.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._io import sha256_of
from .errors import CorruptFileError, DatasetNotFoundError, NasbenchToolsError
from .registry import Registry

__all__ = [
    "DATASETS",
    "SPLITS",
    "DatasetSpec",
    "ImageData",
    "augment_batch",
    "iterate_batches",
    "list_datasets",
    "load",
    "register_dataset",
]

SPLITS = ("train", "test", "search-train", "search-valid")


def _torch_home() -> Path:
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".torch"))


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: shape, normalisation and how to read it.

    ``read(root, train) -> (images uint8 (N, C, H, W), labels int64 (N,))``.
    ``search``: ``"train_halves"`` or ``"test_halves"`` (see the module docstring).
    ``bundled``: the data ship with a package, so there is no folder to check.
    ``mean`` / ``std`` are per channel on the 0..1 scale: NB201's constants for CIFAR and
    ImageNet16-120; computed from the training images for Fashion-MNIST and digits.
    """

    name: str
    num_classes: int
    channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    default_root: Callable[[], Path]
    read: Callable[[Path, bool], tuple[np.ndarray, np.ndarray]]
    search: str
    augment: str
    crop_padding: int
    where: str
    bundled: bool = False


@dataclass
class ImageData:
    """One split in memory.

    Attributes
    ----------
    images : (N, C, H, W) uint8 tensor
    labels : (N,) int64 tensor
    mean, std : per-channel normalisation on the 0..1 scale
    provenance : dict
        Dataset, split, folder, split source, subset/resize, sha256 of the arrays.
    """

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str = "none"
    crop_padding: int = 0
    provenance: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[2])

    def head(self, n: int | None) -> ImageData:
        """The first ``n`` images (this split itself when ``n`` is ``None`` or not smaller)."""
        if n is None or n >= len(self):
            return self
        return replace(self, images=self.images[:n], labels=self.labels[:n])

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or 0..1 float images -> normalised float32."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def sha256(self) -> str:
        """sha256 of the image bytes followed by the label bytes (recorded in provenance)."""
        return sha256_of((self.images.contiguous().numpy(), self.labels.contiguous().numpy()))


# --------------------------------------------------------------------------- readers
def _missing(spec_name: str, root: Path, what: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{spec_name} not found in {root}: {what} (pass root=... / --data-root to use another folder)"
    )


def _read_cifar(which: str):
    def read(root: Path, train: bool):
        from torchvision import datasets as tvd

        cls = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[which]
        try:
            ds = cls(str(root), train=train, download=False)
        except RuntimeError as exc:
            folder = "cifar-10-batches-py" if which == "cifar10" else "cifar-100-python"
            raise _missing(
                which,
                root,
                f"put the extracted '{folder}' folder of the python-version archive "
                f"from https://www.cs.toronto.edu/~kriz/cifar.html there ({exc})",
            ) from None
        images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        return images.numpy(), np.asarray(ds.targets, dtype=np.int64)

    return read


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
        }
    )

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise CorruptFileError(f"ImageNet16 batch names an unexpected global {module}.{name}")
        return super().find_class(module, name)


def _read_imagenet16(root: Path, train: bool):
    names = [f"train_data_batch_{i}" for i in range(1, 11)] if train else ["val_data"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise _missing(
            "imagenet16-120",
            root,
            f"NB201's ImageNet16 files {missing} are absent (the folder holds "
            "train_data_batch_1..10 and val_data of the 16x16 downsampled ImageNet)",
        )
    data, labels = [], []
    for n in names:
        with open(root / n, "rb") as fh:
            entry = _NumpyOnlyUnpickler(fh, encoding="latin1").load()
        data.append(np.asarray(entry["data"], dtype=np.uint8))
        labels.extend(int(v) for v in entry["labels"])
    images = np.vstack(data).reshape(-1, 3, 16, 16)
    labels_arr = np.asarray(labels, dtype=np.int64)
    keep = (labels_arr >= 1) & (labels_arr <= 120)
    return np.ascontiguousarray(images[keep]), labels_arr[keep] - 1


def _idx_file(root: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def _read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise CorruptFileError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(shape)):
        raise CorruptFileError(f"{path}: header says {shape}, file has {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()


def _read_fashion_mnist(root: Path, train: bool):
    prefix = "train" if train else "t10k"
    img = _idx_file(root, f"{prefix}-images-idx3-ubyte")
    lab = _idx_file(root, f"{prefix}-labels-idx1-ubyte")
    if img is None or lab is None:
        raise _missing(
            "fashion-mnist",
            root,
            f"expected {prefix}-images-idx3-ubyte.gz and {prefix}-labels-idx1-ubyte.gz "
            "(Debian: apt-get install dataset-fashion-mnist puts them in "
            "/usr/share/datasets/fashion-mnist)",
        )
    images = _read_idx(img)[:, None]
    labels = _read_idx(lab).astype(np.int64)
    if len(images) != len(labels):
        raise CorruptFileError(f"{img} has {len(images)} images but {lab} has {len(labels)} labels")
    return np.ascontiguousarray(images), labels


_DIGITS_TRAIN = 1500


def _read_digits(root: Path, train: bool):
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    order = np.random.default_rng(0).permutation(len(images))
    idx = order[:_DIGITS_TRAIN] if train else order[_DIGITS_TRAIN:]
    return np.ascontiguousarray(images[idx]), d.target[idx].astype(np.int64)


_CIFAR10_MEAN = tuple(v / 255 for v in (125.3, 123.0, 113.9))
_CIFAR10_STD = tuple(v / 255 for v in (63.0, 62.1, 66.7))
_CIFAR100_MEAN = tuple(v / 255 for v in (129.3, 124.1, 112.4))
_CIFAR100_STD = tuple(v / 255 for v in (68.2, 65.4, 70.4))
_IN16_MEAN = tuple(v / 255 for v in (122.68, 116.66, 104.01))
_IN16_STD = tuple(v / 255 for v in (63.22, 61.26, 65.09))

#: name -> DatasetSpec; an unknown name raises
#: :class:`~nasbench_tools.errors.NasbenchToolsError` listing the known ones.
DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to :data:`DATASETS` under ``spec.name`` (a name already registered raises
    :class:`~nasbench_tools.errors.NasbenchToolsError`)."""
    return DATASETS.register(spec.name, spec)


register_dataset(DatasetSpec(
    "cifar10", 10, 3, 32, _CIFAR10_MEAN, _CIFAR10_STD,
    lambda: _torch_home() / "cifar.python", _read_cifar("cifar10"),
    "train_halves", "crop_flip", 4, "cifar-10-batches-py/",
))  # fmt: skip
register_dataset(DatasetSpec(
    "cifar100", 100, 3, 32, _CIFAR100_MEAN, _CIFAR100_STD,
    lambda: _torch_home() / "cifar.python", _read_cifar("cifar100"),
    "test_halves", "crop_flip", 4, "cifar-100-python/",
))  # fmt: skip
register_dataset(DatasetSpec(
    "imagenet16-120", 120, 3, 16, _IN16_MEAN, _IN16_STD,
    lambda: _torch_home() / "cifar.python" / "ImageNet16", _read_imagenet16,
    "test_halves", "crop_flip", 2, "train_data_batch_1..10, val_data",
))  # fmt: skip
register_dataset(DatasetSpec(
    "fashion-mnist", 10, 1, 28, (0.2860,), (0.3530,),
    lambda: Path("/usr/share/datasets/fashion-mnist"), _read_fashion_mnist,
    "train_halves", "crop_flip", 2, "*-idx3-ubyte.gz, *-idx1-ubyte.gz",
))  # fmt: skip
register_dataset(DatasetSpec(
    "digits", 10, 1, 8, (0.3053,), (0.3759,),
    lambda: Path("<scikit-learn>"), _read_digits,
    "train_halves", "crop", 1, "(bundled with scikit-learn)", bundled=True,
))  # fmt: skip


def list_datasets() -> list[str]:
    return DATASETS.names()


# --------------------------------------------------------------------------- splits
def _read_split_file(path: Path, keys: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """NB201's split files: ``{"train": ["int", ["0", "5", ...]], "valid": [...]}``."""
    try:
        data = json.loads(Path(path).read_text())
        out = []
        for k in keys:
            entry = data[k]
            values = entry[1] if isinstance(entry, list) and len(entry) == 2 else entry
            out.append(np.asarray([int(v) for v in values], dtype=np.int64))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise CorruptFileError(
            f"{path} is not an NB201 split file with keys {list(keys)}: {exc}"
        ) from None
    return out[0], out[1]


def _halves(n: int, seed: int, fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of ``range(n)``: the first ``int(n * fraction)`` of a permutation, and the
    rest (``fraction`` 0.5: two halves)."""
    order = np.random.default_rng(seed).permutation(n)
    k = int(n * fraction)
    return np.sort(order[:k]), np.sort(order[k:])


def load(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    subset: int | None = None,
    resize: int | None = None,
    channels: int | None = None,
    split_file: str | os.PathLike | None = None,
    split_seed: int = 0,
    subset_seed: int = 0,
    train_fraction: float = 0.5,
) -> ImageData:
    """Load one split of a registered dataset into memory.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    split : {"train", "test", "search-train", "search-valid"}
    root : path, optional
        Folder holding the files (default: the dataset's standard folder, see module docstring).
    subset : int, optional
        Keep this many images, drawn without replacement with ``subset_seed``.
    resize : int, optional
        Resample to ``resize x resize``.
    channels : int, optional
        ``3`` repeats a grey channel (or keeps RGB); ``1`` averages RGB.
    split_file : path, optional
        NB201's split file for the search split (``cifar-split.txt`` for cifar10;
        ``cifar100-test-split.txt`` / ``imagenet-16-120-test-split.txt``).
    split_seed, subset_seed : int
        Seeds of the search-split halves (without ``split_file``) and of ``subset``.
    train_fraction : float
        Without ``split_file``, where the training set is cut in two (0 < f < 1):
        ``"search-train"`` is a seeded ``f`` of it, ``"search-valid"`` the rest (0.5: NB201's
        halves).
    """
    spec = DATASETS.get(name)
    if split not in SPLITS:
        raise NasbenchToolsError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    if (
        isinstance(train_fraction, bool)
        or not isinstance(train_fraction, int | float)
        or not (0 < train_fraction < 1)
    ):
        raise NasbenchToolsError(
            f"train_fraction must be a number strictly between 0 and 1, got {train_fraction!r}"
        )
    folder = Path(root) if root is not None else spec.default_root()
    if not spec.bundled and not folder.is_dir():
        raise _missing(name, folder, f"the folder does not exist; it should hold {spec.where}")
    provenance: dict = {"dataset": name, "split": split, "root": str(folder)}

    from_train = split in ("train", "search-train") or (
        split == "search-valid" and spec.search == "train_halves"
    )
    images, labels = spec.read(folder, from_train)
    if split.startswith("search-"):
        whole = split == "search-train" and spec.search == "test_halves"
        if not whole:
            keys = ("train", "valid") if spec.search == "train_halves" else ("xvalid", "xtest")
            if split_file is not None:
                first, second = _read_split_file(Path(split_file), keys)
                provenance["split_source"] = str(split_file)
            else:
                first, second = _halves(len(labels), split_seed, train_fraction)
                provenance["split_source"] = (
                    f"seeded halves (split_seed={split_seed})"
                    if train_fraction == 0.5
                    else f"seeded split (split_seed={split_seed}, train_fraction={train_fraction})"
                )
            idx = first if (split == "search-train" or spec.search == "test_halves") else second
            if idx.size and (idx.min() < 0 or idx.max() >= len(labels)):
                raise CorruptFileError(
                    f"split indices out of range for {name} ({len(labels)} images)"
                )
            images, labels = images[idx], labels[idx]
        else:
            provenance["split_source"] = "whole training set"
    x = torch.from_numpy(np.ascontiguousarray(images))
    y = torch.from_numpy(np.ascontiguousarray(labels)).long()
    if subset is not None and subset < len(y):
        idx = np.sort(np.random.default_rng(subset_seed).choice(len(y), size=subset, replace=False))
        x, y = x[idx], y[idx]
        provenance["subset"] = {"n": int(subset), "seed": int(subset_seed)}
    mean, std = spec.mean, spec.std
    if channels is not None and channels != x.shape[1]:
        if channels == 3 and x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
            mean, std = mean * 3, std * 3
        elif channels == 1 and x.shape[1] == 3:
            x = x.float().mean(dim=1, keepdim=True).round().to(torch.uint8)
            mean, std = (sum(mean) / 3,), (sum(std) / 3,)
        else:
            raise NasbenchToolsError(f"cannot convert {x.shape[1]} channels to {channels}")
        provenance["channels"] = channels
    if resize is not None and resize != x.shape[-1]:
        x = _resize(x, resize)
        provenance["resize"] = int(resize)
    data = ImageData(
        name, split, x.contiguous(), y.contiguous(), spec.num_classes, tuple(mean), tuple(std),
        spec.augment, max(1, round(spec.crop_padding * x.shape[-1] / spec.image_size)),
    )  # fmt: skip
    provenance["n"] = len(data)
    provenance["sha256"] = data.sha256()
    data.provenance = provenance
    return data


def _resize(x: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    out = []
    for i in range(0, len(x), chunk):
        part = x[i : i + chunk].float()
        part = F.interpolate(
            part, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        out.append(part.round().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out) if out else x[:, :, :size, :size]


# --------------------------------------------------------------------------- batches
AUGMENTS = ("none", "crop", "crop_flip")


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    augment: str,
    padding: int,
    cutout: int = 0,
) -> torch.Tensor:
    """Random crop with zero padding (``"crop"``), plus horizontal flip (``"crop_flip"``), and
    optionally cutout of a ``cutout x cutout`` square (MixPath); ``x`` is float 0..1, NCHW."""
    if augment not in AUGMENTS:
        raise NasbenchToolsError(f"unknown augment {augment!r}; expected one of {list(AUGMENTS)}")
    B, C, H, W = x.shape
    if augment in ("crop", "crop_flip") and padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        oy = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
        ox = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
        rows = (oy[:, None] + torch.arange(H))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(W))[:, None, None, :]
        b = torch.arange(B)[:, None, None, None]
        c = torch.arange(C)[None, :, None, None]
        x = padded[b, c, rows, cols]
    if augment == "crop_flip":
        flip = torch.rand(B, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if cutout > 0:
        cy = torch.randint(0, H, (B,), generator=generator)
        cx = torch.randint(0, W, (B,), generator=generator)
        ys = torch.arange(H)[None, :, None]
        xs = torch.arange(W)[None, None, :]
        half = cutout // 2
        hole = (
            (ys >= (cy - half)[:, None, None])
            & (ys < (cy + half)[:, None, None])
            & (xs >= (cx - half)[:, None, None])
            & (xs < (cx + half)[:, None, None])
        )
        x = x.masked_fill(hole[:, None], 0.0)
    return x


def iterate_batches(
    data: ImageData,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    augment: str | None = "none",
    cutout: int = 0,
    drop_last: bool = False,
    device: torch.device | str | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)``: normalised float32 images on ``device`` (to a CUDA device
    through pinned memory, asynchronously).

    ``shuffle`` and augmentation draw from ``generator`` only (required for either), so the same
    generator state gives the same batches. ``augment=None`` uses the dataset's default
    (``"crop_flip"`` for CIFAR, ImageNet16-120 and Fashion-MNIST, ``"crop"`` for digits). Cutout
    is applied after normalisation (the hole is the mean), as MixPath does.
    """
    augment = data.augment if augment is None else augment
    random = shuffle or augment != "none" or cutout > 0
    if random and generator is None:
        raise NasbenchToolsError("iterate_batches needs a torch.Generator to shuffle or augment")
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        x = data.images[idx].float() / 255.0
        if augment != "none":
            x = augment_batch(x, generator, augment, data.crop_padding)
        x = data.normalise(x)
        if cutout > 0:
            x = augment_batch(x, generator, "none", 0, cutout)
        y = data.labels[idx]
        if device is not None and torch.device(device).type == "cuda":
            # page-locked host copies let the transfer overlap the GPU's work on the last batch
            x = x.pin_memory().to(device, non_blocking=True)
            y = y.pin_memory().to(device, non_blocking=True)
        elif device is not None:
            x, y = x.to(device), y.to(device)
        yield x, y
