"""One local Ray for every Ray test (2 CPUs, no dashboard), started once and stopped when the
tests of this folder are done. Its workers see ``NBT_TEST_CRASH_DIR`` (see ``_crash_proxy``);
the test process does not.

Ray gives its node 30 s to come up, which a loaded 2-core machine can exceed (its agents are
Python processes importing much): a start that times out is tried again, up to 3 times, and
after that the tests are skipped saying so (an overloaded machine, not a fault of this code:
the start-up is Ray's own)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def ray_local(tmp_path_factory):
    ray = pytest.importorskip("ray")
    marks = tmp_path_factory.mktemp("ray-marks")
    env = {"NBT_TEST_CRASH_DIR": str(marks), "OMP_NUM_THREADS": "1"}
    for attempt in range(3):
        try:
            ray.init(
                address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
                runtime_env={"env_vars": env},
            )  # fmt: skip
            break
        except Exception as exc:  # Ray raises a bare Exception when its node times out
            ray.shutdown()
            if "timed out" not in str(exc):
                raise
            if attempt == 2:
                pytest.skip(f"a local Ray did not start within its 30 s, 3 times: {exc}")
    try:
        yield marks
    finally:
        ray.shutdown()
