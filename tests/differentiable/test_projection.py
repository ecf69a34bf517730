"""DARTS-PT's projection: one op masked at a time, the op that matters most kept, the schedule,
the optimizer reset and the BN statistics left as they were."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from nasbench_tools.datasets import load
from nasbench_tools.differentiable import projection as proj
from nasbench_tools.differentiable import run_search
from nasbench_tools.spaces.nb201 import EDGES, OPS


class _Oracle(nn.Module):
    """Predicts the label when ``weights[2, 3]`` (nor_conv_3x3 on edge 1->2) is non-zero, class
    ``(label + 1) % 10`` otherwise; every other weight changes the logits a little but never the
    prediction. Records the weights of every call."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(1)
        self.calls = []

    def forward(self, x, weights, on):
        self.calls.append(weights.detach().clone())
        y = self._labels[: len(x)]
        self._labels = self._labels[len(x) :]
        self.bn(x.flatten(1)[:, :1])  # a BN that sees the batch in training mode
        right = nn.functional.one_hot(y, 10).float()
        wrong = nn.functional.one_hot((y + 1) % 10, 10).float()
        keep = (weights[2, 3] != 0).float()
        return keep * right + (1 - keep) * wrong + 0.01 * weights.sum()


def _oracle_with_labels(data, passes):
    m = _Oracle()
    m._labels = data.labels.repeat(passes)
    return m


