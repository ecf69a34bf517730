"""Every notebook in notebooks/ runs top to bottom against the installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    # the defect: compare_proxies set the Agg backend, so it showed no figure at all
    assert not any("agg" in c.source.lower() for c in nb.cells if c.cell_type == "code")
    if path.stem in SHOW_FIGURES:
        images = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        assert len(images) >= SHOW_FIGURES[path.stem], path.stem


#: Notebooks that show figures inline, and how many at least.
SHOW_FIGURES = {"compare_proxies": 2, "bring_your_own_scores": 2}


def test_there_is_a_compare_proxies_notebook():
    assert any(p.name == "compare_proxies.ipynb" for p in NOTEBOOKS)
    assert any(p.name == "bring_your_own_scores.ipynb" for p in NOTEBOOKS)
