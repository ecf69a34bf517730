"""BN recalibration presets, exact cumulative statistics, and no leakage between candidates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasbench_tools.datasets import iterate_batches, load
from nasbench_tools.errors import NasbenchToolsError, RecalibrationError
from nasbench_tools.nn.nb201 import NB201Supernet
from nasbench_tools.supernet.recalibrate import (
    BN_PRESETS,
    BNRecalibration,
    bn_layers,
    bn_snapshot,
    evaluate,
    recalibrate_bn,
)


def _bn_state(model):
    return [
        (m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked))
        for m in bn_layers(model)
    ]


def _same(a, b):
    return all(
        torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) and x[2] == y[2] for x, y in zip(a, b)
    )


def test_presets_match_the_published_procedures():
    assert BN_PRESETS.get("spos") == BNRecalibration(25_600, 128, 0.1, True)
    assert BN_PRESETS.get("abs") == BNRecalibration(20_000, 512, 0.1, True)
    assert BN_PRESETS.get("mixpath") == BNRecalibration(None, 96, 0.1, False)
    assert BN_PRESETS.get("cumulative") == BNRecalibration(20_000, 512, None, True)
    with pytest.raises(
        RecalibrationError,
        match="unknown BN recalibration preset 'darts'; known: abs, cumulative, mixpath, spos",
    ):
        recalibrate_bn(nn.BatchNorm2d(2), None, torch.zeros(4, 2, 1, 1), "darts")


def test_cumulative_recalibration_is_the_exact_average_of_batch_statistics():
    bn = nn.BatchNorm2d(3)
    bn.running_mean.fill_(7.0)
    torch.manual_seed(0)
    x = torch.randn(40, 3, 4, 4) * 3 + 2
    preset = BNRecalibration(n_images=30, batch_size=10, momentum=None, reset=True)
    assert recalibrate_bn(bn, None, x, preset) == 30
    batches = x[:30].split(10)
    mean = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    var = torch.stack([b.var((0, 2, 3)) for b in batches]).mean(0)
    assert torch.allclose(bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(bn.running_var, var, atol=1e-5)
    assert bn.momentum is None and not bn.training


def test_mixpath_preset_does_not_reset():
    bn = nn.BatchNorm2d(1)
    bn.running_mean.fill_(10.0)
    x = torch.zeros(96, 1, 2, 2)
    recalibrate_bn(bn, None, x, "mixpath")
    assert torch.allclose(bn.running_mean, torch.tensor([9.0]))  # one EMA step of 0.1 from 10


def test_candidates_do_not_leak_into_each_other():
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    data = load("digits", "test")
    calib = load("digits", "train", subset=256)
    before = _bn_state(sup)
    a, b = sup.choice_of(6111), sup.choice_of(0)
    kw = {"recalibrate": BNRecalibration(None, 64, None, True), "calibration_images": calib}
    b_alone = evaluate(sup, b, data, **kw)
    a_first = evaluate(sup, a, data, **kw)
    b_after_a = evaluate(sup, b, data, **kw)
    assert b_alone == b_after_a
    assert a_first != b_alone
    assert _same(before, _bn_state(sup))  # the supernet's own statistics are untouched
    moms = {m.momentum for m in bn_layers(sup)}
    assert moms == {0.1}


def test_recalibration_changes_results_and_batch_mode():
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    data = load("digits", "test")
    plain = evaluate(sup, sup.choice_of(6111), data)
    everything = BNRecalibration(None, 512, None, True)  # cumulative over all 297 images
    recal = evaluate(
        sup, sup.choice_of(6111), data, recalibrate=everything, calibration_images=data
    )
    batch = evaluate(sup, sup.choice_of(6111), data, bn="batch")
    assert plain["n"] == recal["n"] == 297
    assert plain["loss"] != recal["loss"] and batch["loss"] != plain["loss"]
    with pytest.raises(NasbenchToolsError):
        evaluate(sup, sup.choice_of(0), data, bn="ghost")


def test_snapshot_restores_after_an_exception():
    bn = nn.BatchNorm2d(2)
    with pytest.raises(RuntimeError), bn_snapshot(bn):
        bn.running_mean.fill_(3.0)
        bn.momentum = None
        raise RuntimeError
    assert torch.equal(bn.running_mean, torch.zeros(2)) and bn.momentum == 0.1


def test_spos_preset_with_fewer_images_than_it_asks_for_raises():
    """The spos preset forwards 25,600 images; 512 given must not silently average 512."""
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    calib = load("digits", "train", subset=512)
    before = _bn_state(sup)
    with pytest.raises(RecalibrationError, match=r"'spos' forwards 25,600 images.*has 512"):
        recalibrate_bn(sup, sup.choice_of(6111), calib, "spos")
    assert _same(before, _bn_state(sup))  # refused before anything ran
    with pytest.raises(RecalibrationError, match="25,600"):
        evaluate(sup, sup.choice_of(6111), load("digits", "test"), recalibrate="spos",
                 calibration_images=calib)  # fmt: skip
    # an iterable of batches is counted as it goes
    with pytest.raises(RecalibrationError, match="preset 'given' forwards 400 images.*has 300"):
        recalibrate_bn(
            nn.BatchNorm2d(1),
            None,
            [torch.randn(100, 1, 2, 2)] * 3,
            BNRecalibration(400, 100, None, True),
        )
    with pytest.raises(RecalibrationError, match="BN recalibration got no images"):
        recalibrate_bn(nn.BatchNorm2d(1), None, [], "mixpath")


def _count_forwarded(model) -> list[int]:
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(len(args[0])))
    return seen


def test_recalibration_forwards_exactly_the_presets_count_and_reports_it():
    bn = nn.BatchNorm2d(1)
    seen = _count_forwarded(bn)
    x = torch.randn(1000, 1, 2, 2)
    preset = BNRecalibration(n_images=250, batch_size=100, momentum=None, reset=True)
    assert recalibrate_bn(bn, None, x, preset) == 250 and seen == [100, 100, 50]
    seen.clear()
    assert recalibrate_bn(bn, None, x[:290], "mixpath") == 290 and seen == [96, 96, 96, 2]


@pytest.mark.parametrize("kind", ["tensor", "imagedata"])
def test_a_calibration_set_of_exactly_the_presets_count_is_enough(kind):
    # the boundary of the "too few images" check: 250 images for a 250-image preset are enough
    bn = nn.BatchNorm2d(1)
    seen = _count_forwarded(bn)
    data = load("digits", "train", subset=250)
    images = data if kind == "imagedata" else next(iterate_batches(data, 250))[0]
    preset = BNRecalibration(n_images=250, batch_size=100, momentum=None, reset=True)
    assert recalibrate_bn(bn, None, images, preset) == 250 and seen == [100, 100, 50]
    with pytest.raises(
        RecalibrationError, match="forwards 251 images but the calibration set has 250"
    ):
        recalibrate_bn(bn, None, images, BNRecalibration(251, 100, None, True))


def test_evaluate_recalibrates_on_the_calibration_images_it_is_given():
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    data = load("digits", "test")
    calib = load("digits", "train", subset=256)
    choice = sup.choice_of(6111)
    preset = BNRecalibration(None, 64, None, True)
    got = evaluate(sup, choice, data, recalibrate=preset, calibration_images=calib)
    assert got["calibration_images"] == 256 and got["n"] == 297
    # oracle: recalibrate by hand on calib, then evaluate without recalibration
    with bn_snapshot(sup):
        recalibrate_bn(sup, choice, calib, preset)
        by_hand = evaluate(sup, choice, data)
    assert by_hand["calibration_images"] == 0
    assert (got["accuracy"], got["loss"]) == (by_hand["accuracy"], by_hand["loss"])
    on_data = evaluate(sup, choice, data, recalibrate=preset)  # transductive: data itself
    assert on_data["calibration_images"] == 297 and on_data["loss"] != got["loss"]


class _Recorder(nn.Module):
    """Records the device, size and first value of every batch it is fed."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        first = None if x.device.type == "meta" else float(x.flatten()[0])
        self.seen.append((x.device.type, len(x), first))
        return x


