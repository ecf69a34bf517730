"""Supernet training-step throughput, as ratios measured in one run.

1. **Supernet vs stand-alone.** One SGD training step (zero_grad, forward, cross-entropy,
   backward, gradient-norm clip, SGD with momentum and weight decay) of the NB201 supernet running
   a single path shared by all cells, against the same step of the stand-alone
   :class:`~nasbench_tools.nn.nb201.NB201Network` of that path (its weights copied from the
   supernet). Paths are drawn with SPOS (shared, no all-``none`` node). Goal: supernet step time
   within 1.15x of the stand-alone step.
2. **Shadow BN vs single BN.** The same training step of the MixPath NB101 supernet with
   ``bn="shadow"`` against ``bn="single"``, on identical MixPath draws. Goal: shadow BN overhead
   within 5%.

The two sides of each ratio are timed interleaved (A, B, A, B, ...) on the same batch so that
machine load drifts hit both; each ratio is the ratio of median step times, and the overall
ratio is the geometric mean over paths / draws. Prints a table and, with ``--json``, writes all
timings with the configuration and machine.

    python benchmarks/supernet.py                       # NB201 C=16 N=5 32x32, batch 64
    python benchmarks/supernet.py --C 8 --N 1 --image-size 16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from nasbench_tools import __version__
from nasbench_tools.nn.nb101_mixpath import MixPathNB101Supernet
from nasbench_tools.nn.nb201 import NB201Supernet
from nasbench_tools.supernet.samplers import MixPathSampler, SPOSSampler


def _step_fn(model, x, y, choice=None):
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(x) if choice is None else model(x, choice)
        F.cross_entropy(logits, y).backward()
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], 5.0)
        opt.step()

    return step


def _interleaved(fa, fb, steps: int, warmup: int) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        fa(), fb()
    ta, tb = [], []
    for i in range(steps):
        for f, t in ((fa, ta), (fb, tb)) if i % 2 == 0 else ((fb, tb), (fa, ta)):
            t0 = time.perf_counter()
            f()
            t.append(time.perf_counter() - t0)
    return ta, tb


def _geomean(values) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def bench_supernet_vs_standalone(args) -> dict:
    torch.manual_seed(args.seed)
    sup = NB201Supernet(C=args.C, N=args.N, image_size=args.image_size).train()
    sampler = SPOSSampler(sup.space, sharing="shared", reject_zero_nodes=True)
    rng = np.random.default_rng(args.seed)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    y = torch.randint(0, 10, (args.batch_size,))
    rows = []
    for _ in range(args.paths):
        choice = sampler.sample(rng)[0].choice
        arch = sup.arch_of(choice)
        net = sup.extract(arch).train()
        ts, tn = _interleaved(
            _step_fn(sup, x, y, choice), _step_fn(net, x, y), args.steps, args.warmup
        )
        ms, mn = statistics.median(ts), statistics.median(tn)
        rows.append(
            {
                "arch": arch.to_string(),
                "index": arch.index,
                "supernet_s": ms,
                "standalone_s": mn,
                "supernet_img_s": args.batch_size / ms,
                "standalone_img_s": args.batch_size / mn,
                "ratio": ms / mn,
            }
        )
    return {"rows": rows, "ratio": _geomean([r["ratio"] for r in rows]), "goal": 1.15}


def bench_shadow_vs_single(args) -> dict:
    nets = {}
    for bn in ("shadow", "single"):
        torch.manual_seed(args.seed)
        nets[bn] = MixPathNB101Supernet(
            num_nodes=4, bn=bn, stem_channels=args.stem_channels, num_stacks=3, cells_per_stack=args.cells_per_stack,
            image_size=args.image_size,
        ).train()  # fmt: skip
    sampler = MixPathSampler(nets["shadow"].space, m=4, sharing="shared")
    rng = np.random.default_rng(args.seed)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    y = torch.randint(0, 10, (args.batch_size,))
    rows = []
    for _ in range(args.draws):
        choice = sampler.sample(rng)[0].choice
        k = int((choice != -1).sum())
        ts, tn = _interleaved(
            _step_fn(nets["shadow"], x, y, choice),
            _step_fn(nets["single"], x, y, choice),
            args.steps,
            args.warmup,
        )
        ms, mn = statistics.median(ts), statistics.median(tn)
        rows.append({"k": k, "shadow_s": ms, "single_s": mn, "shadow_img_s": args.batch_size / ms,
                     "single_img_s": args.batch_size / mn, "ratio": ms / mn})  # fmt: skip
    return {"rows": rows, "ratio": _geomean([r["ratio"] for r in rows]), "goal": 1.05}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--N", type=int, default=5)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--stem-channels", type=int, default=32, help="MixPath NB101 supernet stem width"
    )
    p.add_argument("--cells-per-stack", type=int, default=3)
    p.add_argument("--paths", type=int, default=4, help="NB201 paths timed")
    p.add_argument("--draws", type=int, default=4, help="MixPath draws timed")
    p.add_argument("--steps", type=int, default=20, help="timed steps per side")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    a = bench_supernet_vs_standalone(args)
    b = bench_shadow_vs_single(args)
    print(f"NB201 C={args.C} N={args.N} {args.image_size}x{args.image_size}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} interleaved steps")  # fmt: skip
    print(f"{'path':>6} {'supernet img/s':>15} {'stand-alone img/s':>18} {'ratio':>7}")
    for r in a["rows"]:
        print(
            f"{r['index']:>6} {r['supernet_img_s']:>15.1f} {r['standalone_img_s']:>18.1f} {r['ratio']:>7.3f}"
        )
    print(f"supernet / stand-alone step time: {a['ratio']:.3f} (goal <= {a['goal']})")
    print(
        f"MixPath NB101 supernet stem {args.stem_channels}, {args.cells_per_stack} cells per stack"
    )
    print(f"{'k':>6} {'shadow img/s':>15} {'single img/s':>18} {'ratio':>7}")
    for r in b["rows"]:
        print(
            f"{r['k']:>6} {r['shadow_img_s']:>15.1f} {r['single_img_s']:>18.1f} {r['ratio']:>7.3f}"
        )
    print(f"shadow / single BN step time: {b['ratio']:.3f} (goal <= {b['goal']})")
    if args.json:
        out = {
            "config": vars(args),
            "machine": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "processor": platform.processor() or platform.machine(),
                "cuda": torch.cuda.is_available(),
            },
            "nasbench_tools_version": __version__,
            "supernet_vs_standalone": a,
            "shadow_vs_single_bn": b,
            "wall_s": time.time() - t0,
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
