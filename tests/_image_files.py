"""Tiny image-dataset files in each registered dataset's real on-disk format (for tests)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    """An unsigned-byte IDX file (Fashion-MNIST's format), gzipped or not."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def fake_cifar(root: Path, which: str, n_per_batch: int = 6) -> None:
    """The python-version CIFAR-10/100 folder (torchvision's layout; its md5 check must be
    patched out, see ``no_md5`` in tests/test_datasets.py)."""
    rng = np.random.default_rng(0)
    key = "labels" if which == "cifar10" else "fine_labels"
    folder = root / ("cifar-10-batches-py" if which == "cifar10" else "cifar-100-python")
    folder.mkdir(parents=True)
    names = (
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        if which == "cifar10"
        else ["train", "test"]
    )
    for name in names:
        entry = {
            "data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            key: list(range(n_per_batch)),
        }
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = ("batches.meta", "label_names") if which == "cifar10" else ("meta", "fine_label_names")
    (folder / meta[0]).write_bytes(pickle.dumps({meta[1]: [f"c{i}" for i in range(100)]}))


def fake_imagenet16(root: Path, n_per_batch: int = 4) -> None:
    """NB201's ImageNet16 batches: ``train_data_batch_1..10`` and ``val_data``."""
    rng = np.random.default_rng(0)
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        entry = {
            "data": rng.integers(0, 256, (n_per_batch, 768), dtype=np.uint8),
            "labels": [1 + i % 120 for i in range(n_per_batch)],
        }
        (root / name).write_bytes(pickle.dumps(entry))


def fake_fashion_mnist(root: Path, n_train: int = 12, n_test: int = 5) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), True)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10, True)


#: dataset name -> writer of a tiny copy in its format under a folder (None: bundled data)
TINY_FILES = {
    "cifar10": lambda root: fake_cifar(root, "cifar10"),
    "cifar100": lambda root: fake_cifar(root, "cifar100"),
    "imagenet16-120": fake_imagenet16,
    "fashion-mnist": fake_fashion_mnist,
    "digits": None,
}


def skip_cifar_md5(monkeypatch) -> None:
    """torchvision checks the real archives' md5 sums; tiny copies cannot pass them."""
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(tvd.CIFAR10, "_check_integrity", lambda self: True)
