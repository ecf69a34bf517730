"""Running searches: answers are queried and paid for, seeds, resuming after a kill."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.search import (
    Budget,
    SearchError,
    list_strategies,
    read_trajectories,
    run_search,
    run_searches,
    run_seeds,
)
from nasbench_tools.search import run as run_module

from .conftest import SMALL, synthetic_gt, synthetic_oracle


@pytest.fixture(scope="module")
def small():
    return synthetic_oracle(synthetic_gt("nb201", n=300))


@pytest.mark.parametrize("strategy", list_strategies())
def test_the_answer_is_a_query_that_finished_within_the_budget(small, strategy):
    t = run_searches(
        small,
        strategy,
        Budget(seconds=1000),
        repeats=6,
        seed=1,
        progress=False,
        options=SMALL[strategy],
    )
    for i in range(t.n_runs):
        sl = t.run_slice(i)
        a = int(t.r_answer[i])
        assert a >= 0 and not t.q_late[sl][a]
        ok = ~t.q_late[sl]
        assert t.q_signal[sl][a] == t.q_signal[sl][ok].max()
        # no free query: the clock is the sum of every cost charged, the late one included
        np.testing.assert_allclose(t.q_clock[sl], np.cumsum(t.q_cost[sl]), rtol=1e-12)
        assert t.q_clock[sl][ok][-1] <= 1000 < t.q_clock[sl][-1] or not t.q_late[sl].any()
        assert t.q_late[sl][:-1].sum() == 0  # only the crossing query can be late


def test_query_budget_is_exact(small):
    t = run_searches(small, "rea", Budget(queries=37), repeats=4, seed=0, progress=False)
    assert t.queries_per_run().tolist() == [37] * 4 and not t.q_late.any()


def test_report_values_are_the_oracles(small):
    t = run_search(small, "random", Budget(queries=30), seed=0)
    rows = [small.domain.row_of_key(k) for k in t.q_key]
    np.testing.assert_array_equal(t.q_report, small.report[rows])
    np.testing.assert_array_equal(t.q_signal, small.signal_mean[rows])


def test_run_seeds_are_a_prefix_of_more_runs_and_differ_by_base_seed():
    a, b = run_seeds(0, 5), run_seeds(0, 500)
    np.testing.assert_array_equal(a, b[:5])
    assert len(set(b.tolist())) == 500
    assert not set(run_seeds(1, 5).tolist()) & set(a.tolist())


def test_a_run_is_reproduced_from_its_own_seed(small):
    t = run_searches(small, "rea", Budget(queries=30), repeats=3, seed=4, progress=False)
    one = run_search(small, "rea", Budget(queries=30), seed=int(t.r_seed[2]))
    np.testing.assert_array_equal(one.q_key, t.q_key[t.run_slice(2)])


def test_seed_is_required(small):
    with pytest.raises(SearchError, match="seed is required"):
        run_search(small, "random", Budget(queries=3), seed=None)
    with pytest.raises(SearchError, match="seed is required"):
        run_searches(small, "random", Budget(queries=3), repeats=2, seed=None)


def test_resume_after_an_interruption_gives_the_same_file(small, tmp_path, monkeypatch):
    full = tmp_path / "full.npz"
    run_searches(small, "rea", Budget(queries=20), repeats=60, seed=0, out=full, progress=False)
    out = tmp_path / "resumed.npz"
    calls = {"n": 0}
    real = run_module._one

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] > 30:  # killed in the middle of the second chunk
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(run_module, "_one", dying)
    with pytest.raises(KeyboardInterrupt):
        run_searches(small, "rea", Budget(queries=20), repeats=60, seed=0, out=out, progress=False)
    assert not out.exists() and (tmp_path / "resumed.npz.parts" / "chunk-00000.npz").exists()
    calls["n"] = 0
    monkeypatch.setattr(
        run_module,
        "_one",
        lambda *a, **k: (calls.__setitem__("n", calls["n"] + 1), real(*a, **k))[1],
    )
    run_searches(small, "rea", Budget(queries=20), repeats=60, seed=0, out=out, progress=False)
    assert calls["n"] == 35  # the first chunk (25 runs) was reused
    assert out.read_bytes() == full.read_bytes()
    assert not (tmp_path / "resumed.npz.parts").exists()


def test_leftover_chunks_of_another_search_are_refused(small, tmp_path, monkeypatch):
    out = tmp_path / "x.npz"
    parts = tmp_path / "x.npz.parts"
    parts.mkdir()
    other = run_searches(small, "random", Budget(queries=5), repeats=25, seed=0, progress=False)
    from nasbench_tools.search.trajectory import write_trajectories

    write_trajectories(other, parts / "chunk-00000.npz")
    with pytest.raises(SearchError, match="different search"):
        run_searches(small, "rea", Budget(queries=5), repeats=25, seed=0, out=out, progress=False)


def test_existing_output_needs_overwrite(small, tmp_path):
    out = tmp_path / "x.npz"
    out.write_bytes(b"")
    with pytest.raises(SearchError, match="exists"):
        run_searches(small, "random", Budget(queries=5), repeats=2, seed=0, out=out, progress=False)
    run_searches(
        small,
        "random",
        Budget(queries=5),
        repeats=2,
        seed=0,
        out=out,
        overwrite=True,
        progress=False,
    )
    assert read_trajectories(out).n_runs == 2
