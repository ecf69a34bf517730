"""The columnar HDF5 store: one file per converted benchmark, aligned to one architecture axis.

Layout (format version 2)::

    /                       attrs: format, format_version (nothing else)
    /meta                   uint8: UTF-8 JSON of the provenance (package_version, space,
                            benchmark, source_name, source_format, source_sha256, created_utc,
                            the reader's meta) and the table of contents: every dataset below with
                            its shape, and per column its seeds, unit and source
    /axis/keys              NB201: int64 benchmark indices; NB101: S32 module hashes (sorted)
    /axis/spec_matrices     NB101 only: (N, 7, 7) int8 pruned adjacency (top-left corner)
    /axis/spec_labels       NB101 only: (N, 7) int8 hash labels (-1 in, -2 out, op index, -3 pad)
    /axis/spec_num_vertices NB101 only: (N,) int8
    /columns/<key>          one dataset per column, named by ``Key.to_str()``
                            (``dataset|split|epochs|metric|point``); float64, (N, S) per seed or
                            (N,) seed means

Integrity. Every dataset is stored as one chunk with HDF5's Fletcher-32 checksum filter, so a
whole-space vector is still a single read and a damaged byte fails that read instead of returning
a wrong number; the file's own metadata (superblock, object headers, B-trees) carries HDF5's
checksums (``libver="latest"``). Everything a reader needs besides the arrays is in ``/meta``,
itself checksummed. Whatever goes wrong on reading (a checksum, a truncated file, a missing or
extra dataset, metadata that does not parse, a value outside :data:`.columns.VALUE_RANGES`)
raises :class:`~nasbench_tools.errors.StoreCorruptError` naming the store and the dataset. A
store written by another format version raises :class:`~nasbench_tools.errors.StoreVersionError`
saying how to re-convert it.

Writing is atomic (:class:`AtomicOutput`): the output path is checked before anything is read,
the store is written to a temporary file in the same folder whose name holds the writer's pid,
then renamed. A run that fails leaves nothing behind; a temporary file of a killed run is removed
by the next run that writes that output (:mod:`nasbench_tools._io`).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np

from .. import _io
from .._version import __version__
from ..errors import (
    NasbenchToolsError,
    StoreCorruptError,
    StoreVersionError,
)
from ..spaces import get_space
from ..spaces.base import SPACES
from .columns import Column, ColumnSet, Key, SpecArray, check_column_values

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "AtomicOutput",
    "StoreReader",
    "check_output_path",
    "is_store",
    "read_store",
    "sha256_of",
    "write_store",
]

FORMAT_NAME = "nasbench_tools.groundtruth.store"
#: 2: one Fletcher-32-checksummed chunk per dataset, provenance and table of contents in ``/meta``.
#: 1: contiguous datasets without checksums, provenance in attributes (no longer read).
FORMAT_VERSION = 2
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: What h5py and the HDF5 library raise on a damaged file: a failed checksum or a truncated file
#: (OSError), a damaged link table (KeyError), damaged object headers (RuntimeError, ValueError,
#: TypeError, IndexError), undecodable text (UnicodeDecodeError, a ValueError).
_H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, IndexError)


def is_store(path: str | Path) -> bool:
    """Cheap check: an HDF5 file (by magic bytes). Whether it is *our* store is checked on open."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(8) == _HDF5_MAGIC


# =========================================================================== output paths
# One implementation for every layer (nasbench_tools._io); re-exported here, where the store's
# callers and tests have always found them.
check_output_path = _io.check_output_path
remove_stale_temporaries = _io.remove_stale_temporaries
AtomicOutput = _io.AtomicOutput
sha256_of = _io.sha256_of


# =========================================================================== writing
def write_store(
    cs: ColumnSet,
    path: str | Path,
    *,
    source_sha256: str = "",
    overwrite: bool = True,
) -> Path:
    """Write ``cs`` to ``path`` atomically; returns the path.

    ``source_sha256`` stamps the store with the hash of the file it was converted from. The path
    is checked first (:func:`check_output_path`): its folder must exist.
    """
    with AtomicOutput(path, overwrite=overwrite) as out:
        _write(cs, out.tmp, source_sha256)
        return out.commit()


