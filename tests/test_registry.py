"""The one registry shape: register / get / list, duplicate check, "known: ..." error."""

from __future__ import annotations

import pytest

from nasbench_tools.errors import NasbenchToolsError, QueryError
from nasbench_tools.registry import Registry, all_registries, get_registry


def _fresh(kind: str, **kw) -> Registry:
    from nasbench_tools import registry

    registry._ALL.pop(kind, None)
    return Registry(kind, **kw)


def test_register_get_list_sorted():
    reg = _fresh("test widgets")
    reg.register("b", 2)

    @reg.register("a")
    def fa():
        return 1

    assert reg.get("a") is fa and reg.get("b") == 2
    assert reg.names() == ["a", "b"] and list(reg) == ["a", "b"] and len(reg) == 2
    assert "a" in reg and "z" not in reg
    assert reg.items() == [("a", fa), ("b", 2)]


def test_duplicate_name_is_refused():
    reg = _fresh("test dup")
    reg.register("x", 1)
    with pytest.raises(NasbenchToolsError, match="'x' is already registered"):
        reg.register("x", 2)
    assert reg.get("x") == 1


def test_unknown_name_lists_the_known_ones_with_the_registry_error_type():
    reg = _fresh("test thing", error=QueryError)
    reg.register("one", 1)
    reg.register("two", 2)
    with pytest.raises(QueryError, match=r"unknown test thing 'three'; known: one, two"):
        reg.get("three")


def test_bad_names_are_refused():
    reg = _fresh("test names")
    for bad in ("", None, 3):
        with pytest.raises(NasbenchToolsError):
            reg.register(bad, 1)


def test_modules_are_imported_on_first_lookup(tmp_path, monkeypatch):
    pkg = tmp_path / "regpkg_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_private.py").write_text("raise RuntimeError('private modules are skipped')\n")
    (pkg / "plug.py").write_text(
        "from nasbench_tools.registry import get_registry\n"
        "get_registry('test discovered').register('plug', 42)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = _fresh("test discovered", discover="regpkg_demo")
    assert reg.get("plug") == 42
    assert reg.names() == ["plug"]


def test_a_second_registry_of_the_same_kind_is_refused():
    _fresh("test once")
    with pytest.raises(NasbenchToolsError, match="already exists"):
        Registry("test once")


def test_get_registry_names_the_known_kinds():
    _fresh("test lookup")
    assert get_registry("test lookup").kind == "test lookup"
    with pytest.raises(NasbenchToolsError, match="known:"):
        get_registry("no such registry kind")
    assert "test lookup" in all_registries()
