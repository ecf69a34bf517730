"""Every notebook in notebooks/reproduce/ redraws its reproduction's figures from a finished run.

A notebook is named after its script (``notebooks/reproduce/X.ipynb`` for
``benchmarks/reproduce/X.py``); each is executed (nbclient, kernel ``python3``, importing the
package under test) against a copy of that script's quick run, made once per session by the
``quick_run`` fixture and shared with test_scripts.py. The copy leaves out ``work/`` (supernets,
quick ground truths), so a notebook can only use what a run saves: results.json, tables/, scores/,
the journal.

The contract a notebook keeps (notebooks/reproduce/*.ipynb; the convention is in each notebook's
first cells):

* it reads the run folder from ``NBT_REPRO_DIR`` and stops with one line naming the folder and
  results.json when there is none;
* it saves its figures as ``$NBT_REPRO_DIR/figures/notebook_*.png`` and shows them inline;
* its last cell writes ``$NBT_REPRO_DIR/figures/notebook_values.json``:
  ``{"figures": ["notebook_x.png", ...], "checks": [{"what": ..., "plotted": number or null,
  "results": "a/b/c"}, ...]}``, each check a number a figure shows (best: recomputed from the
  plotted data) beside the path of the same number in results.json, which the test compares.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks" / "reproduce").glob("*.ipynb"))
SCRIPTS = ROOT / "benchmarks" / "reproduce"
IDS = [p.stem for p in NOTEBOOKS]
PNG = b"\x89PNG\r\n\x1a\n"


def _script(stem: str):
    """The reproduction module of a notebook (a clear failure when there is none)."""
    if not (SCRIPTS / f"{stem}.py").is_file():
        pytest.fail(
            f"notebooks/reproduce/{stem}.ipynb has no script benchmarks/reproduce/{stem}.py: a "
            "reproduction notebook is named after the script whose run folder it reads"
        )
    mod = importlib.import_module(stem)
    if not all(hasattr(mod, a) for a in ("PRESETS", "run")) or "quick" not in mod.PRESETS.names():
        pytest.fail(f"benchmarks/reproduce/{stem}.py has no quick preset (PRESETS, run)")
    return mod


def _kernel_env(run_dir: Path) -> dict:
    """The environment of the kernel: NBT_REPRO_DIR, and the package under test importable
    (a worktree on PYTHONPATH, or an installed package: its folder first either way)."""
    import nasbench_tools

    here = str(Path(nasbench_tools.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "NBT_REPRO_DIR": str(run_dir), "PYTHONPATH": path}


#: Appended to each notebook run here: which package the kernel imported.
WHICH = "import nasbench_tools; print('package under test:', nasbench_tools.__file__)"


def _execute(path: Path, run_dir: Path, cwd: Path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHICH))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env=_kernel_env(run_dir))
    return nb


def _kernel_package(nb) -> str:
    (out,) = [o for o in nb.cells[-1].outputs if o.get("name") == "stdout"]
    return out["text"].split("package under test:", 1)[1].strip()


def _at(results: dict, pointer: str):
    v = results
    for part in pointer.split("/"):
        v = v[int(part)] if isinstance(v, list) else v[part]
    return v


def _mismatches(results: dict, checks: list) -> list[str]:
    bad = []
    for c in checks:
        try:
            want = _at(results, c["results"])
        except (KeyError, IndexError, ValueError, TypeError):
            bad.append(f"{c['what']}: results.json has no {c['results']!r}")
            continue
        got = c["plotted"]
        if want is None or got is None:
            same = want is None and got is None
        else:
            same = got == pytest.approx(want, rel=1e-9, abs=1e-12)
        if not same:
            bad.append(
                f"{c['what']}: the figure shows {got!r}, results.json {c['results']} is {want!r}"
            )
    return bad


def test_there_is_a_notebook_for_each_reproduction():
    assert {"depth_gap", "bender", "mixpath"} <= set(IDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and nb.cells[0].cell_type == "markdown"
    assert not any(c.outputs or c.execution_count for c in code), f"clear the outputs of {path}"
    # the defect this guards: Agg shows no figure inline
    assert not any("agg" in c.source.lower() for c in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_redraws_the_figures_of_a_quick_run_with_its_numbers(path, quick_run, tmp_path):
    stem = path.stem
    _script(stem)
    run = tmp_path / "run"
    # what a run saves, without work/ (and without figures an earlier notebook run drew)
    shutil.copytree(quick_run(stem), run, ignore=shutil.ignore_patterns("work", "notebook_*"))
    before = (run / "results.json").read_bytes()
    try:
        nb = _execute(path, run, tmp_path)
    except CellExecutionError as exc:
        pytest.fail(f"notebooks/reproduce/{stem}.ipynb fails on a quick {stem} run:\n{exc}")
    import nasbench_tools

    # the kernel ran the package under test (a worktree's, not one installed elsewhere)
    ours, kernels = Path(nasbench_tools.__file__).resolve(), Path(_kernel_package(nb)).resolve()
    assert kernels == ours, f"the kernel imported {kernels}, the tests {ours}"
    assert (run / "results.json").read_bytes() == before, "a notebook must not rewrite results"
    values = run / "figures" / "notebook_values.json"
    if not values.is_file():
        pytest.fail(
            f"notebooks/reproduce/{stem}.ipynb wrote no figures/notebook_values.json (its last "
            'cell: {"figures": [...], "checks": [{"what", "plotted", "results"}]}; see this file)'
        )
    v = json.loads(values.read_text())
    assert v["figures"], f"{stem}: no figures listed"
    on_disk = sorted(p.name for p in (run / "figures").glob("notebook_*.png"))
    assert sorted(v["figures"]) == on_disk
    for name in v["figures"]:
        data = (run / "figures" / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, f"{stem}: {name} is not a figure"
    shown = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(shown) >= len(v["figures"]), f"{stem}: figures saved but not shown inline"
    assert v["checks"], f"{stem}: the notebook records no plotted number to check"
    bad = _mismatches(json.loads(before), v["checks"])
    assert not bad, f"{stem}.ipynb draws numbers that are not the run's:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def without_a_run(tmp_path_factory) -> dict:
    """``{stem: (the error's message or None, files written)}``: every notebook run against an
    empty folder, one after another in ONE kernel (a kernel start is most of a notebook's cost
    when it stops in its first cell)."""
    empty = tmp_path_factory.mktemp("not_a_run")
    client = nbclient.NotebookClient(
        nbformat.v4.new_notebook(), timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(empty.parent)}},
    )  # fmt: skip
    out = {}
    with client.setup_kernel(env=_kernel_env(empty)):
        for path in NOTEBOOKS:
            client.nb = nbformat.read(path, as_version=4)
            message = None
            try:
                for i, cell in enumerate(client.nb.cells):
                    if cell.cell_type == "code":
                        client.execute_cell(cell, i)
            except CellExecutionError as exc:
                message = exc.evalue  # the exception's message (str() also holds the source)
            out[path.stem] = (message, sorted(p.name for p in empty.iterdir()))
            for p in empty.iterdir():
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_without_a_finished_run_stops_naming_the_folder(path, without_a_run):
    message, written = without_a_run[path.stem]
    assert message is not None, f"{path.stem}.ipynb ran to the end without a run folder"
    # one line that names the folder, the missing file and the command that makes it
    assert all(w in message for w in ("results.json", "not_a_run", f"{path.stem}.py")), (
        f"{path.stem}.ipynb without a run should say that not_a_run has no results.json and "
        f"that {path.stem}.py makes it; it says {message!r}"
    )
    assert not written, f"{path.stem}.ipynb wrote {written} without a run folder"
