"""The NATS-sss folder reader on the real files (configurations 0, 11, 284 and the full meta).

Expected values are literals read by hand from the real records (plain unpickling of the trusted
fixture); the ``nats_bench`` package, when installed, is a second oracle.
"""

from __future__ import annotations

import bz2
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nasbench_tools.errors import CorruptFileError, NasbenchToolsError, UnsafePickleError
from nasbench_tools.groundtruth.columns import Key
from nasbench_tools.groundtruth.formats.nats_sss import is_nats_sss_folder, read_nats_sss_folder
from nasbench_tools.spaces import costs

from ..conftest import FIXTURES, NATS_TSS

NATS_SSS = FIXTURES / "nats" / "NATS-sss-v1_0-50262-simple"
CONFIGS = [0, 11, 284]
DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")


@pytest.fixture(scope="module")
def folder():
    return read_nats_sss_folder(NATS_SSS, progress=False)


def col(cs, *key):
    return cs.columns[Key(*key)]


def _load(path: Path):
    with bz2.BZ2File(path) as fh:
        return pickle.load(fh)  # trusted fixture


def _write(path: Path, obj) -> None:
    path.write_bytes(bz2.compress(pickle.dumps(obj, protocol=4)))


# =========================================================================== literal values
def test_axis_space_and_provenance(folder):
    assert folder.space == "nats-sss"
    assert folder.keys.dtype == np.int64 and folder.keys.tolist() == CONFIGS
    assert folder.meta == {
        "source_name": "NATS-sss-v1_0-50262-simple",
        "source_format": "nats-sss-folder",
        "benchmark": "NATS-sss-v1_0-50262",
        "archs_in_folder": 3,
        "network": "infer.shape.tiny",
    }
    folder.check_values("fixture")  # every value in its metric's range


@pytest.mark.parametrize(
    "key, seeds, expected",
    [
        # rows: configurations 0 (8:8:8:8:8), 11 (8:8:8:16:32), 284 (8:8:40:32:40)
        (
            ("cifar10-valid", "x-valid", 90, "accuracy"),
            (777,),
            [[76.88799998779297], [83.72400000976563], [86.79599999511719]],
        ),
        (("cifar10-valid", "ori-test", 90, "accuracy"), (777,), [[76.51], [83.35], [86.22]]),
        (
            ("cifar10-valid", "train", 90, "accuracy"),
            (777,),
            [[79.41599998046875], [90.05999998046875], [98.12400000488282]],
        ),
        (("cifar10", "ori-test", 90, "accuracy"), (777,), [[79.79], [85.77], [89.51]]),
        (
            ("cifar10-valid", "x-valid", 12, "accuracy"),
            (777, 888, 999),
            [
                [66.60400000732422, 66.24800001708985, 66.58799997314453],
                [74.21199997070312, 73.16400000488281, 72.93599998779297],
                [79.34799998046876, 79.51999997314454, 79.07600000732423],
            ],
        ),
        (
            ("cifar100", "x-test", 12, "accuracy"),
            (777, 888, 999),
            [
                [24.26000001220703, 23.42000001220703, 23.700000006103515],
                [42.34000002441406, 42.19999993286133, 41.140000018310545],
                [48.29999997558594, 49.05999993286133, 49.47999997558594],
            ],
        ),
        (
            ("ImageNet16-120", "x-valid", 1, "accuracy"),
            (777,),
            [[4.999999993642171], [6.866666646321614], [9.26666667175293]],
        ),
        (
            ("ImageNet16-120", "x-valid", 1, "loss"),
            (777,),
            [[4.343708071390788], [4.189043958028158], [4.056542485555013]],
        ),
        (
            ("cifar10-valid", "train", 90, "time"),
            (777,),
            [[319.3281841278076], [264.5924949645996], [301.2061071395874]],
        ),
        (
            ("cifar100", "", 0, "latency"),
            (777,),
            [[0.01797678271929423], [0.01744564175605774], [0.01971389651298523]],
        ),
        (("cifar10-valid", "", 0, "params"), (777,), [[0.011714], [0.049202], [0.144834]]),
        (("cifar100", "", 0, "params"), (777,), [[0.012524], [0.052172], [0.148524]]),
        (("ImageNet16-120", "", 0, "params"), (777,), [[0.012704], [0.052832], [0.149344]]),
        (("cifar10", "", 0, "flops"), (777,), [[4.481114], [6.84065], [21.827994]]),
        (("ImageNet16-120", "", 0, "flops"), (777,), [[1.121336], [1.71404], [5.461816]]),
    ],
)
def test_literal_values_from_the_real_records(folder, key, seeds, expected):
    c = col(folder, *key)
    assert c.seeds == seeds
    np.testing.assert_allclose(c.values, expected, rtol=1e-15, atol=0)


