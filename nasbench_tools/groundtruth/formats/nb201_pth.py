"""NAS-Bench-201 ``.pth`` files (``NAS-Bench-201-v1_0-e61699.pth``, ``v1_1-096897.pth``), without torch.

The file is ``torch.save`` of ``{'meta_archs': [15625 arch strings], 'arch2infos': {index: {'less':
ArchResults-state, 'full': ArchResults-state}}, 'evaluated_indexes': set}`` in one of torch's two
containers:

* the legacy stream: five pickles back to back (the magic number ``0x1950a86a20f9469cfc6c``, the
  protocol version 1001, a ``sys_info`` dict, the object, the list of storage keys), then raw
  storage bytes (none here: ``net_state_dict`` is ``None`` in the released files);
* the zip archive (torch >= 1.6): the object pickle is the member ``<name>/data.pkl``.

Both are read with :class:`~nasbench_tools.groundtruth.safe_pickle.PickleStream` (a file cannot run
code, crash the interpreter or allocate past its bound; a tensor storage is refused), in chunks:
the legacy stream from the file itself, the zip member through zipfile's reader after its declared
size passed the cap ``max(MIN_MEMBER, RATIO_MEMBER x archive size)`` (8 MiB, 16x), its CRC
checked. The object is unpickled whole, as ``torch.load`` does: the records of one architecture
take about 1.5 MB of Python objects (measured on NATS-Bench records, the same schema), so the full
v1_1 file needs some 20 GB of RAM once, while converting. ``'less'`` is the 12-epoch schedule (hp
``'12'``), ``'full'`` the 200-epoch one (hp ``'200'``); the ``epochs`` field of every record is
checked against it, and the fields a record repeats (``name``, ``seed``, ``arch_config``,
``dataset_seed``) against its key.

This module also holds what every NB201 reader shares: :func:`extract_arch` turns one
architecture's ``{hp: ArchResults-state}`` (the same schema in ``.pth`` files and NATS-Bench
archives) into final-epoch values, and :class:`Nb201Columns` gathers them into a
:class:`~nasbench_tools.groundtruth.columns.ColumnSet`.

Column conventions (all NB201 readers)
--------------------------------------
Axis: benchmark indices (sorted). For every budget ``E`` (200, 12) and dataset ``D`` as the
benchmark names it (``cifar10-valid``, ``cifar10``, ``cifar100``, ``ImageNet16-120``), the value
at the last epoch ``E - 1``:

* ``Key(D, S, E, "accuracy")`` (%) and ``Key(D, S, E, "loss")`` for every eval set ``S`` the record
  has at that epoch (``x-valid``, ``x-test``, ``ori-test``) and ``S = "train"``
  (``train_acc1es`` / ``train_losses``);
* ``Key(D, "train", E, "time")`` (s): the sum of ``train_times`` over epochs ``0..E-1``, which is
  what NATS-Bench's ``get_more_info`` calls ``'train-all-time'`` at the last epoch;
* ``Key(D, "", 0, "params")`` (M), ``"flops"`` (MFLOPs), ``"latency"`` (s, the mean of the record's
  latency list; absent where the record has none), from the longest budget present.

Every column is per seed, ``(n_archs, n_seeds)``, over the union of the seeds present for that
dataset and budget (200 epochs: 777/888/999; 12 epochs: 111/777 or 111); NaN where an architecture
lacks a seed. Parameters and FLOPs are kept per seed as stored: NATS-Bench's ``get_cost_info``
instead returns seed 888's value where the seeds disagree (a legacy bug it works around).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorruptFileError, NasbenchToolsError, ResourceLimitError, UnsafePickleError
from ...spaces import nb201
from ..columns import Column, ColumnSet, Key
from ..safe_pickle import PickleStream, short_repr
from . import register_reader
from ._common import UNITS
from ._common import progress as _progress

__all__ = [
    "DATASETS",
    "Nb201Columns",
    "extract_arch",
    "map_meta_archs",
    "read_nb201_pth",
]

#: NB201 datasets, in the benchmark's names.
DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: Hyper-parameter keys and the schedule length they stand for.
HP_EPOCHS = {"less": 12, "full": 200, "12": 12, "200": 200}
#: The eval sets an NB201 record may name.
EVAL_SETS = ("x-valid", "x-test", "ori-test")
#: Most seeds one column may have (NB201 has at most 3 per dataset and budget): a bound on what
#: a small file whose records are shared by reference could make the reader allocate.
MAX_SEEDS = 16

#: The legacy container's first pickle, as ``torch.save`` writes it: LONG1 of the magic number.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_MAGIC_OP = b"\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")
LEGACY_PROTOCOL = 1001
REQUIRED_KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")

#: A flat record of one arch: (dataset, split, epochs, metric, seed) -> value.
Flat = dict[tuple[str, str, int, str, int], float]


# =========================================================================== shared extraction
def _num(value: Any, what: Callable[[], str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CorruptFileError(f"{what()}: expected a number, found {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise CorruptFileError(
            f"{what()}: the integer {short_repr(value)} overflows a float"
        ) from None


def _get(mapping: Any, key: Any, what: Callable[[], str]) -> Any:
    if not isinstance(mapping, Mapping):
        raise CorruptFileError(f"{what()}: expected a dict, found {type(mapping).__name__}")
    try:
        return mapping[key]
    except KeyError:
        raise CorruptFileError(f"{what()}: missing {key!r}") from None


def extract_arch(
    hp2state: Any, *, where: str, hp_epochs: Mapping[str, int] = HP_EPOCHS
) -> tuple[int | None, str | None, Flat]:
    """Final-epoch values of one architecture's ``{hp: ArchResults-state}``.

    Returns ``(arch_index, arch_str, flat)`` where ``arch_index`` / ``arch_str`` are what the
    records state (checked equal across hps) and ``flat`` maps ``(dataset, split, epochs, metric,
    seed)`` to a value. ``where`` names the file and architecture for messages. ``hp_epochs``
    maps each hp key to the epochs its records must state (NATS-sss: ``'01'``, ``'12'``, ``'90'``).
    """
    if not isinstance(hp2state, Mapping) or not hp2state:
        raise CorruptFileError(f"{where}: expected a non-empty {{hp: ArchResults}} dict")
    flat: Flat = {}
    cost_budget: dict[str, int] = {}  # dataset -> budget its cost values came from
    index = arch_str = None
    for hp, state in hp2state.items():
        if not isinstance(hp, str) or hp not in hp_epochs:
            raise CorruptFileError(
                f"{where}: hp {short_repr(hp)} is not one of {sorted(hp_epochs)}"
            )
        here = f"{where}, hp {hp!r}"
        idx = _get(state, "arch_index", lambda here=here: here)
        astr = _get(state, "arch_str", lambda here=here: here)
        if isinstance(idx, bool) or not isinstance(idx, int) or not isinstance(astr, str):
            raise CorruptFileError(
                f"{here}: arch_index {short_repr(idx)} / arch_str {short_repr(astr)} are not an "
                "int and a string"
            )
        if index is None:
            index, arch_str = idx, astr
        elif (idx, astr) != (index, arch_str):
            raise CorruptFileError(
                f"{here}: arch_index/arch_str {idx}/{short_repr(astr)} differ from another "
                f"hp's {index}/{short_repr(arch_str)}"
            )
        results = _get(state, "all_results", lambda here=here: here)
        if not isinstance(results, Mapping):
            raise CorruptFileError(f"{here}: all_results is not a dict")
        listed = state.get("dataset_seed")
        for rkey, rec in results.items():
            if (
                not isinstance(rkey, tuple)
                or len(rkey) != 2
                or rkey[0] not in DATASETS
                or isinstance(rkey[1], bool)
                or not isinstance(rkey[1], int)
            ):
                raise CorruptFileError(
                    f"{here}: all_results key {short_repr(rkey)} is not (dataset, seed) with a "
                    "known dataset"
                )
            if isinstance(listed, Mapping) and not _lists(listed.get(rkey[0]), rkey[1]):
                raise CorruptFileError(
                    f"{here}: all_results has {rkey} but dataset_seed lists "
                    f"{short_repr(listed.get(rkey[0]))} for {rkey[0]}"
                )
            _extract_record(
                rec, rkey[0], rkey[1], hp, f"{here}, {rkey}", flat, cost_budget, hp_epochs
            )
            _check_record_identity(rec, rkey, astr, f"{here}, {rkey}")
    return index, arch_str, flat


def _lists(seeds: Any, seed: int) -> bool:
    return isinstance(seeds, list | tuple) and any(type(s) is int and s == seed for s in seeds)


def _check_record_identity(rec: Mapping, rkey: tuple, arch_str: str, where: str) -> None:
    """The fields a record repeats (``name``, ``seed``, ``arch_config['arch_str']``) must agree
    with its key and architecture: a damaged key cannot silently relabel a record."""
    name, seed = rec.get("name"), rec.get("seed")
    if name is not None and name != rkey[0]:
        raise CorruptFileError(f"{where}: the record's name is {short_repr(name)}")
    # NATS-Bench writes the seed as a zero-padded string ('0777'); accept an int as well
    if seed is not None and not (
        (type(seed) is int and seed == rkey[1])
        or (type(seed) is str and len(seed) <= 12 and seed.isdigit() and int(seed) == rkey[1])
    ):
        raise CorruptFileError(f"{where}: the record's seed is {short_repr(seed)}")
    config = rec.get("arch_config")
    if isinstance(config, Mapping) and config.get("arch_str", arch_str) != arch_str:
        raise CorruptFileError(
            f"{where}: arch_config's arch_str {short_repr(config.get('arch_str'))} differs "
            "from the record's"
        )


def _extract_record(
    rec, dataset, seed, hp, where, flat: Flat, cost_budget: dict, hp_epochs=HP_EPOCHS
) -> None:
    w = lambda: where  # noqa: E731
    epochs = _get(rec, "epochs", w)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise CorruptFileError(f"{where}: epochs is {short_repr(epochs)}")
    if hp_epochs[hp] != epochs:
        raise CorruptFileError(
            f"{where}: hp {hp!r} means {hp_epochs[hp]} epochs, record says {epochs}"
        )
    last = epochs - 1

    def at(name, key):
        d = _get(rec, name, w)
        if not isinstance(d, Mapping) or key not in d:
            raise CorruptFileError(f"{where}: {name} has no entry for {key!r} (truncated record?)")
        return _num(d[key], lambda: f"{where}: {name}[{key!r}]")

    flat[(dataset, "train", epochs, "accuracy", seed)] = at("train_acc1es", last)
    flat[(dataset, "train", epochs, "loss", seed)] = at("train_losses", last)
    names = _get(rec, "eval_names", w)
    if not isinstance(names, list | tuple):
        raise CorruptFileError(f"{where}: eval_names is not a list")
    for name in names:
        if not isinstance(name, str) or name not in EVAL_SETS:
            raise CorruptFileError(
                f"{where}: eval_names holds {short_repr(name)}, not one of {list(EVAL_SETS)}"
            )
        k = f"{name}@{last}"
        flat[(dataset, str(name), epochs, "accuracy", seed)] = at("eval_acc1es", k)
        flat[(dataset, str(name), epochs, "loss", seed)] = at("eval_losses", k)
    times = rec.get("train_times")
    if times is not None:
        if not isinstance(times, Mapping):
            raise CorruptFileError(f"{where}: train_times is not a dict")
        try:
            vals = [times[i] for i in range(epochs)]
        except KeyError as exc:
            raise CorruptFileError(
                f"{where}: train_times has no entry for epoch {exc.args[0]}"
            ) from None
        if not all(isinstance(v, float) for v in vals):
            vals = [_num(v, lambda: f"{where}: train_times") for v in vals]
        # the builtin sum, as NATS-Bench's get_train computes 'all_time' (same rounding)
        flat[(dataset, "train", epochs, "time", seed)] = float(sum(vals))
    if epochs < cost_budget.get(dataset, 0):
        return
    if epochs > cost_budget.get(dataset, 0):  # a longer budget's costs replace a shorter one's
        for k in [k for k in flat if k[0] == dataset and k[2] == 0]:
            del flat[k]
        cost_budget[dataset] = epochs
    flat[(dataset, "", 0, "params", seed)] = _num(
        _get(rec, "params", w), lambda: f"{where}: params"
    )
    flat[(dataset, "", 0, "flops", seed)] = _num(_get(rec, "flop", w), lambda: f"{where}: flop")
    lat = rec.get("latency")
    if lat is not None:
        vals = [
            _num(x, lambda: f"{where}: latency")
            for x in (lat if isinstance(lat, list | tuple) else [lat])
        ]
        if vals and sum(vals) / len(vals) > 0:  # NATS-Bench treats <= 0 as "not measured"
            flat[(dataset, "", 0, "latency", seed)] = sum(vals) / len(vals)


class Nb201Columns:
    """Gathers per-arch flat records into per-seed columns over a fixed-size axis."""

    def __init__(self, n: int, source: str = ""):
        self.n = n
        self.source = source
        self._cols: dict[tuple[str, str, int, str], dict[int, np.ndarray]] = {}

    def add(self, row: int, flat: Flat) -> None:
        cols = self._cols
        for (ds, split, ep, metric, seed), value in flat.items():
            by_seed = cols.get((ds, split, ep, metric))
            if by_seed is None:
                by_seed = cols[(ds, split, ep, metric)] = {}
            arr = by_seed.get(seed)
            if arr is None:
                if len(by_seed) >= MAX_SEEDS:
                    raise CorruptFileError(
                        f"{self.source}: more than {MAX_SEEDS} seeds for {ds} {split} {metric} at "
                        f"{ep} epochs (NB201 has at most 3)"
                    )
                arr = by_seed[seed] = np.full(self.n, np.nan)
            arr[row] = value

    def columns(self, source: str) -> dict[Key, Column]:
        out: dict[Key, Column] = {}
        for (ds, split, ep, metric), by_seed in sorted(self._cols.items()):
            seeds = tuple(sorted(by_seed))
            values = np.stack([by_seed[s] for s in seeds], axis=1)
            out[Key(ds, split, ep, metric)] = Column(values, seeds, UNITS[metric], source)
        return out


@cache
def _our_strings() -> list[str]:
    return [a.to_string() for a in nb201.all_archs()]


def map_meta_archs(meta_archs: Any, where: str) -> np.ndarray:
    """Benchmark index of every entry of a file's ``meta_archs`` (checked against our table)."""
    ours = _our_strings()
    if not isinstance(meta_archs, list | tuple) or not all(isinstance(s, str) for s in meta_archs):
        raise CorruptFileError(f"{where}: meta_archs is not a list of arch strings")
    if len(meta_archs) > len(ours):
        raise CorruptFileError(
            f"{where}: meta_archs lists {len(meta_archs):,} architectures; NB201 has {len(ours):,}"
        )
    if list(meta_archs) == ours:
        return np.arange(len(ours), dtype=np.int64)
    try:
        idx = np.array([nb201.Arch.from_string(s).index for s in meta_archs], dtype=np.int64)
    except NasbenchToolsError as exc:
        raise CorruptFileError(
            f"{where}: meta_archs holds a string that is not an NB201 arch "
            f"({short_repr(str(exc), 200)})"
        ) from None
    if len(np.unique(idx)) != len(idx):
        raise CorruptFileError(f"{where}: meta_archs lists an architecture twice")
    return idx


