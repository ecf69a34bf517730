"""Zero-cost proxies: each equals a literal re-statement of its reference (tests/proxies/
_reference_zc.py); the fused pass equals one proxy at a time for every registered proxy; FLOPs
and params equal the benchmark's records; seeds and batches behave as documented."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch
from torch import nn

from nasbench_tools import datasets
from nasbench_tools.nn.nb201 import NB201Network
from nasbench_tools.proxies import PROXIES, ProxyError, ScoreRequest, compute_scores
from nasbench_tools.proxies.zero_cost import DATA_PROXIES, FREE_PROXIES, arch_seed, draw_batch
from nasbench_tools.spaces import get_space

from . import _reference_zc as ref

NB201 = get_space("nb201")
TINY = {"C": 4, "N": 1}
ARCHS = np.array([11, 6111, 284])  # conv-heavy, mixed, pooling-heavy
ZERO_COST = DATA_PROXIES + FREE_PROXIES


@cache
def _digits():
    return datasets.load("digits", "train")


def _request(names, keys=ARCHS, seed=3, **kw):
    kw.setdefault("options", dict(TINY))
    return ScoreRequest(NB201, np.asarray(keys), tuple(names), data=_digits(), seed=seed, **kw)


def _net(key, seed=3, **opts):
    torch.manual_seed(arch_seed(seed, key))
    return NB201Network(NB201.arch(key), in_channels=1, num_classes=10, **TINY, **opts)


@cache
def _fused():
    return compute_scores(_request(PROXIES.filter(lambda p: p.needs != "supernet")))


def _reference(name: str, key: int) -> float:
    data = _digits()
    x, y = draw_batch(data, 64, 3)
    net = _net(key)
    if name == "naswot":
        return ref.naswot(net, draw_batch(data, 128, 3)[0])
    if name == "epe_nas":
        return ref.epe_nas(net, x, y, 10)
    if name == "synflow":  # the reference rebuilds the network without BN and copies weights
        plain = _net(key, norm=lambda c, affine, track: nn.Identity())
        plain.load_state_dict(net.state_dict(), strict=False)
        return ref.synflow(plain, (1, 8, 8))
    if name == "l2_norm":
        return ref.l2_norm(net)
    return getattr(ref, name)(net, x, y)


@pytest.mark.parametrize("name", [n for n in ZERO_COST if hasattr(ref, n)])
def test_proxy_equals_the_literal_reference_implementation(name):
    ours = compute_scores(_request([name]))[name]
    theirs = np.array([_reference(name, int(k)) for k in ARCHS])
    assert np.isfinite(theirs).all() and np.all(theirs != 0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize("name", PROXIES.filter(lambda p: p.needs != "supernet"))
def test_fused_pass_equals_one_proxy_at_a_time(name):
    alone = compute_scores(_request([name]))[name]
    np.testing.assert_allclose(_fused()[name], alone, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", PROXIES.filter(lambda p: p.needs != "supernet"))
def test_every_registered_proxy_runs_on_a_tiny_network(name):
    got = _fused()[name]
    assert got.shape == (len(ARCHS),) and np.isfinite(got).all()
    assert len(set(got.tolist())) > 1, f"{name} gives the same score to different networks"


@pytest.mark.parametrize("names", [("flops",), ("synflow", "flops")], ids=["alone", "in_synflow"])
def test_flops_equal_the_three_real_nats_records(names):
    """Alone, and counted during synflow's forward (BN stripped, double, one image)."""
    got = compute_scores(ScoreRequest(NB201, np.array([0, 11, 284]), names))["flops"]
    np.testing.assert_allclose(got, [15.64737, 113.95137, 11.71521], atol=5e-6)


def test_params_and_naslib_flops_equal_nas_bench_suite_zero():
    from nasbench_tools.scores import load_scores

    table = load_scores("nb201-zc", dataset="cifar10-valid")
    keys = table.keys[:3]
    got = compute_scores(ScoreRequest(NB201, keys, ("params", "flops_naslib")))
    np.testing.assert_allclose(got["params"], table["params"][:3], atol=1e-6)
    np.testing.assert_allclose(got["flops_naslib"], table["flops"][:3], rtol=1e-9)


