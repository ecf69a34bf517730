"""NATS-sss identity: index order against the real meta file, parsing, sampling, encodings, Space."""

from __future__ import annotations

import bz2
import pickle
from functools import cache

import numpy as np
import pytest

from nasbench_tools.errors import InvalidArchError, NasbenchToolsError, QueryError
from nasbench_tools.spaces import get_space, space_of
from nasbench_tools.spaces.encodings import get_encoding, list_encodings
from nasbench_tools.spaces.nats_sss import (
    CHANNEL_CHOICES,
    NUM_CONFIGS,
    SizeConfig,
    all_configs,
    channel_matrix,
    sample,
)

from ..conftest import FIXTURES

NATS_SSS = FIXTURES / "nats" / "NATS-sss-v1_0-50262-simple"


@cache
def _meta_archs() -> list[str]:
    """The 32,768 strings of the real NATS-sss meta file (trusted fixture, plain pickle)."""
    with bz2.BZ2File(NATS_SSS / "meta.pickle.pbz2") as fh:
        return pickle.load(fh)["meta_archs"]


# =========================================================================== the real order
def test_index_order_is_the_real_meta_order_for_all_32768():
    meta = _meta_archs()
    assert len(meta) == NUM_CONFIGS == 32768
    assert [c.to_string() for c in all_configs()] == meta
    assert [SizeConfig.from_string(s).index for s in meta] == list(range(NUM_CONFIGS))
    assert get_space("nats-sss").strings(range(NUM_CONFIGS)) == meta
    table = channel_matrix()
    assert [":".join(map(str, row)) for row in table.tolist()] == meta
    with pytest.raises(ValueError):
        table[0, 0] = 16  # read-only: a cache is never handed out mutable


@pytest.mark.parametrize(
    "index, text",  # from the real records: arch_index / arch_str of files 000000, 000011, 000284
    [(0, "8:8:8:8:8"), (11, "8:8:8:16:32"), (284, "8:8:40:32:40"), (32767, "64:64:64:64:64")],
)
def test_records_identity_round_trips(index, text):
    c = SizeConfig.from_index(index)
    assert c.to_string() == text and str(c) == text
    assert SizeConfig.from_string(text).index == index
    assert SizeConfig.parse(text) == c == SizeConfig.parse(index) == SizeConfig.parse(str(index))
    assert SizeConfig.from_channels(c.channels) == c == SizeConfig.from_choices(c.choices)
    assert c.channels == tuple(int(x) for x in text.split(":"))
    assert [CHANNEL_CHOICES[i] for i in c.choices] == list(c.channels)


def test_first_width_is_the_most_significant_digit():
    assert SizeConfig.from_string("8:8:8:8:16").index == 1
    assert SizeConfig.from_string("8:8:8:16:8").index == 8
    assert SizeConfig.from_string("16:8:8:8:8").index == 4096


# =========================================================================== bad input
@pytest.mark.parametrize(
    "value, pattern",
    [
        ("8:8:8:8", r"'8:8:8:8' has 4 widths"),
        ("8:8:8:8:8:8", "has 6 widths"),
        ("8:8:12:8:8", r"width 12 in NATS-sss configuration .* is not one of \[8, 16"),
        ("8:8:08:8:8", r"width 3 of NATS-sss configuration '8:8:08:8:8' is '08'"),
        ("8:8: 8:8:8", r"width 3 .* is ' 8'"),
        ("8:8:+8:8:8", r"is '\+8'"),
        ("8:8:٨:8:8", "not a plain decimal"),
        ("8:8::8:8", r"width 3 .* is ''"),
        ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "has 1 widths"),
        (32768, r"NATS-sss index 32768 out of range; expected 0\.\.32767"),
        (-1, "out of range"),
        ("-1", "out of range"),
        (True, "cannot interpret True"),
        (1.0, "cannot interpret 1.0"),
        (None, "cannot interpret None"),
        ([8, 8, 8, 8], "has 5 layers, got 4 widths"),
        ([8, 8, 8, 8, 9], "width 9"),
        ([8, 8, 8, 8, 8.0], "width 8.0"),
        ([8, 8, 8, 8, True], "width True"),
    ],
)
def test_bad_input_is_refused_naming_it(value, pattern):
    with pytest.raises(InvalidArchError, match=pattern):
        SizeConfig.parse(value)


