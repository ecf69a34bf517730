"""Search strategies on the embedded NB201 data: wall time of ``nbt search``, and the per-query
cost of the search oracle against the NATS-Bench API on the same folder.

Measured in one run:

1. ``nbt search`` (a fresh process each: import, oracle build, runs, writing the file), under the
   NAS-Bench-201 protocol (``--protocol nb201-cifar10``: 12-epoch signal, 12,000 simulated s):
   500 runs each of random search, regularized evolution and REINFORCE; then WeakNAS with its
   default predictor (``--protocol weaknas-nb201-cifar10``), 100 runs x 1,000 queries, with the
   per-iteration predictor tracking on (the default). Acceptance: the three NB201 searches
   together under 2 minutes, WeakNAS under 30 minutes.
2. The per-query cost of the oracle (``Session.query``) against a loop over the NATS-Bench API's
   ``get_more_info(index, "cifar10-valid", hp="12", is_random=True)`` (what the reference code's
   ``simulate_train_eval`` reads per query: a random seed's 12-epoch accuracy and times), on one
   ``NATS-tss-v1_0-3ffb9-simple`` folder of ``--archs`` architectures built as
   ``benchmarks/ground_truth_nb201.py`` builds it; our oracle reads that same folder
   (``Oracle.build`` with the folder as the target). Both sides query the same random sequence of
   architectures after every architecture was queried once (warm); the "ready to search" row is
   our oracle's build against ``nats_bench.create`` plus the first query of every architecture.
   The values are checked against each other (seed means, ``is_random=False``).

Run: ``python benchmarks/search.py`` (about 25 minutes on 2 shared cores; ``--out DIR`` keeps the
trajectory files, which ``benchmarks/search_reproduction.py --out DIR`` reuses;
``--runs 50 --weaknas-repeats 2`` for a quick check).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import acceptance_line, fmt_s, table_header, table_row, timeit

FOLDER_NAME = "NATS-tss-v1_0-3ffb9-simple"
ACCEPT = {"nb201_three_s": 120.0, "weaknas_s": 1800.0}
WIDTHS = (44, 15, 12, 10)
#: Queries per timed batch in the per-query comparison.
N_QUERIES = 2000


def nbt_search(out: Path, name: str, args: list[str]) -> dict:
    """Run ``nbt search ARGS -o OUT/NAME.npz`` in a fresh process; its wall time."""
    path = out / f"{name}.npz"
    path.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".parts"), ignore_errors=True)  # no resuming
    cmd = [sys.executable, "-m", "nasbench_tools.cli", "search", *args, "-o", str(path)]
    print("$ nbt search " + " ".join(args) + f" -o {path}", file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        raise RuntimeError(f"nbt search {name} failed (exit {res.returncode})")
    from nasbench_tools.search import read_trajectories

    t = read_trajectories(path)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "runs": t.n_runs,
        "queries": int(t.queries_per_run().sum()),
        "file": str(path),
    }


def timed_searches(out: Path, runs: int, weaknas_repeats: int) -> dict:
    common = ["--seed", "0", "--no-progress"]
    r = {}
    for s in ("random", "rea", "reinforce"):
        r[s] = nbt_search(
            out,
            f"nb201-cifar10-{s}",
            ["--strategy", s, "--protocol", "nb201-cifar10", "--repeats", str(runs), *common],
        )
    r["weaknas"] = nbt_search(
        out,
        "weaknas-nb201-cifar10-weaknas",
        [
            "--strategy",
            "weaknas",
            "--protocol",
            "weaknas-nb201-cifar10",
            "--budget",
            "1000",
            "--repeats",
            str(weaknas_repeats),
            *common,
        ],
    )
    return r


def per_query(folder: Path, n: int) -> dict:
    """Our oracle's query against NATS's ``get_more_info`` on ``folder`` (archs ``0..n-1``)."""
    import nats_bench

    from nasbench_tools.search import Budget, CostSpec, Measure, Oracle

    rows = np.random.default_rng(0).integers(n, size=N_QUERIES)
    ds = "cifar10-valid"
    t0 = time.perf_counter()
    api = nats_bench.create(str(folder), "tss", fast_mode=True, verbose=False)
    for i in range(n):
        api.get_more_info(i, ds, hp="12", is_random=True)
    nats_ready = time.perf_counter() - t0

    def nats_batch():
        for i in rows:
            api.get_more_info(int(i), ds, hp="12", is_random=True)

    t0 = time.perf_counter()
    oracle = Oracle.build(
        Measure(str(folder), ds, "x-valid", 12, seed="draw"),
        Measure(str(folder), ds, "ori-test", 200),
        CostSpec(str(folder), ds, 12),
    )
    ours_ready = time.perf_counter() - t0
    # the oracle's rows are its pool's order; an NB201 key is the NATS-Bench index
    pos = {int(k): r for r, k in enumerate(oracle.domain.keys)}
    our_rows = [pos[int(i)] for i in rows]
    gen = np.random.default_rng(1)

    def ours_batch():
        s = oracle.session(Budget(queries=N_QUERIES), gen)
        for r in our_rows:
            s.query(r)

    nats_q = timeit(nats_batch, 5, 1) / N_QUERIES
    ours_q = timeit(ours_batch, 5, 1) / N_QUERIES
    nats_mean = np.array(
        [api.get_more_info(i, ds, hp="12", is_random=False)["valid-accuracy"] for i in range(n)]
    )
    ours_mean = np.array([oracle.signal_mean[pos[i]] for i in range(n)])
    return {
        "archs": n,
        "queries": N_QUERIES,
        "nats_query_s": nats_q,
        "ours_query_s": ours_q,
        "nats_ready_s": nats_ready,
        "ours_ready_s": ours_ready,
        "max_abs_diff_mean": float(np.max(np.abs(nats_mean - ours_mean))),
        "seeds": oracle.declaration["signal"]["seeds_available"],
    }


def report(r: dict) -> str:
    t, q = r["searches"], r["per_query"]
    lines = [
        "nbt search wall time (fresh process: import, oracle build, runs, file), and its CPU time "
        "(user + system; the wall time grows with the machine's other load, the CPU time less so)"
    ]
    for s, what in (
        ("random", "random search"),
        ("rea", "regularized evolution"),
        ("reinforce", "REINFORCE"),
    ):
        x = t[s]
        lines.append(
            f"  nb201-cifar10 12,000 s, {what:22s} {x['runs']:4d} runs  {x['queries']:7,d} "
            f"queries  {x['wall_s']:7.1f} s (CPU {x['cpu_s']:.1f} s)"
        )
    cpu3 = sum(t[s]["cpu_s"] for s in ("random", "rea", "reinforce"))
    lines.append(f"  the three together: {r['nb201_three_s']:.1f} s (CPU {cpu3:.1f} s)")
    w = t["weaknas"]
    lines += [
        f"  weaknas-nb201-cifar10, WeakNAS (mlp-fast)  {w['runs']:4d} runs  {w['queries']:7,d} "
        f"queries  {w['wall_s']:7.1f} s (CPU {w['cpu_s']:.1f} s; "
        f"{w['wall_s'] / max(w['runs'], 1):.1f} s per run)",
        "",
        f"Per-query cost on one NATS-tss folder of {q['archs']:,} archs (cifar10-valid x-valid, "
        f"12 epochs, a random seed per query; {q['queries']:,} queries, median of 5 batches)",
        table_header(WIDTHS, "NATS API"),
        table_row(WIDTHS, "one query (warm)", q["ours_query_s"], q["nats_query_s"], fmt_s),
        table_row(
            WIDTHS, "ready to search (open + every arch once)", q["ours_ready_s"], q["nats_ready_s"]
        ),
        f"seeds in the folder's 12-epoch column: {q['seeds']}; max |ours - NATS| of the seed "
        f"means: {q['max_abs_diff_mean']:.3g}",
        acceptance_line(r["acceptance"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="keep the trajectory files here (created)")
    p.add_argument("--runs", type=int, default=500, help="runs of RS, REA and REINFORCE")
    p.add_argument("--weaknas-repeats", type=int, default=100)
    p.add_argument("--archs", type=int, default=200, help="archs in the built NATS folder")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ground_truth_nb201 import build_folder

    tmp = tempfile.TemporaryDirectory(prefix="nbt-bench-search-")
    out = args.out or Path(tmp.name) / "runs"
    out.mkdir(parents=True, exist_ok=True)
    try:
        r: dict = {"searches": timed_searches(out, args.runs, args.weaknas_repeats)}
        r["nb201_three_s"] = sum(r["searches"][s]["wall_s"] for s in ("random", "rea", "reinforce"))
        folder = Path(tmp.name) / FOLDER_NAME
        build_folder(folder, args.archs)
        r["per_query"] = per_query(folder, args.archs)
        full = args.runs >= 500 and args.weaknas_repeats >= 100
        r["acceptance"] = {
            "RS+REA+REINFORCE<2min": r["nb201_three_s"] < ACCEPT["nb201_three_s"],
            "WeakNAS<30min": r["searches"]["weaknas"]["wall_s"] < ACCEPT["weaknas_s"],
            "full-size": full,
        }
        print(report(r))
        if args.json:
            args.json.write_text(json.dumps(r, indent=2))
        return r
    finally:
        tmp.cleanup()


if __name__ == "__main__":
    main()
