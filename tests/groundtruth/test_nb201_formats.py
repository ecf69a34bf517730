"""NB201 readers on tiny files in every real format.

Expected values are literals from the real NATS-Bench records of archs 0, 11 and 284
(``tests/fixtures/nats/``); the other fixtures were written from those records by independent
writers (``torch.save``, ``pickle``; see ``tests/fixtures/groundtruth/nb201/make_fixtures.py``).
"""

from __future__ import annotations

import bz2
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nasbench_tools.errors import CorruptFileError, UnsafePickleError
from nasbench_tools.groundtruth.columns import Key
from nasbench_tools.groundtruth.formats import get_reader, nb201_nats, nb201_pth, read_any
from nasbench_tools.groundtruth.formats.embedded_csv import embedded_path
from nasbench_tools.groundtruth.formats.nb201_naslib import UNKNOWN_SEED

from ..conftest import NATS_TSS

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "groundtruth" / "nb201"
ARCHS = [0, 11, 284]
FULL_FORMATS = {  # every file holding the complete records of the three archs
    "nats-tss-folder": NATS_TSS,
    "nats-tss-pickle": FIX / "NATS-tss-v1_0-3ffb9-fixture.pickle.pbz2",
    "nb201-pth legacy": FIX / "NAS-Bench-201-fixture-legacy.pth",
    "nb201-pth zip": FIX / "NAS-Bench-201-fixture-zip.pth",
}
NASLIB = {
    "cifar10-valid": FIX / "nb201_cifar10_full_training.pickle",
    "cifar100": FIX / "nb201_cifar100_full_training.pickle",
    "ImageNet16-120": FIX / "nb201_ImageNet16_full_training.pickle",
}


@pytest.fixture(scope="module")
def folder():
    return read_any(NATS_TSS, progress=False)


def col(cs, *key):
    return cs.columns[Key(*key)]


# =========================================================================== literal values
def test_folder_axis_and_provenance(folder):
    assert folder.space == "nb201"
    assert folder.keys.tolist() == ARCHS
    assert folder.meta["source_format"] == "nats-tss-folder"
    assert folder.meta["benchmark"] == "NATS-tss-v1_0-3ffb9"


