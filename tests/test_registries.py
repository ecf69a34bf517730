"""Every registry of the package, parametrised: one shape (get / list / known-names error)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.registry import all_registries

#: Modules that build the package's registries (importing them registers everything).
MODULES = (
    "nasbench_tools.spaces",
    "nasbench_tools.spaces.encodings",
    "nasbench_tools.groundtruth.formats",
    "nasbench_tools.groundtruth.benchmarks",
    "nasbench_tools.scores",
    "nasbench_tools.datasets",
    "nasbench_tools.supernet",
    "nasbench_tools.search",
    "nasbench_tools.proxies",
    "nasbench_tools.buildbench",
    "nasbench_tools.differentiable",
)
for _m in MODULES:
    importlib.import_module(_m)
REGISTRIES = {k: r for k, r in all_registries().items() if not k.startswith("test ")}


def test_the_package_registries_are_all_here():
    assert {"search space", "encoding", "format", "benchmark"} <= set(REGISTRIES)
    torch_side = {
        "dataset",
        "sampler",
        "supernet",
        "BN recalibration preset",
        "training preset",
        "proxy",
        "build protocol",
    }
    assert torch_side <= set(REGISTRIES)
    assert {
        "search strategy",
        "predictor",
        "search protocol",
        "random-architecture sampler",
    } <= set(REGISTRIES)


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_registry_lists_sorted_and_gets_every_entry(kind):
    reg = REGISTRIES[kind]
    names = reg.names()
    assert names and names == sorted(names) and len(set(names)) == len(names)
    for name in names:
        assert reg.get(name) is not None
    with pytest.raises(NasbenchToolsError, match=r"known: " + ", ".join(names[:2])):
        reg.get("no-such-entry")
    with pytest.raises(NasbenchToolsError, match="already registered"):
        reg.register(names[0], reg.get(names[0]))


# --------------------------------------------------------------------------- the torch side
# Every entry of each torch-side registry runs on a tiny case; a new entry without a tiny case
# fails the `*_have_a_tiny_case` test below, so it cannot go untested.
from nasbench_tools.datasets import DATASETS, load  # noqa: E402
from nasbench_tools.nn.choice import ChoiceSpace  # noqa: E402
from nasbench_tools.supernet import (  # noqa: E402
    BN_PRESETS,
    PRESETS,
    SAMPLERS,
    SUPERNETS,
    TrainConfig,
    build_supernet,
    make_sampler,
    recalibrate_bn,
)

from ._image_files import TINY_FILES, skip_cifar_md5  # noqa: E402

#: supernet -> options of a tiny network of it
TINY_SUPERNETS = {
    "nb201": {"C": 4, "N": 1},
    "nb101-mixpath": {"num_nodes": 2, "stem_channels": 8, "num_stacks": 1, "cells_per_stack": 1},
}
TINY_SPACE = ChoiceSpace(
    num_cells=2, num_blocks=3, num_paths=3, zero_path=0, node_blocks=((0,), (1, 2))
)


@pytest.mark.parametrize(
    ("registry", "cases"), [(DATASETS, TINY_FILES), (SUPERNETS, TINY_SUPERNETS)]
)
def test_torch_side_entries_have_a_tiny_case(registry, cases):
    assert sorted(cases) == registry.names()


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_every_sampler_draws_valid_choices_for_one_step(name):
    sampler = make_sampler(name, TINY_SPACE)
    draws = sampler.sample(np.random.default_rng(0), progress=0.5, batch_size=4)
    assert len(draws) == sampler.models_per_step >= 1
    for draw in draws:
        TINY_SPACE.validate(draw.choice)
        assert (TINY_SPACE.num_active(draw.choice) >= 1).any()


@pytest.mark.parametrize("name", SUPERNETS.names())
def test_every_supernet_builds_and_trains_one_step(name):
    torch.manual_seed(0)
    net = build_supernet(name, in_channels=1, image_size=8, num_classes=3, **TINY_SUPERNETS[name])
    choice = make_sampler("spos", net.space).sample(np.random.default_rng(0))[0].choice
    logits = net(torch.randn(4, 1, 8, 8), choice)
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.op_parameters())


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_loads_a_tiny_copy_in_its_format(name, tmp_path, monkeypatch):
    spec = DATASETS.get(name)
    if TINY_FILES[name] is not None:
        TINY_FILES[name](tmp_path)
        skip_cifar_md5(monkeypatch)
    data = load(name, "train", root=None if spec.bundled else tmp_path)
    assert data.images.dtype == torch.uint8 and len(data) > 0
    assert data.images.shape[1:] == (spec.channels, spec.image_size, spec.image_size)
    assert 0 <= int(data.labels.min()) and int(data.labels.max()) < spec.num_classes


@pytest.mark.parametrize("name", BN_PRESETS.names())
def test_every_bn_preset_forwards_exactly_its_image_count(name):
    preset = BN_PRESETS.get(name)
    n = preset.n_images if preset.n_images is not None else 300
    batches = []
    bn = torch.nn.BatchNorm2d(1)
    bn.register_forward_hook(lambda m, args, out: batches.append(len(args[0])))
    x = torch.randn(n + 7, 1, 1, 1)  # more than the preset asks for
    seen = recalibrate_bn(bn, None, x, name)
    expected = n if preset.n_images is not None else n + 7
    assert seen == sum(batches) == expected
    assert max(batches) == preset.batch_size
    assert bn.momentum == preset.momentum


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_training_preset_resolves_and_builds(name):
    c = TrainConfig.from_preset(name).resolved()
    spec = DATASETS.get(c.dataset)
    net = build_supernet(
        c.supernet, in_channels=spec.channels, image_size=spec.image_size,
        num_classes=spec.num_classes, bn=c.bn, **c.model,
    )  # fmt: skip
    assert make_sampler(c.sampler, net.space, **c.sampler_options).config()["name"] == c.sampler