def test_score_of_an_arch_depends_on_seed_and_key_only():
    a = compute_scores(_request(["synflow", "snip"], keys=[284, 11]))
    b = compute_scores(_request(["snip", "synflow"], keys=[11, 6111, 284]))
    assert a["synflow"][0] == b["synflow"][2] and a["snip"][1] == b["snip"][0]
    c = compute_scores(_request(["synflow", "snip"], keys=[284, 11], seed=4))
    assert np.all(c["synflow"] != a["synflow"]) and np.all(c["snip"] != a["snip"])


def test_scoring_leaves_the_global_torch_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    compute_scores(_request(["synflow"], keys=[11]))
    assert torch.equal(torch.rand(3), expected)


def test_batch_is_the_seeded_permutation_prefix_shared_by_all_archs():
    data = _digits()
    x, y = draw_batch(data, 64, 7)
    idx = np.sort(np.random.default_rng(7).permutation(len(data))[:64])
    assert torch.equal(y, data.labels[idx])
    assert torch.equal(x, data.normalise(data.images[idx]))
    assert not torch.equal(draw_batch(data, 64, 8)[1], y)


def test_batch_larger_than_the_data_is_an_error_naming_it():
    with pytest.raises(ProxyError, match="batch of 4000 images.*digits/train.*1500"):
        compute_scores(_request(["snip"], batch_size=4000))


def test_options_contradicting_the_data_are_refused():
    with pytest.raises(ProxyError, match="in_channels=3 contradicts the data digits"):
        compute_scores(_request(["snip"], options={**TINY, "in_channels": 3}))
    with pytest.raises(ProxyError, match="take no option bacth"):
        compute_scores(_request(["snip"], options={"bacth": 3}))


def test_cell_cut_off_from_its_input_gives_nan_and_minus_inf_not_an_error():
    # arch 8274: every edge into the output node is `none`; the output ignores the input
    got = compute_scores(_request(["jacob_cov", "naswot", "synflow", "snip"], keys=[8274]))
    assert np.isnan(got["jacob_cov"][0]) and got["naswot"][0] == -np.inf
    assert got["synflow"][0] == 0.0 and got["snip"][0] == 0.0


def test_data_proxies_ask_for_data_and_free_ones_do_not():
    with pytest.raises(ProxyError, match="'snip' needs images"):
        compute_scores(ScoreRequest(NB201, ARCHS[:1], ("snip",), options=dict(TINY)))
    got = compute_scores(ScoreRequest(NB201, ARCHS[:1], FREE_PROXIES, options=dict(TINY)))
    assert all(np.isfinite(v).all() for v in got.values())


@pytest.mark.parametrize("exact_below", [2**24, 1], ids=["float32", "float64"])
def test_naswot_kernel_of_codes_equals_the_two_products_exactly(monkeypatch, exact_below):
    """NASWOT's kernel from one product (in float32 where exact) equals the reference's
    ``c c^T + (1 - c)(1 - c)^T`` in float64 bit for bit: the entries are agreement counts."""
    from nasbench_tools.proxies import _measures as M

    monkeypatch.setattr(M, "_EXACT_FLOAT32", exact_below)
    gen = torch.Generator().manual_seed(0)
    for n, d, p in ((7, 5, 0.5), (128, 16384, 0.3), (64, 4097, 0.9), (3, 40, 0.0)):
        codes = torch.rand(n, d, generator=gen) < p
        c = codes.to(torch.float64)
        want = c @ c.T + (1.0 - c) @ (1.0 - c).T
        got = M.binary_code_kernel(codes)
        assert got.dtype == torch.float64 and torch.equal(got, want), (n, d, p)


class _SharedInput(nn.Module):
    """Two ReLUs read one tensor, a third reads it after an in-place change, a fourth another."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c, self.d = nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x):
        h = x * 1.0
        ya, yb = self.a(h), self.b(h)
        h.neg_()  # same tensor object, new values: its term must be computed again
        yc = self.c(h)
        return ya + yb + yc + self.d(x - 0.5)


def test_naswot_kernel_counts_a_shared_relu_input_once_per_relu():
    from nasbench_tools.proxies import _measures as M

    x = torch.randn(16, 3, 5, 5, generator=torch.Generator().manual_seed(2))

    def term(t):
        c = (t.flatten(1) > 0).to(torch.float64)
        return c @ c.T + (1.0 - c) @ (1.0 - c).T

    want = 2 * term(x) + term(-x) + term(x - 0.5)
    got = M.naswot_kernel(_SharedInput(), x)
    assert np.array_equal(got, want.numpy())