def test_budgets_seeds_and_sets(folder):
    budgets = {k.epochs for k in folder.columns if k.metric == "accuracy"}
    assert budgets == {1, 12, 90}
    for key, c in folder.columns.items():
        expected = (777, 888, 999) if key.epochs == 12 else (777,)
        assert c.seeds == expected, key
        assert not np.isnan(c.values).any(), key
    sets = {}
    for k in folder.columns:
        if k.metric == "accuracy":
            sets.setdefault((k.dataset, k.epochs), set()).add(k.split)
    for e in (1, 12, 90):
        assert sets[("cifar10-valid", e)] == {"train", "x-valid", "ori-test"}
        assert sets[("cifar10", e)] == {"train", "ori-test"}
        assert sets[("cifar100", e)] == {"train", "x-valid", "x-test", "ori-test"}
        assert sets[("ImageNet16-120", e)] == {"train", "x-valid", "x-test", "ori-test"}
    units = {k.metric: c.unit for k, c in folder.columns.items()}
    assert units == {
        "accuracy": "%",
        "loss": "",
        "time": "s",
        "params": "M",
        "flops": "MFLOPs",
        "latency": "s",
    }


@pytest.mark.parametrize("dataset", DATASETS)
def test_cost_columns_equal_the_architecture_counts(folder, dataset):
    np.testing.assert_array_equal(
        col(folder, dataset, "", 0, "flops").values[:, 0],
        costs.flops_column("nats-sss", folder.keys, dataset),
    )
    np.testing.assert_array_equal(
        col(folder, dataset, "", 0, "params").values[:, 0],
        costs.params_column("nats-sss", folder.keys, dataset),
    )


def test_nats_api_agrees_exactly(folder):
    nats_bench = pytest.importorskip("nats_bench")
    api = nats_bench.create(str(NATS_SSS), "sss", fast_mode=True, verbose=False)
    checked = 0
    for row, index in enumerate(CONFIGS):
        for hp in ("01", "12", "90"):
            e = int(hp)
            info = api.query_meta_info_by_index(index, hp=hp)
            for ds in info.get_dataset_names():
                for seed in info.get_dataset_seeds(ds):
                    got = api.get_more_info(index, ds, hp=hp, is_random=seed)
                    pairs = {
                        "train-accuracy": ("train", "accuracy"),
                        "train-loss": ("train", "loss"),
                        "train-all-time": ("train", "time"),
                    }
                    if ds == "cifar10-valid":
                        pairs |= {
                            "valid-accuracy": ("x-valid", "accuracy"),
                            "valid-loss": ("x-valid", "loss"),
                            "test-accuracy": ("ori-test", "accuracy"),
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
                            "test-loss": ("x-test", "loss"),
                            "valtest-accuracy": ("ori-test", "accuracy"),
                        }
                    for name, (split, metric) in pairs.items():
                        c = col(folder, ds, split, e, metric)
                        assert c.values[row, c.seeds.index(seed)] == got[name], (
                            index,
                            ds,
                            hp,
                            name,
                        )
                        checked += 1
            if hp == "90":
                for ds in info.get_dataset_names():
                    cost = api.get_cost_info(index, ds, hp=hp)
                    for metric in ("params", "flops", "latency"):
                        assert col(folder, ds, "", 0, metric).values[row, 0] == cost[metric]
    # per configuration: 25 values per seed set (6 cifar10-valid, 5 cifar10, 7 + 7 others) at 1
    # and 90 epochs (seed 777) and for each of the three seeds at 12 epochs
    assert checked == 3 * 25 * (1 + 3 + 1)


