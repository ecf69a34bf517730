"""Search trajectories: the record of every query of every run, and their file format.

A :class:`Trajectories` object holds the runs of one strategy under one oracle and budget (what
one ``nbt search`` writes): per query the architecture's key, the signal the strategy saw, the
cost charged, the clock, the architecture's report metric (never shown to the strategy) and
whether it finished after the time budget; per run its seed, the position of its answer and why
it stopped; per-iteration records a strategy made (WeakNAS's predicted top-1, its predictor's
Kendall tau), and a header with everything needed to reproduce and to judge the numbers.

File format (``.npz``, version 1)
---------------------------------
A zip archive of ``.npy`` arrays (numpy's ``savez`` layout, deflate-compressed, with fixed member
timestamps so identical runs give identical bytes); read with ``allow_pickle=False``.

=================  ===============  ==========================================================
array              dtype, shape     meaning
=================  ===============  ==========================================================
``header``         uint8 (B,)       UTF-8 JSON object: ``format`` (``"nasbench_tools.search.
                                    trajectories"``), ``version`` (1), ``package_version``,
                                    ``strategy`` (name, preset, resolved options, sampler),
                                    ``budget`` (queries or seconds), ``oracle`` (the oracle's
                                    declaration: signal, report metric, cost, objective, pool,
                                    sources with sha256, notes, optimum), ``seed`` (the base
                                    seed), ``repeats``, ``run_seeds`` (the rule), ``records``
                                    (each record's meaning), ``command`` (argv, if any)
``q_run``          int32 (Q,)       run number (0..R-1) of each query; runs contiguous, in order
``q_key``          int64 or S32     the architecture's key (benchmark index, or module hash)
``q_signal``       float64          the signal the strategy saw (after the objective)
``q_cost``         float64          simulated seconds charged for the query
``q_clock``        float64          the run's clock after the query (sum of its costs so far)
``q_report``       float64          the architecture's report metric
``q_late``         bool             finished after the time budget: charged, not used
``r_seed``         int64 (R,)       each run's seed
``r_answer``       int64 (R,)       position within its run of the answer query (-1: none)
``r_stop``         uint8 (R,)       0: budget spent; 1: the strategy had nothing left to ask
``x_<name>_run``   int32 (E,)       per-iteration record ``name``: its run,
``x_<name>_at``    int32 (E,)       the number of queries told when it was made,
``x_<name>_value`` float64 (E,)     and its value
=================  ===============  ==========================================================

:func:`read_trajectories` checks all of it (names, dtypes, shapes, run order, the header) and
bounds the decompressed size by the file's size; a file that breaks the format raises
:class:`~nasbench_tools.search.SearchError` naming the file and what is wrong.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_write
from ._common import SearchError

__all__ = ["FORMAT", "VERSION", "Trajectories", "read_trajectories", "write_trajectories"]

FORMAT = "nasbench_tools.search.trajectories"
VERSION = 1
_Q = {
    "q_run": "i4",
    "q_key": None,
    "q_signal": "f8",
    "q_cost": "f8",
    "q_clock": "f8",
    "q_report": "f8",
    "q_late": "?",
}
_R = {"r_seed": "i8", "r_answer": "i8", "r_stop": "u1"}
#: The decompressed arrays may be at most this many times the file's size (plus _SLACK bytes).
_RATIO = 256
_SLACK = 16 * 2**20


@dataclass
class Trajectories:
    """Runs of one strategy under one oracle and budget; see the module text for each array.

    Arrays are read-only. ``records`` maps a record name to ``(run, at, value)`` arrays.
    """

    header: dict
    q_run: np.ndarray
    q_key: np.ndarray
    q_signal: np.ndarray
    q_cost: np.ndarray
    q_clock: np.ndarray
    q_report: np.ndarray
    q_late: np.ndarray
    r_seed: np.ndarray
    r_answer: np.ndarray
    r_stop: np.ndarray
    records: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in (*_Q, *_R):
            a = np.array(getattr(self, name))
            a.setflags(write=False)
            setattr(self, name, a)
        self.records = {
            k: tuple(_ro(np.asarray(a)) for a in v) for k, v in sorted(self.records.items())
        }
        self._starts = np.searchsorted(self.q_run, np.arange(self.n_runs + 1))

    # ------------------------------------------------------------------ shape
    @property
    def n_runs(self) -> int:
        return len(self.r_seed)

    @property
    def n_queries(self) -> int:
        return len(self.q_run)

    def __repr__(self) -> str:
        s = self.header.get("strategy", {}).get("name", "?")
        return f"<Trajectories {s}: {self.n_runs} runs, {self.n_queries} queries>"

    def run_slice(self, i: int) -> slice:
        """The queries of run ``i``."""
        return slice(int(self._starts[i]), int(self._starts[i + 1]))

    def queries_per_run(self) -> np.ndarray:
        return np.diff(self._starts)

    # ------------------------------------------------------------------ what was found
    def answer_report(self) -> np.ndarray:
        """The report metric of each run's answer (NaN for a run with none)."""
        out = np.full(self.n_runs, np.nan)
        for i in range(self.n_runs):
            a = int(self.r_answer[i])
            if a >= 0:
                out[i] = self.q_report[self.run_slice(i).start + a]
        return out

    @property
    def strategy(self) -> str:
        return self.header["strategy"]["name"]

    @property
    def label(self) -> str:
        """What to call these runs in tables: the strategy and any preset or option set."""
        st = self.header["strategy"]
        return st.get("label") or st["name"] + (f" ({st['preset']})" if st.get("preset") else "")

    @property
    def oracle(self) -> dict:
        return copy.deepcopy(self.header["oracle"])

    @property
    def budget(self) -> dict:
        return dict(self.header["budget"])

    def select(self, runs) -> Trajectories:
        """A new object with the given runs only (renumbered from 0, in the order given)."""
        runs = [int(r) for r in runs]
        qs = [np.arange(self.run_slice(r).start, self.run_slice(r).stop) for r in runs]
        idx = np.concatenate(qs) if qs else np.zeros(0, np.int64)
        new_run = (
            np.concatenate([np.full(len(q), i, np.int32) for i, q in enumerate(qs)])
            if qs
            else np.zeros(0, np.int32)
        )
        recs = {}
        pos = {r: i for i, r in enumerate(runs)}
        for name, (rr, at, val) in self.records.items():
            keep = np.isin(rr, runs)
            recs[name] = (
                np.array([pos[int(r)] for r in rr[keep]], dtype=np.int32),
                at[keep],
                val[keep],
            )
        header = copy.deepcopy(self.header)
        header["repeats"] = len(runs)
        return Trajectories(
            header,
            new_run,
            self.q_key[idx],
            self.q_signal[idx],
            self.q_cost[idx],
            self.q_clock[idx],
            self.q_report[idx],
            self.q_late[idx],
            self.r_seed[runs],
            self.r_answer[runs],
            self.r_stop[runs],
            recs,
        )


