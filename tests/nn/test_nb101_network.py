"""NB101 stand-alone networks: trainable parameters equal the benchmark's, forward semantics."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch

from nasbench_tools.errors import InvalidSpecError
from nasbench_tools.nn.nb101 import NB101Network, vertex_channels
from nasbench_tools.nn.params import count_parameters, nb101_num_params
from nasbench_tools.spaces.nb101 import CONV1X1, CONV3X3, MAXPOOL3X3, ModelSpec

IN, OUT = "input", "output"
README_SPEC = ModelSpec(
    [
        [0, 1, 1, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    [IN, CONV1X1, CONV3X3, CONV3X3, CONV3X3, MAXPOOL3X3, OUT],
)


def _suite_zero() -> pd.DataFrame:
    path = resources.files("nasbench_tools.groundtruth") / "embedded" / "nb101_zc_500archs.csv.gz"
    with resources.as_file(path) as p:
        return pd.read_csv(p, dtype={"matrix_7x7_rowmajor": str})


def test_trainable_parameters_equal_nb101_on_the_30_real_records(nb101_dummy):
    assert len(nb101_dummy) == 30
    for key, (fixed, _) in nb101_dummy.items():
        spec = ModelSpec(fixed["module_adjacency"], fixed["module_operations"])
        assert nb101_num_params(spec) == fixed["trainable_parameters"], key


def test_suite_zero_params_agree_on_a_deterministic_fifth():
    """NAS-Bench-Suite-Zero's ``params`` (NASLib, millions): every 5th of the 500 specs here;
    the slow test checks all 500."""
    df = _suite_zero()
    for row in df.iloc[::5].itertuples():
        spec = ModelSpec.from_string(row.matrix_7x7_rowmajor, row.ops)
        assert abs(nb101_num_params(spec) / 1e6 - row.params) <= 1e-6, row.module_hash


@pytest.mark.slow
def test_suite_zero_params_agree_on_all_500():
    df = _suite_zero()
    agree = sum(
        abs(nb101_num_params(ModelSpec.from_string(r.matrix_7x7_rowmajor, r.ops)) / 1e6 - r.params)
        <= 1e-6
        for r in df.itertuples()
    )
    assert agree == 500


def test_equals_nasbench_pytorch_without_its_dummy_parameters():
    """nasbench-pytorch's Network counts one dummy scalar per placeholder ('.a'); without them
    the counts agree."""
    nbp = pytest.importorskip("nasbench_pytorch.model")
    for spec in (README_SPEC, ModelSpec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [IN, CONV3X3, OUT])):
        theirs = nbp.Network(
            (spec.matrix, list(spec.ops)), stem_out_channels=16, num_modules_per_stack=1
        )
        ours = NB101Network(spec, stem_channels=16, cells_per_stack=1)
        real = sum(p.numel() for n, p in theirs.named_parameters() if not n.endswith(".a"))
        assert count_parameters(ours) == real


def test_vertex_channels_match_the_reference_on_real_specs(nb101_dummy):
    nbp = pytest.importorskip("nasbench_pytorch.model.model")
    specs = [
        ModelSpec(f["module_adjacency"], f["module_operations"]) for f, _ in nb101_dummy.values()
    ]
    specs += [
        ModelSpec.from_string(r.matrix_7x7_rowmajor, r.ops)
        for r in _suite_zero().iloc[::10].itertuples()
    ]
    for spec in specs:
        for c_in, c_out in ((128, 128), (128, 256), (16, 7)):
            expected = nbp.compute_vertex_channels(c_in, c_out, np.array(spec.matrix))
            assert vertex_channels(c_in, c_out, spec.matrix) == expected


def test_readme_spec_count_and_forward():
    # nasbench-pytorch counts 2,694,318 for this spec: 36 dummy placeholder parameters more
    assert nb101_num_params(README_SPEC) == 2694282
    net = NB101Network(README_SPEC, stem_channels=8, num_stacks=2, cells_per_stack=1, num_classes=5)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 5)


def test_input_straight_to_output_and_one_channel_input():
    spec = ModelSpec([[0, 1], [0, 0]], [IN, OUT])
    net = NB101Network(spec, stem_channels=4, cells_per_stack=1, in_channels=1)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_dangling_vertex_is_pruned_before_building():
    spec = ModelSpec(
        [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], [IN, CONV3X3, CONV1X1, OUT]
    )
    assert spec.num_vertices == 3
    net = NB101Network(spec, stem_channels=4, cells_per_stack=1)
    assert len(net.layers[0].vertex_ops) == 1


def test_disconnected_spec_raises():
    spec = ModelSpec([[0, 1, 0], [0, 0, 0], [0, 0, 0]], [IN, CONV3X3, OUT])
    with pytest.raises(InvalidSpecError, match="does not reach"):
        NB101Network(spec)


def test_bn_momentum_is_pytorch_convention():
    net = NB101Network(README_SPEC, stem_channels=4, cells_per_stack=1, bn_momentum=0.003)
    moms = {m.momentum for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert moms == {0.003}
