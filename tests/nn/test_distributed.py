"""Data-parallel training (torch.distributed, gloo, 2 CPU processes) against one process with
micro-batches: the same two halves of every batch, each with its own BN statistics.

One spawn of 2 processes runs every scenario (module fixture); each test compares one of them
with a run in this process that never touches torch.distributed.
"""

from __future__ import annotations

import itertools
import json

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


#: build-bench's quick protocol, cut to 3 steps per epoch.
PROTOCOL = {
    "name": "quick",
    "changes": {"epochs": 2, "train_subset": 96, "valid_subset": 64, "test_subset": 64},
}
ARCH = 1234  # NB201 index: a cell with convolutions and a skip
KEYS = [77, ARCH]  # build-bench's selection (sorted)
#: differentiable methods: first-order bilevel (darts), second order (darts-v2: the unrolled
#: gradient's four reductions), Gumbel sampling (gdas), arch terms (fairdarts), one-level
DIFFERENTIABLE = {
    "darts-v2": {},
    "gdas": {},
    "fairdarts": {"epochs": 1},
    "single-path": {"epochs": 1, "cost_lambda": 0.1},
}


def _differentiable_config(method: str) -> dict:
    from tests.differentiable.conftest import TINY

    return {**TINY, "method": method, "micro_batches": 2, **DIFFERENTIABLE[method]}


def _spawn(tmp, named: dict) -> tuple:
    results = _ddp.spawn(tmp / "spawn", list(named.values()))
    return tmp, dict(zip(named, zip(*results)))


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    """The supernet scenarios' results on both ranks, and the folder they ran in."""
    tmp = tmp_path_factory.mktemp("ddp")
    named = {
        name: ("supernet", (str(tmp / f"supernet-{name}"), {**SUPERNET, **case}))
        for name, case in CASES.items()
    }
    named["desync"] = ("supernet", (str(tmp / "desync"), {**SUPERNET, "epochs": 1}, 1))
    named["odd"] = ("supernet", (str(tmp / "odd"), {**SUPERNET, "micro_batches": 3}))
    named["cut"] = ("supernet_cut", (str(tmp / "cut"), SUPERNET, 1))
    return _spawn(tmp, named)


@pytest.fixture(scope="module")
def ddp_other(tmp_path_factory):
    """The build-bench and differentiable scenarios' results on both ranks, and their folder."""
    tmp = tmp_path_factory.mktemp("ddp-other")
    named = {
        "standalone": ("standalone", (PROTOCOL, ARCH, 0, 2)),
        "build_bench": ("build_bench", (str(tmp / "bench.h5"), PROTOCOL, KEYS, 2)),
    }
    for method in DIFFERENTIABLE:
        config = _differentiable_config(method)
        named[method] = ("differentiable", (str(tmp / f"diff-{method}"), config))
    return _spawn(tmp, named)


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


def test_a_run_of_2_processes_resumes_in_one_process_with_its_micro_batches(ddp, tmp_path):
    """2 processes train epoch 1 and stop; one process resumes (running both halves itself)
    and ends where one process running both epochs does."""
    from nasbench_tools.supernet.config import TrainConfig
    from nasbench_tools.supernet.train import train_supernet

    tmp, results = ddp
    assert [_ok(r) for r in results["cut"]] == [{"stopped_after": 1}] * 2
    cut = tmp / "cut"
    assert [p.name for p in sorted((cut / "checkpoints").glob("epoch-*.pt"))] == ["epoch-0001.pt"]
    # the resumed config must name the run's micro_batches (nbt --resume reads it from the run)
    with pytest.raises(TrainConfigError, match="micro_batches: 2 -> 1"):
        train_supernet(TrainConfig.from_dict({**SUPERNET, "micro_batches": None}), cut,
                       resume=True, progress=False)  # fmt: skip
    resumed = train_supernet(TrainConfig.from_dict(SUPERNET), cut, resume=True, progress=False)
    ref = _reference_supernet(tmp_path, SUPERNET)
    _assert_same_state(resumed.model.state_dict(), ref["state"])
    starts = [json.loads(line) for line in (cut / "log.jsonl").read_text().splitlines()]
    starts = [r for r in starts if r["event"] == "start"]
    assert [(r["resumed"], r["world_size"]) for r in starts] == [(False, 2), (True, 1)]


