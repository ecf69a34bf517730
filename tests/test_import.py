"""The core imports fast and without torch."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_pull_torch():
    code = (
        "import sys, nasbench_tools, nasbench_tools.spaces, nasbench_tools.errors; "
        "bad = sorted(m for m in ('torch', 'torchvision', 'tensorflow') if m in sys.modules); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_is_exposed():
    import nasbench_tools

    assert nasbench_tools.__version__.count(".") == 2


def test_every_data_file_is_declared_as_package_data():
    """A non-editable install must carry the embedded data (a wheel built from pyproject.toml)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["*"]
    data_dirs = [root / "nasbench_tools/groundtruth/embedded", root / "nasbench_tools/spaces/data"]
    files = [p for d in data_dirs for p in d.rglob("*") if p.is_file()]
    assert len(files) >= 10
    for p in files:
        rel = p.relative_to(p.parents[1] if p.parent.name == "LICENSES" else p.parent).as_posix()
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), rel