def _chunked(group, name: str, data: np.ndarray):
    """One dataset as one Fletcher-32-checksummed chunk (one read for the whole array)."""
    data = np.ascontiguousarray(data)
    if data.size:
        return group.create_dataset(name, data=data, chunks=data.shape, fletcher32=True)
    chunks = tuple(max(1, d) for d in data.shape)  # an empty array still gets a (valid) chunk
    return group.create_dataset(
        name,
        data=data,
        chunks=chunks,
        maxshape=(None,) * data.ndim,
        fletcher32=True,
    )


def _write(cs: ColumnSet, tmp: Path, source_sha256: str) -> None:
    import h5py

    meta = dict(cs.meta)
    prov = {
        "package_version": __version__,
        "space": cs.space,
        "benchmark": str(meta.get("benchmark", "")),
        "source_name": str(meta.get("source_name", "")),
        "source_format": str(meta.get("source_format", "")),
        "source_sha256": source_sha256,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    datasets: dict[str, list[int]] = {}
    columns = []
    with h5py.File(tmp, "w", libver="latest") as f:
        f.attrs["format"] = np.bytes_(FORMAT_NAME.encode())
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        axis = f.create_group("axis")
        arrays = {"keys": get_space(cs.space).store_keys(cs.keys)}
        if cs.specs is not None:
            arrays["spec_matrices"] = cs.specs.matrices
            arrays["spec_labels"] = cs.specs.labels
            arrays["spec_num_vertices"] = cs.specs.num_vertices
        for name, arr in arrays.items():
            _chunked(axis, name, arr)
            datasets[f"axis/{name}"] = list(arr.shape)
        cols = f.create_group("columns")
        for key in sorted(cs.columns):
            col = cs.columns[key]
            name = key.to_str()
            _chunked(cols, name, col.values)
            datasets[f"columns/{name}"] = list(col.values.shape)
            columns.append(
                {"name": name, "seeds": list(col.seeds), "unit": col.unit, "source": col.source}
            )
        doc = {"provenance": prov, "meta": meta, "datasets": datasets, "columns": columns}
        text = json.dumps(doc, sort_keys=True, default=str).encode()
        _chunked(f, "meta", np.frombuffer(text, dtype=np.uint8))


# =========================================================================== reading
class StoreReader:
    """An open store: provenance and axis read at once, columns read on first use and cached.

    Every array it returns is read-only (the cache keeps it). Every failure on reading raises
    :class:`StoreCorruptError` or :class:`StoreVersionError` naming the store.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise NasbenchToolsError(f"{self.path}: no such store file")
        if not is_store(self.path):
            raise StoreVersionError(
                f"{self.path}: not an HDF5 file, so not a nasbench_tools store "
                "(convert an official benchmark file with `nbt convert SRC -o STORE.h5`)"
            )
        self._file = None
        self._cache: dict[Key, Column] = {}
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ errors
    def _corrupt(self, what: str, exc: BaseException | None = None) -> StoreCorruptError:
        detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return StoreCorruptError(
            f"{self.path}: store damaged at {what}{detail}; re-convert the source with "
            "`nbt convert SOURCE -o STORE --force`"
        )

    def _read(self, name: str) -> np.ndarray:
        """Read one whole dataset (one checksummed chunk), or raise StoreCorruptError naming it."""
        expected = self._datasets.get(name)
        if expected is None:
            raise self._corrupt(f"dataset /{name} (not in the table of contents)")
        try:
            arr = self._file[name][()]
        except _H5_ERRORS as exc:
            raise self._corrupt(f"dataset /{name}", exc) from exc
        if list(arr.shape) != expected:
            raise self._corrupt(
                f"dataset /{name} (shape {list(arr.shape)}, table of contents says {expected})"
            )
        arr.setflags(write=False)
        return arr

    # ------------------------------------------------------------------ open
    def _open(self) -> None:
        import h5py

        try:
            self._file = h5py.File(self.path, "r")
        except _H5_ERRORS as exc:
            raise self._corrupt("the file header (HDF5 cannot open it; truncated?)", exc) from exc
        try:
            fmt, version = self._file.attrs.get("format"), self._file.attrs.get("format_version")
        except _H5_ERRORS as exc:
            raise self._corrupt("the root attributes", exc) from exc
        if isinstance(fmt, bytes):
            fmt = fmt.decode("utf-8", "replace")
        if fmt != FORMAT_NAME:
            raise StoreVersionError(
                f"{self.path}: an HDF5 file but not a nasbench_tools store (format attribute "
                f"{fmt!r}, expected {FORMAT_NAME!r})"
            )
        try:
            version = int(version)
        except (TypeError, ValueError):
            version = -1
        if version != FORMAT_VERSION:
            raise StoreVersionError(self._version_message(version))
        meta = self._read_meta()
        self.meta: dict = meta["meta"]
        prov = meta["provenance"]
        self.space = prov["space"]
        self.provenance = dict(prov) | {"format": FORMAT_NAME, "format_version": FORMAT_VERSION}
        self._toc = meta["columns"]
        self._check_layout()
        #: NB201: int64 indices; NB101: S32 hashes (decoded to str only by :attr:`keys`)
        self.raw_keys = self._read("axis/keys")
        self._check_keys()
        self.has_specs = "axis/spec_matrices" in self._datasets
        self._columns = {c["name"]: c for c in self._toc}
        self.column_keys = [Key.from_str(n) for n in self._columns]

    def _version_message(self, version: int) -> str:
        if version > FORMAT_VERSION:
            return (
                f"{self.path}: store format version {version}, this nasbench_tools {__version__} "
                f"reads version {FORMAT_VERSION}; upgrade nasbench_tools"
            )
        try:  # format 1 kept the source's name in an attribute; it is only a hint here
            source = self._file.attrs.get("source_name", "")
            source = source.decode() if isinstance(source, bytes) else str(source)
        except _H5_ERRORS:
            source = ""
        src = source or "SOURCE"
        return (
            f"{self.path}: store format version {version}, this nasbench_tools {__version__} "
            f"reads version {FORMAT_VERSION} (checksummed datasets); re-run `nbt convert` on the "
            f"source file to re-create it: `nbt convert {src} -o {self.path} --force`"
        )

    def _read_meta(self) -> dict:
        try:
            raw = self._file["meta"][()]
        except _H5_ERRORS as exc:
            raise self._corrupt("dataset /meta", exc) from exc
        try:
            doc = json.loads(bytes(np.asarray(raw, dtype=np.uint8)).decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise self._corrupt("dataset /meta (not UTF-8 JSON)", exc) from exc
        ok = (
            isinstance(doc, dict)
            and isinstance(doc.get("provenance"), dict)
            and isinstance(doc.get("meta"), dict)
            and isinstance(doc.get("datasets"), dict)
            and isinstance(doc.get("columns"), list)
            and doc["provenance"].get("space") in SPACES
            and all(
                isinstance(v, list) and all(isinstance(d, int) and d >= 0 for d in v)
                for v in doc["datasets"].values()
            )
            and all(
                isinstance(c, dict)
                and isinstance(c.get("name"), str)
                and isinstance(c.get("seeds"), list)
                and all(isinstance(s, int) for s in c["seeds"])
                and isinstance(c.get("unit"), str)
                and isinstance(c.get("source"), str)
                for c in doc["columns"]
            )
        )
        if not ok:
            raise self._corrupt("dataset /meta (not the table of contents this version writes)")
        self._datasets = {"meta": [int(raw.shape[0])]} | {
            k: list(v) for k, v in doc["datasets"].items()
        }
        return doc

    def _check_layout(self) -> None:
        """The datasets in the file are exactly those of the table of contents."""
        try:
            found = {"meta"}
            for group in ("axis", "columns"):
                found |= {f"{group}/{n}" for n in self._file[group].keys()}
        except _H5_ERRORS as exc:
            raise self._corrupt("the group index", exc) from exc
        listed = set(self._datasets)
        if found != listed:
            missing, extra = sorted(listed - found), sorted(found - listed)
            raise self._corrupt(
                "the dataset list"
                + (f"; missing: {missing}" if missing else "")
                + (f"; not in the table of contents: {extra}" if extra else "")
            )
        columns = {f"columns/{c['name']}" for c in self._toc}
        if len(columns) != len(self._toc) or columns != {
            d for d in listed if d.startswith("columns/")
        }:
            raise self._corrupt("the table of contents (columns and datasets disagree)")
        for c in self._toc:
            try:
                Key.from_str(c["name"])
            except (NasbenchToolsError, ValueError) as exc:
                raise self._corrupt(f"the table of contents (column {c['name']!r})", exc) from exc
        if "axis/keys" not in listed:
            raise self._corrupt("dataset /axis/keys (missing)")
        specs = {"axis/spec_matrices", "axis/spec_labels", "axis/spec_num_vertices"}
        if listed & specs and not specs <= listed:
            raise self._corrupt(f"the NB101 specs (missing: {sorted(specs - listed)})")

    def _check_keys(self) -> None:
        k = self.raw_keys
        n = len(k)
        sp = get_space(self.space)
        if sp.key_kind == "index":
            ok = k.dtype.kind == "i" and k.ndim == 1
            ok = ok and (n == 0 or (int(k.min()) >= 0 and int(k.max()) < sp.size))
        else:
            ok = k.dtype == np.dtype("S32") and k.ndim == 1
            if ok and n:
                chars = k.view(np.uint8).reshape(n, 32)
                hexd = ((chars >= ord("0")) & (chars <= ord("9"))) | (
                    (chars >= ord("a")) & (chars <= ord("f"))
                )
                ok = bool(hexd.all())
        if ok and n > 1:
            ok = bool(np.all(k[1:] > k[:-1]))
        if not ok:
            raise self._corrupt(
                "dataset /axis/keys (expected strictly increasing "
                + (
                    f"{sp.name} indices 0..{sp.size - 1})"
                    if sp.key_kind == "index"
                    else f"{sp.name} 32-hex hashes)"
                )
            )

    # ------------------------------------------------------------------ contents
    @property
    def keys(self) -> np.ndarray:
        if get_space(self.space).key_kind == "index":
            return self.raw_keys
        out = self.raw_keys.astype("U32").astype(object)
        out.setflags(write=False)
        return out

    def read_specs(self) -> SpecArray | None:
        """The NB101 cell specs (read from the file on each call), checked to be well formed."""
        if not self.has_specs:
            return None
        m = self._read("axis/spec_matrices")
        labels = self._read("axis/spec_labels")
        nv = self._read("axis/spec_num_vertices")
        n = len(self.raw_keys)
        ok = m.shape == (n, 7, 7) and labels.shape == (n, 7) and nv.shape == (n,)
        ok = ok and m.dtype == labels.dtype == nv.dtype == np.int8
        if ok and n:
            ok = bool(((nv >= 2) & (nv <= 7)).all())
        if ok and n:
            inside = np.arange(7)[None, :] < nv[:, None].astype(np.int64)  # (n, 7) real vertices
            upper = np.triu(np.ones((7, 7), dtype=bool), k=1)[None]
            edge_ok = upper & inside[:, :, None] & inside[:, None, :]
            ok = bool(
                ((m == 0) | ((m == 1) & edge_ok)).all()
                and ((labels >= -2) & (labels <= 2) | ~inside).all()
                and (labels[~inside] == SpecArray.PAD).all()
            )
        if not ok:
            raise self._corrupt("the NB101 cell specs (/axis/spec_*: values out of range)")
        specs = SpecArray(m, labels, nv)
        for a in (specs.matrices, specs.labels, specs.num_vertices):
            a.setflags(write=False)
        return specs

    def column(self, key: Key) -> Column:
        """One column, read (one chunk, checksum verified) on first use; values read-only."""
        col = self._cache.get(key)
        if col is not None:
            return col
        name = key.to_str()
        info = self._columns.get(name)
        if info is None:
            raise NasbenchToolsError(f"{self.path}: no column {name}")
        values = self._read(f"columns/{name}")
        if len(values) != len(self.raw_keys) or values.dtype != np.float64:
            raise self._corrupt(
                f"dataset /columns/{name} ({values.dtype} with {len(values)} rows for "
                f"{len(self.raw_keys)} archs)"
            )
        try:
            col = Column(values, tuple(info["seeds"]), info["unit"], info["source"])
            check_column_values(key, col, str(self.path), self.raw_keys)
        except NasbenchToolsError as exc:
            raise self._corrupt(f"dataset /columns/{name}", exc) from exc
        col.values.setflags(write=False)
        self._cache[key] = col
        return col

    def to_columnset(self) -> ColumnSet:
        cols = {k: self.column(k) for k in self.column_keys}
        return ColumnSet(self.space, self.keys, cols, self.read_specs(), dict(self.meta))

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except _H5_ERRORS:  # closing a damaged file: nothing more to report
                pass


def read_store(path: str | Path) -> ColumnSet:
    """Read a whole store into memory as a :class:`ColumnSet`."""
    reader = StoreReader(path)
    try:
        return reader.to_columnset()
    finally:
        reader.close()