def test_only_rank_0_writes_files(ddp):
    _, results = ddp
    rank0, rank1 = (_ok(r) for r in results["spos"])
    assert rank1["writes"] == []
    written = " ".join(rank0["writes"])
    assert "epoch-0002.pt" in written and "config.json" in written and "log.jsonl" in written


def _epoch_records(log) -> list[dict]:
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return [r for r in records if r["event"] == "epoch"]


@pytest.mark.parametrize("case", CASES)
def test_every_rank_returns_rank_0s_epoch_records(ddp, case):
    """Rank 1 used to read log.jsonl while rank 0 was still appending to it, and died on a
    half-written line (benchmarks/scale.py, C=8 digits, 1 in 2 runs); now rank 0 sends them."""
    tmp, results = ddp
    rank0, rank1 = (_ok(r) for r in results[case])
    want = _epoch_records(tmp / f"supernet-{case}" / "log.jsonl")
    assert len(want) == {**SUPERNET, **CASES[case]}["epochs"]
    assert rank0["epochs"] == rank1["epochs"] == want


def test_a_rank_other_than_0_never_reads_the_log(tmp_path):
    from nasbench_tools.supernet.train import _Log

    path = tmp_path / "log.jsonl"
    path.write_text('{"event": "epoch", "epoch": 1}\n{"event": "ep')  # rank 0 mid-write
    with pytest.raises(RuntimeError, match="read only there"):
        _Log(path, enabled=False).epochs()


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


