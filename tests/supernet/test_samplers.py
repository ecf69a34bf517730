"""Sampler distributions (numpy only, exact where the definition is exact, else chi-square)."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from nasbench_tools.errors import NasbenchToolsError, TrainConfigError
from nasbench_tools.nn.choice import OFF, ChoiceSpace
from nasbench_tools.supernet.samplers import (
    SAMPLERS,
    FairNASSampler,
    MixPathSampler,
    OneShotSampler,
    SPOSSampler,
    draw_children,
    list_samplers,
    make_sampler,
    register_sampler,
)

NB201 = ChoiceSpace(
    num_cells=3, num_blocks=6, num_paths=5, zero_path=0, node_blocks=((0,), (1, 2), (3, 4, 5))
)
MIXPATH = ChoiceSpace(num_cells=9, num_blocks=1, num_paths=4, num_alternatives=3)


def _uniform_p(counts) -> float:
    counts = np.asarray(counts, dtype=float)
    return stats.chisquare(counts).pvalue


def test_registry():
    assert list_samplers() == ["fairnas", "mixpath", "oneshot", "spos"]
    assert set(SAMPLERS) == set(list_samplers())
    with pytest.raises(
        TrainConfigError, match="unknown sampler 'darts'; known: fairnas, mixpath, oneshot, spos"
    ):
        make_sampler("darts", NB201)
    with pytest.raises(TrainConfigError, match="sharing"):
        make_sampler("spos", NB201, sharing="global")
    with pytest.raises(TrainConfigError, match="spos"):
        make_sampler("spos", NB201, bogus=1)


def test_same_seed_same_draws():
    for name in list_samplers():
        a = make_sampler(name, NB201).sample(np.random.default_rng(7), 0.5, batch_size=4)
        b = make_sampler(name, NB201).sample(np.random.default_rng(7), 0.5, batch_size=4)
        assert all(np.array_equal(x.choice, y.choice) for x, y in zip(a, b))


# --------------------------------------------------------------------------- SPOS
def test_spos_without_rejection_is_uniform_per_block_and_independent_per_cell():
    s = SPOSSampler(NB201, sharing="per_cell", reject_zero_nodes=False)
    rng = np.random.default_rng(0)
    flats = np.stack([NB201.to_flat(s.sample(rng)[0].choice) for _ in range(4000)])
    assert flats.shape == (4000, 3, 6)
    for g in range(3):
        for b in range(6):
            assert _uniform_p(np.bincount(flats[:, g, b], minlength=5)) > 1e-3
    # cells draw independently: cell 0 and cell 1 agree on an edge about 1/5 of the time
    agree = (flats[:, 0, :] == flats[:, 1, :]).mean()
    assert abs(agree - 0.2) < 0.02


def test_spos_shared_uses_one_group():
    d = SPOSSampler(NB201, sharing="shared").sample(np.random.default_rng(0))
    assert len(d) == 1 and d[0].choice.shape == (1, 6, 5)
    assert (NB201.num_active(d[0].choice) == 1).all()


def test_spos_rejection_never_leaves_a_node_all_zero_and_is_uniform_otherwise():
    s = SPOSSampler(NB201, sharing="shared", reject_zero_nodes=True)
    rng = np.random.default_rng(1)
    flats = np.stack([NB201.to_flat(s.sample(rng)[0].choice)[0] for _ in range(6000)])
    assert (flats[:, 0] != 0).all()  # node 1 has one input: never 'none'
    assert not ((flats[:, 1] == 0) & (flats[:, 2] == 0)).any()
    assert not ((flats[:, 3] == 0) & (flats[:, 4] == 0) & (flats[:, 5] == 0)).any()
    assert _uniform_p(np.bincount(flats[:, 0], minlength=5)[1:]) > 1e-3
    # node 2: uniform over the 24 of 25 op pairs that are not (none, none)
    pairs = Counter(map(tuple, flats[:, 1:3].tolist()))
    assert len(pairs) == 24 and _uniform_p(list(pairs.values())) > 1e-3


# --------------------------------------------------------------------------- FairNAS
@pytest.mark.parametrize("space", [NB201, MIXPATH])
def test_fairnas_every_choice_exactly_once_per_step(space):
    s = FairNASSampler(space, sharing="per_cell")
    rng = np.random.default_rng(0)
    for _ in range(50):
        draws = s.sample(rng)
        assert len(draws) == s.models_per_step == space.num_choices
        flats = np.stack([space.to_flat(d.choice) for d in draws])  # (m, G, B)
        assert (np.sort(flats, axis=0) == np.arange(space.num_choices)[:, None, None]).all()


def test_fairnas_permutations_are_uniform_and_batches_option():
    s = FairNASSampler(NB201, sharing="shared")
    rng = np.random.default_rng(3)
    first = Counter(int(NB201.to_flat(s.sample(rng)[0].choice)[0, 0]) for _ in range(3000))
    assert _uniform_p([first[i] for i in range(5)]) > 1e-3
    assert s.batches_per_step == 1
    assert FairNASSampler(NB201, batches="distinct").batches_per_step == 5


# --------------------------------------------------------------------------- MixPath
def test_mixpath_k_uniform_then_subset_uniform_then_ops_uniform():
    s = MixPathSampler(MIXPATH, m=3)
    rng = np.random.default_rng(0)
    ks, subsets, ops = Counter(), {k: Counter() for k in (1, 2, 3)}, Counter()
    for _ in range(6000):
        row = s.sample(rng)[0].choice[0, 0]
        on = tuple(np.flatnonzero(row != OFF).tolist())
        ks[len(on)] += 1
        subsets[len(on)][on] += 1
        ops.update(row[list(on)].tolist())
    assert set(ks) == {1, 2, 3} and _uniform_p([ks[k] for k in (1, 2, 3)]) > 1e-3
    for k in (1, 2, 3):
        # uniform k-subset of all 4 nodes (not only range(m), see the docstring)
        assert set(subsets[k]) == set(combinations(range(4), k))
        assert _uniform_p(list(subsets[k].values())) > 1e-3
    assert _uniform_p([ops[a] for a in range(3)]) > 1e-3


def test_mixpath_default_m_and_bounds():
    assert MixPathSampler(NB201).m == 5
    with pytest.raises(TrainConfigError):
        MixPathSampler(MIXPATH, m=5)
    d = MixPathSampler(MIXPATH, sharing="per_cell").sample(np.random.default_rng(0))[0]
    assert d.choice.shape == (9, 1, 4)


# --------------------------------------------------------------------------- one-shot
def test_oneshot_drop_probability_and_ramp():
    s = OneShotSampler(NB201, drop_rate=0.4, ramp="linear", ramp_fraction=0.5)
    assert (
        s.rate(0.0) == 0.0
        and s.rate(0.25) == pytest.approx(0.2)
        and s.rate(0.9) == pytest.approx(0.4)
    )
    assert s.drop_probability(1.0) == pytest.approx(0.4 ** (1 / 4))  # 4 non-zero paths
    assert OneShotSampler(NB201, drop_rate=0.4, ramp="constant").rate(0.0) == 0.4
    # at the start of a linear ramp every path is on (all-on one-shot training)
    d = s.sample(np.random.default_rng(0), progress=0.0)[0]
    assert (d.choice[:, :, 1:] == 0).all() and (d.choice[:, :, 0] == OFF).all()


def test_oneshot_marginals_with_keep_one_rule():
    r = 0.5
    s = OneShotSampler(NB201, drop_rate=r, ramp="constant", sharing="per_cell")
    rng = np.random.default_rng(0)
    on = np.stack([s.sample(rng, 1.0)[0].choice[:, :, 1:] != OFF for _ in range(3000)])
    k = 4
    p = r ** (1 / k)
    assert on.any(axis=-1).all()  # at least one path per block
    # P(path on) = (1 - p) + P(all dropped) / k
    assert abs(on.mean() - ((1 - p) + r / k)) < 0.01
    # exactly one path on happens when only it survived, or all were dropped and it was rescued
    single = (on.sum(-1) == 1).mean()
    assert abs(single - (k * (1 - p) * p ** (k - 1) + r)) < 0.01


def test_oneshot_per_example_masks():
    s = OneShotSampler(NB201, drop_rate=0.5, ramp="constant", per_example=True)
    d = s.sample(np.random.default_rng(0), 1.0, batch_size=8)[0]
    assert d.example_mask.shape == (8, 3, 6, 5)
    # Draw's contract: float32, as the trainer hands it to torch as is (a float64 mask would
    # promote the supernet's float32 activations, and the whole forward, to float64)
    assert d.example_mask.dtype == np.float32
    assert (d.example_mask[..., 0] == 0).all()
    assert (d.example_mask.sum(-1) >= 1).all()
    union = d.example_mask.max(axis=0) > 0
    assert np.array_equal(union, d.choice != OFF)
    with pytest.raises(TrainConfigError, match="^per-example path dropout needs the batch size$"):
        s.sample(np.random.default_rng(0), 1.0)


def test_oneshot_picks_alternatives_on_multi_op_paths():
    s = OneShotSampler(MIXPATH, drop_rate=0.0, sharing="shared")
    c = s.sample(np.random.default_rng(0))[0].choice
    assert (c >= 0).all() and c.max() <= 2


# --------------------------------------------------------------------------- sharing, rejection
NB201_FULL = ChoiceSpace(
    num_cells=3,
    num_blocks=6,
    num_paths=5,
    zero_path=0,
    node_blocks=((0,), (1, 2), (3, 4, 5)),
    edges=((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)),
    weightless_paths=(0, 1, 4),
)
SHARING = {
    "spos": {"reject_zero_nodes": False},
    "fairnas": {},
    "mixpath": {},
    "oneshot": {"drop_rate": 0.5, "ramp": "constant"},
}


@pytest.mark.parametrize("name", list(SHARING))
def test_sharing_shared_draws_one_choice_and_per_cell_one_per_cell(name):
    rng = np.random.default_rng(0)
    shared = make_sampler(name, NB201, sharing="shared", **SHARING[name])
    per_cell = make_sampler(name, NB201, sharing="per_cell", **SHARING[name])
    for d in shared.sample(rng, 1.0):
        assert d.choice.shape == (1, 6, 5)
    differ = 0
    for _ in range(20):
        for d in per_cell.sample(rng, 1.0):
            assert d.choice.shape == (3, 6, 5)
            differ += not (d.choice == d.choice[:1]).all()
    assert differ > 0  # cells draw on their own


def test_spos_rejection_applies_to_every_cell():
    s = SPOSSampler(NB201, sharing="per_cell", reject_zero_nodes=True)
    rng = np.random.default_rng(2)
    flats = np.stack([NB201.to_flat(s.sample(rng)[0].choice) for _ in range(3000)])  # (n, 3, 6)
    for g in range(3):
        for blocks in NB201.node_blocks:
            assert not (flats[:, g, list(blocks)] == 0).all(axis=1).any(), (g, blocks)


# --------------------------------------------------------------------------- FairNAS update fairness
def _naive_live(ops) -> list[bool]:
    """Independent oracle: an NB201 edge is live when a path of non-'none' edges runs from the
    input through it to the output (brute force over all edge paths)."""
    edges = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))

    def paths(node):  # all edge-index paths from node to the output node 3
        if node == 3:
            return [[]]
        return [[k, *rest] for k, (s, d) in enumerate(edges) if s == node and ops[k] != 0
                for rest in paths(d)]  # fmt: skip

    used = {k for p in paths(0) for k in p}
    return [k in used for k in range(6)]


def test_live_blocks_match_a_brute_force_over_all_cells():
    import itertools

    cells = np.array(list(itertools.product(range(5), repeat=6)))
    live = NB201_FULL.live_blocks(cells)
    for ops, row in zip(cells[::7], live[::7]):
        assert row.tolist() == _naive_live(ops.tolist()), ops


@pytest.mark.parametrize("sharing", ["per_cell", "shared"])
def test_fairnas_update_fairness_puts_every_weighted_op_on_a_live_path(sharing):
    s = FairNASSampler(NB201_FULL, sharing=sharing, fairness="update")
    forward = FairNASSampler(NB201_FULL, sharing=sharing)
    rng = np.random.default_rng(0)
    dead_in_forward = 0
    for _ in range(200):
        draws = s.sample(rng)
        flats = np.stack([NB201_FULL.to_flat(d.choice) for d in draws])  # (5, G, 6)
        assert (np.sort(flats, axis=0) == np.arange(5)[:, None, None]).all()  # still fair
        for model in flats:
            for ops in model:
                live = _naive_live(ops.tolist())
                assert any(live)
                assert all(live[k] for k in range(6) if ops[k] in (2, 3)), ops
        for d in forward.sample(rng):
            for ops in NB201_FULL.to_flat(d.choice):
                live = _naive_live(ops.tolist())
                dead_in_forward += any(not live[k] for k in range(6) if ops[k] in (2, 3))
    assert dead_in_forward > 0  # the default (forward) fairness does leave dead conv ops


def _none_pattern(flats) -> tuple[int, ...]:
    """How the 6 'none' ops of one cell's 5 models spread: sorted count per model."""
    return tuple(sorted((flats == 0).sum(axis=1).tolist()))


