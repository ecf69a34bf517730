"""Training throughput of paper-size NB201 networks on a GPU, beside the same code on the CPU.

The networks are NAS-Bench-201's stand-alone networks at the paper's size (``C=16, N=5``,
32x32 inputs) trained by build-bench's epoch loop (:func:`nasbench_tools.buildbench.train.train_epoch`:
SGD with Nesterov momentum, per-step cosine, channels-last, crop-and-flip augmentation) on
Fashion-MNIST resized to 32x32 (one channel; the idx files are read from ``--data-root``).
For each configuration it prints the images per second of every epoch (the first one includes
CUDA's warm-up and, with ``--compile``, the compilation), the peak GPU memory
(``torch.cuda.max_memory_allocated``) or the process's peak RSS on CPU, and the versions of
Python, torch, CUDA and the package, so the figures can be quoted with what made them.

Configurations on CUDA: ``fp32``, ``amp`` (float16 autocast with a gradient scaler) and
``amp+compile`` (``torch.compile``); on the CPU: ``fp32`` only, for a few batches (``--cpu-images``).
The architecture is the heaviest cell of the space (every edge ``nor_conv_3x3``) unless
``--arch`` names another NB201 index.

    python benchmarks/gpu_check.py                              # CUDA part, then the CPU part
    python benchmarks/gpu_check.py --skip-gpu --cpu-images 512  # the CPU part only
    python benchmarks/gpu_check.py --epochs 3 --train-images 25000 --json gpu.json

It is sized to finish within about 8 minutes on one recent GPU with the defaults (3 epochs of
25,000 images per configuration, batch 256) and a CPU part of ``--cpu-images`` images.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from _measure import peak_mb  # noqa: E402

import nasbench_tools  # noqa: E402
from nasbench_tools.buildbench.protocol import get_protocol  # noqa: E402
from nasbench_tools.buildbench.train import (  # noqa: E402
    Execution,
    _optimizer,
    batch_generator,
    build,
    train_epoch,
)
from nasbench_tools.datasets import load  # noqa: E402
from nasbench_tools.spaces import get_space  # noqa: E402

#: The cell with every edge nor_conv_3x3 (the heaviest of the space).
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _heaviest(space) -> int:
    return int(space.key(space.parse(ALL_CONV3)))


def versions() -> dict:
    v = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "nasbench_tools": nasbench_tools.__version__,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.platform(),
    }
    if torch.cuda.is_available():
        v["gpu"] = torch.cuda.get_device_name(0)
        v["cudnn"] = torch.backends.cudnn.version()
    return v


def measure(data, protocol, key: int, ex: Execution, epochs: int) -> dict:
    """Train the network of ``key`` for ``epochs`` under ``ex``; images/s per epoch and peak
    memory."""
    space = get_space("nb201")
    model = build(space, key, 0, protocol, data).to(ex.torch_device)
    opt = _optimizer(protocol, model)
    net = torch.compile(model) if ex.compile else model
    scaler = torch.amp.GradScaler("cuda") if ex.amp else None
    gen = batch_generator(0, key)
    cuda = ex.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rates, accs = [], []
    for epoch in range(epochs):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        res = train_epoch(net, opt, data, protocol, gen, epoch, ex, scaler)
        if cuda:
            torch.cuda.synchronize()
        rates.append(len(data) / (time.perf_counter() - t0))
        accs.append(res["accuracy"])
    memory = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_mb()
    return {
        "images_per_s": rates,
        "train_accuracy": accs,
        "peak_memory_mb": memory,
        "memory_kind": "cuda max_memory_allocated" if cuda else "process peak RSS",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-images", type=int, default=25000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--cpu-images", type=int, default=1024)
    ap.add_argument("--cpu-threads", type=int, help="torch CPU threads of the CPU part")
    ap.add_argument("--arch", type=int, help="NB201 index (default: every edge nor_conv_3x3)")
    ap.add_argument("--skip-gpu", action="store_true")
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args(argv)

    v = versions()
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()), flush=True)
    space = get_space("nb201")
    key = args.arch if args.arch is not None else _heaviest(space)
    protocol = get_protocol("paper").replace(
        dataset="fashion-mnist", image_size=32, channels=1, batch_size=args.batch_size,
        epochs=args.epochs,
    )  # fmt: skip
    print(
        f"network: NB201 index {key} ({space.arch(key).to_string()}), C={protocol.C}, "
        f"N={protocol.N}, 32x32x1; batch {protocol.batch_size}, augment {protocol.augment}",
        flush=True,
    )
    results = {"versions": v, "arch": key, "runs": []}
    plans = []
    if not args.skip_gpu:
        if not torch.cuda.is_available():
            print("CUDA part skipped: torch.cuda.is_available() is False on this machine")
        else:
            plans += [("cuda", "fp32", False, False), ("cuda", "amp", True, False)]
            if not args.skip_compile:
                plans.append(("cuda", "amp+compile", True, True))
    plans.append(("cpu", "fp32", False, False))
    for device, label, amp, compile_ in plans:
        n = args.train_images if device == "cuda" else args.cpu_images
        epochs = args.epochs if device == "cuda" else 1
        if device == "cpu" and args.cpu_threads:
            torch.set_num_threads(args.cpu_threads)
        data = load(
            "fashion-mnist", "train", root=args.data_root, resize=32, subset=n, subset_seed=0
        )
        ex = Execution(device=device, amp=amp, compile=compile_)
        t0 = time.perf_counter()
        r = measure(data, protocol.replace(epochs=epochs), key, ex, epochs)
        r.update(device=device, config=label, images=len(data), epochs=epochs,
                 seconds=time.perf_counter() - t0, threads=torch.get_num_threads())  # fmt: skip
        results["runs"].append(r)
        rates = "  ".join(f"{x:,.0f}" for x in r["images_per_s"])
        print(
            f"{device:4s} {label:12s} {len(data):>6,} images x {epochs} epoch(s): images/s per "
            f"epoch {rates}; peak memory {r['peak_memory_mb']:,.0f} MiB ({r['memory_kind']}); "
            f"{r['seconds']:.1f} s",
            flush=True,
        )
    gpu = [r for r in results["runs"] if r["device"] == "cuda" and r["config"] == "fp32"]
    cpu = [r for r in results["runs"] if r["device"] == "cpu"]
    if gpu and cpu:
        ratio = gpu[0]["images_per_s"][-1] / cpu[0]["images_per_s"][-1]
        print(f"GPU fp32 (last epoch) / CPU fp32: {ratio:,.1f}x images/s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
