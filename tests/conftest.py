from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
NATS_TSS = FIXTURES / "nats" / "NATS-tss-v1_0-3ffb9-simple"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def nats_meta_archs() -> list[str]:
    """The 15,625 arch strings of the real NATS-Bench meta file (trusted fixture, plain pickle)."""
    with bz2.BZ2File(NATS_TSS / "meta.pickle.pbz2") as fh:
        return pickle.load(fh)["meta_archs"]


@pytest.fixture(scope="session")
def nb101_dummy() -> dict:
    """NASLib's 30 real NB101 records: {hash: (fixed_stats, computed_stats)} (trusted fixture)."""
    with open(FIXTURES / "nb101" / "naslib_nb101_dummy.pkl", "rb") as fh:
        return pickle.load(fh)