def test_fairnas_update_fairness_is_uniform_over_the_accepted_permutations():
    """Compare with an independent rejection sampler (plain permutations, kept when the naive
    oracle says every conv is live in every model): same distribution of 'none' patterns."""
    rng = np.random.default_rng(1)
    s = FairNASSampler(NB201_FULL, sharing="shared", fairness="update")
    ours = Counter(
        _none_pattern(np.stack([NB201_FULL.to_flat(d.choice)[0] for d in s.sample(rng)]))
        for _ in range(1500)
    )
    naive = Counter()
    while sum(naive.values()) < 1500:
        models = np.stack([rng.permutation(5) for _ in range(6)], axis=1)  # (5 models, 6 edges)
        lives = [_naive_live(m.tolist()) for m in models]
        if all(any(lv) and all(lv[k] for k in range(6) if m[k] in (2, 3))
               for m, lv in zip(models, lives)):  # fmt: skip
            naive[_none_pattern(models)] += 1
    keys = sorted(set(ours) | set(naive))
    table = np.array([[ours[k] for k in keys], [naive[k] for k in keys]])
    assert stats.chi2_contingency(table).pvalue > 1e-3, dict(zip(keys, table.T.tolist()))


def test_fairnas_update_fairness_without_a_zero_op_is_forward_fairness():
    a = FairNASSampler(MIXPATH, fairness="update").sample(np.random.default_rng(4))
    b = FairNASSampler(MIXPATH, fairness="forward").sample(np.random.default_rng(4))
    assert all(np.array_equal(x.choice, y.choice) for x, y in zip(a, b))