@pytest.mark.parametrize(
    "key, seeds, expected",
    [
        # arch 0 / 11 / 284 rows; values as in the real records at the last epoch
        (
            ("cifar10-valid", "x-valid", 200, "accuracy"),
            (777, 888, 999),
            [[82.092, 81.616, 82.24], [87.748, 88.132, 87.94], [86.052, 86.02, 86.068]],
        ),
        (
            ("cifar10-valid", "ori-test", 200, "accuracy"),
            (777, 888, 999),
            [[81.52, 81.9, 81.14], [87.6, 87.96, 87.39], [85.83, 85.57, 85.51]],
        ),
        (
            ("cifar10", "ori-test", 200, "accuracy"),
            (777, 888, 999),
            [[85.62, 86.18, 85.79], [91.79, 91.76, 91.2], [88.73, 88.55, 89.09]],
        ),
        (
            ("cifar100", "x-valid", 200, "accuracy"),
            (777, 888, 999),
            [[51.88, 53.08, 53.14], [67.72, 68.18, 66.46], [62.06, 62.14, 60.84]],
        ),
        (
            ("cifar100", "x-test", 200, "accuracy"),
            (777, 888, 999),
            [[51.98, 53.68, 53.08], [66.86, 67.68, 68.28], [63.0, 61.76, 61.66]],
        ),
        (
            ("cifar100", "ori-test", 200, "accuracy"),
            (777, 888, 999),
            [[51.93, 53.38, 53.11], [67.29, 67.93, 67.37], [62.53, 61.95, 61.25]],
        ),
        (
            ("ImageNet16-120", "ori-test", 200, "accuracy"),
            (777, 888, 999),
            [
                [27.683333, 26.566667, 28.016667],
                [29.3, 31.2, 30.366667],
                [33.266667, 32.5, 33.033333],
            ],
        ),
        (
            ("ImageNet16-120", "x-valid", 200, "accuracy"),
            (777, 888, 999),
            [
                [28.333333, 27.366667, 28.933333],
                [29.366667, 31.433333, 30.433333],
                [33.933333, 33.066667, 33.2],
            ],
        ),
        (
            ("cifar10-valid", "train", 200, "accuracy"),
            (777, 888, 999),
            [[89.004, 88.764, 88.988], [99.74, 99.784, 99.82], [96.316, 96.228, 96.224]],
        ),
        # the 12-epoch schedule: seeds 111/777 on cifar10-valid, 111 elsewhere
        (
            ("cifar10-valid", "x-valid", 12, "accuracy"),
            (111, 777),
            [[64.016, 62.712], [62.58, 63.976], [71.708, 74.044]],
        ),
        (("cifar10", "ori-test", 12, "accuracy"), (111,), [[69.55], [74.0], [79.46]]),
        (("cifar100", "x-test", 12, "accuracy"), (111,), [[31.26], [32.76], [39.44]]),
        (("ImageNet16-120", "x-valid", 12, "accuracy"), (111,), [[18.466667], [15.666667], [22.2]]),
        # costs and times
        (
            ("cifar10-valid", "", 0, "params"),
            (777, 888, 999),
            [[0.129306] * 3, [0.802426] * 3, [0.101306] * 3],
        ),
        (
            ("cifar100", "", 0, "params"),
            (777, 888, 999),
            [[0.135156] * 3, [0.808276] * 3, [0.107156] * 3],
        ),
        (
            ("ImageNet16-120", "", 0, "flops"),
            (777, 888, 999),
            [[3.91948] * 3, [28.49548] * 3, [2.93644] * 3],
        ),
        (
            ("cifar10-valid", "train", 200, "time"),
            (777, 888, 999),
            [[1444.2185998] * 3, [2492.4113592] * 3, [975.1588742] * 3],
        ),
        (
            ("cifar10-valid", "train", 12, "time"),
            (111, 777),
            [[86.653116] * 2, [149.544682] * 2, [58.509533] * 2],
        ),
    ],
)
def test_literal_values_from_the_real_records(folder, key, seeds, expected):
    c = col(folder, *key)
    assert c.seeds == seeds
    np.testing.assert_allclose(c.values, expected, rtol=0, atol=5e-6)


def test_units_and_latency(folder):
    assert col(folder, "cifar10-valid", "x-valid", 200, "accuracy").unit == "%"
    assert col(folder, "cifar10-valid", "", 0, "params").unit == "M"
    assert col(folder, "cifar10-valid", "", 0, "flops").unit == "MFLOPs"
    lat = col(folder, "cifar10-valid", "", 0, "latency")
    assert lat.unit == "s"
    np.testing.assert_allclose(lat.values[0], [0.0139359758611311] * 3, rtol=1e-15)
    loss = col(folder, "cifar10-valid", "x-valid", 200, "loss").values
    assert loss.shape == (3, 3) and np.isfinite(loss).all()
    assert not np.isnan(np.concatenate([c.values.ravel() for c in folder.columns.values()])).any()


def test_sets_present_per_dataset(folder):
    splits = {(k.dataset, k.epochs): set() for k in folder.columns}
    for k in folder.columns:
        if k.metric == "accuracy":
            splits[(k.dataset, k.epochs)].add(k.split)
    assert splits[("cifar10-valid", 200)] == {"train", "x-valid", "ori-test"}
    assert splits[("cifar10", 200)] == {"train", "ori-test"}
    assert splits[("cifar100", 200)] == {"train", "x-valid", "x-test", "ori-test"}
    assert splits[("ImageNet16-120", 12)] == {"train", "x-valid", "x-test", "ori-test"}


