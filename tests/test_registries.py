"""Every registry of the package, parametrised: one shape (get / list / known-names error)."""

from __future__ import annotations

import importlib

import pytest

from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.registry import all_registries

#: Modules that build the package's registries (importing them registers everything).
MODULES = (
    "nasbench_tools.spaces",
    "nasbench_tools.spaces.encodings",
    "nasbench_tools.groundtruth.formats",
    "nasbench_tools.groundtruth.benchmarks",
    "nasbench_tools.scores",
    "nasbench_tools.search",
)
for _m in MODULES:
    importlib.import_module(_m)
REGISTRIES = {k: r for k, r in all_registries().items() if not k.startswith("test ")}


def test_the_package_registries_are_all_here():
    assert {"search space", "encoding", "format", "benchmark"} <= set(REGISTRIES)
    assert {"search strategy", "predictor", "search protocol", "random-architecture sampler"} <= set(REGISTRIES)


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_registry_lists_sorted_and_gets_every_entry(kind):
    reg = REGISTRIES[kind]
    names = reg.names()
    assert names and names == sorted(names) and len(set(names)) == len(names)
    for name in names:
        assert reg.get(name) is not None
    with pytest.raises(NasbenchToolsError, match=r"known: " + ", ".join(names[:2])):
        reg.get("no-such-entry")
    with pytest.raises(NasbenchToolsError, match="already registered"):
        reg.register(names[0], reg.get(names[0]))