@pytest.mark.parametrize("kind", ["imagedata", "tensor", "batches", "pairs"])
def test_recalibration_images_go_to_the_requested_device(kind):
    data = load("digits", "test")
    x = torch.arange(300, dtype=torch.float32).view(300, 1, 1, 1)
    images = {
        "imagedata": data,
        "tensor": x,
        "batches": list(x.split(100)),
        "pairs": [(b, torch.full((len(b),), -1.0)) for b in x.split(100)],  # (images, labels)
    }[kind]
    model = _Recorder()
    n = recalibrate_bn(model, None, images, BNRecalibration(250, 100, None, True), device="meta")
    assert n == 250
    assert [(dev, size) for dev, size, _ in model.seen] == [("meta", 100)] * 2 + [("meta", 50)]
    model = _Recorder()
    recalibrate_bn(model, None, images, BNRecalibration(250, 100, None, True), device="cpu")
    if kind != "imagedata":  # the images, not the labels, in order
        assert [first for _, _, first in model.seen] == [0.0, 100.0, 200.0]


def test_evaluate_accuracy_and_loss_equal_a_direct_computation():
    """Oracle: one forward of the whole split in eval mode; evaluate() in batches of 100."""
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    data = load("digits", "test")  # 297 images: batches of 100, 100, 97
    choice = sup.choice_of(6111)
    with torch.no_grad():
        sup.eval()
        x, y = next(iterate_batches(data, len(data)))
        logits = sup(x, choice)
        want_acc = 100.0 * float((logits.argmax(1) == y).float().mean())
        want_loss = float(torch.nn.functional.cross_entropy(logits, y))
    sup.train()
    got = evaluate(sup, choice, data, batch_size=100)
    assert got["n"] == 297 and got["calibration_images"] == 0
    assert got["accuracy"] == pytest.approx(want_acc) and got["loss"] == pytest.approx(want_loss)
    assert 0 < got["accuracy"] < 100 and sup.training  # a non-trivial split; mode restored
    one = load("digits", "test", subset=1)
    assert evaluate(sup, choice, one)["n"] == 1
    empty = load("digits", "test", subset=1)
    empty.images, empty.labels = empty.images[:0], empty.labels[:0]
    with pytest.raises(NasbenchToolsError, match=r"^evaluate\(\) got an empty dataset$"):
        evaluate(sup, choice, empty)
    with pytest.raises(NasbenchToolsError, match="^bn must be 'running' or 'batch', got 'ghost'$"):
        evaluate(sup, choice, data, bn="ghost")