# =========================================================================== folder handling
def test_partial_folder_and_fallback_names(tmp_path, folder):
    d = tmp_path / "NATS-sss-v1_0-50262-simple"
    d.mkdir()
    shutil.copy(NATS_SSS / "meta.pickle.pbz2", d)
    shutil.copy(NATS_SSS / "000284.pickle.pbz2", d / "284.pickle.pbz2")  # NATS's fallback name
    shutil.copy(NATS_SSS / "000000.pickle.pbz2", d)
    cs = read_nats_sss_folder(d, progress=False)
    assert cs.keys.tolist() == [0, 284]
    for key, c in cs.columns.items():
        np.testing.assert_array_equal(c.values, folder.columns[key].values[[0, 2]], key.to_str())


def test_renamed_folder_keeps_working_and_says_release_unknown(tmp_path):
    d = tmp_path / "my-copy"
    shutil.copytree(NATS_SSS, d)
    cs = read_nats_sss_folder(d, progress=False)
    assert cs.meta["benchmark"] == "NATS-sss (release not in the file name)"
    assert is_nats_sss_folder(d)


def test_folder_in_worker_processes(monkeypatch, folder):
    from nasbench_tools.groundtruth.formats import nb201_nats

    monkeypatch.setattr(nb201_nats, "PARALLEL_MIN_FILES", 0)
    cs = read_nats_sss_folder(NATS_SSS, progress=False, workers=2)
    assert cs.keys.tolist() == CONFIGS
    for key, c in cs.columns.items():
        np.testing.assert_array_equal(c.values, folder.columns[key].values)


def test_sniffer_tells_the_two_nats_spaces_apart(tmp_path):
    assert is_nats_sss_folder(NATS_SSS)
    assert not is_nats_sss_folder(NATS_TSS)
    assert not is_nats_sss_folder(NATS_SSS / "meta.pickle.pbz2")
    assert not is_nats_sss_folder(tmp_path)
    (tmp_path / "meta.pickle.pbz2").write_bytes(b"not bz2")
    assert not is_nats_sss_folder(tmp_path)


def test_topology_sniffer_refuses_a_size_space_folder(tmp_path):
    """Both NATS layouts share meta.pickle.pbz2: only the sss reader may claim an sss folder."""
    from nasbench_tools.groundtruth.formats import READERS, nb201_nats

    assert not nb201_nats._sniff_folder(NATS_SSS, b"")
    assert nb201_nats._sniff_folder(NATS_TSS, b"")
    (tmp_path / "meta.pickle.pbz2").write_bytes(b"not bz2")
    assert nb201_nats._sniff_folder(tmp_path, b"")  # the tss reader says what is wrong
    assert [n for n, r in READERS.items() if r.sniff(NATS_SSS, b"")] == ["nats-sss-folder"]


def test_topology_folder_is_refused_naming_its_format():
    with pytest.raises(
        CorruptFileError, match=r"meta\.pickle\.pbz2: meta_archs\[0\] is '\|avg_pool"
    ):
        read_nats_sss_folder(NATS_TSS, progress=False)


