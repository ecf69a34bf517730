"""Scale-out on this machine: the speed-up of 2 Ray workers over 1 for ``nbt score`` and for
search repeats, and of 2 DDP processes over 1 for supernet training. Every ratio is against the
1-worker baseline measured in the same run; efficiency = speed-up / workers.

Measured (each with 1, then 2 workers):

1. ``score, data-free``: synflow (the benchmark network, C=16, N=5, on one 32x32 all-ones image)
   over ``--archs`` (300) NB201 architectures, a seeded sample; ``run_scoring(..., ray=...)``.
2. ``score, data``: snip on scikit-learn digits (batch 64, C=16, N=5 at 8x8) over ``--zc-archs``
   (100) architectures.
3. ``search``: ``--repeats`` (500, NB201's count, and 4,000) regularized-evolution runs under
   ``--protocol nb201-cifar10`` (its 12,000 simulated seconds); ``run_searches(..., ray=...)``.
   A run takes about 6 ms here (500 runs: 2.7 s in this process, measured 2026-11-30), and
   each Ray worker unpickles the oracle (2.1 MB) once per command (0.1 s), so a few hundred
   repeats are barely worth fanning out.
4. ``training, DDP``: ``torchrun --standalone --nproc_per_node W -m nasbench_tools.cli
   train-supernet ... --micro-batches 2`` (SPOS NB201 supernet, batch 64, one torch thread per
   process), W = 1 and 2: both do the same arithmetic (two micro-batches per step; one process
   runs both, two processes one each), and the time is the training epochs' seconds as the run
   logs them (start-up and data loading excluded). At each size of ``--ddp-sizes`` (see
   ``DDP_SIZES``): ``digits`` (C=8, N=1 on 8x8 digits: a step's computation is as short as its
   communication), ``fmnist`` (C=16, N=1 on Fashion-MNIST at 16x16, the supernet of the README's
   example) and ``fmnist-paper`` (C=16, N=5 on Fashion-MNIST at 32x32, NB201's network size).
   On this virtual machine the same run varies by up to 40 % from one minute to the next
   (synflow on 1 worker: 17.0 to 23.7 s, measured 2026-11-30), so every
   measurement (Ray's too) is run ``--runs`` (3) times, 1 and 2 workers alternated, and the
   median taken.
   The Fashion-MNIST sizes need its idx files (``--data-root``; Debian's
   ``dataset-fashion-mnist``) and are skipped, saying so, without them. Skipped, saying so,
   where this nasbench_tools has no data-parallel trainer (no
   ``nasbench_tools.nn.distributed`` or no ``--micro-batches`` option of ``train-supernet``).

Ray: for each worker count and run a fresh local Ray with that many CPUs (start-up not timed), one
untimed warm-up run (the workers import torch and fetch the job once), then the timed run; every
task holds one CPU and one torch thread. The same work in this process, without Ray, is printed
beside it (``in-process``), so the fixed cost of Ray shows too. The load average is printed
with each measurement: other processes on the cores lower every ratio.

Run: ``python benchmarks/scale.py`` on a quiet machine (about 15 minutes on 2 cores);
``--tiny`` for a check that the script works (sizes too small for meaningful ratios).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Efficiency below which the table explains where the time went.
EXPLAIN_BELOW = 0.8


def _load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


@contextlib.contextmanager
def _local_ray(cpus: int):
    import ray

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


# ----------------------------------------------------------------------------- workloads
def _score_job(proxy: str, n: int, data: bool):
    from nasbench_tools import datasets
    from nasbench_tools.proxies.scoring import ScoreJob, select_keys
    from nasbench_tools.spaces import get_space

    space = get_space("nb201")
    keys, selection = select_keys(space, "all", sample=n, seed=0)
    options = {"C": 16, "N": 5}
    d = datasets.load("digits", "train") if data else None
    return ScoreJob(space, keys, (proxy,), selection, data=d, seed=0, options=options)


def _score(proxy: str, n: int, data: bool, ray: str | None, tmp: Path) -> float:
    from nasbench_tools.proxies.scoring import run_scoring

    job = _score_job(proxy, n, data)
    out = tmp / f"{proxy}-{n}-{time.perf_counter_ns()}.csv"
    t0 = time.perf_counter()
    run_scoring(job, out, progress=False, ray=ray)
    return time.perf_counter() - t0


def _search(repeats: int, ray: str | None, tmp: Path) -> float:
    from nasbench_tools.search import get_protocol, run_searches

    proto = get_protocol("nb201-cifar10")
    oracle = proto.build()
    out = tmp / f"rea-{repeats}-{time.perf_counter_ns()}.npz"
    t0 = time.perf_counter()
    run_searches(
        oracle, "rea", proto.budget, repeats=repeats, seed=0, out=out, progress=False, ray=ray
    )
    return time.perf_counter() - t0


def _ray_times(workloads: dict, workers: tuple[int, ...], repeats: int = 1) -> dict:
    """Seconds of every workload ``(work, warm)`` in this process, then on a local Ray of each
    worker count (one Ray start per count and repeat, not timed; the counts alternated, so a slow
    spell of the host hits each): ``{name: {"in-process" | w: median s}}``."""
    import torch

    torch.set_num_threads(1)
    times: dict = {name: {} for name in workloads}
    for name, (work, warm) in workloads.items():
        warm(None)
        times[name]["in-process"] = work(None)
        print(f"  {name}: in-process {times[name]['in-process']:.1f} s ({_load()})", flush=True)
    runs: dict = {name: {w: [] for w in workers} for name in workloads}
    for rep in range(repeats):
        for w in workers:
            with _local_ray(w):
                for name, (work, warm) in workloads.items():
                    warm("local")
                    runs[name][w].append(work("local"))
                    print(f"  {name}: {w} Ray worker(s), run {rep + 1}: {runs[name][w][-1]:.1f} s "
                          f"({_load()})", flush=True)  # fmt: skip
    for name in workloads:
        times[name].update({w: statistics.median(t) for w, t in runs[name].items()})
    return times


# ----------------------------------------------------------------------------- DDP
def ddp_missing() -> str | None:
    """Why the DDP measurement cannot run here (``None``: it can)."""
    if importlib.util.find_spec("nasbench_tools.nn.distributed") is None:
        return "nasbench_tools.nn.distributed does not exist (no data-parallel trainer yet)"
    from nasbench_tools.cli.__main__ import build_parser

    sub = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command")
    options = sub.choices["train-supernet"]._option_string_actions
    if "--micro-batches" not in options:
        return "`nbt train-supernet` has no --micro-batches option (no data-parallel trainer)"
    return None


#: DDP sizes: train-supernet flags besides the common ones, and the images trained per epoch.
DDP_SIZES = {
    "digits": {"flags": ["--dataset", "digits", "--C", "8", "--N", "1"], "subset": 1024},
    "fmnist": {
        "flags": ["--dataset", "fashion-mnist", "--resize", "16", "--C", "16", "--N", "1"],
        "subset": 4096,
    },
    "fmnist-paper": {
        "flags": ["--dataset", "fashion-mnist", "--resize", "32", "--C", "16", "--N", "5"],
        "subset": 1024,
    },
}
FMNIST_DEFAULT = "/usr/share/datasets/fashion-mnist"


def _ddp(procs: int, size: str, epochs: int, tmp: Path, data_root: str) -> float:
    out = tmp / f"ddp-{size}-{procs}-{time.perf_counter_ns()}"
    spec = DDP_SIZES[size]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={procs}", "-m", "nasbench_tools.cli", "train-supernet",
        "--out", str(out), *spec["flags"], "--subset", str(spec["subset"]),
        "--epochs", str(epochs), "--batch-size", "64", "--sampler", "spos", "--seed", "0",
        "--threads", "1", "--micro-batches", "2", "--no-progress",
    ]  # fmt: skip
    if "fashion-mnist" in spec["flags"]:
        cmd += ["--data-root", data_root, "--valid-subset", "256"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"DDP run failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return sum(r["seconds"] for r in log if r.get("event") == "epoch")


def _fmnist_missing(root: str) -> str | None:
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    have = (
        {p.name.removesuffix(".gz") for p in Path(root).glob("*")} if Path(root).is_dir() else set()
    )
    if set(names) <= have:
        return None
    return f"no Fashion-MNIST idx files in {root} (apt-get install dataset-fashion-mnist)"


# ----------------------------------------------------------------------------- table
def _row(what: str, times: dict, workers: int = 2) -> str:
    base, t = times[1], times[workers]
    speedup = base / t
    eff = speedup / workers
    local = times.get("in-process")
    extra = f"  in-process {local:7.1f} s" if local is not None else ""
    return (
        f"{what:28s} 1 worker {base:7.1f} s  {workers} workers {t:7.1f} s  "
        f"speed-up {speedup:4.2f}x  efficiency {eff:4.2f}{extra}"
    )


EXPLANATION = """\
Where the efficiency falls short of 1 (read with the load averages above):
  - other processes on the 2 cores take CPU from the 2-worker run, not from the 1-worker one
    (a load average above 2 means the workers did not have a core each);
  - Ray: the tasks' fixed costs (scheduling, the job's context fetched by each worker once, the
    results sent back) and the driver's journal, one fsync-ed line per finished part, in this
    process while the workers compute; the last tasks leave one worker idle (load imbalance:
    architectures differ in cost);
  - DDP: four collectives per step (the draws' check, the BN running statistics' sum and the
    gradient all-reduce's two; gloo over TCP), where a step waits for the slower rank; and the
    part of a forward that does not shrink with the batch (Python calls of every module), so
    half a batch costs more than half the time; on small networks the collectives' latency
    is as long as a step's computation."""


def _ddp_rows(size: str, args, tmp: Path) -> list[str]:
    if "fashion-mnist" in DDP_SIZES[size]["flags"] and (why := _fmnist_missing(args.data_root)):
        print(f"DDP {size} skipped: {why}")
        return []
    runs: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(args.runs):  # alternated, so a slow spell of the host hits both
        for w in (1, 2):
            runs[w].append(_ddp(w, size, args.epochs, tmp, args.data_root))
            print(f"  DDP {size} {w} process(es), run {rep + 1}: {runs[w][-1]:.1f} s training "
                  f"({_load()})", flush=True)  # fmt: skip
    times = {w: statistics.median(t) for w, t in runs.items()}
    return [_row(f"DDP {size} ({args.epochs} ep){_median(args.runs)}", times)]


def _median(runs: int) -> str:
    return f" (median of {runs})" if runs > 1 else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", type=int, default=300, help="architectures for the data-free proxy")
    p.add_argument("--zc-archs", type=int, default=100, help="architectures for snip on digits")
    p.add_argument("--repeats", default="500,4000",
                   help="comma-separated REA repeat counts, one workload each")  # fmt: skip
    p.add_argument("--epochs", type=int, default=2, help="supernet training epochs (DDP)")
    p.add_argument(
        "--ddp-sizes",
        default=",".join(DDP_SIZES),
        help=f"comma-separated DDP sizes from {', '.join(DDP_SIZES)}",
    )
    p.add_argument("--runs", type=int, default=3,
                   help="runs of each measurement (1 and 2 workers alternated; the median)")  # fmt: skip
    p.add_argument("--data-root", default=FMNIST_DEFAULT, help="Fashion-MNIST idx files (DDP)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes: check that the script runs")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: score,search,ddp")
    args = p.parse_args(argv)
    if args.tiny:
        args.archs, args.zc_archs, args.repeats, args.epochs = 6, 4, "4", 1
        args.ddp_sizes, args.runs = "digits", 1
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sizes = [s.strip() for s in args.ddp_sizes.split(",") if s.strip()]
    try:
        repeat_counts = [int(r) for r in str(args.repeats).split(",") if r.strip()]
    except ValueError:
        p.error(f"--repeats: comma-separated integers expected, got {args.repeats!r}")
    if not repeat_counts or min(repeat_counts) < 1:
        p.error(f"--repeats: counts of at least 1 expected, got {args.repeats!r}")
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")
    unknown = [s for s in sizes if s not in DDP_SIZES]
    if unknown:
        p.error(f"--ddp-sizes: unknown size(s) {', '.join(unknown)}; known: {', '.join(DDP_SIZES)}")
    print(f"benchmarks/scale.py on {os.cpu_count()} CPUs; {_load()}", flush=True)
    rows, explain = [], False
    tmp = Path(tempfile.mkdtemp(prefix="nbt-scale-"))
    try:
        have_ray = importlib.util.find_spec("ray") is not None
        if not have_ray and not skip >= {"score", "search"}:
            print("Ray parts skipped: Ray is not installed (pip install 'nasbench-tools[ray]')")
        workloads = {}
        if have_ray and "score" not in skip:
            n_warm = max(2, min(8, args.archs // 10))
            workloads[f"score synflow x {args.archs}"] = (
                lambda ray: _score("synflow", args.archs, False, ray, tmp),
                lambda ray: _score("synflow", n_warm, False, ray, tmp),
            )
            workloads[f"score snip x {args.zc_archs}"] = (
                lambda ray: _score("snip", args.zc_archs, True, ray, tmp),
                lambda ray: _score("snip", min(n_warm, args.zc_archs), True, ray, tmp),
            )
        if have_ray and "search" not in skip:
            for n in repeat_counts:
                workloads[f"search REA x {n}"] = (
                    lambda ray, n=n: _search(n, ray, tmp),
                    lambda ray: _search(2, ray, tmp),
                )
        if workloads:
            for name, times in _ray_times(workloads, (1, 2), args.runs).items():
                rows.append(_row(name + _median(args.runs), times))
        if "ddp" not in skip:
            why = ddp_missing()
            if why:
                print(
                    f"DDP skipped: {why}. Expected entry point: torchrun --nproc_per_node W "
                    "-m nasbench_tools.cli train-supernet ... --micro-batches M"
                )
            else:
                for size in sizes:
                    rows += _ddp_rows(size, args, tmp)
        print("\nspeed-up of 2 workers over 1 (efficiency = speed-up / 2):")
        for r in rows:
            print("  " + r)
            explain |= float(r.split("efficiency ")[1].split()[0]) < EXPLAIN_BELOW
        if explain:
            print(EXPLANATION)
        if args.tiny:
            print("(--tiny: sizes for checking the script, not for the figures)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
