"""Zero-cost proxies: the fused pass against one proxy at a time, against one training step, and
the throughput of ``nbt score``; optionally our synflow against NAS-Bench-Suite-Zero's.

Every number printed is measured in this run, on this machine (one torch thread by default).

1. Per architecture (NB201 benchmark network, C=16, N=5, a batch of 64 Fashion-MNIST images
   resized to 32x32 with 3 channels, 10 classes): the time of one training step (forward,
   backward, SGD step: the unit the issue uses), of all proxies but GraSP in one fused call, of
   GraSP alone, of the full set fused, and of the same proxies one at a time (one call per
   proxy, each building its network). Scores of the two ways are checked equal (relative 1e-6).
2. ``nbt score`` throughput (archs/s) over a sample, synflow alone and the full set, end to end
   through the journal and the table writer; the synflow rate is extrapolated to all 15,625
   architectures.
3. ``--synflow-check``: our synflow on NAS-Bench-Suite-Zero's 724 CIFAR-10 architectures against
   their stored synflow (Spearman), data-free, 3x32x32 input, 10 classes. A few minutes.

Run: ``PYTHONPATH=. python benchmarks/proxies.py [--archs 3] [--sample 8] [--synflow-check]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nasbench_tools import datasets
from nasbench_tools.nn.nb201 import NB201Network
from nasbench_tools.proxies import PROXIES, ScoreRequest, compute_scores
from nasbench_tools.proxies.scoring import ScoreJob, run_scoring, select_keys
from nasbench_tools.proxies.zero_cost import draw_batch
from nasbench_tools.spaces import get_space

SPACE = get_space("nb201")


def _data():
    return datasets.load("fashion-mnist", "train", subset=512, resize=32, channels=3)


def _timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _train_step(key: int, data) -> float:
    torch.manual_seed(0)
    net = NB201Network(SPACE.arch(key))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x, y = draw_batch(data, 64, 0)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    step()  # warm-up
    return _timed(step, 3)[0]


def fused_vs_single(keys: list[int], data) -> None:
    names = tuple(PROXIES.filter(lambda p: p.needs != "supernet"))
    no_grasp = tuple(n for n in names if n != "grasp")
    req = lambda ns, k: ScoreRequest(SPACE, np.array([k]), ns, data=data, seed=0)  # noqa: E731
    compute_scores(req(names, keys[0]))  # warm-up
    rows = []
    for k in keys:
        step = _train_step(k, data)
        t_ng, _ = _timed(lambda k=k: compute_scores(req(no_grasp, k)))
        t_grasp, _ = _timed(lambda k=k: compute_scores(req(("grasp",), k)))
        t_all, fused = _timed(lambda k=k: compute_scores(req(names, k)))
        t_one, single = 0.0, {}
        for n in names:
            dt, got = _timed(lambda n=n, k=k: compute_scores(req((n,), k)))
            t_one += dt
            single.update(got)
        for n in names:
            a, b = fused[n][0], single[n][0]
            if not (a == b or abs(a - b) <= 1e-6 * abs(b) or (np.isnan(a) and np.isnan(b))):
                sys.exit(f"arch {k}: fused {n} = {a!r} but alone {b!r}")
        rows.append((k, step, t_ng, t_grasp, t_all, t_one))
    print(f"\n1. per architecture, C=16 N=5, batch 64 of 3x32x32, {torch.get_num_threads()} thread")
    print("arch   train step   all but GraSP (x step)   GraSP alone (x step)   "
          "full set fused   one at a time   speed-up")  # fmt: skip
    for k, step, t_ng, t_grasp, t_all, t_one in rows:
        print(f"{k:5d}   {step:8.3f} s   {t_ng:7.3f} s ({t_ng / step:4.1f}x)        "
              f"{t_grasp:7.3f} s ({t_grasp / step:4.1f}x)     {t_all:8.3f} s     "
              f"{t_one:8.3f} s    {t_one / t_all:5.2f}x")  # fmt: skip
    ratios = [r[5] / r[4] for r in rows]
    print(f"fused scores equal one-at-a-time scores (relative 1e-6) for all {len(names)} proxies; "
          f"median speed-up {statistics.median(ratios):.2f}x")  # fmt: skip


def throughput(n: int, data) -> None:
    keys, sel = select_keys(SPACE, "all", sample=n, seed=0)
    full = tuple(PROXIES.filter(lambda p: p.needs != "supernet"))
    print(f"\n2. nbt score end to end (journal, table), {n} sampled NB201 archs, C=16 N=5")
    for label, names, d in (("synflow", ("synflow",), None), ("full set", full, data)):
        with tempfile.TemporaryDirectory() as tmp:
            job = ScoreJob(SPACE, keys, names, sel, data=d, seed=0)
            dt, _ = _timed(lambda j=job, t=tmp: run_scoring(j, Path(t) / "t.csv", progress=False))
        rate = n / dt
        extra = (
            f"; all 15,625 at this rate: {15625 / rate / 60:.0f} min" if label == "synflow" else ""
        )
        print(f"{label:9s} ({len(names):2d} proxies): {dt:7.1f} s, {rate:.2f} archs/s{extra}")


def synflow_check() -> None:
    from scipy.stats import spearmanr

    from nasbench_tools.scores import load_scores

    table = load_scores("nb201-zc", dataset="cifar10-valid")
    t0 = time.perf_counter()
    ours = compute_scores(ScoreRequest(SPACE, table.keys, ("synflow",), seed=0))["synflow"]
    dt = time.perf_counter() - t0
    rho = spearmanr(ours, table["synflow"]).statistic
    print(f"\n3. synflow on NAS-Bench-Suite-Zero's {len(table)} CIFAR-10 archs: Spearman {rho:.4f} "
          f"against their stored synflow ({dt:.0f} s, {dt / len(table):.3f} s/arch)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", type=int, default=3, help="archs timed in section 1")
    p.add_argument("--sample", type=int, default=8, help="archs scored in section 2")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--synflow-check", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    data = _data()
    keys, _ = select_keys(SPACE, "all", sample=a.archs, seed=1)
    fused_vs_single([int(k) for k in keys], data)
    throughput(a.sample, data)
    if a.synflow_check:
        synflow_check()


if __name__ == "__main__":
    main()