def test_readers_do_not_import_torch():
    code = (
        "import sys\n"
        "from nasbench_tools.groundtruth.formats.nats_sss import read_nats_sss_folder\n"
        f"cs = read_nats_sss_folder({str(NATS_SSS)!r}, progress=False)\n"
        "assert cs.keys.tolist() == [0, 11, 284]\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


# =========================================================================== damaged input
def _copy(tmp_path) -> Path:
    d = tmp_path / "NATS-sss-v1_0-50262-simple"
    shutil.copytree(NATS_SSS, d)
    return d


def test_file_that_does_not_match_its_index(tmp_path):
    d = _copy(tmp_path)
    shutil.copy(NATS_SSS / "000011.pickle.pbz2", d / "000012.pickle.pbz2")
    with pytest.raises(
        CorruptFileError,
        match=r"000012\.pickle\.pbz2, hp '01', \('cifar10-valid', 777\): arch_config channels is "
        r"'8:8:8:16:32', expected '8:8:8:16:40'",
    ):
        read_nats_sss_folder(d, progress=False)


def test_record_identity_is_checked_when_arch_config_is_absent(tmp_path):
    d = _copy(tmp_path)
    rec = _load(NATS_SSS / "000011.pickle.pbz2")
    for state in rec.values():
        for r in state["all_results"].values():
            del r["arch_config"]
    _write(d / "000012.pickle.pbz2", rec)
    with pytest.raises(
        CorruptFileError, match=r"000012\.pickle\.pbz2: the record says arch_index 11"
    ):
        read_nats_sss_folder(d, progress=False)


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (
            lambda rec: rec["90"]["all_results"][("cifar100", 777)]["arch_config"].__setitem__(
                "genotype",
                "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
            ),
            r"hp '90', \('cifar100', 777\): arch_config genotype is '\|nor_conv_1x1~0",
        ),
        (
            lambda rec: rec["12"]["all_results"][("cifar10", 888)]["arch_config"].__setitem__(
                "name", "infer.tiny"
            ),
            r"hp '12', \('cifar10', 888\): arch_config name is 'infer.tiny', expected 'infer.shape.tiny'",
        ),
        (
            lambda rec: rec["90"]["all_results"][("cifar10", 777)].__setitem__("epochs", 200),
            r"hp '90', \('cifar10', 777\): hp '90' means 90 epochs, record says 200",
        ),
        (
            lambda rec: rec.__setitem__("full", rec.pop("90")),
            r"budget key 'full'; NATS-sss records are keyed by epochs",
        ),
        (
            lambda rec: rec["01"]["all_results"][("ImageNet16-120", 777)]["eval_acc1es"].pop(
                "x-test@0"
            ),
            r"hp '01', \('ImageNet16-120', 777\): eval_acc1es has no entry for 'x-test@0'",
        ),
        (
            lambda rec: rec["12"]["all_results"][("cifar100", 999)]["train_times"].pop(11),
            r"hp '12', \('cifar100', 999\): train_times has no entry for epoch 11",
        ),
        (
            lambda rec: rec["12"]["all_results"].__setitem__(
                ("cifar-10", 777), rec["12"]["all_results"][("cifar10", 777)]
            ),
            r"all_results key \('cifar-10', 777\) is not \(dataset, seed\)",
        ),
    ],
)
def test_damaged_records_are_named(tmp_path, edit, pattern):
    d = _copy(tmp_path)
    rec = _load(d / "000284.pickle.pbz2")
    edit(rec)
    _write(d / "000284.pickle.pbz2", rec)
    with pytest.raises(CorruptFileError, match=r"000284\.pickle\.pbz2.*" + pattern):
        read_nats_sss_folder(d, progress=False)


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (
            lambda m: m.__setitem__("total_archs", 15625),
            "total_archs is 15625 but meta_archs lists 32768",
        ),
        (
            lambda m: m["meta_archs"].__setitem__(5, "8:8:8:8:8"),
            "meta_archs lists a configuration twice",
        ),
        (
            lambda m: m["meta_archs"].__setitem__(5, "8:8:8:8:9"),
            r"meta_archs holds a string that is not a NATS-sss configuration \(width 9",
        ),
        (lambda m: m.pop("meta_archs"), "missing key 'meta_archs'"),
        (
            lambda m: m.__setitem__("meta_archs", "8:8:8:8:8"),
            "meta_archs is not a list of configuration strings",
        ),
    ],
)
def test_damaged_meta_is_named(tmp_path, edit, pattern):
    d = _copy(tmp_path)
    meta = _load(d / "meta.pickle.pbz2")
    edit(meta)
    _write(d / "meta.pickle.pbz2", meta)
    with pytest.raises(CorruptFileError, match=r"meta\.pickle\.pbz2: " + pattern):
        read_nats_sss_folder(d, progress=False)


