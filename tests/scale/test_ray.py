"""``--ray``: ``nbt score``, ``nbt build-bench`` and ``nbt search`` run as tasks on a local Ray
write what a local run writes, and a worker killed mid-task is retried without losing or
duplicating a result.

Local references run with one torch thread, as every Ray task does. Skipped without Ray.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("ray")

from nasbench_tools._ray import RayRunError, gpus_per_task, ray_map
from nasbench_tools.cli.__main__ import main
from nasbench_tools.groundtruth.store import read_store
from nasbench_tools.scores import ScoreTable
from nasbench_tools.search import read_trajectories

from . import _crash_proxy
from ._tasks import bad_item, die_once

KEYS = [3, 11, 40, 284, 1000, 6111, 9000, 12000]


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def crash_proxy():
    _crash_proxy.register()
    yield _crash_proxy
    _crash_proxy.unregister()


def _calls(marks) -> dict[int, int]:
    out: dict[int, int] = {}
    for p in marks.glob("call-*"):
        key = int(p.name.split("-")[1])
        out[key] = out.get(key, 0) + 1
    return out


def _score(tmp_path, name: str, proxies: str, *extra: str) -> list[str]:
    archs = tmp_path / "archs.txt"
    archs.write_text("\n".join(map(str, KEYS)) + "\n")
    return [
        "score", "--proxy", proxies, "--archs-file", str(archs), "--seed", "5",
        "--option", "C=4", "--option", "N=1", "--no-progress", "--out", str(tmp_path / name),
        *extra,
    ]  # fmt: skip


def _same_table(tmp_path, a: str, b: str) -> None:
    assert (tmp_path / a).read_bytes() == (tmp_path / b).read_bytes()
    side = [json.loads((tmp_path / f"{n}.meta.json").read_text()) for n in (a, b)]
    assert side[0] == side[1]


def test_ray_score_of_a_data_proxy_equals_the_local_table(ray_local, tmp_path, one_thread):
    data = ("--data", "digits", "--data-subset", "64")
    assert main(_score(tmp_path, "local.csv", "synflow,snip", *data, "--threads", "1")) == 0
    assert main(_score(tmp_path, "ray.csv", "synflow,snip", *data, "--ray")) == 0
    _same_table(tmp_path, "local.csv", "ray.csv")
    table = ScoreTable.read(tmp_path / "ray.csv")
    assert table.keys.tolist() == KEYS and np.isfinite(table.scores["snip"]).all()


def test_a_ray_worker_killed_mid_task_is_retried_into_the_local_table(
    ray_local, tmp_path, crash_proxy
):
    name = crash_proxy.NAME
    assert main(_score(tmp_path, "local.csv", name)) == 0  # in this process: never crashes
    assert not (ray_local / "crashed").exists()
    assert main(_score(tmp_path, "ray.csv", name, "--ray")) == 0
    assert (ray_local / "crashed").exists(), "the worker was not killed: the test tests nothing"
    _same_table(tmp_path, "local.csv", "ray.csv")
    table = ScoreTable.read(tmp_path / "ray.csv")
    assert table.keys.tolist() == KEYS
    assert table.scores[name].tolist() == [k / 2 for k in KEYS]
    calls = _calls(ray_local)
    assert calls.pop(crash_proxy.CRASH_KEY) == 2, "the killed task ran once more"
    assert calls == dict.fromkeys(set(KEYS) - {crash_proxy.CRASH_KEY}, 1)
    assert not (tmp_path / "ray.csv.journal").exists()


def test_ray_map_yields_every_item_once_though_a_worker_dies(ray_local, tmp_path):
    got = list(ray_map(die_once, range(10), what="t", context=tmp_path, per_task=2))
    assert sorted(got) == [(i, i * i) for i in range(10)]
    assert (tmp_path / "died-3").exists()


def test_a_task_killed_past_its_retries_is_a_named_error(ray_local, tmp_path):
    with pytest.raises(RayRunError, match=r"^test run: a Ray task failed 1 times.*run the same"):
        list(ray_map(die_once, [1, 3], what="test run", context=tmp_path, max_retries=0))


def test_an_error_of_the_work_is_raised_as_itself_not_retried(ray_local, tmp_path):
    from nasbench_tools.errors import InvalidArchError

    with pytest.raises(InvalidArchError, match="^architecture 7 is not one$"):
        list(ray_map(bad_item, [7], what="t"))


def test_ray_score_progress_counts_every_architecture_once(ray_local, tmp_path):
    from nasbench_tools.proxies.scoring import ScoreJob, run_scoring, select_keys
    from nasbench_tools.spaces import get_space

    space = get_space("nb201")
    keys, sel = select_keys(space, KEYS)
    job = ScoreJob(space, keys, ("params",), sel, options={"C": 4, "N": 1})
    seen = []
    table = run_scoring(job, tmp_path / "t.csv", progress=seen.append, ray="local")
    assert sum(seen) == len(KEYS) and len(seen) == len(KEYS)  # one update per finished part
    assert table.keys.tolist() == KEYS


def test_tasks_asking_for_a_gpu_the_cluster_lacks_are_refused_not_left_waiting(ray_local):
    assert gpus_per_task("cuda") == gpus_per_task("cuda:0") == 1
    assert gpus_per_task("cpu") == 0 and gpus_per_task("auto") == 0  # this Ray has no GPU
    with pytest.raises(RayRunError, match=r"^gpu run: each task needs 1 GPU\(s\) .* has 0"):
        list(ray_map(die_once, [1], what="gpu run", num_gpus=1))


def test_ray_search_writes_the_local_trajectories(ray_local, tmp_path):
    argv = [
        "search", "--strategy", "rea", "--protocol", "nb201-cifar10", "--budget", "1500s",
        "--repeats", "30", "--seed", "3", "--no-progress",
    ]  # fmt: skip
    assert main([*argv, "-o", str(tmp_path / "local.npz")]) == 0
    assert main([*argv, "-o", str(tmp_path / "ray.npz"), "--ray"]) == 0
    a, b = (read_trajectories(tmp_path / n) for n in ("local.npz", "ray.npz"))
    assert a.header == b.header
    assert b.n_runs == 30 and len(set(b.r_seed.tolist())) == 30
    for field in ("q_run", "q_key", "q_signal", "q_cost", "q_clock", "q_report", "q_late",
                  "r_seed", "r_answer", "r_stop"):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert (tmp_path / "local.npz").read_bytes() == (tmp_path / "ray.npz").read_bytes()
    assert not (tmp_path / "ray.npz.parts").exists()


@pytest.mark.slow
def test_ray_build_bench_writes_the_local_store(ray_local, tmp_path):
    argv = [
        "build-bench", "--preset", "quick", "--sample", "2", "--seed", "0", "--per-class",
        "--seeds", "0,1", "--no-progress",
    ]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "local.h5")]) == 0
    assert main([*argv, "--out", str(tmp_path / "ray.h5"), "--ray"]) == 0
    a, b = (read_store(tmp_path / n) for n in ("local.h5", "ray.h5"))
    assert a.keys.tolist() == b.keys.tolist() and a.columns.keys() == b.columns.keys()
    for key, col in a.columns.items():
        if key.metric != "time":  # measured seconds differ between any two builds
            np.testing.assert_array_equal(col.values, b.columns[key].values, err_msg=str(key))
    own = ("command", "source_name")  # the command line and the file's name
    assert {k: v for k, v in a.meta.items() if k not in own} == {
        k: v for k, v in b.meta.items() if k not in own
    }
