"""The proxy registry's contract: declared fields validated, negation applied in one place,
settings merged without silently ignoring a typo, results checked for shape."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.errors import NasbenchToolsError
from nasbench_tools.proxies import base
from nasbench_tools.proxies.base import (
    PROXIES,
    Proxy,
    ProxyError,
    ScoreRequest,
    compute_scores,
    settings,
)
from nasbench_tools.spaces import get_space


@pytest.fixture
def toy(monkeypatch):
    """Two proxies of one group and a negated one, registered for the test only."""
    calls = []

    def group_fn(req):
        calls.append(req.names)
        keys = np.asarray(req.keys, dtype=np.float64)
        return {"t_a": keys * 2.0, "t_b": keys + 0.5, "t_neg": keys}

    entries = dict(PROXIES._entries)
    PROXIES._load()
    for name, neg, group in (("t_a", False, "tg"), ("t_b", False, "tg"), ("t_neg", True, None)):
        monkeypatch.setitem(
            PROXIES._entries,
            name,
            Proxy(name, "nothing", True, neg, "count", "toy", group or name, group_fn,
                  defaults={"batch_size": 8, "alpha": 1}),
        )  # fmt: skip
    yield calls
    PROXIES._entries.clear()
    PROXIES._entries.update(entries)


def _req(names, **kw):
    return ScoreRequest(get_space("nb201"), np.array([0, 3, 7]), tuple(names), **kw)


def test_negated_proxy_is_stored_as_minus_its_natural_value(toy):
    out = compute_scores(_req(["t_neg", "t_a"]))
    np.testing.assert_array_equal(out["t_neg"], [-0.0, -3.0, -7.0])
    np.testing.assert_array_equal(out["t_a"], [0.0, 6.0, 14.0])


def test_one_call_per_group_with_the_names_of_that_group(toy):
    compute_scores(_req(["t_a", "t_neg", "t_b"]))
    assert toy == [("t_a", "t_b"), ("t_neg",)]


def test_unknown_option_is_refused_not_ignored(toy):
    with pytest.raises(ProxyError, match="no option alhpa.*known: .*alpha"):
        settings(_req(["t_a"], options={"alhpa": 2}))
    got = settings(_req(["t_a"], options={"alpha": 2, "C": 8}, batch_size=4))
    assert got == {"batch_size": 4, "alpha": 2, "C": 8}


def test_wrong_shape_from_a_proxy_function_is_an_error(toy, monkeypatch):
    p = PROXIES.get("t_a")
    monkeypatch.setitem(
        PROXIES._entries, "t_a",
        Proxy("t_a", "nothing", True, False, "count", "toy", "t_a", lambda r: {"t_a": np.ones(2)}),
    )  # fmt: skip
    with pytest.raises(ProxyError, match=r"'t_a' returned shape \(2,\), expected \(3,\)"):
        compute_scores(_req(["t_a"]))
    assert p.name == "t_a"


def test_data_and_supernet_needs_are_checked_before_computing():
    fn = lambda r: {}  # noqa: E731
    for needs, what in (("data", "needs images"), ("supernet", "run folder")):
        p = Proxy("x", needs, True, False, "count", "toy", "x", fn)
        with pytest.raises(ProxyError, match=what):
            base._check_needs([p], _req(["x"]))


def test_proxy_fields_are_validated_and_defaults_read_only():
    with pytest.raises(NasbenchToolsError, match="needs must be one of"):
        Proxy("x", "gpu", True, False, "count", "toy", "x", lambda r: {})
    d = {"batch_size": 64}
    p = Proxy("x", "data", True, False, "count", "toy", "x", lambda r: {}, defaults=d)
    d["batch_size"] = 1
    assert p.defaults["batch_size"] == 64
    with pytest.raises(TypeError):
        p.defaults["batch_size"] = 2


@pytest.mark.parametrize("name", PROXIES.names())
def test_every_registered_proxy_declares_a_known_need_and_a_unit(name):
    p = PROXIES.get(name)
    assert p.needs in base.NEEDS and p.unit and p.description
    assert all(
        PROXIES.get(q).compute is p.compute for q in PROXIES.filter(lambda e: e.group == p.group)
    )
