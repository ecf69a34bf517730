"""The columnar HDF5 store: one file per converted benchmark, aligned to one architecture axis.

Layout (format version 1)::

    /                       attrs: format, format_version, package_version, space, benchmark,
                                   source_name, source_format, source_sha256, created_utc, meta_json
    /axis/keys              NB201: int64 benchmark indices; NB101: S32 module hashes (sorted)
    /axis/spec_matrices     NB101 only: (N, 7, 7) int8 pruned adjacency (top-left corner)
    /axis/spec_labels       NB101 only: (N, 7) int8 hash labels (-1 in, -2 out, op index, -3 pad)
    /axis/spec_num_vertices NB101 only: (N,) int8
    /columns/<key>          one dataset per column, named by ``Key.to_str()``
                            (``dataset|split|epochs|metric|point``); float64, (N, S) per seed or
                            (N,) seed means; attrs: seeds, unit, source

Columns are stored uncompressed and contiguous so one whole-space vector is a single read. A store
is written atomically (temporary file in the same folder, then ``os.replace``), so an interrupted
conversion leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import NasbenchToolsError, StoreVersionError
from .columns import Column, ColumnSet, Key, SpecArray

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "StoreReader",
    "is_store",
    "read_store",
    "sha256_of",
    "write_store",
]

FORMAT_NAME = "nasbench_tools.groundtruth.store"
FORMAT_VERSION = 1
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def sha256_of(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file, or of a folder's files (sorted by relative path, names included)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def is_store(path: str | Path) -> bool:
    """Cheap check: an HDF5 file (by magic bytes). Whether it is *our* store is checked on open."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(8) == _HDF5_MAGIC


def write_store(
    cs: ColumnSet,
    path: str | Path,
    *,
    source_sha256: str = "",
) -> Path:
    """Write ``cs`` to ``path`` atomically; returns the path.

    ``source_sha256`` stamps the store with the hash of the file it was converted from.
    """
    import h5py

    path = Path(path)
    if path.exists() and path.is_dir():
        raise NasbenchToolsError(f"{path}: is a folder; give a file name for the store")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w", libver="latest") as f:
            meta = dict(cs.meta)
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["package_version"] = __version__
            f.attrs["space"] = cs.space
            f.attrs["benchmark"] = str(meta.get("benchmark", ""))
            f.attrs["source_name"] = str(meta.get("source_name", ""))
            f.attrs["source_format"] = str(meta.get("source_format", ""))
            f.attrs["source_sha256"] = source_sha256
            f.attrs["created_utc"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
            f.attrs["meta_json"] = json.dumps(meta, sort_keys=True, default=str)
            axis = f.create_group("axis")
            if cs.space == "nb201":
                axis.create_dataset("keys", data=cs.keys.astype(np.int64))
            else:
                axis.create_dataset("keys", data=np.array(cs.keys.tolist(), dtype="S32"))
                if cs.specs is not None:
                    axis.create_dataset("spec_matrices", data=cs.specs.matrices)
                    axis.create_dataset("spec_labels", data=cs.specs.labels)
                    axis.create_dataset("spec_num_vertices", data=cs.specs.num_vertices)
            cols = f.create_group("columns")
            for key in sorted(cs.columns):
                col = cs.columns[key]
                ds = cols.create_dataset(key.to_str(), data=col.values)
                ds.attrs["seeds"] = np.asarray(col.seeds, dtype=np.int64)
                ds.attrs["unit"] = col.unit
                ds.attrs["source"] = col.source
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


class StoreReader:
    """An open store: provenance and axis read at once, columns read on first use and cached."""

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise NasbenchToolsError(f"{self.path}: no such store file")
        if not is_store(self.path):
            raise StoreVersionError(
                f"{self.path}: not an HDF5 file, so not a nasbench_tools store "
                "(convert an official benchmark file with `nbt convert SRC -o STORE.h5`)"
            )
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise StoreVersionError(f"{self.path}: unreadable HDF5 file ({exc})") from exc
        attrs = self._file.attrs
        fmt = attrs.get("format")
        if fmt != FORMAT_NAME:
            self._file.close()
            raise StoreVersionError(
                f"{self.path}: an HDF5 file but not a nasbench_tools store (format attribute "
                f"{fmt!r}, expected {FORMAT_NAME!r})"
            )
        version = int(attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            self._file.close()
            newer = version > FORMAT_VERSION
            raise StoreVersionError(
                f"{self.path}: store format version {version}, this nasbench_tools "
                f"{__version__} reads version {FORMAT_VERSION}; "
                + ("upgrade nasbench_tools" if newer else "re-run `nbt convert` on the source file")
            )
        self.space = str(attrs["space"])
        self.meta = json.loads(attrs["meta_json"])
        self.provenance = {
            k: (v.item() if hasattr(v, "item") else v) for k, v in attrs.items() if k != "meta_json"
        }
        #: NB201: int64 indices; NB101: S32 hashes (decoded to str only by :attr:`keys`)
        self.raw_keys = self._file["axis/keys"][()]
        self.has_specs = "spec_matrices" in self._file["axis"]
        self._column_names = list(self._file["columns"].keys())
        self.column_keys = [Key.from_str(n) for n in self._column_names]
        self._cache: dict[Key, Column] = {}

    @property
    def keys(self) -> np.ndarray:
        if self.space == "nb201":
            return self.raw_keys
        return self.raw_keys.astype("U32").astype(object)

    def read_specs(self) -> SpecArray | None:
        """The NB101 cell specs (read from the file on each call)."""
        if not self.has_specs:
            return None
        axis = self._file["axis"]
        return SpecArray(
            axis["spec_matrices"][()], axis["spec_labels"][()], axis["spec_num_vertices"][()]
        )

    def column(self, key: Key) -> Column:
        col = self._cache.get(key)
        if col is None:
            ds = self._file["columns"][key.to_str()]
            col = Column(
                ds[()],
                tuple(ds.attrs["seeds"].tolist()),
                str(ds.attrs["unit"]),
                str(ds.attrs["source"]),
            )
            self._cache[key] = col
        return col

    def to_columnset(self) -> ColumnSet:
        cols = {k: self.column(k) for k in self.column_keys}
        return ColumnSet(self.space, self.keys, cols, self.read_specs(), dict(self.meta))

    def close(self) -> None:
        self._file.close()


def read_store(path: str | Path) -> ColumnSet:
    """Read a whole store into memory as a :class:`ColumnSet`."""
    reader = StoreReader(path)
    try:
        return reader.to_columnset()
    finally:
        reader.close()
