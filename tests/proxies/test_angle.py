"""The ABS angle against an independent naive construction of the weight vector (method spec
3.2: one vector per architecture, built from the state dict by path loops) and hand-checked
cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nasbench_tools.nn.nb201 import NB201Supernet
from nasbench_tools.proxies.angle import (
    AngleError,
    AngleLayout,
    angle_stats,
    angles_from_stats,
    arch_angles,
    operator_means,
    path_multiplicity,
)
from nasbench_tools.spaces.nb201 import Arch, op_index_matrix

N = 2  # cells per stage: 6 searchable cells, reduction blocks at positions 2 and 5
CONV = {"nor_conv_1x1": 2, "nor_conv_3x3": 3}
SPEC_PATHS = ([0, 3], [0, 2, 3], [0, 1, 2, 3], [0, 1, 3])


def _supernet(seed=0, C=4, n=N):
    torch.manual_seed(seed)
    return NB201Supernet(C=C, N=n, num_classes=5, in_channels=1, image_size=8)


def _moved(model, seed=1):
    """A state dict of ``model`` moved by tensor-dependent random amounts (angles differ)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for _i, (k, v) in enumerate(model.state_dict().items()):
        if v.is_floating_point() and "running" not in k:
            scale = 0.2 + 2.0 * torch.rand((), generator=g)
            v = v + scale * torch.randn(v.shape, generator=g) * (v.std() if v.numel() > 1 else 1)
        out[k] = v.clone()
    return out


# ----------------------------------------------------------------------------- naive oracle
def _fixed_keys(n):
    """The spec's list (3.2 items 1-3), written out by hand."""
    keys = ["lastact.0.weight", "lastact.0.bias", "classifier.weight", "classifier.bias"]
    keys += ["stem.0.weight", "stem.1.weight", "stem.1.bias"]
    for r in (n, 2 * n + 1):
        keys += [
            f"cells.{r}.conv_a.op.1.weight", f"cells.{r}.conv_a.op.2.weight",
            f"cells.{r}.conv_a.op.2.bias", f"cells.{r}.conv_b.op.1.weight",
            f"cells.{r}.conv_b.op.2.weight", f"cells.{r}.conv_b.op.2.bias",
            f"cells.{r}.downsample.1.weight",
        ]  # fmt: skip
    return keys


def naive_vector(sd, arch, n=N):
    """V(a; W): one concatenated float64 vector, built path by path as ABS's code does."""
    edge_ops = Arch.parse(arch).edge_ops()
    parts = [sd[k].flatten().double() for k in _fixed_keys(n)]
    searchable = [c for c in range(3 * n + 2) if c not in (n, 2 * n + 1)]
    for path in SPEC_PATHS:
        for c in searchable:
            blocks, dropped = [], False
            for j, i in itertools.pairwise(path):
                op = edge_ops[(j, i)]
                if op == "none":
                    dropped = True
                    break
                if op in CONV:
                    blocks.append(sd[f"cells.{c}.edges.{i}<-{j}.{CONV[op]}.op.1.weight"].flatten())
                elif op == "avg_pool_3x3":
                    c_out = sd[f"cells.{c}.edges.{i}<-{j}.3.op.1.weight"].shape[0]
                    blocks.append(torch.full((c_out, 3, 3), 1 / 9).flatten())
            if not dropped and blocks:
                parts += [b.double() for b in blocks]
    return torch.cat(parts)


def naive_angle(sd0, sdt, arch, n=N):
    v0, vt = naive_vector(sd0, arch, n), naive_vector(sdt, arch, n)
    return float(torch.acos(torch.nn.CosineSimilarity(dim=0)(v0, vt)))


# ----------------------------------------------------------------------------- tests
def test_angle_equals_naive_vector_construction_on_random_archs():
    model = _supernet()
    w0, wt = model.state_dict(), _moved(model)
    rng = np.random.default_rng(0)
    keys = np.concatenate([rng.choice(15625, 250, replace=False), [0, 15624]])
    got = arch_angles(model, w0, wt, keys)
    want = np.array([naive_angle(w0, wt, Arch.from_index(int(k))) for k in keys])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert got.std() > 0.01  # the architectures really differ


def test_fixed_parts_are_the_specs_list():
    assert sorted(AngleLayout.from_supernet(_supernet()).fixed) == sorted(_fixed_keys(N))


def test_angle_of_weights_against_themselves_is_exactly_zero():
    model = _supernet()
    w = model.state_dict()
    assert (arch_angles(model, w, {k: v.clone() for k, v in w.items()}) == 0).all()


def test_all_none_and_skip_only_archs_use_only_the_fixed_parts():
    model = _supernet()
    w0, wt = model.state_dict(), _moved(model)
    u = torch.cat([w0[k].flatten().double() for k in _fixed_keys(N)])
    v = torch.cat([wt[k].flatten().double() for k in _fixed_keys(N)])
    hand = float(np.arccos(float(u @ v) / float(u.norm() * v.norm())))
    archs = [
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
        # every path has a none edge, though convs sit on edges 0->1 and 1->2
        "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|none~2|",
    ]
    got = arch_angles(model, w0, wt, np.array([Arch.parse(a).index for a in archs]))
    np.testing.assert_allclose(got, hand, rtol=0, atol=1e-12)


