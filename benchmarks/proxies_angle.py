"""The ABS angle of all 15,625 NB201 architectures, against the per-architecture vector
construction, measured in one run.

Setup: the NB201 supernet at benchmark size (C=16, N=5, 3x32x32 input, 10 classes; 15 searchable
cells). Two state dicts are held in memory: the weights at initialisation (W0, seed 0) and a
"trained" set (W0 plus Gaussian noise of a random per-tensor scale; the angle's cost does not
depend on the values).

* **ours**: :func:`nasbench_tools.proxies.angle.angle_stats` (the (cell, edge, op) block
  statistics of the two state dicts) plus :func:`angles_from_stats` for every architecture;
  the layout is read from the model once, beforehand (reported separately). Median of
  ``--repeats`` runs.
* **naive**: ABS's construction (method spec 3.2): for each architecture, concatenate the
  flattened tensors its paths use (float32, as the state dicts hold them), then
  ``acos(CosineSimilarity(dim=0)(v0, vt))``. Timed on a random sample of ``--sample``
  architectures and extrapolated linearly to 15,625 (each architecture costs the same work).

The two are compared on the sample (max absolute difference in radians; the naive side sums in
float32). Goal (issue 11): all 15,625 in at most 1 s.

    python benchmarks/proxies_angle.py                 # one torch thread
    python benchmarks/proxies_angle.py --sample 300 --repeats 7 --json out.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time

import numpy as np
import torch

from nasbench_tools import __version__
from nasbench_tools.nn.nb201 import NB201Supernet
from nasbench_tools.proxies.angle import AngleLayout, angle_stats, angles_from_stats
from nasbench_tools.spaces.nb201 import EDGES, OPS, op_index_matrix

PATH_NODES = ((0, 3), (0, 2, 3), (0, 1, 2, 3), (0, 1, 3))


def _weights(model: NB201Supernet, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in model.state_dict().items():
        if v.is_floating_point() and "running" not in k:
            scale = 0.2 + torch.rand((), generator=g)
            v = v + scale * v.std() * torch.randn(v.shape, generator=g) if v.numel() > 1 else v
        out[k] = v.clone()
    return out


def _naive_angles(model: NB201Supernet, w0, wt, ops_rows: np.ndarray) -> np.ndarray:
    """One vector pair per architecture (ABS's ``get_arch_angle`` construction)."""
    fixed = AngleLayout.from_supernet(model).fixed
    cos = torch.nn.CosineSimilarity(dim=0)
    out = []
    for row in ops_rows:
        ops = {EDGES[e]: OPS[int(p)] for e, p in enumerate(row)}
        p0, pt = [w0[k].flatten() for k in fixed], [wt[k].flatten() for k in fixed]
        for path in PATH_NODES:
            for pos in model.searchable:
                b0, bt, dropped = [], [], False
                for j, i in itertools.pairwise(path):
                    op = ops[(j, i)]
                    if op == "none":
                        dropped = True
                        break
                    if op in ("nor_conv_1x1", "nor_conv_3x3"):
                        key = f"cells.{pos}.edges.{i}<-{j}.{OPS.index(op)}.op.1.weight"
                        b0.append(w0[key].flatten())
                        bt.append(wt[key].flatten())
                    elif op == "avg_pool_3x3":
                        c = w0[f"cells.{pos}.edges.{i}<-{j}.3.op.1.weight"].shape[0]
                        k = torch.full((c * 9,), 1 / 9)
                        b0.append(k)
                        bt.append(k)
                if not dropped:
                    p0 += b0
                    pt += bt
        out.append(float(torch.acos(cos(torch.cat(p0), torch.cat(pt)))))
    return np.array(out)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=200, help="architectures timed naively")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the timings here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    model = NB201Supernet(C=16, N=5, num_classes=10, in_channels=3, image_size=32)
    w0 = {k: v.clone() for k, v in model.state_dict().items()}
    wt = _weights(model, args.seed + 1)
    ops = op_index_matrix()

    t = time.perf_counter()
    layout = AngleLayout.from_supernet(model)
    layout_s = time.perf_counter() - t

    ours = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        angles = angles_from_stats(angle_stats(layout, w0, wt), ops)
        ours.append(time.perf_counter() - t)
    ours_s = statistics.median(ours)

    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(ops), args.sample, replace=False)
    t = time.perf_counter()
    naive = _naive_angles(model, w0, wt, ops[sample])
    naive_sample_s = time.perf_counter() - t
    naive_all_s = naive_sample_s * len(ops) / args.sample
    max_diff = float(np.abs(naive - angles[sample]).max())

    result = {
        "ours_all_s": ours_s,
        "ours_runs_s": ours,
        "layout_s": layout_s,
        "naive_sample": args.sample,
        "naive_sample_s": naive_sample_s,
        "naive_all_s_extrapolated": naive_all_s,
        "ratio": naive_all_s / ours_s,
        "max_abs_diff_rad": max_diff,
        "angle_range_rad": [float(angles.min()), float(angles.max())],
        "threads": args.threads,
        "torch": torch.__version__,
        "nasbench_tools": __version__,
        "machine": platform.platform(),
        "cpu_count": __import__("os").cpu_count(),
    }
    print("ABS angle, NB201 C=16 N=5, all 15,625 architectures, two state dicts in memory")
    print("| method | time for 15,625 archs | ratio |\n|---|---:|---:|")
    print(f"| block statistics + summation (median of {args.repeats}) | {ours_s:.4f} s | 1 |")
    print(f"| the same, first call of the process | {ours[0]:.4f} s | |")
    print(
        f"| naive per-arch vectors ({args.sample} timed, extrapolated) | {naive_all_s:.1f} s "
        f"| {naive_all_s / ours_s:,.0f}x |"
    )
    print(f"layout from the model (once): {layout_s * 1e3:.1f} ms")
    print(f"max |ours - naive| on the sample: {max_diff:.2e} rad (naive sums in float32)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