# =========================================================================== agreement
@pytest.mark.parametrize("name", list(FULL_FORMATS)[1:])
def test_every_full_format_equals_the_folder(folder, name):
    cs = read_any(FULL_FORMATS[name], progress=False)
    assert cs.keys.tolist() == ARCHS
    assert set(cs.columns) == set(folder.columns)
    for key, c in cs.columns.items():
        ref = folder.columns[key]
        assert (c.seeds, c.unit) == (ref.seeds, ref.unit), key
        np.testing.assert_array_equal(c.values, ref.values, err_msg=key.to_str())


def test_pth_containers_and_release(folder):
    legacy = read_any(FULL_FORMATS["nb201-pth legacy"], progress=False)
    zipped = read_any(FULL_FORMATS["nb201-pth zip"], progress=False)
    assert (legacy.meta["container"], zipped.meta["container"]) == ("legacy", "zip")
    # 12-epoch results on every dataset: the v1_1 layout
    assert legacy.meta["benchmark"] == "NAS-Bench-201-v1_1"


@pytest.mark.parametrize("dataset", list(NASLIB))
def test_naslib_agrees_with_seed_777_and_labels_splits_honestly(folder, dataset):
    cs = read_any(NASLIB[dataset], progress=False)
    assert cs.meta["source_format"] == "naslib-nb201-pickle"
    assert cs.keys.tolist() == ARCHS
    expected_splits = {
        "cifar10-valid": {"train", "x-valid", "ori-test"},
        "cifar100": {"train", "ori-test", "x-valid", "x-test"},
        "ImageNet16-120": {"train", "ori-test", "x-valid", "x-test"},
    }[dataset]
    assert {k.split for k in cs.columns if k.metric == "accuracy"} == expected_splits
    for key, c in cs.columns.items():
        assert key.dataset == dataset and c.seeds == (UNKNOWN_SEED,)
        ref = folder.columns[key]
        mine = c.values[:, 0]
        theirs = ref.values[:, ref.seeds.index(777)]
        np.testing.assert_allclose(mine, theirs, rtol=1e-12 if key.metric == "time" else 0)
    # NASLib answers "validation" and "test" with eval_acc1es[-1]; we keep the sets apart
    valid = col(cs, dataset, "x-valid", 200, "accuracy").values
    test = col(
        cs, dataset, "ori-test" if dataset == "cifar10-valid" else "x-test", 200, "accuracy"
    ).values
    assert not np.array_equal(valid, test)


def test_naslib_200_entry_lists_get_an_unknown_split(tmp_path):
    with open(NASLIB["cifar100"], "rb") as fh:
        data = pickle.load(fh)  # trusted fixture
    for by_ds in data.values():
        rec = by_ds["cifar100"]
        rec["eval_acc1es"] = rec["eval_acc1es"][:200]
        rec["eval_losses"] = rec["eval_losses"][:200]
    path = tmp_path / "nb201_cifar100_full_training.pickle"
    path.write_bytes(pickle.dumps(data, protocol=4))
    cs = read_any(path, progress=False)
    assert {k.split for k in cs.columns if k.metric == "accuracy"} == {"train", "naslib-eval"}
    # the 200th entry of this list is ori-test@199 (the real record's curve)
    np.testing.assert_array_equal(
        col(cs, "cifar100", "naslib-eval", 200, "accuracy").values[:, 0], [51.93, 67.29, 62.53]
    )


def test_naslib_op_tuple_keys(tmp_path):
    from nasbench_tools import Arch

    with open(NASLIB["cifar10-valid"], "rb") as fh:
        data = pickle.load(fh)
    keyed = {Arch.from_string(k).to_naslib(): v for k, v in data.items()}
    path = tmp_path / "nb201_cifar10_ops.pickle"
    path.write_bytes(pickle.dumps(keyed, protocol=4))
    cs = get_reader("naslib-nb201-pickle").read(path, progress=False)
    assert cs.keys.tolist() == ARCHS


