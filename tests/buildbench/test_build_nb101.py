"""`nbt build-bench` on NAS-Bench-101 cells: the MixPath sub-space as a named set, the protocol's
C and N as NB101's stem channels and cells per stack, the specs kept in the store (so `load()`
gives the cells back), shards merged with their specs, and the errors of the NB101 paths."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest

from nasbench_tools.buildbench import journal_path
from nasbench_tools.cli.__main__ import main
from nasbench_tools.groundtruth import load
from nasbench_tools.groundtruth.store import read_store
from nasbench_tools.spaces import get_space
from nasbench_tools.spaces.archsets import (
    ARCH_SETS,
    MIXPATH_ALTERNATIVES,
    get_arch_set,
    mixpath_specs,
)
from nasbench_tools.spaces.nb101 import INPUT, OUTPUT

NB101 = get_space("nb101")
QUICK = ["--preset", "quick", "--space", "nb101", "--no-progress"]


def _node_ops(spec) -> Counter:
    """The ops of the vertices between the input and the fusion vertex (pruned spec)."""
    inner = spec.ops[1:-2]
    assert (
        spec.ops[0] == INPUT and spec.ops[-1] == OUTPUT and spec.ops[-2] == MIXPATH_ALTERNATIVES[0]
    )
    return Counter(inner)


@pytest.mark.parametrize("name", ARCH_SETS.names())
def test_every_arch_set_lists_distinct_valid_architectures_of_its_space(name):
    arch_set = get_arch_set(name)
    space = get_space(arch_set.space)
    archs = arch_set.archs()
    keys = [space.key(a) for a in archs]  # a cell outside the space raises
    assert archs and len(set(keys)) == len(keys)
    assert all(isinstance(a, space.arch_type) for a in archs)


@pytest.mark.parametrize(("nodes", "graphs"), [(4, 34), (3, 19)])
def test_mixpath_sets_hold_one_cell_per_multiset_of_node_ops(nodes, graphs):
    """Nodes are interchangeable, so a graph is a multiset of 1..m ops of 3: 3+6+10+15 = 34
    for m = 4 and 19 for m = 3 (the counts MixPath's spec states)."""
    specs = mixpath_specs(nodes)
    assert len(specs) == graphs == len({s.hash for s in specs})
    want = {
        tuple(sorted(c))
        for k in range(1, nodes + 1)
        for c in itertools.combinations_with_replacement(MIXPATH_ALTERNATIVES, k)
    }
    got = {tuple(sorted(_node_ops(s).elements())) for s in specs}
    assert got == want
    for s in specs:  # every node hangs between the input and the fusion vertex
        n = len(s.ops)
        np.testing.assert_array_equal(s.matrix[0, 1 : n - 2], 1)
        np.testing.assert_array_equal(s.matrix[1 : n - 2, n - 2], 1)
        assert s.matrix[n - 2, n - 1] == 1 and s.matrix.sum() == 2 * (n - 3) + 1


@pytest.fixture(scope="module")
def mixpath_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("mp") / "mp.h5"
    argv = [*QUICK, "--archs", "mixpath-nb101", "--sample", "2", "--seed", "0", "--seeds", "0"]
    assert main(["build-bench", *argv, "--N", "2", "--out", str(out)]) == 0
    return out


def test_nb101_build_keeps_the_cells_and_trains_c_and_n_as_stem_and_cells_per_stack(
    mixpath_build,
):
    from nasbench_tools.nn.nb101 import NB101Network
    from nasbench_tools.nn.params import count_parameters

    gt = load("nb101", path=mixpath_build)
    by_hash = {s.hash: s for s in get_arch_set("mixpath-nb101").archs()}
    specs = list(gt.archs)
    assert len(specs) == 2
    params = gt.vector(dataset="digits", metric="params")
    for spec, p in zip(specs, params):
        assert spec.hash in by_hash and spec == by_hash[spec.hash]
        net = NB101Network(spec, num_classes=10, in_channels=1, stem_channels=4, cells_per_stack=2)
        assert p == count_parameters(net) / 1e6
    prov = gt.provenance
    assert prov["protocol"]["N"] == 2 and prov["protocol"]["C"] == 4
    assert prov["selection"]["arch_set"] == "mixpath-nb101"
    acc = gt.vector(dataset="digits", split="valid", epochs=3)
    assert np.isfinite(acc).all() and (acc > 10).all()


def test_nb101_shards_merge_with_their_cells(mixpath_build, tmp_path):
    argv = [*QUICK, "--archs", "mixpath-nb101", "--sample", "2", "--seed", "0", "--seeds", "0"]
    parts = [tmp_path / f"p{i}.h5" for i in range(2)]
    for i, part in enumerate(parts):
        assert (
            main(["build-bench", *argv, "--N", "2", "--shard", f"{i}/2", "--out", str(part)]) == 0
        )
    merged = tmp_path / "m.h5"
    assert main(["build-bench", "--merge", *map(str, parts), "--out", str(merged)]) == 0
    a, b = read_store(mixpath_build), read_store(merged)
    assert a.keys.tolist() == b.keys.tolist()
    for f in ("matrices", "labels", "num_vertices"):
        np.testing.assert_array_equal(getattr(a.specs, f), getattr(b.specs, f))
    for k, col in a.columns.items():
        if k.metric != "time":
            np.testing.assert_array_equal(col.values, b.columns[k].values)


def test_an_nb101_file_of_json_cells_builds_like_the_set(mixpath_build, tmp_path):
    gt = load("nb101", path=mixpath_build)
    listing = tmp_path / "cells.txt"
    listing.write_text(
        "# two MixPath cells\n"
        + "".join(
            json.dumps({"matrix": s.matrix.tolist(), "ops": list(s.ops)}) + "\n" for s in gt.archs
        )
    )
    out = tmp_path / "f.h5"
    argv = [*QUICK, "--archs-file", str(listing), "--seeds", "0", "--N", "2", "--out", str(out)]
    assert main(["build-bench", *argv]) == 0
    a, b = read_store(mixpath_build), read_store(out)
    assert a.keys.tolist() == b.keys.tolist()
    for k, col in a.columns.items():
        if k.metric != "time":
            np.testing.assert_array_equal(col.values, b.columns[k].values)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--archs", "mixpath-nb101x"], "--archs 'mixpath-nb101x'"),
        (["--space", "nb201", "--archs", "mixpath-nb101"], "a set of space 'nb101'"),
        (["--archs-file", "HASHES"], "does not name an architecture by itself"),
        (["--archs-file", "BADJSON"], "not a JSON object"),
        (["--archs", "mixpath-nb101", "--archs-file", "HASHES"], "not both"),
        (["--archs", "mixpath-nb101", "--N", "0"], "N must be an integer >= 1"),
        (["--space", "nats-sss", "--sample", "1", "--seed", "0"], "cannot apply"),
    ],
)
def test_nb101_and_set_errors_exit_2_naming_the_problem(tmp_path, capsys, args, named):
    hashes = tmp_path / "hashes.txt"
    hashes.write_text(mixpath_specs(4)[0].hash + "\n")
    bad = tmp_path / "bad.txt"
    bad.write_text('{"matrix": [[0, 1], [0, 0]], "ops": \n')
    args = [{"HASHES": str(hashes), "BADJSON": str(bad)}.get(a, a) for a in args]
    out = tmp_path / "x.h5"
    argv = ["build-bench", "--preset", "quick", "--space", "nb101", *args, "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert named in err, err
    assert not out.exists() and not journal_path(out).exists()
