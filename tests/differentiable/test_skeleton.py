"""Every differentiable supernet is built on the NB201 skeleton of :mod:`nasbench_tools.nn.nb201`:
the stand-alone network's stem, reduction blocks, lastact and classifier, at the same positions,
for any C, N and number of classes."""

from __future__ import annotations

import pytest
import torch

from nasbench_tools.differentiable.config import METHODS
from nasbench_tools.differentiable.search import SUPERNET_KINDS
from nasbench_tools.nn.nb201 import NB201Network


def _fixed_parts(net) -> list[tuple[str, torch.nn.Module]]:
    """The modules outside the searchable cells, by name, in the network's order."""
    reductions = [
        (f"cells.{pos}", cell) for pos, cell in enumerate(net.cells) if pos not in net.searchable
    ]
    return [
        ("stem", net.stem),
        *reductions,
        ("lastact", net.lastact),
        ("global_pooling", net.global_pooling),
        ("classifier", net.classifier),
    ]


@pytest.mark.parametrize("kind", SUPERNET_KINDS.names())
@pytest.mark.parametrize("C,N,classes,channels", [(4, 1, 10, 1), (3, 2, 7, 3)])
def test_differentiable_supernet_has_the_stand_alone_networks_stem_reductions_and_head(
    tiny, kind, C, N, classes, channels
):
    method = next(m for m in METHODS.names() if METHODS.get(m).supernet == kind)
    config = tiny(method, C=C, N=N).resolved()
    options = {"C": C, "N": N, "num_classes": classes, "in_channels": channels, "image_size": 8}
    torch.manual_seed(0)
    model = SUPERNET_KINDS.get(kind)(config, options)
    torch.manual_seed(0)
    ref = NB201Network(0, **options)
    assert model.network_options == options
    skeleton = getattr(model, "net", model)  # the mixed supernet wraps NB201Supernet
    assert skeleton.searchable == ref.searchable and len(skeleton.cells) == 3 * N + 2
    got, want = _fixed_parts(skeleton), _fixed_parts(ref)
    assert [name for name, _ in got] == [name for name, _ in want]
    for (name, a), (_, b) in zip(got, want):
        assert repr(a) == repr(b), name  # module types, widths, strides, kernels, BN affine
        shapes = lambda m: [(k, tuple(v.shape)) for k, v in m.state_dict().items()]  # noqa: E731
        assert shapes(a) == shapes(b), name
    # the stem is built first: the same seed gives it the same initial weights
    for k, v in ref.stem.state_dict().items():
        assert torch.equal(skeleton.stem.state_dict()[k], v), k