def test_fairnas_update_fairness_refuses_a_space_where_it_is_impossible():
    # one edge, 'none' or a conv: the model that draws 'none' outputs zeros, every time
    tiny = ChoiceSpace(num_cells=1, num_blocks=1, num_paths=2, zero_path=0,
                       node_blocks=((0,),), edges=((0, 1),), weightless_paths=(0,))  # fmt: skip
    s = FairNASSampler(tiny, fairness="update")
    s.MAX_REDRAWS = 5
    with pytest.raises(
        TrainConfigError,
        match=r"^fairnas fairness='update': no permutations in 5 draws give every op with "
        r"parameters a gradient in this space; use fairness='forward'$",
    ):
        s.sample(np.random.default_rng(0))
    with pytest.raises(TrainConfigError, match="fairness"):
        FairNASSampler(NB201_FULL, fairness="strict")


# --------------------------------------------------------------------------- evaluation children
def test_children_follow_the_training_samplers_distribution():
    rng = np.random.default_rng(0)
    spos = draw_children(SPOSSampler(NB201_FULL, sharing="per_cell"), rng, 300)
    assert all(c.shape == (1, 6, 5) and (NB201_FULL.num_active(c) == 1).all() for c in spos)
    flats = np.stack([NB201_FULL.to_flat(c)[0] for c in spos])
    assert (flats[:, 0] != 0).all()  # the sampler's zero-node rejection holds for children
    mix = draw_children(MixPathSampler(MIXPATH, m=2, sharing="per_cell"), rng, 300)
    assert {int(MIXPATH.num_active(c)[0, 0]) for c in mix} == {1, 2}
    one = OneShotSampler(NB201_FULL, drop_rate=0.4, per_example=True)
    kids = draw_children(one, rng, 300)
    assert all(c.shape == (1, 6, 5) for c in kids)
    on = np.stack([(c[0, :, 1:] != OFF) for c in kids])
    p = 0.4 ** (1 / 4)  # end of the ramp
    assert abs(on.mean() - ((1 - p) + 0.4 / 4)) < 0.02
    fair = draw_children(FairNASSampler(NB201_FULL, fairness="update"), rng, 50)
    for c in fair:
        ops = NB201_FULL.to_flat(c)[0].tolist()
        live = _naive_live(ops)
        assert all(live[k] for k in range(6) if ops[k] in (2, 3))


