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
