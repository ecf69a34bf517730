"""Data-parallel training (torch.distributed, gloo, 2 CPU processes) against one process with
micro-batches: the same two halves of every batch, each with its own BN statistics.

One spawn of 2 processes runs every scenario (module fixture); each test compares one of them
with a run in this process that never touches torch.distributed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nasbench_tools.errors import DeviceError, DistributedError, TrainConfigError
from nasbench_tools.nn import distributed as dp
from tests import _ddp

SUPERNET = {
    "model": {"C": 4, "N": 1},
    "dataset": "digits",
    "subset": 48,
    "valid_subset": 32,
    "batch_size": 16,
    "epochs": 2,
    "lr": 0.1,
    "augment": "crop",
    "log_every": 2,
    "threads": 1,
    "micro_batches": 2,
}
CASES = {
    "spos": {},
    "fairnas": {"sampler": "fairnas", "epochs": 1},
    "oneshot-per-example": {
        "sampler": "oneshot",
        "sampler_options": {"per_example": True, "drop_rate": 0.5, "ramp": "constant"},
        "epochs": 1,
    },
}


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    """Every scenario's results on both ranks, and the folder they ran in."""
    tmp = tmp_path_factory.mktemp("ddp")
    scenarios = [
        ("supernet", (str(tmp / f"supernet-{name}"), {**SUPERNET, **case}))
        for name, case in CASES.items()
    ]
    scenarios.append(("supernet", (str(tmp / "desync"), {**SUPERNET, "epochs": 1}, 1)))
    scenarios.append(("supernet", (str(tmp / "odd"), {**SUPERNET, "micro_batches": 3})))
    results = _ddp.spawn(tmp / "spawn", scenarios)
    return tmp, dict(zip([*CASES, "desync", "odd"], zip(*results)))


def _ok(result: dict):
    assert "ok" in result, result
    return result["ok"]


def _reference_supernet(tmp_path, config: dict) -> dict:
    """The same run in this process (no process group): micro-batches, one after the other."""
    from nasbench_tools.supernet.config import TrainConfig
    from nasbench_tools.supernet.train import train_supernet

    assert not torch.distributed.is_initialized()
    with _ddp.DrawSpy() as draws:
        result = train_supernet(TrainConfig.from_dict(config), tmp_path / "ref", progress=False)
    return {"state": result.model.state_dict(), "draws": draws.draws}


def _assert_same_state(got: dict, want: dict) -> None:
    """Equal up to the order of floating-point sums (the ranks' gradients are summed by gloo,
    the reference adds the second half's to the first's)."""
    assert got.keys() == want.keys()
    for k in want:
        torch.testing.assert_close(
            got[k], want[k], rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}"
        )


@pytest.mark.parametrize("case", CASES)
def test_ddp_supernet_equals_one_process_accumulating_the_two_halves(ddp, tmp_path, case):
    tmp, results = ddp
    rank0, rank1 = (_ok(r) for r in results[case])
    ref = _reference_supernet(tmp_path, {**SUPERNET, **CASES[case]})
    # the same architectures on both ranks and in the reference, step by step
    assert len(ref["draws"]) == len(rank0["draws"]) == len(rank1["draws"]) > 2
    for a, b, r in zip(rank0["draws"], rank1["draws"], ref["draws"]):
        for x, y, z in zip(a, b, r, strict=True):
            np.testing.assert_array_equal(x, z)
            np.testing.assert_array_equal(y, z)
    # weights and BN running statistics after every step of 2 epochs
    _assert_same_state(rank0["state"], ref["state"])
    _assert_same_state(rank1["state"], ref["state"])
    # and the checkpoint rank 0 wrote holds them
    last = sorted((tmp / f"supernet-{case}" / "checkpoints").glob("epoch-*.pt"))[-1]
    saved = torch.load(last, weights_only=True)
    _assert_same_state(saved["model"], ref["state"])