# --------------------------------------------------------------------------- options and details
def test_register_sampler_adds_the_class_under_its_name(monkeypatch):
    class Probe(SPOSSampler):
        name = "probe"

    monkeypatch.setattr(SAMPLERS, "_entries", dict(SAMPLERS._entries))  # undone after the test
    assert register_sampler(Probe) is Probe and SAMPLERS.get("probe") is Probe
    assert isinstance(make_sampler("probe", NB201), Probe)
    assert all(SAMPLERS.get(name).name == name for name in list_samplers())


def test_a_sampler_name_registered_twice_is_refused():
    # the defect: register_sampler overwrote an existing entry without a word
    class Impostor(SPOSSampler):
        name = "spos"

    with pytest.raises(NasbenchToolsError, match="sampler 'spos' is already registered"):
        register_sampler(Impostor)
    assert SAMPLERS.get("spos") is SPOSSampler


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("mixpath", {"m": 0}, "mixpath m must be 1..4, got 0"),
        ("mixpath", {"m": 5}, "mixpath m must be 1..4, got 5"),
        ("mixpath", {"sharing": "global"}, "mixpath sharing must be one of"),
        ("oneshot", {"drop_rate": 1.0}, r"oneshot drop_rate must be in \[0, 1\), got 1.0"),
        ("oneshot", {"drop_rate": -0.1}, r"drop_rate must be in \[0, 1\)"),
        ("oneshot", {"drop_rate": 1.5}, r"drop_rate must be in \[0, 1\)"),
        ("oneshot", {"ramp_fraction": 0.0}, r"oneshot ramp_fraction must be in \(0, 1\], got 0.0"),
        ("oneshot", {"ramp_fraction": 1.5}, r"ramp_fraction must be in \(0, 1\]"),
        ("oneshot", {"ramp": "cosine"}, "oneshot ramp must be one of"),
        ("oneshot", {"sharing": "global"}, "oneshot sharing must be one of"),
        ("fairnas", {"batches": "mixed"}, "fairnas batches must be one of"),
        ("fairnas", {"sharing": "global"}, "fairnas sharing must be one of"),
        ("fairnas", {"fairness": "strict"}, "fairnas fairness must be one of"),
        ("spos", {"sharing": "global"}, "spos sharing must be one of"),
    ],
)
def test_bad_sampler_options_are_refused_by_name(name, options, message):
    space = MIXPATH if name == "mixpath" else NB201
    with pytest.raises(TrainConfigError, match=message):
        make_sampler(name, space, **options)