def columnset_from_arch2infos(
    arch2infos: Any,
    meta_archs: Any,
    *,
    source_name: str,
    source_format: str,
    benchmark: str,
    progress: bool,
    extra_meta: dict | None = None,
) -> ColumnSet:
    """ColumnSet of a whole-space ``{file index: {hp: ArchResults-state}}`` (``.pth``, NATS file).

    Entries are deleted from ``arch2infos`` as they are read, so memory is released as it goes.
    """
    where = source_name
    if not isinstance(arch2infos, dict):
        raise CorruptFileError(f"{where}: arch2infos is not a dict")
    bench_index = map_meta_archs(meta_archs, where)
    for fi in arch2infos:
        if isinstance(fi, bool) or not isinstance(fi, int) or not 0 <= fi < len(bench_index):
            raise CorruptFileError(
                f"{where}: arch2infos key {short_repr(fi)} is not an index into meta_archs"
            )
    file_indices = sorted(arch2infos)
    keys = (
        bench_index[np.asarray(file_indices, dtype=np.int64)]
        if file_indices
        else np.zeros(0, np.int64)
    )
    order = np.argsort(keys, kind="stable")
    row_of = {fi: int(r) for r, fi in zip(np.argsort(order), file_indices)}
    acc = Nb201Columns(len(file_indices), where)
    for fi in _progress(file_indices, progress, f"reading {source_name}"):
        hp2state = arch2infos.pop(fi)
        idx, astr, flat = extract_arch(hp2state, where=f"{where}: arch {fi}")
        _check_identity(idx, astr, fi, meta_archs[fi], f"{where}: arch {fi}")
        acc.add(row_of[fi], flat)
    meta = {"source_name": source_name, "source_format": source_format, "benchmark": benchmark}
    meta.update(extra_meta or {})
    return ColumnSet("nb201", keys[order], acc.columns(f"{source_name} ({benchmark})"), None, meta)