def test_embedded_table_agrees(folder):
    df = pd.read_csv(embedded_path("nb201_ground_truth_combined.csv.gz")).iloc[ARCHS]
    per_seed = {
        "c10_valid200": ("cifar10-valid", "x-valid"),
        "c100_valtest200": ("cifar100", "ori-test"),
        "in16_valtest200": ("ImageNet16-120", "ori-test"),
    }
    for prefix, (ds, split) in per_seed.items():
        ours = col(folder, ds, split, 200, "accuracy")
        for j, s in enumerate((777, 888, 999)):
            np.testing.assert_allclose(ours.values[:, j], df[f"{prefix}_s{s}"], atol=1e-6)
        np.testing.assert_allclose(ours.mean(), df[f"{prefix}_mean"], atol=1e-6)
        np.testing.assert_array_equal((~np.isnan(ours.values)).sum(1), df[f"{prefix}_nseeds"])
    e12 = {
        "e12_cifar10_val": ("cifar10-valid", "x-valid"),
        "e12_cifar10_test": ("cifar10", "ori-test"),
        "e12_cifar100_val": ("cifar100", "x-valid"),
        "e12_cifar100_test": ("cifar100", "x-test"),
        "e12_imagenet_val": ("ImageNet16-120", "x-valid"),
        "e12_imagenet_test": ("ImageNet16-120", "x-test"),
    }
    for name, (ds, split) in e12.items():
        np.testing.assert_allclose(
            col(folder, ds, split, 12, "accuracy").mean(), df[name], atol=1e-6
        )
    for prefix, ds in (("c10", "cifar10-valid"), ("c100", "cifar100"), ("in16", "ImageNet16-120")):
        np.testing.assert_allclose(
            col(folder, ds, "", 0, "params").mean(), df[f"{prefix}_params_mb"], atol=1e-9
        )
        np.testing.assert_allclose(
            col(folder, ds, "train", 200, "time").mean(), df[f"{prefix}_train_time200_s"], atol=5e-6
        )


def test_nats_api_agrees_exactly(folder):
    nats_bench = pytest.importorskip("nats_bench")
    api = nats_bench.create(str(NATS_TSS), "tss", fast_mode=True, verbose=False)
    for row, arch in enumerate(ARCHS):
        for hp in ("12", "200"):
            e = int(hp)
            info = api.query_meta_info_by_index(arch, hp=hp)
            for ds in info.get_dataset_names():
                for seed in info.get_dataset_seeds(ds):
                    got = api.get_more_info(arch, ds, hp=hp, is_random=seed)
                    pairs = {
                        "train-accuracy": ("train", "accuracy"),
                        "train-loss": ("train", "loss"),
                        "train-all-time": ("train", "time"),
                    }
                    if ds == "cifar10-valid":
                        pairs |= {
                            "valid-accuracy": ("x-valid", "accuracy"),
                            "test-accuracy": ("ori-test", "accuracy"),
                            "valid-loss": ("x-valid", "loss"),
                        }
                    elif ds == "cifar10":
                        pairs |= {
                            "test-accuracy": ("ori-test", "accuracy"),
                            "test-loss": ("ori-test", "loss"),
                        }
                    else:
                        pairs |= {
                            "valid-accuracy": ("x-valid", "accuracy"),
                            "test-accuracy": ("x-test", "accuracy"),
                            "valtest-accuracy": ("ori-test", "accuracy"),
                            "valtest-loss": ("ori-test", "loss"),
                        }
                    for name, (split, metric) in pairs.items():
                        c = col(folder, ds, split, e, metric)
                        assert c.values[row, c.seeds.index(seed)] == got[name], (
                            arch,
                            ds,
                            hp,
                            seed,
                            name,
                        )
            for ds in info.get_dataset_names():
                if hp == "200":
                    cost = api.get_cost_info(arch, ds, hp=hp)
                    for metric in ("params", "flops", "latency"):
                        assert col(folder, ds, "", 0, metric).mean()[row] == pytest.approx(
                            cost[metric], rel=1e-12
                        )