def test_mixpath_m_1_is_single_path_and_paths_draw_their_ops_independently():
    s = MixPathSampler(MIXPATH, m=1, sharing="per_cell")
    rng = np.random.default_rng(0)
    assert all((MIXPATH.num_active(s.sample(rng)[0].choice) == 1).all() for _ in range(50))
    s = MixPathSampler(MIXPATH, m=4, sharing="per_cell")
    rows = np.concatenate([s.sample(rng)[0].choice[:, 0] for _ in range(1000)])  # (9000, 4)
    pairs = [row[row != OFF] for row in rows if (row != OFF).sum() >= 2]
    differ = np.mean([len(set(p.tolist())) > 1 for p in pairs])
    # two or more uniform ops out of 3: P(not all equal) = 1 - 3/3^k, at least 2/3
    assert differ > 0.6


def test_oneshot_default_progress_is_the_start_of_training():
    s = OneShotSampler(NB201, drop_rate=0.9, ramp="linear")
    for _ in range(20):
        d = s.sample(np.random.default_rng(_))[0]  # no progress given: r = 0, all on
        assert (d.choice[:, :, 1:] == 0).all()


def test_oneshot_rescue_picks_a_uniform_path_per_block():
    """At drop rate 0.99 nearly every block drops all paths and is rescued: each block keeps
    one path of its own, uniform over all four."""
    s = OneShotSampler(NB201, drop_rate=0.99, ramp="constant", sharing="per_cell")
    rng = np.random.default_rng(0)
    kept = []
    for _ in range(300):
        on = s.sample(rng, 1.0)[0].choice[:, :, 1:] != OFF  # (3, 6, 4)
        single = on.sum(-1) == 1
        kept.append(on[single].argmax(-1))
    assert all(len(set(k.tolist())) > 1 for k in kept[:50])  # blocks rescue different paths
    counts = np.bincount(np.concatenate(kept), minlength=4)
    assert _uniform_p(counts) > 1e-3 and counts.min() > 0


