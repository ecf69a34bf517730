"""Every registered Space honours the contract of ``spaces.base`` (parametrised over the registry)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from nasbench_tools.errors import InvalidArchError, NasbenchToolsError
from nasbench_tools.spaces import get_space, list_spaces, nats_sss, nb101, nb201, space_of
from nasbench_tools.spaces.base import SPACES, Space

SPEC = nb101.ModelSpec(
    [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    ["input", "conv3x3-bn-relu", "maxpool3x3", "output"],
)
#: One architecture per space, as its own object, with its known key.
EXAMPLES = {
    "nb201": (nb201.Arch.from_index(6111), 6111),
    "nb101": (SPEC, SPEC.hash),
    "nats-sss": (nats_sss.SizeConfig.from_string("8:8:40:32:40"), 284),
}


def test_every_space_has_an_example_here():
    assert set(list_spaces()) <= set(EXAMPLES) | {"nats-sss"}


@pytest.mark.parametrize("name", list_spaces())
def test_space_declares_its_contract(name):
    sp = get_space(name)
    assert isinstance(sp, Space) and sp.name == name
    assert sp.key_kind in ("index", "hash")
    assert sp.key_column and sp.key_column not in sp.alt_key_columns
    assert isinstance(sp.title, str) and sp.title
    assert pickle.loads(pickle.dumps(sp)) is sp


@pytest.mark.parametrize("name", sorted(set(list_spaces()) & set(EXAMPLES)))
def test_key_round_trip_and_key_array_forms(name):
    sp = get_space(name)
    arch, key = EXAMPLES[name]
    assert sp.key(arch) == key
    assert sp.is_key(key) and sp.as_key(key) == key and sp.as_key(arch) == key
    assert sp.key_from_column(sp.key_column, str(key)) == key
    stored = sp.store_keys(sp.key_array([key]))
    assert stored.dtype == (np.int64 if sp.key_kind == "index" else np.dtype("S32"))
    assert space_of([arch])[0] is sp
    assert sp.to_string(arch) == sp.to_string(sp.parse(arch)) and sp.to_string(arch)


@pytest.mark.parametrize("name", list_spaces())
def test_garbage_is_refused_with_our_error(name):
    sp = get_space(name)
    with pytest.raises(InvalidArchError):
        sp.parse(object())
    with pytest.raises(NasbenchToolsError):
        sp.key_from_column("no_such_column", "1")


def test_nb201_arch_of_key_and_classes():
    sp = get_space("nb201")
    assert sp.arch(6111) == nb201.Arch.from_index(6111)
    assert sp.key_from_column("arch_str", nb201.Arch.from_index(5).to_string()) == 5
    ids = sp.class_ids(np.arange(nb201.NUM_ARCHS))
    assert len(np.unique(ids)) == 6466
    assert sp.all_keys().shape == (15625,)
    with pytest.raises(InvalidArchError):
        sp.key_from_column("index", "15625")


def test_nb101_hash_cannot_be_turned_into_a_cell_without_a_ground_truth():
    sp = get_space("nb101")
    with pytest.raises(InvalidArchError, match="ground truth"):
        sp.arch(SPEC.hash)
    assert sp.class_ids(np.array([SPEC.hash], dtype=object)) is None
    assert sp.all_keys() is None


def test_space_of_refuses_mixed_and_foreign_objects():
    with pytest.raises(InvalidArchError):
        space_of([SPEC, nb201.Arch.from_index(0)])
    with pytest.raises(InvalidArchError):
        space_of(["a string"])
    with pytest.raises(InvalidArchError):
        space_of([])


def test_unknown_space_lists_the_known():
    with pytest.raises(NasbenchToolsError, match="known: .*nb101.*nb201"):
        get_space("nb301")
    assert SPACES.get("nb201") is get_space("nb201")