# =========================================================================== sniffing, layout
@pytest.mark.parametrize(
    "path, fmt",
    [
        (NATS_TSS, "nats-tss-folder"),
        (FIX / "NATS-tss-v1_0-3ffb9-fixture.pickle.pbz2", "nats-tss-pickle"),
        (FIX / "NAS-Bench-201-fixture-legacy.pth", "nb201-pth"),
        (FIX / "NAS-Bench-201-fixture-zip.pth", "nb201-pth"),
        (NASLIB["cifar10-valid"], "naslib-nb201-pickle"),
        (NASLIB["ImageNet16-120"], "naslib-nb201-pickle"),
    ],
)
def test_read_any_sniffs_each_format(path, fmt):
    assert read_any(path, progress=False).meta["source_format"] == fmt


def test_partial_folder_and_fallback_names(tmp_path, folder):
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    shutil.copy(NATS_TSS / "meta.pickle.pbz2", d)
    shutil.copy(NATS_TSS / "000284.pickle.pbz2", d / "284.pickle.pbz2")  # NATS's fallback name
    shutil.copy(NATS_TSS / "000011.pickle.pbz2", d)
    cs = read_any(d, progress=False)
    assert cs.keys.tolist() == [11, 284]
    for key, c in cs.columns.items():
        np.testing.assert_array_equal(
            c.values, folder.columns[key].values[1:], err_msg=key.to_str()
        )


def test_folder_in_worker_processes(monkeypatch, folder):
    monkeypatch.setattr(nb201_nats, "PARALLEL_MIN_FILES", 0)
    cs = nb201_nats.read_nats_folder(NATS_TSS, progress=False, workers=2)
    for key, c in cs.columns.items():
        np.testing.assert_array_equal(c.values, folder.columns[key].values)


