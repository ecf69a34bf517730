"""Supernet proxies from a real (tiny) `train_supernet` run folder on scikit-learn digits: the
angle against the two checkpoints through the naive vector oracle, one-shot accuracy against the
extracted stand-alone network evaluated by hand, the operator table, isomorphism dedup."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch

from nasbench_tools.datasets import iterate_batches, load
from nasbench_tools.proxies.supernet import (
    SupernetProxyError,
    angle_table,
    class_representatives,
    one_shot_accuracies,
    one_shot_table,
    operator_table,
    supernet_angles,
)
from nasbench_tools.scores import ScoreTable
from nasbench_tools.spaces.nb201 import Arch, isomorphism_class_ids, op_index_matrix
from nasbench_tools.supernet.config import TrainConfig
from nasbench_tools.supernet.train import load_supernet, train_supernet
from tests.proxies.test_angle import naive_angle

SMALL = {
    "model": {"C": 4, "N": 1},
    "dataset": "digits",
    "subset": 256,
    "valid_subset": 64,
    "batch_size": 32,
    "lr": 0.1,
    "augment": "none",
    "log_every": 100,
}
KEYS = np.array([0, 11, 284, 1462, 6111, 9597, 15624])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig.from_dict({**SMALL, "epochs": 3, "keep_checkpoints": 1, "seed": 1})
    train_supernet(cfg, out, progress=False)
    return out


def _sd(run, name):
    return torch.load(run / "checkpoints" / f"{name}.pt", weights_only=True)["model"]


def test_keep_checkpoints_never_prunes_the_epoch1_reference(run):
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["epoch-0001.pt", "epoch-0003.pt", "init.pt"]


def test_w0_angle_is_the_naive_angle_between_init_and_newest_checkpoint(run):
    angles, info = supernet_angles(run, KEYS)
    w0, wt = _sd(run, "init"), _sd(run, "epoch-0003")
    want = [naive_angle(w0, wt, Arch.from_index(int(k)), n=1) for k in KEYS]
    np.testing.assert_allclose(angles, want, rtol=0, atol=1e-9)
    assert info == {
        "reference": "w0", "reference_checkpoint": "init.pt", "reference_epoch": 0,
        "checkpoint": "epoch-0003.pt", "epoch": 3,
    }  # fmt: skip


def test_epoch1_reference_uses_the_weights_after_one_epoch(run):
    angles, info = supernet_angles(run, KEYS, reference="epoch1")
    e1, wt = _sd(run, "epoch-0001"), _sd(run, "epoch-0003")
    want = [naive_angle(e1, wt, Arch.from_index(int(k)), n=1) for k in KEYS]
    np.testing.assert_allclose(angles, want, rtol=0, atol=1e-9)
    assert info["reference_checkpoint"] == "epoch-0001.pt" and info["reference_epoch"] == 1
    assert not np.allclose(angles, supernet_angles(run, KEYS)[0])
    same, _ = supernet_angles(run, KEYS, reference="epoch1", checkpoint="epoch-0001")
    assert (same == 0).all()


def test_missing_reference_and_bad_options_are_explained(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "checkpoints" / "init.pt").unlink()
    with pytest.raises(SupernetProxyError, match=r"'w0' needs checkpoints/init\.pt"):
        supernet_angles(copy, KEYS)
    (copy / "checkpoints" / "epoch-0001.pt").unlink()
    with pytest.raises(SupernetProxyError, match="epoch-0001"):
        supernet_angles(copy, KEYS, reference="epoch1")
    with pytest.raises(SupernetProxyError, match="unknown angle reference 'w1'"):
        supernet_angles(run, KEYS, reference="w1")
    with pytest.raises(SupernetProxyError, match="no such run folder"):
        supernet_angles(tmp_path / "nowhere", KEYS)
    with pytest.raises(SupernetProxyError, match="15625"):
        supernet_angles(run, [15625])
    with pytest.raises(SupernetProxyError, match="unknown bn 'ABS'"):
        one_shot_accuracies(run, KEYS, bn="ABS")
    with pytest.raises(SupernetProxyError, match="bn_images"):
        one_shot_accuracies(run, KEYS[:1], bn="abs")  # 20,000 images > 256 training images
    good = (run / "checkpoints" / "epoch-0003.pt").read_bytes()
    (copy / "checkpoints" / "epoch-0003.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(SupernetProxyError, match="epoch-0003.pt: unreadable checkpoint"):
        one_shot_accuracies(copy, KEYS[:1], bn="none")
    (copy / "checkpoints" / "init.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SupernetProxyError, match="init.pt: unreadable checkpoint"):
        supernet_angles(copy, KEYS, checkpoint="init")


def _by_hand(run, arch, n_calib):
    """Accuracy of the stand-alone network carrying the supernet's weights, recalibrated (or
    not) and evaluated with plain loops."""
    model, c = load_supernet(run)
    net = model.extract(arch).eval()
    train = load(c.dataset, "search-train", subset=c.subset, subset_seed=c.seed)
    valid = load(c.dataset, "search-valid", subset=c.valid_subset, subset_seed=c.seed)
    with torch.no_grad():
        if n_calib:
            bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # exact average
            net.train()
            x = torch.cat([b for b, _ in iterate_batches(train, 512)])[:n_calib]
            for start in range(0, n_calib, 512):
                net(x[start : start + 512])
            net.eval()
        correct = total = 0
        for xb, yb in iterate_batches(valid, 17):
            correct += int((net(xb).argmax(1) == yb).sum())
            total += len(yb)
    return 100.0 * correct / total


def test_one_shot_accuracy_equals_the_extracted_network_by_hand(run):
    keys = KEYS[:4]
    with_bn, info = one_shot_accuracies(run, keys, bn="cumulative", bn_images=200)
    without, info0 = one_shot_accuracies(run, keys, bn="none")
    for k, a, b in zip(keys, with_bn, without):
        arch = Arch.from_index(int(k))
        assert a == pytest.approx(_by_hand(run, arch, 200), abs=1e-9)
        assert b == pytest.approx(_by_hand(run, arch, 0), abs=1e-9)
    assert not np.array_equal(with_bn, without)  # recalibration changes the children's BN
    assert info["bn"] == "cumulative" and info["bn_images"] == 200
    assert info["evaluated_on"] == "digits:search-valid" and info["evaluated_images"] == 64
    assert info["calibrated_on"] == "digits:search-train" and info["epoch"] == 3
    assert info0["bn_images"] == 0 and info0["calibrated_on"] is None


def test_standard_split_run_says_it_evaluates_on_test(tmp_path):
    cfg = TrainConfig.from_dict({**SMALL, "epochs": 1, "split": "standard"})
    train_supernet(cfg, tmp_path, progress=False)
    with pytest.warns(UserWarning, match="test set"):
        _, info = one_shot_accuracies(tmp_path, KEYS[:1], bn="none")
    assert info["evaluated_on"] == "digits:test"


def test_search_split_run_does_not_warn(run):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_shot_accuracies(run, KEYS[:1], bn="none")


def test_operator_table_is_the_mean_angle_of_archs_holding_each_op(run, tmp_path):
    table = operator_table(run)
    angles, _ = supernet_angles(run)
    ops = op_index_matrix()
    assert table.level == "operator" and len(table) == 30
    for (edge, op), v in zip(table.operators(), table["abs_op_angle"]):
        e = ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"].index(edge)
        p = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"].index(op)
        held = ops[:, e] == p
        assert held.sum() == 3125
        assert v == pytest.approx(angles[held].mean(), rel=1e-12)
    back = ScoreTable.read(table.write(tmp_path / "ops.csv"))
    np.testing.assert_array_equal(back["abs_op_angle"], table["abs_op_angle"])
    assert back.meta["data"] == "digits" and back.meta["angle"]["reference"] == "w0"
    dedup = operator_table(run, dedup=True)
    assert dedup.meta["archs_scored"] == 6466
    assert not np.allclose(dedup["abs_op_angle"], table["abs_op_angle"])


def test_every_architecture_is_scored_unless_dedup_is_asked(run):
    full = angle_table(run)
    assert len(full) == 15625 and full.meta["dedup"] is False
    reps = angle_table(run, dedup=True)
    assert len(reps) == 6466 and reps.meta["dedup"] is True
    # isomorphic cells use different weights: their angles differ
    ids = isomorphism_class_ids()
    big = np.flatnonzero(ids == np.bincount(ids).argmax())
    assert np.ptp(full["angle"][big]) > 0
    np.testing.assert_array_equal(full["angle"][reps.keys], reps["angle"])


def test_class_representatives_are_the_smallest_index_of_each_class():
    reps = class_representatives()
    ids = isomorphism_class_ids()
    assert len(reps) == 6466 and len(set(ids[reps])) == 6466
    for r in reps[:50]:
        assert r == np.flatnonzero(ids == ids[r]).min()
    assert list(class_representatives([7, 3, 7])) == [7, 3] or ids[7] == ids[3]


def test_one_shot_table_names_the_column_by_preset(run):
    t = one_shot_table(run, KEYS[:2], bn="none")
    assert t.columns == ["oneshot_acc_norebn"] and t.meta["one_shot"]["bn"] == "none"
    t = one_shot_table(run, KEYS[:2], bn="spos", bn_images=128)
    assert t.columns == ["oneshot_acc"] and t.meta["one_shot"]["bn_images"] == 128


# ----------------------------------------------------------------------------- the registry
def _request(run, names, keys=KEYS, **kw):
    from nasbench_tools.proxies import ScoreRequest
    from nasbench_tools.spaces import get_space

    return ScoreRequest(get_space(kw.pop("space", "nb201")), keys, tuple(names), run=run, **kw)


def test_registered_angle_is_the_functions_angle(run):
    from nasbench_tools.proxies import compute_scores, get_proxy

    p = get_proxy("angle")
    assert p.needs == "supernet" and p.unit == "rad" and not p.negated and p.chunk == 0
    got = compute_scores(_request(run, ["angle"]))["angle"]
    np.testing.assert_array_equal(got, supernet_angles(run, KEYS)[0])
    e1 = compute_scores(_request(run, ["angle"], options={"reference": "epoch1"}))["angle"]
    np.testing.assert_array_equal(e1, supernet_angles(run, KEYS, reference="epoch1")[0])


def test_one_shot_pair_together_equals_one_at_a_time(run):
    from nasbench_tools.proxies import compute_scores

    opts = {"bn_images": 128}
    both = compute_scores(_request(run, ["oneshot_acc", "oneshot_acc_norebn"], options=opts))
    alone = compute_scores(_request(run, ["oneshot_acc"], options=opts))["oneshot_acc"]
    norebn = compute_scores(_request(run, ["oneshot_acc_norebn"]))["oneshot_acc_norebn"]
    np.testing.assert_array_equal(both["oneshot_acc"], alone)
    np.testing.assert_array_equal(both["oneshot_acc_norebn"], norebn)
    want, _ = one_shot_accuracies(run, KEYS, bn="cumulative", bn_images=128)
    np.testing.assert_array_equal(alone, want)


def test_one_childs_recalibration_never_leaks_into_the_next(run):
    keys = KEYS[:4]
    fwd, _ = one_shot_accuracies(run, keys, bn="abs", bn_images=100)
    back, _ = one_shot_accuracies(run, keys[::-1], bn="abs", bn_images=100)
    np.testing.assert_array_equal(fwd, back[::-1])
    plain, _ = one_shot_accuracies(run, keys, bn="none")  # the cached model is unchanged
    again, _ = one_shot_accuracies(run, keys, bn="none")
    np.testing.assert_array_equal(plain, again)


def test_registry_refuses_options_that_make_no_sense(run):
    from nasbench_tools.proxies import ProxyError, compute_scores

    with pytest.raises(ProxyError, match="network from the run folder; drop C"):
        compute_scores(_request(run, ["angle"], options={"C": 8}))
    with pytest.raises(ProxyError, match="no option bn"):
        compute_scores(_request(run, ["oneshot_acc_norebn"], options={"bn": "abs"}))
    with pytest.raises(ProxyError, match="oneshot_acc_norebn"):
        compute_scores(_request(run, ["oneshot_acc"], options={"bn": "none"}))
    with pytest.raises(ProxyError, match="not nb101"):
        compute_scores(_request(run, ["angle"], keys=np.array(["0" * 32]), space="nb101"))


def test_table_metadata_names_the_checkpoints_and_splits_actually_used(run):
    from nasbench_tools.proxies.base import resolved_settings

    got = resolved_settings(_request(run, ["angle"], options={"reference": "epoch1"}))
    assert got == {
        "reference": "epoch1", "checkpoint": "epoch-0003.pt", "epoch": 3,
        "reference_checkpoint": "epoch-0001.pt",
    }  # fmt: skip
    got = resolved_settings(_request(run, ["oneshot_acc", "oneshot_acc_norebn"]))
    assert got["bn"] == "cumulative" and got["bn_images"] == 20000
    assert got["evaluated_on"] == "digits:search-valid"
    assert got["calibrated_on"] == "digits:search-train" and got["checkpoint"] == "epoch-0003.pt"
    got = resolved_settings(_request(run, ["oneshot_acc_norebn"], options={"checkpoint": "init"}))
    assert "bn" not in got and got["checkpoint"] == "init.pt" and got["epoch"] == 0


def _supernet_proxies():
    from nasbench_tools.proxies import PROXIES

    # the differentiable-search proxies read a `nbt search-differentiable` run (tests/differentiable)
    return PROXIES.filter(lambda p: p.needs == "supernet" and p.group != "differentiable")


@pytest.mark.parametrize("name", _supernet_proxies())
def test_every_supernet_proxy_scores_a_tiny_run(run, name):
    from nasbench_tools.proxies import compute_scores, get_proxy

    opts = {"bn_images": 64} if "bn" in get_proxy(name).defaults else {}
    got = compute_scores(_request(run, [name], keys=KEYS[:2], options=opts))[name]
    assert got.shape == (2,) and np.isfinite(got).all()