def test_projection_masks_one_op_at_a_time_and_keeps_the_op_that_matters_most():
    data = load("digits", "search-valid", subset=40)
    # op 3 of edge 2 has the smallest magnitude: DARTS would drop it, perturbation keeps it
    weights = torch.full((6, 5), 0.2)
    weights[2] = torch.tensor([0.3, 0.3, 0.2, 0.05, 0.15])
    on = np.ones((6, 5), dtype=bool)
    model = _oracle_with_labels(data, passes=6)
    p = proj.perturbation(model, weights, on, data, [2], batch_size=16, device="cpu")
    batches = -(-len(data) // 16)
    assert len(model.calls) == 6 * batches  # the base pass and one pass per op
    for o in range(5):
        for w in model.calls[(o + 1) * batches : (o + 2) * batches]:
            diff = (w != weights).nonzero().tolist()
            assert diff == [[2, o]] and w[2, o] == 0  # exactly that op, set to 0, nothing else
    assert p["base"][0] == 100.0 and p["acc"][2, 3] == 0.0
    assert np.isnan(p["acc"][[0, 1, 3, 4, 5]]).all()
    assert proj.choose_op(p["acc"][2], p["loss"][2], "acc") == 3
    assert proj.choose_op(p["acc"][2], p["loss"][2], "loss") == 3
    assert p["drop"][2, 3] == 100.0 and (p["drop"][2, [0, 1, 2, 4]] == 0).all()


@pytest.mark.parametrize(
    ("acc", "loss", "crit", "kept"),
    [
        (
            [50, 40, 40, 60, np.nan],
            [1, 2, 3, 0, np.nan],
            "acc",
            1,
        ),  # lowest accuracy, first on ties
        ([50, 40, 40, 60, np.nan], [1, 2, 3, 0, np.nan], "loss", 2),  # highest loss; NaN skipped
        ([np.nan, 70, 80, 90, 95], [0, 0, 0, 0, 0], "acc", 1),
    ],
)
def test_choose_op_keeps_the_op_whose_removal_hurts_most(acc, loss, crit, kept):
    assert proj.choose_op(np.array(acc, float), np.array(loss, float), crit) == kept


def test_darts_pt_schedule_projects_every_edge_once():
    assert proj.tune_epochs(5, 6) == 25
    assert proj.projection_epochs(5, 6) == [0, 5, 10, 15, 20, 24]
    assert proj.projection_epochs(2, 6) == [0, 2, 4, 6, 8, 9]


def test_evaluate_leaves_bn_statistics_and_mode_as_they_were():
    from nasbench_tools.differentiable import MixedNB201

    torch.manual_seed(0)
    model = MixedNB201(C=4, N=1, num_classes=10, in_channels=1, image_size=8).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = load("digits", "search-valid", subset=32)
    acc, loss = proj.evaluate(
        model, torch.full((6, 5), 0.2), np.ones((6, 5), bool), data, 16, "cpu"
    )
    assert 0 <= acc <= 100 and loss > 0 and not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _records(out, event):
    lines = (out / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == event]


@pytest.mark.parametrize("order", ["fixed", "random"])
def test_darts_pt_run_projects_on_schedule_and_tunes_at_a_tenth_of_the_lr(order, tiny, tmp_path):
    c = tiny("darts-pt", edge_order=order, epochs=2, proj_intv=2)
    res = run_search(c, tmp_path / "run", progress=False, ground_truths=())
    projections = _records(tmp_path / "run", "projection")
    assert [r["epoch"] for r in projections] == [3, 5, 7, 9, 11, 12]  # 1-based: tune 0,2,..,9
    edges = [r["edge"] for r in projections]
    assert sorted(edges) == sorted(f"{s}->{d}" for s, d in EDGES)
    if order == "fixed":
        assert edges == [f"{s}->{d}" for s, d in EDGES]
    ops = {r["edge"]: r["op"] for r in projections}
    assert res.result["selected"]["ops"] == [ops[f"{s}->{d}"] for s, d in EDGES]
    for r in projections:  # the op kept is the one whose removal gave the lowest accuracy
        acc = np.array([np.nan if v is None else v for v in r["masked_accuracy"]])
        assert OPS[int(np.nanargmin(acc))] == r["op"]
    epochs = res.history
    assert [e["phase"] for e in epochs] == ["search"] * 2 + ["tune"] * 10
    assert all(e["lr"] == pytest.approx(c.lr / 10) for e in epochs[2:])
    assert epochs[0]["lr"] == pytest.approx(c.lr) and epochs[1]["lr"] < c.lr


def test_tuning_resets_the_weight_optimizer_and_keeps_training_alpha(tiny, tmp_path, monkeypatch):
    from nasbench_tools.differentiable import architect

    made = []
    real = architect.Searcher.new_weight_optimizer

    def spy(self, lr):
        made.append(lr)
        return real(self, lr)

    monkeypatch.setattr(architect.Searcher, "new_weight_optimizer", spy)
    c = tiny("darts-pt", epochs=1, proj_intv=2)
    res = run_search(c, tmp_path / "run", progress=False, ground_truths=())
    assert made == [c.lr, pytest.approx(c.lr / 10)]  # built once, reset once at the tuning
    mags = [np.array(e["magnitude"], dtype=float) for e in res.history]
    assert not np.allclose(mags[1], mags[-1])  # alpha still moves while tuning


def test_fixed_alpha_variant_keeps_alpha_uniform(tiny, tmp_path):
    res = run_search(tiny("darts-pt-fixed-alpha", epochs=1), tmp_path / "r", progress=False,
                     ground_truths=())  # fmt: skip
    end = _records(tmp_path / "r", "search_end")[0]
    assert np.allclose(np.array(end["magnitude"]), 0.2)
    assert len(res.result["projections"]) == 6


def test_evaluate_uses_batch_statistics_over_every_image():
    from nasbench_tools.differentiable import MixedNB201

    torch.manual_seed(0)
    model = MixedNB201(C=4, N=1, num_classes=10, in_channels=1, image_size=8)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.fill_(1e4)  # eval-mode statistics that would wreck the logits
    data = load("digits", "search-valid", subset=50)
    w, on = torch.full((6, 5), 0.2), np.ones((6, 5), bool)
    acc, loss = proj.evaluate(model, w, on, data, 20, "cpu")
    correct, total = 0, 0.0
    with torch.no_grad():
        model.train()
        for start in range(0, 50, 20):  # batches of 20, 20 and the last 10
            x = data.normalise(data.images[start : start + 20])
            y = data.labels[start : start + 20]
            logits = model(x, w, on)
            correct += int((logits.argmax(1) == y).sum())
            total += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
    assert acc == pytest.approx(100 * correct / 50) and loss == pytest.approx(total / 50)
    model.eval()
    with torch.no_grad():
        eval_loss = float(
            torch.nn.functional.cross_entropy(
                model(data.normalise(data.images), w, on), data.labels
            )
        )
    assert abs(eval_loss - loss) > 1e-3


def test_decided_edges_are_one_hot_without_gradient_and_compute_only_their_op():
    from nasbench_tools.differentiable.weights import projected

    alpha = torch.randn(6, 5, requires_grad=True)
    w, on = projected(torch.softmax(alpha, -1), np.ones((6, 5), bool), {1: 3, 4: 0})
    assert w[1].tolist() == [0, 0, 0, 1, 0] and w[4].tolist() == [1, 0, 0, 0, 0]
    assert on[1].tolist() == [False, False, False, True, False] and on[[0, 2, 3, 5]].all()
    torch.testing.assert_close(w[[0, 2, 3, 5]], torch.softmax(alpha, -1)[[0, 2, 3, 5]])
    (w * torch.randn(6, 5)).sum().backward()
    assert (alpha.grad[[1, 4]] == 0).all() and (alpha.grad[[0, 2, 3, 5]] != 0).all()
