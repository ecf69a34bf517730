"""Image datasets: standard on-disk formats (tiny fakes), NB201 search splits, batches."""

from __future__ import annotations

import collections
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nasbench_tools import datasets as D
from nasbench_tools.errors import CorruptFileError, DatasetNotFoundError, NasbenchToolsError

from ._image_files import fake_cifar as _fake_cifar
from ._image_files import write_idx as _write_idx

FMNIST = Path("/usr/share/datasets/fashion-mnist")


# --------------------------------------------------------------------------- digits
def test_digits_split_sizes_and_determinism():
    train, test = D.load("digits", "train"), D.load("digits", "test")
    assert (len(train), len(test)) == (1500, 297)
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (1, 8, 8)
    assert int(train.images.max()) == 255 and train.num_classes == 10
    assert D.load("digits", "train").provenance["sha256"] == train.provenance["sha256"]
    # the documented normalisation constants are the statistics of all 1,797 images
    everything = torch.cat([train.images, test.images]).float() / 255
    assert abs(everything.mean().item() - train.mean[0]) < 1e-3
    assert abs(everything.std().item() - train.std[0]) < 1e-3


def test_search_halves_partition_the_training_set():
    train = D.load("digits", "train")
    a, b = D.load("digits", "search-train"), D.load("digits", "search-valid")
    assert len(a) + len(b) == len(train) and len(a) == 750

    def rows(images, labels):
        return collections.Counter(
            (*tuple(x.flatten().tolist()), int(y)) for x, y in zip(images, labels)
        )

    halves = rows(torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]))
    assert halves == rows(train.images, train.labels)
    assert "split_seed=0" in a.provenance["split_source"]
    c = D.load("digits", "search-train", split_seed=1)
    assert c.provenance["sha256"] != a.provenance["sha256"]


def test_train_fraction_cuts_the_training_set_where_asked_and_half_is_the_default():
    train = D.load("digits", "train")
    a = D.load("digits", "search-train", train_fraction=0.25)
    b = D.load("digits", "search-valid", train_fraction=0.25)
    assert (len(a), len(b)) == (375, 1125)  # 1,500 training images: a quarter and the rest

    def rows(images, labels):
        return collections.Counter(
            (*tuple(x.flatten().tolist()), int(y)) for x, y in zip(images, labels)
        )

    both = rows(torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]))
    assert both == rows(train.images, train.labels)  # disjoint, and together the training set
    assert "train_fraction=0.25" in a.provenance["split_source"]
    half = D.load("digits", "search-valid", train_fraction=0.5)
    assert half.provenance == D.load("digits", "search-valid").provenance


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.5"])
def test_a_train_fraction_outside_0_1_is_refused_naming_it(bad):
    with pytest.raises(NasbenchToolsError, match="train_fraction"):
        D.load("digits", "search-train", train_fraction=bad)


def test_subset_resize_channels():
    d = D.load("digits", "train", subset=100, resize=16, channels=3, subset_seed=3)
    assert d.images.shape == (100, 3, 16, 16) and len(d.mean) == 3
    assert d.provenance["subset"] == {"n": 100, "seed": 3} and d.provenance["resize"] == 16
    assert d.crop_padding == 2  # digits pad 1 at 8x8, scaled with the side


def test_unknown_names():
    with pytest.raises(NasbenchToolsError, match="unknown dataset"):
        D.load("mnist")
    with pytest.raises(NasbenchToolsError, match="unknown split"):
        D.load("digits", "valid")


# --------------------------------------------------------------------------- Fashion-MNIST
@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_idx_files_from_any_folder(tmp_path, compress):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        suffix = ".gz" if compress else ""
        _write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (n, 28, 28)),
            compress,
        )
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, compress)
    train = D.load("fashion-mnist", "train", root=tmp_path)
    assert train.images.shape == (12, 1, 28, 28) and train.labels.tolist() == [
        i % 10 for i in range(12)
    ]
    assert len(D.load("fashion-mnist", "test", root=tmp_path)) == 5
    assert len(D.load("fashion-mnist", "search-valid", root=tmp_path)) == 6


def test_fashion_mnist_missing_and_corrupt(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="dataset-fashion-mnist"):
        D.load("fashion-mnist", root=tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big"))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big"))
    with pytest.raises(CorruptFileError):
        D.load("fashion-mnist", root=tmp_path)


@pytest.mark.skipif(
    not FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)
def test_real_fashion_mnist_from_the_debian_package():
    train = D.load("fashion-mnist", "train")
    test = D.load("fashion-mnist", "test")
    assert (len(train), len(test)) == (60000, 10000)
    x = train.images.float() / 255
    assert abs(x.mean().item() - train.mean[0]) < 1e-3 and abs(x.std().item() - train.std[0]) < 1e-3
    assert sorted(torch.bincount(test.labels).tolist()) == [1000] * 10