# --------------------------------------------------------------------------- build-bench
def _hand_standalone(key: int, seed: int) -> dict:
    """One process, written out here: each batch's two halves forward and backward in turn
    (loss weighted by the half's share), BN running statistics set to the mean of what each
    half alone would have made of them, one SGD step."""
    from nasbench_tools.buildbench import get_protocol
    from nasbench_tools.buildbench.train import batch_generator, build, load_splits
    from nasbench_tools.datasets import iterate_batches
    from nasbench_tools.spaces import get_space
    from nasbench_tools.supernet.train import cosine_lr

    p = get_protocol(PROTOCOL["name"]).replace(**PROTOCOL["changes"])
    splits = load_splits(p)
    model = build(get_space("nb201"), key, seed, p, splits.train)
    opt = torch.optim.SGD(
        model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
        nesterov=p.nesterov,
    )  # fmt: skip
    gen = batch_generator(seed, key)
    per_epoch = -(-len(splits.train) // p.batch_size)
    for epoch in range(p.epochs):
        model.train()
        batches = iterate_batches(
            splits.train, p.batch_size, shuffle=True, generator=gen, augment=p.augment
        )
        for i, (x, y) in enumerate(batches):
            x = x.contiguous(memory_format=torch.channels_last)
            for g in opt.param_groups:
                g["lr"] = cosine_lr(epoch * per_epoch + i, p.epochs * per_epoch, p.lr, p.lr_min)
            opt.zero_grad(set_to_none=True)
            before = {k: b.clone() for k, b in model.named_buffers()}
            after = []
            half = len(y) // 2
            for sl in (slice(0, half), slice(half, len(y))):
                with torch.no_grad():
                    for k, b in model.named_buffers():
                        b.copy_(before[k])
                loss = torch.nn.functional.cross_entropy(model(x[sl]), y[sl])
                (loss * ((sl.stop - sl.start) / len(y))).backward()
                after.append({k: b.clone() for k, b in model.named_buffers()})
            with torch.no_grad():
                for k, b in model.named_buffers():
                    if b.is_floating_point():
                        b.copy_((after[0][k] + after[1][k]) / 2)
                    else:
                        b.copy_(before[k] + 1)
            opt.step()
    return model.state_dict()


def test_ddp_standalone_network_equals_a_hand_written_two_half_accumulation(ddp_other):
    _, results = ddp_other
    want = _hand_standalone(ARCH, 0)
    for r in results["standalone"]:
        _assert_same_state(_ok(r)["state"], want)


def test_micro_batches_in_one_process_equal_the_hand_written_accumulation():
    got = _ddp.standalone(PROTOCOL, ARCH, 0, 2)
    _assert_same_state(got["state"], _hand_standalone(ARCH, 0))


def test_ddp_standalone_curves_equal_one_process_with_micro_batches(ddp_other):
    _, results = ddp_other
    ref = _ddp.standalone(PROTOCOL, ARCH, 0, 2)["curves"]
    for r in results["standalone"]:
        got = _ok(r)["curves"]
        assert len(got) == len(ref) == 2
        for (train, valid), (rtrain, rvalid) in zip(got, ref):
            for a, b in ((train, rtrain), (valid, rvalid)):
                assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1e-9)
                assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_ddp_build_bench_store_equals_one_process_and_only_rank_0_writes(ddp_other, tmp_path):
    from nasbench_tools.buildbench import BuildJob, build_benchmark, get_protocol
    from nasbench_tools.buildbench.train import Execution
    from nasbench_tools.groundtruth.store import read_store
    from nasbench_tools.spaces import get_space

    tmp, results = ddp_other
    rank0, rank1 = (_ok(r) for r in results["build_bench"])
    assert rank1["writes"] == []
    assert any("bench.h5" in w for w in rank0["writes"])
    p = get_protocol(PROTOCOL["name"]).replace(**PROTOCOL["changes"])
    job = BuildJob(
        get_space("nb201"), np.array(KEYS), (0,), p, {"keys": KEYS},
        execution=Execution(micro_batches=2), command="test",
    )  # fmt: skip
    build_benchmark(job, tmp_path / "ref.h5", progress=False)
    got, want = read_store(tmp / "bench.h5"), read_store(tmp_path / "ref.h5")
    assert got.columns.keys() == want.columns.keys()
    compared = 0
    for key, col in want.columns.items():
        if key.metric == "time":  # measured seconds
            continue
        np.testing.assert_allclose(got.columns[key].values, col.values, rtol=1e-5, err_msg=key)
        compared += 1
    assert compared > 10
    assert got.meta["micro_batches"] == 2


# --------------------------------------------------------------------------- differentiable
@pytest.mark.parametrize("method", DIFFERENTIABLE)
def test_ddp_differentiable_search_equals_one_process_with_micro_batches(
    ddp_other, tmp_path, method
):
    """Weights and alpha after the search, to the supernets' tolerance. GDAS's second epoch
    (tau = 0.1) guards the Gumbel sample's gradient: computed by autograd's softmax backward it
    was rounding noise, different for the summed gradient (one process) and the two ranks'
    gradients summed, and one alpha entry ended 4.3e-5 off (see
    ``weights.straight_through_softmax``)."""
    from nasbench_tools.differentiable.config import SearchConfig
    from nasbench_tools.differentiable.search import run_search

    tmp, results = ddp_other
    rank0, rank1 = (_ok(r) for r in results[method])
    assert rank1["writes"] == [] and any("result.json" in w for w in rank0["writes"])
    history = _epoch_records(tmp / f"diff-{method}" / "log.jsonl")
    assert rank0["history"] == rank1["history"] == history and history
    config = SearchConfig.from_dict(_differentiable_config(method))
    ref = run_search(config, tmp_path / "ref", progress=False, ground_truths=())
    assert rank0["selected"] == rank1["selected"] == ref.result["selected"]["arch"]
    name = sorted((tmp_path / "ref" / "checkpoints").glob("epoch-*.pt"))[-1].name
    got = torch.load(tmp / f"diff-{method}" / "checkpoints" / name, weights_only=True)
    want = torch.load(tmp_path / "ref" / "checkpoints" / name, weights_only=True)
    _assert_same_state(got["model"], want["model"])


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