def _check_identity(idx, astr, expected_idx: int, expected_str: str, where: str) -> None:
    if idx != expected_idx or astr != expected_str:
        raise CorruptFileError(
            f"{where}: the record says arch_index {short_repr(idx)}, arch_str {short_repr(astr)}; "
            f"expected {expected_idx}, {expected_str!r}"
        )


# =========================================================================== the .pth containers
def _sniff(path: Path, head: bytes) -> bool:
    if not path.is_file():
        return False
    if head.startswith(b"PK\x03\x04"):  # torch zip: the first member is <name>/data.pkl
        n = int.from_bytes(head[26:28], "little")
        return head[30 : 30 + n].endswith(b"/data.pkl") and path.suffix in (".pth", ".pt", "")
    return head.startswith(b"\x80") and _LEGACY_MAGIC_OP in head[:32]


def _benchmark_name(path: Path, less_datasets: set[str]) -> tuple[str, str]:
    m = re.search(r"NAS-Bench-201-v\d+_\d+", path.name)
    if m:
        return m.group(0), "file name"
    # v1_0 trained the 12-epoch schedule on cifar10-valid only; v1_1 on every dataset
    if less_datasets and less_datasets <= {"cifar10-valid"}:
        return "NAS-Bench-201-v1_0", "content (12-epoch results only for cifar10-valid)"
    return "NAS-Bench-201-v1_1", "content (12-epoch results for every dataset)"