# --------------------------------------------------------------------------- CIFAR (torchvision)
@pytest.fixture
def no_md5(monkeypatch):
    tvd = pytest.importorskip("torchvision.datasets")
    monkeypatch.setattr(tvd.cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(tvd.CIFAR10, "_check_integrity", lambda self: True)


def test_cifar10_standard_format_and_nb201_split_file(tmp_path, no_md5):
    _fake_cifar(tmp_path, "cifar10")
    train = D.load("cifar10", "train", root=tmp_path)
    assert (
        train.images.shape == (30, 3, 32, 32) and len(D.load("cifar10", "test", root=tmp_path)) == 6
    )
    split = tmp_path / "cifar-split.txt"
    split.write_text(
        json.dumps(
            {
                "train": ["int", [str(i) for i in range(0, 30, 2)]],
                "valid": ["int", [str(i) for i in range(1, 30, 2)]],
            }
        )
    )
    st = D.load("cifar10", "search-train", root=tmp_path, split_file=split)
    sv = D.load("cifar10", "search-valid", root=tmp_path, split_file=split)
    assert torch.equal(st.images, train.images[::2]) and torch.equal(sv.images, train.images[1::2])
    assert st.provenance["split_source"] == str(split)


def test_cifar100_search_split_uses_the_test_halves(tmp_path, no_md5):
    _fake_cifar(tmp_path, "cifar100", n_per_batch=8)
    test = D.load("cifar100", "test", root=tmp_path)
    assert (
        D.load("cifar100", "search-train", root=tmp_path).provenance["split_source"]
        == "whole training set"
    )
    split = tmp_path / "cifar100-test-split.txt"
    split.write_text(
        json.dumps(
            {"xvalid": ["int", ["1", "3", "5", "7"]], "xtest": ["int", ["0", "2", "4", "6"]]}
        )
    )
    sv = D.load("cifar100", "search-valid", root=tmp_path, split_file=split)
    assert torch.equal(sv.images, test.images[1::2]) and sv.num_classes == 100


def test_cifar_missing_names_the_folder(tmp_path):
    pytest.importorskip("torchvision")
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py") as exc:
        D.load("cifar10", root=tmp_path)
    assert str(tmp_path) in str(exc.value)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        D.load("cifar100", root=tmp_path / "nowhere")


# --------------------------------------------------------------------------- ImageNet16-120
def test_imagenet16_keeps_the_first_120_classes(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        entry = {
            "data": rng.integers(0, 256, (4, 768), dtype=np.uint8),
            "labels": [1, 120, 121, 1000],
        }
        (tmp_path / name).write_bytes(pickle.dumps(entry))
    train = D.load("imagenet16-120", "train", root=tmp_path)
    assert train.images.shape == (20, 3, 16, 16) and set(train.labels.tolist()) == {0, 119}
    assert len(D.load("imagenet16-120", "test", root=tmp_path)) == 2


def test_imagenet16_refuses_unexpected_pickle_globals(tmp_path):
    for name in [f"train_data_batch_{i}" for i in range(1, 11)]:
        (tmp_path / name).write_bytes(pickle.dumps(collections.OrderedDict(data=[], labels=[])))
    with pytest.raises(CorruptFileError, match="OrderedDict"):
        D.load("imagenet16-120", "train", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="val_data"):
        D.load("imagenet16-120", "test", root=tmp_path)


# --------------------------------------------------------------------------- batches
def test_batches_are_reproducible_and_augmented():
    data = D.load("digits", "train", subset=100)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return list(
            D.iterate_batches(
                data, 32, shuffle=True, generator=g, augment="crop_flip", drop_last=True
            )
        )

    a, b, c = run(0), run(0), run(1)
    assert len(a) == 3 and all(x.shape == (32, 1, 8, 8) for x, _ in a)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])
    plain = list(D.iterate_batches(data, 64))
    assert [len(y) for _, y in plain] == [64, 36]
    assert torch.allclose(plain[0][0], data.normalise(data.images[:64]))
    with pytest.raises(NasbenchToolsError, match="Generator"):
        next(D.iterate_batches(data, 8, shuffle=True))


def test_augment_crop_keeps_pixels_and_cutout_zeroes_a_square():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    y = D.augment_batch(x, g, "crop", padding=0)
    assert torch.equal(x, y)
    cut = D.augment_batch(torch.ones(16, 1, 8, 8), g, "none", 0, cutout=4)
    holes = (cut == 0).flatten(1).sum(1)
    assert (holes > 0).all() and (holes <= 16).all()
    with pytest.raises(NasbenchToolsError):
        D.augment_batch(x, g, "mixup", 0)


def test_data_sha256_is_the_project_helper_over_images_then_labels():
    # one sha256 helper in the project (groundtruth.store.sha256_of), here over arrays in memory;
    # the digest is that of the image bytes followed by the label bytes, as runs recorded it
    import hashlib

    data = D.load("digits", "train", subset=50)
    expected = hashlib.sha256(
        data.images.numpy().tobytes() + data.labels.numpy().tobytes()
    ).hexdigest()
    assert data.sha256() == data.provenance["sha256"] == expected
    data.labels[0] = (data.labels[0] + 1) % 10
    assert data.sha256() != expected


def test_head_is_the_first_n_images_and_the_split_itself_when_n_is_none_or_larger():
    d = D.load("digits", "test")
    h = d.head(10)
    assert torch.equal(h.images, d.images[:10]) and torch.equal(h.labels, d.labels[:10])
    assert h.mean == d.mean and h.split == d.split
    assert d.head(None) is d and d.head(len(d)) is d and d.head(10_000) is d
