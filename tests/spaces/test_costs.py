"""Architecture-only params and FLOPs (no torch) against the real benchmark records.

Oracles: the ``params`` / ``flop`` fields of the real NATS-Bench records (tss archs 0, 11, 284;
sss configurations 0, 11, 284; every dataset), written here as literals, and NAS-Bench-Suite-Zero's
stored ``flops`` and ``params`` of its 2,173 NB201 rows. The torch-side tests
(``tests/nn/test_flops.py``) hold these counts equal to hooks on the real modules.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from nasbench_tools.errors import InvalidArchError, NasbenchToolsError
from nasbench_tools.spaces import costs
from nasbench_tools.spaces.nats_sss import SizeConfig

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")

#: Real NATS-tss records (files 000000, 000011, 000284 of NATS-tss-v1_0-3ffb9-simple): flop
#: (MFLOPs) per dataset. cifar10-valid and cifar10 train the same network.
TSS_FLOPS = {
    0: {"cifar10": 15.64737, "cifar100": 15.65322, "ImageNet16-120": 3.91948},
    11: {"cifar10": 113.95137, "cifar100": 113.95722, "ImageNet16-120": 28.49548},
    284: {"cifar10": 11.71521, "cifar100": 11.72106, "ImageNet16-120": 2.93644},
}
TSS_PARAMS = {
    0: {"cifar10": 0.129306, "cifar100": 0.135156, "ImageNet16-120": 0.136456},
    11: {"cifar10": 0.802426, "cifar100": 0.808276, "ImageNet16-120": 0.809576},
    284: {"cifar10": 0.101306, "cifar100": 0.107156, "ImageNet16-120": 0.108456},
}
#: Real NATS-sss records (files 000000, 000011, 000284 of NATS-sss-v1_0-50262-simple).
SSS_FLOPS = {
    0: {"cifar10": 4.481114, "cifar100": 4.481924, "ImageNet16-120": 1.121336},
    11: {"cifar10": 6.84065, "cifar100": 6.84362, "ImageNet16-120": 1.71404},
    284: {"cifar10": 21.827994, "cifar100": 21.831684, "ImageNet16-120": 5.461816},
}
SSS_PARAMS = {
    0: {"cifar10": 0.011714, "cifar100": 0.012524, "ImageNet16-120": 0.012704},
    11: {"cifar10": 0.049202, "cifar100": 0.052172, "ImageNet16-120": 0.052832},
    284: {"cifar10": 0.144834, "cifar100": 0.148524, "ImageNet16-120": 0.149344},
}


def _record_name(dataset: str) -> str:
    return "cifar10" if dataset == "cifar10-valid" else dataset


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("arch", [0, 11, 284])
def test_nb201_equals_the_real_tss_records(arch, dataset):
    classes, size = costs.dataset_shape(dataset)
    rec = _record_name(dataset)
    assert costs.nb201_flops(arch, num_classes=classes, image_size=size) == TSS_FLOPS[arch][rec]
    assert costs.nb201_params(arch, num_classes=classes) / 1e6 == TSS_PARAMS[arch][rec]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("config", [0, 11, 284])
def test_nats_sss_equals_the_real_sss_records(config, dataset):
    classes, size = costs.dataset_shape(dataset)
    rec = _record_name(dataset)
    got = costs.nats_sss_flops(config, num_classes=classes, image_size=size)
    assert got == SSS_FLOPS[config][rec]
    assert costs.nats_sss_params(config, num_classes=classes) / 1e6 == SSS_PARAMS[config][rec]


def test_hand_count_of_the_smallest_sss_network():
    """8:8:8:8:8 on CIFAR-10, counted by hand: stem 3*8*9*1024; three cells of five 3x3 convs
    at 32, 16 and 8 pixels; two reduction blocks (two 3x3 convs and a 1x1 shortcut at the halved
    side); the 8 -> 10 classifier with its bias. Pooling and BN count nothing."""
    conv3 = 8 * 8 * 9
    expected = (
        3 * 8 * 9 * 1024
        + 5 * conv3 * (1024 + 256 + 64)
        + (2 * conv3 + 64) * (256 + 64)
        + 8 * 10
        + 10
    )
    assert expected == 4_481_114
    assert costs.count_flops(costs.nats_sss_layers("8:8:8:8:8")) == expected


def test_width_change_adds_a_1x1_conv_with_bn_on_the_skip():
    same = costs.nats_sss_params("8:8:8:8:8")
    wider = costs.nats_sss_params("8:8:16:8:8")  # the second cell goes 8 -> 16
    # edges from node 0: two 3x3 convs 8->16 (instead of 8->8), skip -> 1x1 conv 8->16 + BN;
    # the other three 3x3 convs 16->16; the reduction block after it starts from 16
    cell_8 = 5 * (8 * 8 * 9 + 16)
    cell_16 = 2 * (8 * 16 * 9 + 32) + (8 * 16 + 32) + 3 * (16 * 16 * 9 + 32)
    red_8_8 = 2 * (8 * 8 * 9 + 16) + 8 * 8
    red_16_8 = (16 * 8 * 9 + 16) + (8 * 8 * 9 + 16) + 16 * 8
    assert wider - same == (cell_16 - cell_8) + (red_16_8 - red_8_8)


def test_naslib_convention_equals_suite_zero_on_every_nb201_row():
    with resources.as_file(
        resources.files("nasbench_tools.groundtruth")
        / "embedded/nb201_zc_suite_zero_725archs.csv.gz"
    ) as p:
        df = pd.read_csv(p, usecols=["dataset", "index", "flops", "params"])
    assert len(df) == 2173
    for dataset, rows in df.groupby("dataset"):
        keys = rows["index"].to_numpy()
        flops = costs.flops_column("nb201", keys, dataset, convention="naslib")
        np.testing.assert_allclose(flops, rows["flops"], rtol=0, atol=1e-9, err_msg=dataset)
        params = costs.params_column("nb201", keys, dataset)
        np.testing.assert_allclose(params, rows["params"], rtol=0, atol=1e-12, err_msg=dataset)
        # the two conventions genuinely differ (pooling, BN, ReLU are counted by NASLib)
        assert (costs.flops_column("nb201", keys, dataset) < flops).all()


@pytest.mark.parametrize("dataset", DATASETS)
def test_vectorised_columns_equal_per_architecture_counts_on_a_sample(dataset):
    """The column path (numpy over cached pieces) and the per-network path agree exactly."""
    classes, size = costs.dataset_shape(dataset)
    rng = np.random.default_rng(17)
    nb = rng.choice(15625, size=150, replace=False)
    ss = rng.choice(32768, size=150, replace=False)
    for convention in costs.CONVENTIONS:
        np.testing.assert_array_equal(
            costs.flops_column("nb201", nb, dataset, convention),
            [
                costs.nb201_flops(
                    int(k), num_classes=classes, image_size=size, convention=convention
                )
                for k in nb
            ],
        )
        np.testing.assert_array_equal(
            costs.flops_column("nats-sss", ss, dataset, convention),
            [
                costs.nats_sss_flops(
                    int(k), num_classes=classes, image_size=size, convention=convention
                )
                for k in ss
            ],
        )
    np.testing.assert_array_equal(
        costs.params_column("nb201", nb, dataset),
        [costs.nb201_params(int(k), num_classes=classes) / 1e6 for k in nb],
    )
    np.testing.assert_array_equal(
        costs.params_column("nats-sss", ss, dataset),
        [costs.nats_sss_params(int(k), num_classes=classes) / 1e6 for k in ss],
    )


def test_columns_equal_the_per_architecture_functions():
    assert costs.flops_column("nb201", [], "cifar10").shape == (0,)
    keys = [0, 11, 284, 6111, 15624]
    np.testing.assert_array_equal(
        costs.flops_column("nb201", keys, "ImageNet16-120"),
        [costs.nb201_flops(k, num_classes=120, image_size=16) for k in keys],
    )
    sss = [0, 11, 284, 4096, 32767]
    np.testing.assert_array_equal(
        costs.params_column("nats-sss", sss, "cifar100"),
        [costs.nats_sss_params(k, num_classes=100) / 1e6 for k in sss],
    )
    np.testing.assert_array_equal(
        costs.flops_column("nats-sss", sss, "cifar10", convention="naslib"),
        [costs.nats_sss_flops(k, convention="naslib") for k in sss],
    )


def test_whole_sss_column_is_monotone_in_every_width():
    """Widening any one layer never lowers params or FLOPs (a structural check over all 32,768)."""
    f = costs.flops_column("nats-sss", range(32768), "cifar10").reshape((8,) * 5)
    p = costs.params_column("nats-sss", range(32768), "cifar10").reshape((8,) * 5)
    for axis in range(5):
        assert (np.diff(f, axis=axis) > 0).all() and (np.diff(p, axis=axis) > 0).all()
    assert f.flat[0] == 4.481114 and p.flat[0] == 0.011714


def test_none_ops_cost_nothing_and_every_other_op_is_counted():
    empty = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    skeleton = costs.nb201_flops(empty)
    one_conv = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    # 15 cells, one 3x3 conv each: C^2 * 9 * pixels is the same in every stage (C doubles, side halves)
    assert costs.nb201_flops(one_conv) - skeleton == pytest.approx(15 * 16 * 16 * 9 * 1024 / 1e6)
    # an op whose input is never reached is still built and run, as in the benchmark
    dead = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"
    assert costs.nb201_flops(dead) == costs.nb201_flops(one_conv)
    pool = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert costs.nb201_flops(pool) == skeleton
    assert costs.nb201_flops(pool, convention="naslib") > costs.nb201_flops(
        empty, convention="naslib"
    )


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: costs.nb201_flops(0, convention="thop"),
            "unknown FLOP convention 'thop'; known: nats, naslib",
        ),
        (
            lambda: costs.dataset_shape("imagenet"),
            "unknown benchmark dataset 'imagenet'; known: cifar10-valid",
        ),
        (
            lambda: costs.flops_column("nb301", [0], "cifar10"),
            "no network cost model for space 'nb301'",
        ),
        (lambda: costs.nb201_flops(0, image_size=30), "even feature-map side, got 15"),
        (lambda: costs.nb201_flops(0, image_size=2), "image side must be >= 4"),
        (lambda: costs.network_layers(0, [8, 8, 8], num_classes=10), "3N \\+ 2 positive widths"),
    ],
)
def test_bad_arguments_are_named(call, pattern):
    with pytest.raises(NasbenchToolsError, match=pattern):
        call()


def test_bad_architectures_raise_invalid_arch():
    with pytest.raises(InvalidArchError):
        costs.nats_sss_flops("8:8:8:8:9")
    with pytest.raises(InvalidArchError):
        costs.nb201_params(15625)
    with pytest.raises(InvalidArchError, match="nats-sss index 32768 out of range"):
        costs.flops_column("nats-sss", [32768], "cifar10")
    with pytest.raises(InvalidArchError, match="nb201 index -1 out of range"):
        costs.params_column("nb201", np.array([3, -1]), "cifar10")
    with pytest.raises(InvalidArchError, match="integer benchmark indices"):
        costs.params_column("nb201", ["0"], "cifar10")


def test_costs_do_not_import_torch():
    code = (
        "import sys\n"
        "from nasbench_tools.spaces import costs\n"
        "assert costs.nats_sss_flops('8:8:40:32:40') == 21.827994\n"
        "assert costs.nb201_flops(11) == 113.95137\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_layer_lists_are_fresh_lists():
    a = costs.nats_sss_layers(SizeConfig.from_index(3))
    a.clear()
    assert len(costs.nats_sss_layers(SizeConfig.from_index(3))) > 0


def test_every_cost_field_of_the_tss_fixture_records():
    """Read back through the tss reader: every dataset's params and flop columns of the three
    real records equal the architecture-only counts."""
    from nasbench_tools.groundtruth.columns import Key
    from nasbench_tools.groundtruth.formats import read_any

    from ..conftest import NATS_TSS

    cs = read_any(NATS_TSS, progress=False)
    for dataset in DATASETS:
        flops = cs.columns[Key(dataset, "", 0, "flops")]
        params = cs.columns[Key(dataset, "", 0, "params")]
        ours_f = costs.flops_column("nb201", cs.keys, dataset)
        ours_p = costs.params_column("nb201", cs.keys, dataset)
        for j, seed in enumerate(flops.seeds):  # every seed's record states the same value
            np.testing.assert_array_equal(flops.values[:, j], ours_f, err_msg=f"{dataset} {seed}")
            np.testing.assert_array_equal(params.values[:, j], ours_p, err_msg=f"{dataset} {seed}")