def test_oneshot_draws_an_alternative_per_path():
    s = OneShotSampler(MIXPATH, drop_rate=0.0, sharing="per_cell")
    rng = np.random.default_rng(0)
    alts = np.concatenate([s.sample(rng)[0].choice.ravel() for _ in range(200)])
    assert _uniform_p(np.bincount(alts, minlength=3)) > 1e-3
    one = s.sample(rng)[0].choice
    assert len(set(one.ravel().tolist())) == 3  # not one alternative for every path


def test_spos_rejection_redraws_the_whole_node_uniformly_with_alternatives():
    """Two edges into one node, paths {zero, op} with 2 alternatives each: the 12 flat pairs
    that are not both on the zero path (flat 0 or 1) are equally likely."""
    space = ChoiceSpace(num_cells=1, num_blocks=2, num_paths=2, num_alternatives=2,
                        zero_path=0, node_blocks=((0, 1),))  # fmt: skip
    s = SPOSSampler(space, sharing="shared", reject_zero_nodes=True)
    rng = np.random.default_rng(0)
    flats = np.stack([space.to_flat(s.sample(rng)[0].choice)[0] for _ in range(6000)])
    assert not ((flats // 2) == 0).all(axis=1).any()
    pairs = Counter(map(tuple, flats.tolist()))
    assert len(pairs) == 12 and _uniform_p(list(pairs.values())) > 1e-3