@register_reader(
    "nb201-pth", "nb201", _sniff, "NAS-Bench-201 v1_0 / v1_1 .pth (torch legacy or zip)"
)
def read_nb201_pth(path: str | Path, *, progress: bool = True) -> ColumnSet:
    """Read ``NAS-Bench-201-v1_{0,1}-*.pth`` (either torch container) without torch."""
    path = Path(path)
    obj, container = _load_container(path)
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{path}: the saved object is a {type(obj).__name__}, not a dict")
    for key in REQUIRED_KEYS:
        if key not in obj:
            raise CorruptFileError(
                f"{path}: missing top-level key {key!r} (has {short_repr(sorted(map(str, obj)))})"
            )
    arch2infos = obj["arch2infos"]
    less: set[str] = set()
    ints = [k for k in arch2infos if type(k) is int] if isinstance(arch2infos, dict) else []
    if ints:  # (the keys themselves are checked when the records are read)
        first = arch2infos[min(ints)]
        if isinstance(first, Mapping) and isinstance(first.get("less"), Mapping):
            seeds = first["less"].get("dataset_seed", {})
            less = {k for k in seeds if isinstance(k, str)} if isinstance(seeds, Mapping) else set()
    benchmark, how = _benchmark_name(path, less)
    meta_archs = obj.pop("meta_archs")
    del obj
    return columnset_from_arch2infos(
        arch2infos,
        meta_archs,
        source_name=path.name,
        source_format="nb201-pth",
        benchmark=benchmark,
        progress=progress,
        extra_meta={"container": container, "benchmark_from": how},
    )


