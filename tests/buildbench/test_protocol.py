"""Protocol presets: every registered one is valid and serialisable; a setting out of its domain
is refused naming it; ``paper`` is NB201's 200-epoch protocol; the quick preset trains
deterministically per (architecture, seed) and its learning rate follows the cosine per step."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nasbench_tools.buildbench import (
    PROTOCOLS,
    Protocol,
    ProtocolError,
    get_protocol,
    preset_with_settings,
)
from nasbench_tools.buildbench import train as bt
from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.spaces import get_space


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_every_preset_is_valid_and_round_trips_through_json(name):
    p = get_protocol(name)
    assert p.name == name
    assert Protocol(**json.loads(json.dumps(p.to_dict()))) == p


def test_no_two_presets_share_their_settings():
    settings = [json.dumps(get_protocol(n).settings(), sort_keys=True) for n in PROTOCOLS.names()]
    assert len(set(settings)) == len(settings)


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_a_preset_is_found_by_its_settings_under_any_name(name):
    p = get_protocol(name)
    assert preset_with_settings(p) == name
    assert preset_with_settings(p.replace(name="renamed")) == name
    assert preset_with_settings(p.replace(name="renamed", lr=p.lr + 0.0125)) is None


def test_cpu_v1_has_the_settings_the_first_fashion_mnist_stores_recorded():
    """The stores built before the cpu preset changed (5 epochs, curve_subset) record the name
    ``cpu``: their settings are ``cpu-v1``'s, so ``--preset cpu-v1`` rebuilds comparable networks."""
    from nasbench_tools.groundtruth import load

    for name in ("nb201-fmnist-v1", "nb101-mixpath-fmnist-v1"):
        recorded = Protocol(**load(name).provenance["protocol"])
        assert recorded.name == "cpu"
        assert preset_with_settings(recorded) == "cpu-v1"


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(NasbenchToolsError, match="quick"):
        get_protocol("cpu-fast")


def test_paper_preset_is_nb201s_200_epoch_protocol():
    # configs/nas-benchmark/hyper-opts/200E.config of D-X-Y/AutoDL-Projects (see protocol.py)
    p = get_protocol("paper")
    assert (p.dataset, p.epochs, p.C, p.N, p.image_size, p.channels) == (
        "cifar10",
        200,
        16,
        5,
        32,
        3,
    )
    assert (p.lr, p.lr_min, p.momentum, p.weight_decay, p.nesterov) == (0.1, 0.0, 0.9, 5e-4, True)
    assert (p.batch_size, p.augment) == (256, "crop_flip")
    assert (p.train_subset, p.valid_subset, p.test_subset) == (None, None, None)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"C": True}, "C"),
        ({"channels": 2}, "channels"),
        ({"train_subset": 0}, "train_subset"),
        ({"curve_subset": 0}, "curve_subset"),
        ({"train_fraction": 1.0}, "train_fraction"),
        ({"train_fraction": 0}, "train_fraction"),
        ({"lr": -0.1}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"lr_min": 0.5}, "lr_min"),
        ({"momentum": 0.0}, "nesterov"),
        ({"nesterov": 1}, "nesterov"),
        ({"augment": "flip"}, "augment"),
        ({"split_seed": -1}, "split_seed"),
        ({"dataset": "mnist-x"}, "mnist-x"),
    ],
)
def test_a_setting_out_of_its_domain_is_refused_naming_it(change, named):
    with pytest.raises(NasbenchToolsError, match=named):
        get_protocol("quick").replace(**change)


def test_protocol_error_is_a_nasbench_tools_error():
    assert issubclass(ProtocolError, NasbenchToolsError)


@pytest.fixture(scope="module")
def quick_splits():
    return bt.load_splits(get_protocol("quick"))


def test_splits_are_disjoint_halves_and_the_test_set(quick_splits):
    prov = quick_splits.provenance()
    assert [prov[s]["split"] for s in ("train", "valid", "test")] == [
        "search-train", "search-valid", "test",
    ]  # fmt: skip
    assert [prov[s]["n"] for s in ("train", "valid", "test")] == [512, 128, 128]


def test_learning_rate_follows_the_cosine_at_every_step(quick_splits, monkeypatch):
    p = get_protocol("quick").replace(epochs=2)
    seen = []
    step = torch.optim.SGD.step

    def record(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.SGD, "step", record)
    torch.set_num_threads(1)
    splits = bt.Splits(quick_splits.train, quick_splits.valid, quick_splits.test)
    bt.train_network(get_space("nb201"), 0, 0, p, splits)
    per_epoch = math.ceil(512 / 32)
    total = 2 * per_epoch
    assert len(seen) == total
    want = [0.5 * 0.1 * (1 + math.cos(math.pi * t / total)) for t in range(total)]
    assert seen == pytest.approx(want, rel=1e-12)