def test_permuted_meta_maps_files_to_their_benchmark_index(tmp_path, folder):
    """A meta file listing the configurations in another order: file i holds meta_archs[i]."""
    d = tmp_path / "NATS-sss-v1_0-50262-simple"
    d.mkdir()
    meta = _load(NATS_SSS / "meta.pickle.pbz2")
    meta["meta_archs"][0], meta["meta_archs"][7] = meta["meta_archs"][7], meta["meta_archs"][0]
    _write(d / "meta.pickle.pbz2", meta)
    rec = _load(NATS_SSS / "000000.pickle.pbz2")
    for state in rec.values():
        state["arch_index"] = 7
    _write(d / "000007.pickle.pbz2", rec)
    cs = read_nats_sss_folder(d, progress=False)
    assert cs.keys.tolist() == [0]  # benchmark index of '8:8:8:8:8'
    key = Key("cifar10", "ori-test", 90, "accuracy")
    assert cs.columns[key].values[0, 0] == folder.columns[key].values[0, 0]


def test_truncated_bz2_and_index_beyond_meta(tmp_path):
    d = _copy(tmp_path)
    f = d / "000011.pickle.pbz2"
    f.write_bytes(f.read_bytes()[:20_000])
    with pytest.raises(CorruptFileError, match=r"000011\.pickle\.pbz2: damaged or truncated bz2"):
        read_nats_sss_folder(d, progress=False)
    d2 = tmp_path / "second"
    shutil.copytree(NATS_SSS, d2)
    shutil.copy(NATS_SSS / "000000.pickle.pbz2", d2 / "032768.pickle.pbz2")
    with pytest.raises(
        CorruptFileError, match=r"032768\.pickle\.pbz2: architecture file for index 32768"
    ):
        read_nats_sss_folder(d2, progress=False)
    with pytest.raises(CorruptFileError, match="not a folder"):
        read_nats_sss_folder(NATS_SSS / "meta.pickle.pbz2", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorruptFileError, match=r"empty: no meta\.pickle\.pbz2"):
        read_nats_sss_folder(empty, progress=False)


def test_forbidden_global_is_refused(tmp_path):
    d = _copy(tmp_path)
    evil = (FIXTURES / "groundtruth" / "nb201" / "malicious_os_system.pickle").read_bytes()
    (d / "000011.pickle.pbz2").write_bytes(bz2.compress(evil))
    with pytest.raises(UnsafePickleError, match=r"000011\.pickle\.pbz2: .*'posix\.system'"):
        read_nats_sss_folder(d, progress=False)
    assert not (tmp_path / "nasbench_tools_pwned_marker").exists()


def test_fuzzed_real_records_fail_with_our_errors_only(tmp_path):
    """Random byte flips in the decompressed pickle of a real record: the reader either reads it
    (a flipped digit in a float is still a float) and the range check then accepts or refuses
    the values, or it raises one of our errors; never anything else, never a hang."""
    raw = bz2.decompress((NATS_SSS / "000284.pickle.pbz2").read_bytes())
    rng = np.random.default_rng(2024)
    d = _copy(tmp_path)
    outcomes = {"read": 0, "refused": 0}
    for _ in range(25):
        data = bytearray(raw)
        for pos in rng.integers(0, len(data), size=3):
            data[pos] ^= int(rng.integers(1, 256))
        (d / "000284.pickle.pbz2").write_bytes(bz2.compress(bytes(data)))
        try:
            read_nats_sss_folder(d, progress=False).check_values("fuzz")
            outcomes["read"] += 1
        except NasbenchToolsError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 25