def test_ddp_supernet_differs_from_one_batch_with_shared_bn_statistics(ddp, tmp_path):
    """The comparison can fail: one process without micro-batches ends elsewhere."""
    _, results = ddp
    ref = _reference_supernet(tmp_path, {**SUPERNET, "micro_batches": 1})
    got = _ok(results["spos"][0])["state"]
    diff = max(float((got[k] - ref["state"][k]).abs().max()) for k in ref["state"])
    assert diff > 1e-3


def test_only_rank_0_writes_files(ddp):
    _, results = ddp
    rank0, rank1 = (_ok(r) for r in results["spos"])
    assert rank1["writes"] == []
    written = " ".join(rank0["writes"])
    assert "epoch-0002.pt" in written and "config.json" in written and "log.jsonl" in written


def test_a_desynchronised_sampler_is_caught_on_every_rank(ddp):
    _, results = ddp
    for r in results["desync"]:
        assert r.get("error") == "DistributedError", r
        assert "the ranks disagree on the draws of step 0" in r["message"]
    assert not (ddp[0] / "desync" / "checkpoints" / "epoch-0001.pt").exists()


def test_micro_batches_not_a_multiple_of_the_processes_is_refused(ddp):
    _, results = ddp
    for r in results["odd"]:
        assert r.get("error") == "TrainConfigError", r
        assert "micro_batches 3 is not a multiple of the 2 processes" in r["message"]


# --------------------------------------------------------------------------- the pieces
@pytest.mark.parametrize("n,m", [(16, 2), (17, 2), (10, 3), (5, 5)])
def test_parts_cover_the_batch_once_and_ranks_share_them(n, m):
    bounds = dp.part_bounds(n, m)
    assert bounds[0] == 0 and bounds[-1] == n and all(b > a for a, b in itertools.pairwise(bounds))
    sizes = np.diff(bounds)
    assert sizes.max() - sizes.min() <= 1
    one = dp.local_parts(n, m, dp.World())
    assert [(s.start, s.stop) for s in one] == list(itertools.pairwise(bounds))
    if m % 2 == 0:
        halves = [dp.local_parts(n, m, dp.World(rank=r, size=2)) for r in range(2)]
        assert halves[0] + halves[1] == one


def test_a_batch_smaller_than_the_micro_batches_is_refused():
    with pytest.raises(DistributedError, match="batch of 2 image"):
        dp.part_bounds(2, 3)


def test_device_auto_picks_cpu_and_cuda_is_refused_without_one():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert dp.resolve_device("auto") == "cpu"
    assert dp.resolve_device(None) == "cpu"
    with pytest.raises(DeviceError, match="--device cuda: CUDA is not available"):
        dp.resolve_device("cuda")
    with pytest.raises(DeviceError, match="auto, cpu, cuda or cuda:<i>, got 'gpu'"):
        dp.resolve_device("gpu")


def test_buffer_sync_averages_the_parts_changes_and_keeps_untouched_buffers_exact():
    bn, other = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(2)
    model = torch.nn.ModuleList([bn, other])
    other.running_mean.fill_(0.3)
    x = torch.randn(8, 3)
    expected_means = []
    for part in (x[:4], x[4:]):
        ref = torch.nn.BatchNorm1d(3)
        ref(part)
        expected_means.append(ref.running_mean)
    sync = dp.BufferSync(model, 2)
    for part in (x[:4], x[4:]):
        sync.before_part()
        bn(part)
    sync.finish()
    torch.testing.assert_close(bn.running_mean, (expected_means[0] + expected_means[1]) / 2)
    assert int(bn.num_batches_tracked) == 1
    assert torch.equal(other.running_mean, torch.full((2,), 0.3))


def test_micro_batches_above_the_batch_size_are_refused():
    from nasbench_tools.supernet.config import TrainConfig

    with pytest.raises(TrainConfigError, match="micro_batches must be 1..batch_size"):
        TrainConfig(batch_size=4, micro_batches=5).resolved()