def concatenate(parts: list[Trajectories], header: dict) -> Trajectories:
    """Runs of several objects, in order, under ``header``."""
    offsets = np.cumsum([0] + [p.n_runs for p in parts])
    recs: dict[str, list] = {}
    for p, off in zip(parts, offsets):
        for name, (rr, at, val) in p.records.items():
            recs.setdefault(name, []).append((rr + off, at, val))
    return Trajectories(
        header,
        np.concatenate([p.q_run + off for p, off in zip(parts, offsets)]).astype(np.int32),
        np.concatenate([p.q_key for p in parts]),
        *(np.concatenate([getattr(p, n) for p in parts]) for n in list(_Q)[2:]),
        *(np.concatenate([getattr(p, n) for p in parts]) for n in _R),
        {k: tuple(np.concatenate([x[i] for x in v]) for i in range(3)) for k, v in recs.items()},
    )


# =========================================================================== writing
def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _arrays(t: Trajectories) -> dict[str, np.ndarray]:
    head = json.dumps(t.header, sort_keys=True, allow_nan=False, default=_json_default).encode()
    out = {"header": np.frombuffer(head, dtype=np.uint8)}
    for name, dt in _Q.items():
        a = getattr(t, name)
        out[name] = a if dt is None else a.astype(dt)
    for name, dt in _R.items():
        out[name] = getattr(t, name).astype(dt)
    for name, (rr, at, val) in t.records.items():
        out[f"x_{name}_run"] = rr.astype("i4")
        out[f"x_{name}_at"] = at.astype("i4")
        out[f"x_{name}_value"] = val.astype("f8")
    return out


def write_trajectories(t: Trajectories, path, *, overwrite: bool = False) -> Path:
    """Write ``t`` to ``path`` (``.npz``) atomically; see the module text for the format."""
    path = Path(path)
    with atomic_write(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, a in _arrays(t).items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, _npy(a))
    return path


def plain_json(obj):
    """``obj`` as plain JSON types (tuples to lists, numpy scalars to numbers): what a header
    is after a round trip through a file."""
    return json.loads(json.dumps(obj, sort_keys=True, allow_nan=False, default=_json_default))


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, bytes):
        return o.decode()
    raise TypeError(f"cannot write {type(o).__name__} into a trajectory header")


