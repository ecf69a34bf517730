"""Pilot of the present cpu preset: the first one (now ``cpu-v1``) with 5 epochs and
``curve_subset=2000`` (the epochs before the last evaluated on 2,000 validation and test images,
the last on all), which are the present ``cpu`` preset's settings under another name,
on 60 of nb201-fmnist's 200 classes (a seeded sample), seeds 0 and 1; two shards, one per core.

Run from an empty folder (REPO: this repository), then merge:

    python "$REPO/data/builds/pilot_cpu_e5.py" 0 & python "$REPO/data/builds/pilot_cpu_e5.py" 1; wait
    nbt build-bench --merge pilot.part0.h5 pilot.part1.h5 --out pilot_cpu_e5.h5

It took 46.8 minutes of wall time for the 120 networks on this project's 2 idle cores (about
47 s per network and core, against about 57 s for cpu-v1); its result is
data/builds/pilot_cpu_e5.h5 (numbers in nasbench_tools/buildbench/protocol.py).
"""

import dataclasses
import sys

import numpy as np

from nasbench_tools.buildbench.build import BuildJob, build_benchmark
from nasbench_tools.buildbench.protocol import get_protocol, register_protocol
from nasbench_tools.groundtruth import load
from nasbench_tools.spaces import get_space

variant = dataclasses.replace(get_protocol("cpu-v1"), name="cpu-e5c2k", epochs=5, curve_subset=2000)
proto = register_protocol(variant)
keys = np.sort(load("nb201-fmnist").archs.keys)
pick = np.sort(keys[np.random.default_rng(0).choice(len(keys), 60, replace=False)])
i = int(sys.argv[1])
job = BuildJob(
    get_space("nb201"), pick, (0, 1), proto, {"kind": "pilot", "n": 60}, shard=(i, 2),
    data_root="/usr/share/datasets/fashion-mnist", threads=1,
)  # fmt: skip
build_benchmark(job, f"pilot.part{i}.h5", progress=False)
