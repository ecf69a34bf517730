"""Every space's network hook (``Space.build_network``) builds the benchmark's network: parameter
counts equal the real records of the benchmark."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest
import torch

from nasbench_tools.nn.params import count_parameters
from nasbench_tools.spaces import get_space, list_spaces
from nasbench_tools.spaces.nb101 import ModelSpec

EMBEDDED = resources.files("nasbench_tools.groundtruth") / "embedded"


def _nats_params() -> pd.DataFrame:
    with resources.as_file(EMBEDDED / "nb201_ground_truth_combined.csv.gz") as p:
        return pd.read_csv(p, usecols=["index", "c10_params_mb", "c100_params_mb"])


@pytest.mark.parametrize("name", [n for n in list_spaces() if get_space(n).network])
def test_every_network_hook_imports_and_builds_a_forwarding_network(name):
    sp = get_space(name)
    key = sp.all_keys()[3] if sp.all_keys() is not None else None
    if key is None:  # NB101: a small real cell
        arch = ModelSpec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
        net = sp.build_network(arch, stem_channels=8, num_stacks=1, cells_per_stack=1)
    else:
        net = sp.build_network(sp.arch(int(key)))
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)


@pytest.mark.parametrize("index", [0, 11, 284, 6111, 15624])
def test_nb201_hook_params_equal_the_benchmark_on_real_archs(index):
    nats = _nats_params().set_index("index")
    sp = get_space("nb201")
    with torch.device("meta"):
        c10 = count_parameters(sp.build_network(index))
        c100 = count_parameters(sp.build_network(index, num_classes=100))
    assert abs(c10 / 1e6 - nats.loc[index, "c10_params_mb"]) <= 1e-6
    assert abs(c100 / 1e6 - nats.loc[index, "c100_params_mb"]) <= 1e-6


def test_nb201_hook_passes_C_N_and_channels_through():
    with torch.device("meta"):
        net = get_space("nb201").build_network(0, C=4, N=1, in_channels=1, num_classes=7)
    assert net.stem[0].in_channels == 1 and net.stem[0].out_channels == 4
    assert len(net.cells) == 5 and net.classifier.out_features == 7


def test_nb101_hook_params_equal_the_30_real_records(nb101_dummy):
    sp = get_space("nb101")
    for key, (fixed, _) in list(nb101_dummy.items())[:10]:
        with torch.device("meta"):
            net = sp.build_network(ModelSpec(fixed["module_adjacency"], fixed["module_operations"]))
        assert count_parameters(net) == fixed["trainable_parameters"], key