# =========================================================================== reading
def read_trajectories(path) -> Trajectories:
    """Read and check a trajectory file written by :func:`write_trajectories`."""
    path = Path(path)
    if not path.is_file():
        raise SearchError(f"{path}: no such trajectory file")
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = sum(i.file_size for i in infos)
            if total > _RATIO * size + _SLACK:
                raise SearchError(
                    f"{path}: its arrays would decompress to {total:,} bytes, more than "
                    f"{_RATIO} x the file's {size:,} bytes: refused"
                )
            names = [i.filename for i in infos]
            bad = [n for n in names if not n.endswith(".npy") or "/" in n]
            if bad:
                raise SearchError(f"{path}: unexpected member(s) {bad[:3]} in a trajectory file")
            arrays = {}
            for info in infos:
                arrays[info.filename[:-4]] = _read_npy(z.read(info), info.filename, path)
    except SearchError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise SearchError(f"{path}: not a trajectory file ({exc})") from None
    return _from_arrays(arrays, path)


def _read_npy(data: bytes, name: str, path: Path) -> np.ndarray:
    """One ``.npy`` member, its claimed shape checked against its bytes before allocating."""
    buf = io.BytesIO(data)
    fmt = np.lib.format
    version = fmt.read_magic(buf)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(buf)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = fmt.read_array_header_2_0(buf)
    else:
        raise SearchError(f"{path}: member {name} has .npy version {version}")
    if dtype.hasobject:
        raise SearchError(f"{path}: member {name} holds Python objects; refused")
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if need != len(data) - buf.tell():
        raise SearchError(
            f"{path}: member {name} claims {need:,} bytes of data but holds "
            f"{len(data) - buf.tell():,}"
        )
    a = np.frombuffer(data, dtype=dtype, offset=buf.tell()).reshape(
        shape, order="F" if fortran else "C"
    )
    return a.copy()


def _from_arrays(a: dict, path: Path) -> Trajectories:
    if "header" not in a:
        raise SearchError(f"{path}: no header array; not a trajectory file")
    try:
        header = json.loads(bytes(np.asarray(a["header"], dtype=np.uint8)).decode())
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise SearchError(f"{path}: header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SearchError(f"{path}: header format is not {FORMAT!r}")
    if header.get("version") != VERSION:
        raise SearchError(
            f"{path}: trajectory format version {header.get('version')!r}; this package reads "
            f"version {VERSION}"
        )
    for key in ("strategy", "budget", "oracle"):
        if not isinstance(header.get(key), dict):
            raise SearchError(f"{path}: header lacks {key!r}")
    for name in (*_Q, *_R):
        if name not in a:
            raise SearchError(f"{path}: missing array {name!r}")
    q = len(a["q_run"])
    for name, dt in _Q.items():
        arr = a[name]
        if arr.ndim != 1 or len(arr) != q:
            raise SearchError(f"{path}: {name} has shape {arr.shape}, expected ({q},)")
        if dt is not None and arr.dtype != np.dtype(dt):
            raise SearchError(f"{path}: {name} has dtype {arr.dtype}, expected {np.dtype(dt)}")
    if a["q_key"].dtype.kind not in "iS":
        raise SearchError(f"{path}: q_key has dtype {a['q_key'].dtype}, expected int64 or S32")
    r = len(a["r_seed"])
    for name, dt in _R.items():
        arr = a[name]
        if arr.shape != (r,) or arr.dtype != np.dtype(dt):
            raise SearchError(f"{path}: {name} must be {np.dtype(dt)} of shape ({r},)")
    runs = a["q_run"]
    if q and (runs.min() < 0 or runs.max() >= r or (np.diff(runs) < 0).any()):
        raise SearchError(f"{path}: q_run must hold run numbers 0..{r - 1} in order")
    counts = np.bincount(runs, minlength=r) if q else np.zeros(r, np.int64)
    if ((a["r_answer"] < -1) | (a["r_answer"] >= counts)).any():
        raise SearchError(f"{path}: r_answer points outside its run's queries")
    records = {}
    stems = {n[2:].rsplit("_", 1)[0] for n in a if n.startswith("x_")}
    for stem in sorted(stems):
        parts = [a.get(f"x_{stem}_{s}") for s in ("run", "at", "value")]
        if any(p is None for p in parts) or len({len(p) for p in parts}) != 1:
            raise SearchError(f"{path}: record {stem!r} needs _run, _at and _value of one length")
        rr = parts[0]
        if len(rr) and (rr.min() < 0 or rr.max() >= r):
            raise SearchError(f"{path}: record {stem!r} names a run outside 0..{r - 1}")
        records[stem] = (rr.astype(np.int32), parts[1].astype(np.int32), parts[2].astype(float))
    extra = sorted(
        set(a)
        - {"header", *_Q, *_R}
        - {f"x_{s}_{k}" for s in stems for k in ("run", "at", "value")}
    )
    if extra:
        raise SearchError(f"{path}: unexpected array(s) {extra[:3]}")
    return Trajectories(header, *(a[n] for n in _Q), *(a[n] for n in _R), records)


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a