def test_an_edge_on_two_paths_is_counted_twice():
    # only edge 2->3's 1x1 conv moves (negated) in every cell; arch: 1x1 conv on every edge.
    # Paths 0->2->3 and 0->1->2->3 both hold 2->3, so cos = 1 - 2 * 2 * X / |u|^2
    model = _supernet()
    w0 = model.state_dict()
    wt = {k: v.clone() for k, v in w0.items()}
    key = "cells.{c}.edges.3<-2.2.op.1.weight"
    cells = [0, 1, 3, 4, 6, 7]
    for c in cells:
        wt[key.format(c=c)] = -wt[key.format(c=c)]
    X = sum(float((w0[key.format(c=c)].double() ** 2).sum()) for c in cells)
    u_sq = float((naive_vector(w0, "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+"
                               "|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|") ** 2).sum())  # fmt: skip
    arch = Arch.from_ops([2] * 6)
    hand = np.arccos(1 - 4 * X / u_sq)
    np.testing.assert_allclose(arch_angles(model, w0, wt, np.array([arch.index])), hand, atol=1e-12)


def test_pooling_is_a_fixed_one_ninth_kernel_with_the_convs_channels():
    # all-pool arch: each cell adds 8 path-edges (paths of 1, 2, 3, 2 edges) of C_out*9 values
    # 1/9, the same in both weight sets
    model = _supernet()
    w0, wt = model.state_dict(), _moved(model)
    f = [torch.cat([w[k].flatten().double() for k in _fixed_keys(N)]) for w in (w0, wt)]
    P = sum(8 * c * 9 / 81 for c in (4, 4, 8, 8, 16, 16))
    cos = (float(f[0] @ f[1]) + P) / np.sqrt((float(f[0] @ f[0]) + P) * (float(f[1] @ f[1]) + P))
    arch = Arch.from_ops([4] * 6)
    np.testing.assert_allclose(arch_angles(model, w0, wt, np.array([arch.index])), np.arccos(cos))


def test_weights_on_a_dropped_path_do_not_move_the_angle():
    # 1->2 conv3x3 lies only on 0->1->2->3, dropped by none on 0->1
    model = _supernet()
    w0, wt = model.state_dict(), _moved(model)
    arch = Arch.parse(
        "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    )
    before = arch_angles(model, w0, wt, np.array([arch.index]))
    moved = dict(wt)
    moved["cells.0.edges.2<-1.3.op.1.weight"] = 10 * torch.randn_like(
        moved["cells.0.edges.2<-1.3.op.1.weight"]
    )
    assert arch_angles(model, w0, moved, np.array([arch.index])) == before
    moved["cells.0.edges.2<-0.2.op.1.weight"] = 10 * torch.randn_like(
        moved["cells.0.edges.2<-0.2.op.1.weight"]
    )
    assert arch_angles(model, w0, moved, np.array([arch.index])) != before


def test_path_multiplicity_by_hand():
    ops = np.array([[3] * 6, [0, 3, 3, 3, 3, 3], [3, 3, 3, 0, 3, 3], [3, 3, 3, 3, 3, 0]])
    #            edges 0->1 0->2 1->2 0->3 1->3 2->3
    want = np.array(
        [[2, 1, 1, 1, 1, 2], [0, 1, 0, 1, 0, 1], [2, 1, 1, 0, 1, 2], [1, 0, 0, 1, 1, 0]]
    )
    np.testing.assert_array_equal(path_multiplicity(ops), want)


def test_all_archs_match_the_per_key_call():
    model = _supernet()
    w0, wt = model.state_dict(), _moved(model)
    everything = arch_angles(model, w0, wt)
    assert everything.shape == (15625,)
    keys = np.array([5, 77, 15000])
    np.testing.assert_array_equal(arch_angles(model, w0, wt, keys), everything[keys])


def test_operator_means_against_a_loop():
    rng = np.random.default_rng(3)
    ops = op_index_matrix()
    values = rng.normal(size=len(ops))
    got = operator_means(values, ops)
    for e in range(6):
        for p in range(5):
            assert got[e, p] == pytest.approx(values[ops[:, e] == p].mean(), rel=1e-12)
    sub = operator_means(values[:3], ops[:3])  # ops never used there -> NaN
    assert np.isnan(sub).sum() > 0


def test_stats_are_read_only_and_cells_sum():
    model = _supernet()
    stats = angle_stats(AngleLayout.from_supernet(model), model.state_dict(), _moved(model))
    with pytest.raises(ValueError):
        stats.blocks[0, 0, 0, 0] = 1.0
    assert stats.blocks.shape == (6, 6, 5, 4)
    np.testing.assert_allclose(angles_from_stats(stats, op_index_matrix()[:3]).shape, (3,))


def test_bad_state_dicts_and_keys_name_the_problem():
    model = _supernet()
    w0 = model.state_dict()
    missing = {k: v for k, v in w0.items() if k != "classifier.bias"}
    with pytest.raises(AngleError, match="current state dict has no 'classifier.bias'"):
        arch_angles(model, w0, missing)
    wrong = dict(w0)
    wrong["stem.0.weight"] = torch.zeros(3)
    with pytest.raises(AngleError, match="stem.0.weight"):
        arch_angles(model, w0, wrong)
    with pytest.raises(AngleError, match="15625"):
        arch_angles(model, w0, w0, np.array([15625]))
    with pytest.raises(AngleError, match="1-D array"):
        arch_angles(model, w0, w0, np.array([0.5]))
    with pytest.raises(AngleError, match="NB201 supernet"):
        AngleLayout.from_supernet(torch.nn.Linear(2, 2))
    zero = {k: torch.zeros_like(v) for k, v in w0.items()}
    all_none = Arch.from_ops([0] * 6).index
    with pytest.raises(AngleError, match="zero weight vector"):
        arch_angles(model, w0, zero, np.array([all_none]))