def test_readers_do_not_import_torch():
    code = (
        "import sys\n"
        "from nasbench_tools.groundtruth.formats import read_any\n"
        + "".join(
            f"read_any({str(p)!r}, progress=False)\n"
            for p in [*FULL_FORMATS.values(), *NASLIB.values()]
        )
        + "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


# =========================================================================== damaged and hostile input
def _legacy(*objs) -> bytes:
    """The torch legacy container, written by hand: magic, protocol, sys_info, objects..."""
    head = [
        nb201_pth.LEGACY_MAGIC,
        nb201_pth.LEGACY_PROTOCOL,
        {
            "protocol_version": 1001,
            "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4},
        },
    ]
    return b"".join(pickle.dumps(o, protocol=2) for o in head) + b"".join(objs)


def _snapshot(d: Path):
    return sorted((p.name, p.stat().st_size) for p in d.iterdir())


def test_missing_top_level_key(tmp_path):
    path = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    path.write_bytes(
        _legacy(
            pickle.dumps({"meta_archs": [], "arch2infos": {}}, protocol=2),
            pickle.dumps([], protocol=2),
        )
    )
    with pytest.raises(
        CorruptFileError,
        match=r"NAS-Bench-201-v1_0-e61699\.pth: missing top-level key 'evaluated_indexes'",
    ):
        read_any(path, progress=False)


def test_forbidden_global_in_every_container(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = (FIX / "malicious_os_system.pickle").read_bytes()
    legacy = tmp_path / "evil-legacy.pth"
    legacy.write_bytes(_legacy(evil, pickle.dumps([], protocol=2)))
    zipped = tmp_path / "evil-zip.pth"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("evil-zip/data.pkl", evil)
        zf.writestr("evil-zip/version", "3\n")
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    shutil.copy(NATS_TSS / "meta.pickle.pbz2", folder)
    (folder / "000007.pickle.pbz2").write_bytes(bz2.compress(evil))
    single = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    single.write_bytes(bz2.compress(evil))
    before = _snapshot(tmp_path)
    cases = [
        (
            legacy,
            "nb201-pth",
            rf"evil-legacy\.pth: .*'posix\.system' at byte {len(_legacy()) + _at(evil)} of the legacy",
        ),
        (
            zipped,
            "nb201-pth",
            rf"evil-zip\.pth: .*'posix\.system' at byte {_at(evil)} of the zip member",
        ),
        (folder, "nats-tss-folder", r"000007\.pickle\.pbz2: .*'posix\.system' at byte"),
        (
            single,
            "nats-tss-pickle",
            r"NATS-tss-v1_0-3ffb9\.pickle\.pbz2: .*'posix\.system' at byte",
        ),
        (
            FIX / "malicious_os_system.pickle",
            "naslib-nb201-pickle",
            r"malicious_os_system\.pickle: .*'posix\.system'",
        ),
    ]
    for path, fmt, pattern in cases:
        with pytest.raises(UnsafePickleError, match=pattern):
            read_any(path, format=fmt, progress=False)
    assert not (tmp_path / "nasbench_tools_pwned_marker").exists()
    assert _snapshot(tmp_path) == before


def _at(data: bytes) -> int:
    import pickletools

    return next(
        pos for op, _a, pos in pickletools.genops(data) if op.name in ("GLOBAL", "STACK_GLOBAL")
    )


def test_tensor_storage_is_refused(tmp_path):
    # what torch.save writes for a tensor: a torch global, then a persistent id
    data = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00(X\x07\x00\x00\x00storageq\x01Q\x85R."
    path = tmp_path / "weights.pth"
    path.write_bytes(_legacy(data, pickle.dumps(["0"], protocol=2)))
    with pytest.raises(UnsafePickleError, match=r"'torch\._utils\._rebuild_tensor_v2'"):
        read_any(path, progress=False)


def test_flipped_crc_byte_in_zip(tmp_path):
    data = bytearray((FIX / "NAS-Bench-201-fixture-zip.pth").read_bytes())
    cd = data.index(b"PK\x01\x02")  # central directory entry of the first member, data.pkl
    assert data[cd + 46 : cd + 46 + 9] == b"NAS-Bench"
    data[cd + 16] ^= 0x01  # its CRC-32
    path = tmp_path / "NAS-Bench-201-fixture-zip.pth"
    path.write_bytes(bytes(data))
    with pytest.raises(
        CorruptFileError, match=r"NAS-Bench-201-fixture-zip\.pth: damaged zip archive: Bad CRC-32"
    ):
        read_any(path, progress=False)


def test_flipped_byte_in_bz2(tmp_path):
    data = bytearray((FIX / "NATS-tss-v1_0-3ffb9-fixture.pickle.pbz2").read_bytes())
    data[len(data) // 2] ^= 0x10
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"NATS-tss-v1_0-3ffb9\.pickle\.pbz2: damaged"):
        read_any(path, progress=False)


@pytest.mark.parametrize(
    "name", ["NAS-Bench-201-fixture-legacy.pth", "NAS-Bench-201-fixture-zip.pth"]
)
def test_truncated_pth(tmp_path, name):
    data = (FIX / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=rf"{name.replace('.', '[.]')}: damaged"):
        read_any(path, progress=False)


def test_truncated_legacy_names_the_byte(tmp_path):
    data = (FIX / "NAS-Bench-201-fixture-legacy.pth").read_bytes()
    path = tmp_path / "x.pth"
    path.write_bytes(data[:100_000])
    with pytest.raises(
        CorruptFileError,
        match=r"x\.pth: damaged pickle \(legacy torch stream, object pickle\): the stream breaks at byte 100000",
    ):
        read_any(path, progress=False)


def test_truncated_bz2_in_folder(tmp_path):
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    shutil.copytree(NATS_TSS, d)
    f = d / "000011.pickle.pbz2"
    f.write_bytes(f.read_bytes()[:30_000])
    with pytest.raises(
        CorruptFileError, match=r"000011\.pickle\.pbz2: damaged or truncated bz2 stream"
    ):
        read_any(d, progress=False)


def test_truncated_record_in_folder(tmp_path):
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    shutil.copytree(NATS_TSS, d)
    f = d / "000284.pickle.pbz2"
    with bz2.BZ2File(f) as fh:
        rec = pickle.load(fh)  # trusted fixture
    del rec["200"]["all_results"][("cifar100", 888)]["train_acc1es"][199]
    f.write_bytes(bz2.compress(pickle.dumps(rec, protocol=4)))
    with pytest.raises(
        CorruptFileError,
        match=r"000284\.pickle\.pbz2, hp '200', \('cifar100', 888\): train_acc1es has no entry for 199",
    ):
        read_any(d, progress=False)


def test_arch_file_that_does_not_match_its_index(tmp_path):
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    shutil.copy(NATS_TSS / "meta.pickle.pbz2", d)
    shutil.copy(NATS_TSS / "000011.pickle.pbz2", d / "000012.pickle.pbz2")
    with pytest.raises(
        CorruptFileError, match=r"000012\.pickle\.pbz2: the record says arch_index 11"
    ):
        read_any(d, progress=False)


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"hello, I am a text file\n", "not a torch container"),
        (None, "a zip archive but not a torch container"),
    ],
)
def test_wrong_container(tmp_path, content, pattern):
    path = tmp_path / "bench.pth"
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "not a torch file")
    else:
        path.write_bytes(content)
    with pytest.raises(CorruptFileError, match=pattern):
        get_reader("nb201-pth").read(path, progress=False)


