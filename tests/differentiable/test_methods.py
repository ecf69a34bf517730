"""The mixed-op supernet, the weightings (softmax, sigmoid, GDAS's Gumbel samples), FairDARTS's
zero-one loss and threshold rule, which batches and learning rates the search feeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasbench_tools.differentiable import (
    METHODS,
    WEIGHTINGS,
    MixedNB201,
    SearchConfig,
    Searcher,
    select,
    zero_one_loss,
)
from nasbench_tools.differentiable.selection import SELECTIONS
from nasbench_tools.differentiable.weights import straight_through_softmax
from nasbench_tools.spaces.nb201 import OPS, Arch


def _mixed(seed=0, **kw):
    torch.manual_seed(seed)
    return MixedNB201(C=4, N=1, num_classes=10, in_channels=1, image_size=8, **kw)


def test_one_hot_weights_run_exactly_the_supernets_single_path_child():
    model = _mixed().eval()
    arch = Arch.parse(
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"
    )
    one_hot = torch.zeros(6, 5)
    one_hot[range(6), list(arch.op_indices)] = 1.0
    x = torch.randn(3, 1, 8, 8)
    got = model(x, one_hot, np.ones((6, 5), dtype=bool))
    torch.testing.assert_close(got, model.net(x, model.net.choice_of(arch)), rtol=0, atol=1e-6)


def test_mixed_edge_is_the_weighted_sum_of_its_ops():
    """Linearity in one edge's weights, the other edges held: w*a + (1-w)*b mixes the outputs of
    the two ops' networks only through that edge (the last edge, whose output is the cell's)."""
    model = _mixed(seed=1).eval()
    x = torch.randn(2, 1, 8, 8)
    base = torch.zeros(6, 5)
    base[:, 1] = 1.0  # skip everywhere
    on = np.ones((6, 5), dtype=bool)
    feats = {}
    for op in (2, 3):
        w = base.clone()
        w[5] = 0.0
        w[5, op] = 1.0
        feats[op] = _cell_output(model, x, w, on)
    w = base.clone()
    w[5] = 0.0
    w[5, 2], w[5, 3] = 0.3, 0.7
    mixed = _cell_output(model, x, w, on)
    torch.testing.assert_close(mixed, 0.3 * feats[2] + 0.7 * feats[3] + 0.0, rtol=1e-5, atol=1e-5)


def _cell_output(model, x, w, on):
    out = {}
    cell = model.net.cells[model.net.searchable[0]]
    h = cell.register_forward_hook(lambda m, a, o: out.setdefault("y", o))
    model(x, w, on)
    h.remove()
    return out["y"]  # the first searchable cell's output: node 3 = e(0->3) + e(1->3) + e(2->3)


def test_ops_not_on_are_not_computed():
    model = _mixed()
    calls = []
    for cell_pos in model.net.searchable:
        for ops in model.net.cells[cell_pos].edges.values():
            for i, op in enumerate(ops):
                op.register_forward_hook(lambda m, a, o, i=i: calls.append(i))
    on = np.zeros((6, 5), dtype=bool)
    on[:, 3] = True
    model(torch.randn(2, 1, 8, 8), torch.full((6, 5), 0.2), on)
    assert calls and set(calls) == {3}


def test_gumbel_weights_are_one_hot_forward_and_reach_all_of_the_edges_alpha():
    alpha = torch.randn(6, 5, requires_grad=True)
    torch.manual_seed(0)
    w, on = WEIGHTINGS.get("gumbel").train(alpha, 1.0)
    assert torch.equal(w.detach(), torch.from_numpy(on).float()) and (on.sum(1) == 1).all()
    (w * torch.arange(5.0)).sum().backward()
    assert (alpha.grad != 0).all()  # straight-through: every logit of every edge moves
    torch.manual_seed(0)
    _, on2 = WEIGHTINGS.get("gumbel").train(alpha, 1.0)
    assert (on == on2).all()  # the draw comes from torch's seeded generator


@pytest.mark.parametrize("upstream", ["sampled op only", "every op"])
def test_gumbel_gradient_at_a_low_temperature_is_not_lost_to_cancellation(upstream):
    """GDAS at tau = 0.1: each edge's sampled op has a soft weight 3.8e-7 to 1.2e-3 below 1,
    and the gradient of its logit, ``s_k (1 - s_k) g_k / tau``, must come out to float32
    precision (the float64 softmax's gradient), not as rounding noise: autograd's float32
    softmax backward returned it at half its value in the DDP test's run, differently for one
    process and for two, and Adam magnified that to 4.3e-5 in alpha. Only the sampled op is
    computed, so only its weight has a gradient (``sampled op only``); the formula must hold for
    any upstream gradient too."""
    tau = 0.1
    gen = torch.Generator().manual_seed(3)
    z = 0.3 * torch.randn(6, 5, generator=gen)
    top = torch.randint(0, 5, (6,), generator=gen)
    z[range(6), top] = z.max(1).values + torch.tensor([0.7, 0.9, 1.1, 1.3, 1.5, 1.0])
    gap = 1 - torch.softmax(z.double() / tau, -1)[range(6), top]
    assert (gap > 1e-7).all() and (gap < 2e-3).all()  # the regime where the cancellation bites
    g = torch.randn(6, 5, generator=gen)
    if upstream == "sampled op only":
        g = g * F.one_hot(top, 5)
    z32 = z.clone().requires_grad_()
    w = straight_through_softmax(z32, tau)
    assert torch.equal(w.detach(), F.one_hot(top, 5).float())  # exactly the one-hot forward
    w.backward(g)
    z64 = z.double().requires_grad_()
    torch.softmax(z64 / tau, -1).backward(g.double())
    torch.testing.assert_close(z32.grad.double(), z64.grad, rtol=1e-5, atol=0)


def test_zero_one_loss_is_minus_the_mean_squared_distance_from_one_half():
    alpha = torch.tensor([[2.0, -1.0, 0.0, 0.5, -3.0]], requires_grad=True)
    s = 1 / (1 + np.exp(-alpha.detach().numpy()))
    assert float(zero_one_loss(alpha.detach())) == pytest.approx(-np.mean((s - 0.5) ** 2))
    zero_one_loss(alpha).backward()
    g = alpha.grad.numpy()[0]
    assert g[0] < 0 and g[1] > 0 and g[2] == 0 and g[3] < 0 and g[4] > 0  # pushed off 0.5


def test_fairdarts_arch_step_adds_w_times_the_zero_one_gradient(tiny):
    grads = {}
    batch = (torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    for w in (0.0, 10.0):
        c = tiny("fairdarts", zero_one_weight=w).resolved()
        torch.manual_seed(0)
        s = Searcher(c, _mixed(alpha_init_std=1.0), WEIGHTINGS.get("sigmoid"))
        s.model.train()
        s.a_opt.step = lambda: None  # keep alpha; read the gradient the step computed
        s._arch_step(batch, batch, 0.01)
        grads[w] = s.model.alpha.grad.clone()
    a = s.model.alpha.detach().clone().requires_grad_(True)
    zero_one_loss(a).backward()
    torch.testing.assert_close(grads[10.0] - grads[0.0], 10.0 * a.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    ("row", "kept", "above"),
    [
        ([0.9, 0.2, 0.95, 0.1, 0.0], "nor_conv_1x1", ["none", "nor_conv_1x1"]),  # several: largest
        ([0.1, 0.84, 0.2, 0.3, 0.4], "none", []),  # none at or above 0.85: the edge is dropped
        ([0.1, 0.2, 0.3, 0.85, 0.4], "nor_conv_3x3", ["nor_conv_3x3"]),  # 0.85 itself counts
    ],
)
def test_fairdarts_threshold_rule(row, kept, above, tiny):
    c = tiny("fairdarts").resolved()
    magnitude = np.tile(np.array([0.0, 0.9, 0.0, 0.0, 0.0]), (6, 1))
    magnitude[3] = row
    sel = SELECTIONS.get("threshold")(type("S", (), {"c": c})(), magnitude)
    assert sel.arch.ops[3] == kept and sel.details["above"]["0->3"] == above
    assert sel.arch.ops[0] == "skip_connect"


def test_argmax_selection_reads_the_largest_softmax_weight(tiny):
    c = tiny("darts").resolved()
    s = Searcher(c, _mixed(), WEIGHTINGS.get("softmax"))
    with torch.no_grad():
        s.model.alpha.zero_()
        s.model.alpha[range(6), [3, 1, 0, 4, 2, 3]] = 1.0
    assert select(s).arch.ops == tuple(OPS[i] for i in [3, 1, 0, 4, 2, 3])


def _rows(batch_x, data):
    """Indices of a batch's images among ``data``'s (normalised, no augmentation)."""
    ref = data.normalise(data.images).flatten(1)
    return [int((ref == row).all(1).nonzero()[0]) for row in batch_x.flatten(1)]


@pytest.mark.parametrize(
    ("order", "schedule"), [("arch_first", "epoch"), ("weights_first", "step")]
)
def test_search_feeds_train_batches_to_weights_valid_batches_to_alpha(
    order, schedule, tiny, tmp_path, monkeypatch
):
    from nasbench_tools.differentiable import architect
    from nasbench_tools.differentiable.search import load_data, run_search
    from nasbench_tools.supernet.train import cosine_lr

    c = tiny("darts", step_order=order, lr_schedule=schedule, epochs=2)
    seen = []
    real = architect.Searcher.loss

    def spy(self, x, y, *, sample, arch_terms):  # the batch each loss is computed on
        kind = "a" if arch_terms else "w"
        seen.append((kind, x, self.w_opt.param_groups[0]["lr"]))
        return real(self, x, y, sample=sample, arch_terms=arch_terms)

    monkeypatch.setattr(architect.Searcher, "loss", spy)
    run_search(c, tmp_path / "r", progress=False, ground_truths=())
    train, valid = load_data(c.resolved())
    assert [k for k, *_ in seen] == (["a", "w"] if order == "arch_first" else ["w", "a"]) * 4
    for kind, x, _ in seen:
        rows = _rows(x, train if kind == "w" else valid)
        assert len(set(rows)) == len(rows) == c.batch_size
    w_steps = [(x, lr) for k, x, lr in seen if k == "w"]
    assert set(_rows(w_steps[0][0], train)) | set(_rows(w_steps[1][0], train)) == set(range(64))
    assert _rows(w_steps[0][0], train) != _rows(w_steps[2][0], train)  # a new order each epoch
    lrs = [lr for _, lr in w_steps]
    if schedule == "epoch":
        expected = [cosine_lr(e, 2, c.lr, c.lr_min) for e in (0, 0, 1, 1)]
    else:
        expected = [cosine_lr(t, 4, c.lr, c.lr_min) for t in range(4)]
    assert lrs == pytest.approx(expected)


def test_weight_gradient_is_clipped_to_grad_clip_before_the_step(tiny):
    c = tiny("darts", grad_clip=1e-3).resolved()
    s = Searcher(c, _mixed(), WEIGHTINGS.get("softmax"))
    norms = []
    real = s.w_opt.step

    def spy(*args, **kwargs):
        grads = [p.grad for p in s.w_params if p.grad is not None]
        norms.append(float(torch.sqrt(sum((g**2).sum() for g in grads))))
        return real(*args, **kwargs)

    s.w_opt.step = spy
    batch = (torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    s.step(batch, batch, 0.01)
    assert norms == [pytest.approx(1e-3, rel=1e-4)]


def test_runs_with_different_seeds_search_the_same_data(tiny):
    from nasbench_tools.differentiable.search import load_data

    a = load_data(tiny("darts", seed=0, subset=40).resolved())
    b = load_data(tiny("darts", seed=1, subset=40).resolved())
    c = load_data(tiny("darts", seed=0, subset=40, data_seed=1).resolved())
    assert [d.provenance["sha256"] for d in a] == [d.provenance["sha256"] for d in b]
    assert a[0].provenance["sha256"] != c[0].provenance["sha256"]


def test_seed_is_required():
    from nasbench_tools.differentiable import DifferentiableSearchError

    with pytest.raises(DifferentiableSearchError, match="seed is required"):
        SearchConfig(method="darts").resolved()


@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_searches_and_writes_its_score_tables(method, tiny, tmp_path):
    from nasbench_tools.differentiable import run_search
    from nasbench_tools.scores import ScoreTable

    res = run_search(tiny(method, epochs=1), tmp_path / "r", progress=False, ground_truths=())
    Arch.parse(res.result["selected"]["arch"])
    ops = ScoreTable.read(tmp_path / "r" / "scores" / "operators.csv")
    archs = ScoreTable.read(tmp_path / "r" / "scores" / "archs.csv")
    assert len(ops) == 30 and len(archs) == 15625
    expected = ["magnitude"]
    if method != "single-path":
        expected.append("perturbation")
    if method.startswith("darts-pt"):
        expected.append("projection_drop")
    assert ops.columns == expected
    if "perturbation" in expected:  # every op of every edge masked once; masking none is a no-op
        pert = ops["perturbation"].reshape(6, 5)
        assert np.isfinite(pert).all() and (pert[:, OPS.index("none")] == 0).all()
    mag = ops["magnitude"].reshape(6, 5)
    if method in ("fairdarts",):
        assert ((mag > 0) & (mag < 1)).all()
    else:
        np.testing.assert_allclose(mag.sum(axis=1), 1.0, rtol=1e-6)  # a distribution per edge