def test_same_arch_and_seed_train_the_same_whatever_ran_before(quick_splits):
    torch.set_num_threads(1)
    sp, p = get_space("nb201"), get_protocol("quick").replace(epochs=1)
    a = bt.train_network(sp, 100, 3, p, quick_splits)
    bt.train_network(sp, 200, 4, p, quick_splits)  # consumes global randomness in between
    torch.manual_seed(12345)
    b = bt.train_network(sp, 100, 3, p, quick_splits)
    c = bt.train_network(sp, 100, 4, p, quick_splits)
    assert a["curves"] == b["curves"] and a["params"] == b["params"]
    assert a["curves"] != c["curves"]


def test_initial_weights_depend_on_seed_and_architecture_only(quick_splits):
    sp, p = get_space("nb201"), get_protocol("quick")

    def weights(key, seed):
        net = bt.build(sp, key, seed, p, quick_splits.train)
        return torch.cat([t.flatten() for t in net.state_dict().values() if t.is_floating_point()])

    a = weights(6111, 0)
    torch.manual_seed(999)  # the global generator's state does not matter
    assert torch.equal(a, weights(6111, 0))
    assert not torch.equal(a, weights(6111, 1))


def test_batch_order_depends_on_seed_and_architecture_only():
    def order(seed, key):
        return torch.randperm(100, generator=bt.batch_generator(seed, key))

    torch.manual_seed(5)
    assert torch.equal(order(0, 6111), order(0, 6111))
    assert not torch.equal(order(0, 6111), order(1, 6111))
    assert not torch.equal(order(0, 6111), order(0, 6112))


def test_evaluate_is_eval_mode_over_every_image_and_changes_nothing(quick_splits):
    torch.set_num_threads(1)
    sp, p = get_space("nb201"), get_protocol("quick")
    net = bt.build(sp, 6111, 0, p, quick_splits.train)
    net.train()
    for x, _ in bt.iterate_batches(quick_splits.train, 64):  # BN running stats away from init
        net(x)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    got = bt.evaluate(net, quick_splits.valid, 50)  # 128 images: batches of 50, 50, 28
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    data = quick_splits.valid
    with torch.no_grad():
        net.eval()
        logits = net(data.normalise(data.images))
    want_acc = 100.0 * float((logits.argmax(1) == data.labels).float().mean())
    want_loss = float(torch.nn.functional.cross_entropy(logits, data.labels))
    assert got["accuracy"] == pytest.approx(want_acc, abs=1e-9)
    assert got["loss"] == pytest.approx(want_loss, rel=1e-5)


def test_curve_subset_evaluates_the_epochs_before_the_last_on_the_first_images(
    quick_splits, monkeypatch
):
    """Epochs 1..E-1 on the first ``curve_subset`` images of valid and test, the last on all:
    which images each evaluation saw, and the last epoch's numbers equal those of a protocol
    evaluating every epoch in full (same training)."""
    torch.set_num_threads(1)
    sp, p = get_space("nb201"), get_protocol("quick").replace(epochs=3)
    seen = []
    real = bt.evaluate

    def spy(model, data, batch_size, ex=None):
        seen.append((data.split, data.images.data_ptr(), len(data)))
        return real(model, data, batch_size, ex)

    monkeypatch.setattr(bt, "evaluate", spy)
    sub = bt.train_network(sp, 100, 0, p.replace(curve_subset=40), quick_splits)
    v, t = quick_splits.valid, quick_splits.test
    head = [(v.split, v.images.data_ptr(), 40), (t.split, t.images.data_ptr(), 40)]
    assert seen == head * 2 + [(v.split, v.images.data_ptr(), len(v)),
                               (t.split, t.images.data_ptr(), len(t))]  # fmt: skip
    full = bt.train_network(sp, 100, 0, p, quick_splits)
    for s in ("valid", "test"):
        assert sub["curves"][s]["accuracy"][-1] == full["curves"][s]["accuracy"][-1]
        assert sub["curves"][s]["loss"][:-1] != full["curves"][s]["loss"][:-1]
    assert sub["curves"]["train"] == full["curves"]["train"]


def test_train_fraction_sizes_the_train_and_valid_splits():
    p = get_protocol("quick").replace(train_subset=None, valid_subset=None, train_fraction=0.2)
    s = bt.load_splits(p)
    assert (len(s.train), len(s.valid)) == (300, 1200)  # 1,500 digits training images
    assert "train_fraction=0.2" in s.valid.provenance["split_source"]