def test_legacy_stream_given_as_nats_file(tmp_path):
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    shutil.copy(FIX / "NAS-Bench-201-fixture-legacy.pth", path)
    with pytest.raises(CorruptFileError, match="bz2"):
        read_any(path, format="nats-tss-pickle", progress=False)
    assert os.listdir(tmp_path) == [path.name]


# =========================================================================== hostile but well-formed
def _pth_object() -> dict:
    with zipfile.ZipFile(FULL_FORMATS["nb201-pth zip"]) as zf:
        return pickle.loads(zf.read("NAS-Bench-201-fixture-zip/data.pkl"))  # trusted fixture


def _write_pth(tmp_path: Path, obj: dict) -> Path:
    path = tmp_path / "NAS-Bench-201-v1_1-x.pth"
    path.write_bytes(_legacy(pickle.dumps(obj, protocol=2), pickle.dumps([], protocol=2)))
    return path


def _full_rec(obj: dict, arch: int = 0, seed: int = 777) -> dict:
    return obj["arch2infos"][arch]["full"]["all_results"][("cifar10-valid", seed)]


def test_a_relabelled_record_key_is_refused(tmp_path):
    # one damaged byte in the key's seed (777 -> 776) used to relabel the record silently
    obj = _pth_object()
    results = obj["arch2infos"][0]["full"]["all_results"]
    results[("cifar10-valid", 776)] = results.pop(("cifar10-valid", 777))
    with pytest.raises(
        CorruptFileError,
        match=r"all_results has \('cifar10-valid', 776\) but dataset_seed lists \[777, 888, 999\]",
    ):
        read_any(_write_pth(tmp_path, obj), progress=False)