def test_bad_choices_and_index_types():
    with pytest.raises(InvalidArchError, match=r"choice 8 in \(0, 0, 0, 0, 8\)"):
        SizeConfig.from_choices([0, 0, 0, 0, 8])
    with pytest.raises(InvalidArchError, match="choice -1"):
        SizeConfig.from_choices([0, 0, 0, 0, -1])
    with pytest.raises(InvalidArchError, match="must be an int, got str"):
        SizeConfig.from_index("3")
    with pytest.raises(InvalidArchError, match="must be a str, got int"):
        SizeConfig.from_string(3)
    with pytest.raises(InvalidArchError, match="use SizeConfig.from_string"):
        SizeConfig("8:8:8:8:8")
    with pytest.raises(InvalidArchError, match="out of range"):
        get_space("nats-sss").strings([0, 32768])


def test_value_semantics():
    a, b = SizeConfig.from_index(284), SizeConfig.parse(np.array([8, 8, 40, 32, 40]))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != SizeConfig.from_index(285) and a != "8:8:40:32:40"
    assert pickle.loads(pickle.dumps(a)) == a
    assert repr(a) == "SizeConfig('8:8:40:32:40')"
    assert SizeConfig.parse(np.int64(11)).index == 11
    with pytest.raises(AttributeError):
        a.channels = (8, 8, 8, 8, 8)
    with pytest.raises(AttributeError):
        a.width = 3  # __slots__: no stray attributes


# =========================================================================== sampling
def test_sample_is_seeded_distinct_and_covers_the_space():
    a, b = sample(50, seed=3), sample(50, seed=3)
    assert a == b and len(set(a)) == 50
    assert sample(50, seed=4) != a
    everything = sample(NUM_CONFIGS, seed=0)
    assert sorted(c.index for c in everything) == list(range(NUM_CONFIGS))
    assert sample(0, seed=1) == []


def test_sample_with_replacement_is_uniform_per_layer():
    draws = np.array([c.choices for c in sample(40_000, seed=7, replace=True)])
    for layer in range(5):
        counts = np.bincount(draws[:, layer], minlength=8)
        # 40,000 draws, 8 equally likely widths: 5,000 each, sd ~66; a bias shows as > 400
        assert np.abs(counts - 5000).max() < 400, (layer, counts)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"n": 32769, "seed": 0}, "only 32768"),
        ({"n": -1, "seed": 0}, "non-negative"),
        ({"n": 2.0, "seed": 0}, "non-negative int"),
        ({"n": 2, "seed": None}, "no random default"),
        ({"n": 2, "seed": 1.5}, "no random default"),
    ],
)
def test_sample_refuses_bad_arguments(kwargs, pattern):
    with pytest.raises(QueryError, match=pattern):
        sample(**kwargs)


# =========================================================================== encodings
def test_encodings_registered_and_hand_checked():
    assert list_encodings("nats-sss") == ["categorical", "onehot"]
    configs = [SizeConfig.from_string("8:8:40:32:40"), SizeConfig.from_string("64:16:8:56:24")]
    cat = get_encoding("categorical", "nats-sss")
    assert cat.columns == ("layer0", "layer1", "layer2", "layer3", "layer4")
    np.testing.assert_array_equal(cat.fn(configs), [[0, 0, 4, 3, 4], [7, 1, 0, 6, 2]])
    one = get_encoding("onehot", "nats-sss")
    x = one.fn(configs)
    assert x.shape == (2, 40) and (x.sum(axis=1) == 5).all()
    on = [[one.columns[j] for j in np.flatnonzero(row)] for row in x]
    assert on[0] == ["layer0=8", "layer1=8", "layer2=40", "layer3=32", "layer4=40"]
    assert on[1] == ["layer0=64", "layer1=16", "layer2=8", "layer3=56", "layer4=24"]


# =========================================================================== the Space
def test_space_contract():
    sp = get_space("nats-sss")
    c = SizeConfig.from_index(284)
    assert sp.key(c) == sp.key("8:8:40:32:40") == 284 and sp.arch(284) == c
    assert sp.size == 32768 and sp.key_kind == "index"
    assert sp.key_from_column("arch_str", "8:8:40:32:40") == 284
    assert sp.key_from_column("index", " 284 ") == 284
    with pytest.raises(InvalidArchError):
        sp.key_from_column("index", "32768")
    with pytest.raises(InvalidArchError):
        sp.key_from_column("arch_str", "8:8:40:32")
    assert sp.class_ids(np.arange(10)) is None
    np.testing.assert_array_equal(sp.all_keys(), np.arange(32768))
    assert space_of([c, SizeConfig.from_index(0)])[0] is sp
    assert pickle.loads(pickle.dumps(sp)) is sp
    assert sp.describe(c) == "NATS-sss configuration 284 8:8:40:32:40"
    assert sp.to_string(11) == "8:8:8:16:32"
    with pytest.raises(NasbenchToolsError):
        sp.key_from_column("module_hash", "x")
