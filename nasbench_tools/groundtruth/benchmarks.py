"""The benchmarks ``load()`` knows by name: what space each is in, and its embedded data if any.

A :class:`Benchmark` is registered in :data:`BENCHMARKS` (the project's registry helper) with its
search space (a registered :class:`~nasbench_tools.spaces.Space`), a one-line description, and,
where the package ships its data, a function that reads them into a
:class:`~nasbench_tools.groundtruth.columns.ColumnSet`. A benchmark without embedded data (the
NATS-Bench size space, say) is opened from a store or an official file: ``load(name, path=...)``.

Adding a benchmark (a built one, a new release) means one :func:`register_benchmark` call; nothing
else compares benchmark names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import QueryError
from ..registry import Registry
from .columns import ColumnSet

__all__ = ["BENCHMARKS", "Benchmark", "get_benchmark", "list_benchmarks", "register_benchmark"]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark ``load()`` accepts by name.

    Attributes
    ----------
    name : str
        ``load(name)``'s argument.
    space : str
        Its registered search space.
    description : str
        One line: what ``load(name)`` gives without a path.
    embedded : callable or None
        ``() -> (ColumnSet, path of the embedded file)``; ``None`` when the package ships no data
        (then ``load(name)`` needs ``path=``, unless ``store`` is set).
    store : str
        The file name of an embedded store (``nbt build-bench`` or ``nbt convert`` output) in the
        package's ``embedded/`` folder, opened lazily with its own metadata (protocol, seeds,
        command); empty when the benchmark ships no store.
    sample_note : str
        Said wherever a ground truth holds only a sample of its space (empty otherwise).
    """

    name: str
    space: str
    description: str
    embedded: Callable[[], tuple[ColumnSet, Path]] | None = None
    sample_note: str = ""
    store: str = ""

    @property
    def has_data(self) -> bool:
        """Whether ``load(name)`` works without a path."""
        return self.embedded is not None or bool(self.store)


BENCHMARKS: Registry[Benchmark] = Registry("benchmark", error=QueryError)


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    return BENCHMARKS.register(benchmark.name, benchmark)


def get_benchmark(name: str) -> Benchmark:
    return BENCHMARKS.get(name)


def list_benchmarks() -> list[str]:
    return BENCHMARKS.names()


# --------------------------------------------------------------------------- the embedded ones
def _nb201() -> tuple[ColumnSet, Path]:
    from .formats.embedded_csv import COMBINED, embedded_path, read_combined_csv

    path = embedded_path(COMBINED)
    return read_combined_csv(path), path


def _nb201_v1_1() -> tuple[ColumnSet, Path]:
    from .formats.embedded_csv import COMBINED, V1_1_PARAMS, embedded_path, read_v1_1_columns

    path = embedded_path(COMBINED)
    return read_v1_1_columns(path, embedded_path(V1_1_PARAMS)), path


def _nb101() -> tuple[ColumnSet, Path]:
    from .formats import read_any
    from .formats.embedded_csv import embedded_path

    path = embedded_path("nb101_real30_only108.tfrecord")
    return read_any(path, format="nb101-tfrecord", progress=False), path


register_benchmark(
    Benchmark(
        "nb201",
        "nb201",
        "NAS-Bench-201 / NATS-tss (embedded: all 15,625 archs, final-epoch values)",
        _nb201,
    )
)
register_benchmark(
    Benchmark(
        "nb201-v1_1",
        "nb201",
        "NAS-Bench-201 v1_1 (embedded: CIFAR-10 seed means at 200 epochs, 12-epoch schedule)",
        _nb201_v1_1,
    )
)
register_benchmark(
    Benchmark(
        "nb101",
        "nb101",
        "NAS-Bench-101 (embedded: a SAMPLE of 30 real cells x 3 repeats at 108 epochs)",
        _nb101,
        sample_note="SAMPLE: 30 of 423,624 NB101 cells",
    )
)
register_benchmark(
    Benchmark(
        "nats-sss",
        "nats-sss",
        "NATS-Bench size search space (32,768 channel configurations; no embedded data: "
        "load('nats-sss', path=...) a store or the NATS-sss-v1_0-50262-simple folder)",
    )
)


# ------------------------------------------------- the benchmarks this project built itself
# `nbt build-bench` on Fashion-MNIST (data/builds/build_fmnist.sh; data/README.md gives each
# store's sha256, the protocol and the build time). The plain names are the build of the present
# ``cpu`` preset (the ``_v2`` files); the ``-v1`` names are the first build, with the preset now
# called ``cpu-v1`` (data/builds/build_fmnist.sh as of commit 8b0babf, when it was ``cpu``); the
# committed reproduction results were computed against them.
_BUILT = {  # name -> (space, what, sample note)
    "nb201-fmnist": (
        "nb201",
        "NB201 {how}, N=1; 200 isomorphism classes x seeds 0, 1)",
        "SAMPLE: 200 of 6,466 NB201 isomorphism classes",
    ),
    "nb201-fmnist-n3": (
        "nb201",
        "NB201 {how}, N=3; 32 of nb201-fmnist's classes x seed 0, for the depth gap)",
        "SAMPLE: 32 of 6,466 NB201 isomorphism classes, at N=3",
    ),
    "nb101-mixpath-fmnist": (
        "nb101",
        "NB101 {how} stem channels, 1 cell per stack; the 34 distinct graphs of MixPath's "
        "4-node sub-space x seeds 0, 1)",
        "SAMPLE: the 34 distinct graphs of MixPath's 4-node NB101 sub-space",
    ),
}
#: name -> (store file, preset) of each version.
_BUILT_STORES = {
    "nb201-fmnist": ("nb201_fmnist_v2.h5", "cpu"),
    "nb201-fmnist-n3": ("nb201_fmnist_n3_v2.h5", "cpu"),
    "nb101-mixpath-fmnist": ("nb101_mixpath_fmnist_v2.h5", "cpu"),
    "nb201-fmnist-v1": ("nb201_fmnist.h5", "cpu-v1"),
    "nb201-fmnist-n3-v1": ("nb201_fmnist_n3.h5", "cpu-v1"),
    "nb101-mixpath-fmnist-v1": ("nb101_mixpath_fmnist.h5", "cpu-v1"),
}
for _name, (_store, _preset) in _BUILT_STORES.items():
    _space, _what, _note = _BUILT[_name.removesuffix("-v1")]
    _how = f"the project's own build on Fashion-MNIST ({_preset} preset: 16x16 images, C=8"
    register_benchmark(
        Benchmark(_name, _space, _what.format(how=_how), sample_note=_note, store=_store)
    )
del _name, _store, _preset, _space, _what, _note, _how