@pytest.mark.parametrize(
    "field, value, pattern",
    [
        ("name", "cifar100", r"the record's name is 'cifar100'"),
        ("seed", "0776", r"the record's seed is '0776'"),
        ("seed", "9" * 5000, r"the record's seed is '99999"),
        (
            "arch_config",
            {"arch_str": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"},
            "arch_config's arch_str",
        ),
    ],
)
def test_fields_a_record_repeats_must_agree_with_its_key(tmp_path, field, value, pattern):
    obj = _pth_object()
    _full_rec(obj)[field] = value
    with pytest.raises(CorruptFileError, match=pattern):
        read_any(_write_pth(tmp_path, obj), progress=False)


def test_unknown_hp_and_eval_set_are_refused(tmp_path):
    obj = _pth_object()
    obj["arch2infos"][0]["other"] = obj["arch2infos"][0]["full"]
    with pytest.raises(CorruptFileError, match=r"hp 'other' is not one of"):
        read_any(_write_pth(tmp_path, obj), progress=False)
    obj = _pth_object()
    _full_rec(obj)["eval_names"] = ["x-valid", "ori-test", "mystery"]
    with pytest.raises(CorruptFileError, match=r"eval_names holds 'mystery', not one of"):
        read_any(_write_pth(tmp_path, obj), progress=False)


def test_a_deeply_nested_eval_name_is_refused_without_recursion(tmp_path):
    # 100,000 nested lists (MARK-free EMPTY_LIST ... APPEND opcodes): str() of it recursed
    obj = _pth_object()
    _full_rec(obj)["eval_names"] = ["__DEEP__"]
    marker = b"X\x08\x00\x00\x00__DEEP__"
    data = pickle.dumps(obj, protocol=2)
    assert data.count(marker) == 1
    deep = b"]" * 100_000 + b"a" * 99_999
    path = tmp_path / "x.pth"
    path.write_bytes(_legacy(data.replace(marker, deep), pickle.dumps([], protocol=2)))
    with pytest.raises(CorruptFileError, match=r"eval_names holds \[\[\[\[.*\]\]\]\], not one of"):
        read_any(path, progress=False)


def test_seeds_shared_by_reference_are_bounded(tmp_path):
    # each seed is a whole column of the store (a shared record costs the file a few bytes)
    obj = _pth_object()
    state = obj["arch2infos"][0]["full"]
    rec = _full_rec(obj)
    for seed in range(1000, 1020):
        state["all_results"][("cifar10-valid", seed)] = dict(rec, seed=f"{seed:04d}")
        state["dataset_seed"]["cifar10-valid"].append(seed)
    with pytest.raises(CorruptFileError, match=r"more than 16 seeds for cifar10-valid"):
        read_any(_write_pth(tmp_path, obj), progress=False)


def test_meta_archs_and_arch2infos_keys_are_checked_before_use(tmp_path):
    obj = _pth_object()
    obj["meta_archs"] = obj["meta_archs"] * 60
    with pytest.raises(
        CorruptFileError, match=r"meta_archs lists 17,100 architectures; NB201 has 15,625"
    ):
        read_any(_write_pth(tmp_path, obj), progress=False)
    obj = _pth_object()
    obj["arch2infos"]["x"] = obj["arch2infos"][0]  # mixed key types: sorted() raised TypeError
    with pytest.raises(
        CorruptFileError, match=r"arch2infos key 'x' is not an index into meta_archs"
    ):
        read_any(_write_pth(tmp_path, obj), progress=False)


def test_an_integer_too_large_for_a_float_is_refused(tmp_path):
    obj = _pth_object()
    _full_rec(obj)["params"] = 10**400
    with pytest.raises(CorruptFileError, match=r"params: the integer 1000.* overflows a float"):
        read_any(_write_pth(tmp_path, obj), progress=False)


def _naslib(tmp_path: Path, mutate) -> Path:
    with open(NASLIB["cifar10-valid"], "rb") as fh:
        data = pickle.load(fh)  # trusted fixture
    first = next(iter(data))
    mutate(data, data[first]["cifar10-valid"])
    path = tmp_path / "nb201_cifar10_full_training.pickle"
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (
            lambda d, r: r.update(
                train_acc1es=r["train_acc1es"][:150], train_losses=r["train_losses"][:150]
            ),
            r"train_acc1es has 150 entries",
        ),
        (
            lambda d, r: r["cost_info"].update(latency=[[0.1]]),
            r"cost_info\['latency'\]: expected a number, found list",
        ),
        (
            lambda d, r: r["cost_info"].update(params=10**400),
            r"the integer 1000.* overflows a float",
        ),
        (
            lambda d, r: r.update(train_acc1es=["x"] * 200),
            r"train_acc1es: expected a flat list of numbers",
        ),
        (
            lambda d, r: d.update({(0, 1, 2, 3, 4, float("inf")): d[next(iter(d))]}),
            r"is not an NB201 architecture",
        ),
    ],
)
def test_naslib_nb201_values_are_checked(tmp_path, mutate, pattern):
    with pytest.raises(CorruptFileError, match=pattern):
        read_any(_naslib(tmp_path, mutate), format="naslib-nb201-pickle", progress=False)