def test_batch_mode_evaluation_uses_batches_of_512_by_default():
    """Train-mode BN normalises each batch by its own statistics, so the batch size is part of
    the result. Oracle: the 1,500 digits in batches of 512, 512 and 476, by hand."""
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    data = load("digits", "train")
    choice = sup.choice_of(6111)
    correct, loss_sum = 0, 0.0
    with bn_snapshot(sup), torch.no_grad():
        sup.train()
        for x, y in iterate_batches(data, 512):
            logits = sup(x, choice)
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    got = evaluate(sup, choice, data, bn="batch")
    assert got["n"] == 1500
    # the same forwards in the same order: equal up to float64 summation (batches of 513 give a
    # loss 2e-7 away, relatively, on this untrained network)
    assert got["loss"] == pytest.approx(loss_sum / 1500, rel=1e-12, abs=0)
    assert got["accuracy"] == pytest.approx(100.0 * correct / 1500)
    other = evaluate(sup, choice, data, bn="batch", batch_size=513)
    assert other["loss"] != pytest.approx(got["loss"], rel=1e-12, abs=0)  # the size matters


def test_data_go_to_the_device_asked_for_else_the_models(monkeypatch):
    """Spy on the batches' destination (the data stay on the CPU to run)."""
    from nasbench_tools.supernet import recalibrate as rec

    asked = []
    real = rec.iterate_batches

    def spy(data, batch_size, **kw):
        asked.append(None if kw.get("device") is None else str(kw["device"]))
        return real(data, batch_size, **{**kw, "device": None})

    monkeypatch.setattr(rec, "iterate_batches", spy)
    torch.manual_seed(0)
    sup = NB201Supernet(C=4, N=1, in_channels=1, image_size=8)
    data = load("digits", "test")
    preset = BNRecalibration(None, 100, None, True)
    choice = sup.choice_of(0)
    evaluate(sup, choice, data, recalibrate=preset, device="cpu:0")
    assert asked == ["cpu:0", "cpu:0"]  # recalibration, then evaluation
    asked.clear()
    evaluate(sup, choice, data, recalibrate=preset)
    assert asked == ["cpu", "cpu"]  # the model's device
    asked.clear()
    recalibrate_bn(sup, choice, data, preset)
    assert asked == ["cpu"]


def test_recalibration_defaults_skips_empty_batches_and_names_the_preset():
    bn = nn.BatchNorm2d(1)
    with pytest.raises(RecalibrationError, match="'cumulative' forwards 20,000 images"):
        recalibrate_bn(bn, None, torch.randn(100, 1, 2, 2))  # the default preset
    seen = _count_forwarded(bn)
    x = torch.randn(97, 1, 2, 2)
    assert recalibrate_bn(bn, None, x, "mixpath") == 97 and seen == [96, 1]
    seen.clear()
    batches = [x[:50], x[:0], x[50:]]
    assert recalibrate_bn(bn, None, batches, "mixpath") == 97 and seen == [50, 47]
    with pytest.raises(RecalibrationError, match="'spos' forwards 25,600 images.*has 97"):
        recalibrate_bn(bn, None, batches, "spos")
    with pytest.raises(RecalibrationError, match="BN recalibration got no images"):
        recalibrate_bn(bn, None, [x[:0]], "mixpath")