def _load_container(path: Path) -> tuple[Any, str]:
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _load_zip(path), "zip"
    if head.startswith(b"\x80") and _LEGACY_MAGIC_OP in head[:32]:
        return _load_legacy(path), "legacy"
    raise CorruptFileError(
        f"{path}: not a torch container: neither a zip archive nor the legacy stream "
        f"(first bytes {head[:16]!r})"
    )


#: Cap on the declared uncompressed size of the zip member ``data.pkl``: the larger of
#: ``MIN_MEMBER`` and ``RATIO_MEMBER`` x the archive's size. ``torch.save`` stores the member
#: uncompressed (its size is at most the archive's); the ratio admits a re-compressed archive.
MIN_MEMBER = 8 << 20
RATIO_MEMBER = 16


def _load_legacy(path: Path) -> Any:
    """The legacy stream: five pickles back to back, each read (bounded) from the file itself."""
    src = str(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        stream = PickleStream(fh.read, source=src)

        def load(what: str) -> tuple[Any, int]:
            start = stream.position
            if stream.at_end():
                raise CorruptFileError(
                    f"{src}: legacy torch stream ends at byte {start}, before its {what}"
                )
            return stream.load(f"legacy torch stream, {what}"), start

        magic, _at = load("magic number")
        if magic != LEGACY_MAGIC:
            raise CorruptFileError(
                f"{src}: legacy torch stream with a wrong magic number {short_repr(magic)} at byte 0"
            )
        proto, proto_at = load("protocol version")
        if proto != LEGACY_PROTOCOL:
            raise CorruptFileError(
                f"{src}: legacy torch protocol version {short_repr(proto)} at byte {proto_at}; "
                f"expected {LEGACY_PROTOCOL}"
            )
        sys_info, info_at = load("sys_info")
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is False:
            raise CorruptFileError(
                f"{src}: unexpected sys_info {short_repr(sys_info)} at byte {info_at}"
            )
        obj, _at = load("object pickle")
        storage_keys, keys_at = load("storage keys")
        if storage_keys:
            n = len(storage_keys) if isinstance(storage_keys, list | tuple) else "some"
            raise UnsafePickleError(
                f"{src}: the legacy stream lists {n} tensor storages at byte {keys_at}; "
                "benchmark files hold none"
            )
        end = stream.position
        if not stream.at_end():
            raise CorruptFileError(
                f"{src}: {size - end} unexpected bytes after the legacy stream's end at byte {end}"
            )
    return obj


def _load_zip(path: Path) -> Any:
    """The zip container: the member ``<name>/data.pkl``, its declared size checked first."""
    src = str(path)
    size = path.stat().st_size
    cap = max(MIN_MEMBER, RATIO_MEMBER * size)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            pkl = [
                i for i in infos if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1
            ]
            if len(pkl) != 1:
                names = [i.filename for i in infos[:5]]
                raise CorruptFileError(
                    f"{src}: a zip archive but not a torch container: no single <name>/data.pkl "
                    f"member (members: {short_repr(names, 200)}{'...' if len(infos) > 5 else ''})"
                )
            info = pkl[0]
            member = info.filename
            if info.file_size > cap or info.compress_size > size:
                raise ResourceLimitError(
                    f"{src}: zip member {member} declares {info.file_size:,} bytes "
                    f"({info.compress_size:,} compressed) in the central directory; the cap for a "
                    f"{size:,}-byte archive is {cap:,} (the larger of {MIN_MEMBER:,} and "
                    f"{RATIO_MEMBER} x its size)"
                )
            with zf.open(info) as fh:  # reads at most info.file_size bytes, then checks the CRC
                stream = PickleStream(fh.read, source=src)
                obj = stream.load(f"zip member {member}")
                if not stream.at_end():
                    raise CorruptFileError(
                        f"{src}: unexpected bytes after the pickle at byte {stream.position} of "
                        f"zip member {member}"
                    )
    except zipfile.BadZipFile as exc:
        raise CorruptFileError(f"{src}: damaged zip archive: {exc}") from None
    except (EOFError, OSError) as exc:
        raise CorruptFileError(f"{src}: damaged zip archive: {type(exc).__name__}: {exc}") from None
    return obj
