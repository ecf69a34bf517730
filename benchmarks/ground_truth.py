"""Ground-truth benchmark: both halves in one run.

* NB201 (``ground_truth_nb201.py``): a full-size NATS-tss ``-simple`` folder through the
  NATS-Bench API (fast_mode) versus ``nbt convert`` + our store (open, warm query, whole-space
  vector, peak RSS).
* NB101 (``ground_truth_nb101.py``): a full-size ``nasbench_only108``-format tfrecord through a
  plain reference loop (the ``tfrecord`` package + json + protobuf; TensorFlow is not installed
  here) versus ``nbt convert`` + our store.

Run: ``python benchmarks/ground_truth.py`` (about 25 minutes on 2 cores). ``--quick`` runs both on
small inputs (minutes) to check the machinery, not to quote. Each half prints its own table of
measurements and ratios; ``--json FILE`` keeps them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ground_truth_nb101
import ground_truth_nb201


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="small inputs: 500 NB201 archs, 20,000 NB101 modules"
    )
    p.add_argument("--json", type=Path, help="write both halves' results here")
    args = p.parse_args(argv)
    nb201_argv = ["--archs", "500"] if args.quick else []
    nb101_argv = ["--archs", "20000"] if args.quick else []
    results = {
        "nb201": ground_truth_nb201.main(nb201_argv),
        "nb101": ground_truth_nb101.main(nb101_argv),
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results


if __name__ == "__main__":
    main()
