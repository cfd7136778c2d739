"""The codec and candidate points: cube <-> legal indices, initial designs, candidate sets, legal
neighbours, local search, trust regions and random untried points."""

from __future__ import annotations

import itertools

import numpy as np

from coflex_ray.searchers.candidates import (candidate_set, initial_design, local_search, neighbours, random_untaken,
                                             to_cube, to_cubes, to_index, trust_region_set)

from .helpers import MIXED_SPACE as SPACE


def test_trust_region_candidates_stay_in_the_region():
    rng = np.random.default_rng(1)
    centres = np.array([to_cube(SPACE, (1, 10, 2)), to_cube(SPACE, (0, 3, 0))])
    taken = {(1, 10, 2), (0, 3, 0), (1, 11, 2)}
    C = trust_region_set(SPACE, centres, 0.1, 200, rng, taken.__contains__)
    idx = [to_index(SPACE, c) for c in C]
    assert idx and len(set(idx)) == len(idx) and not taken & set(idx)
    steps = set(neighbours(SPACE, (1, 10, 2))) | set(neighbours(SPACE, (0, 3, 0)))
    for i, c in zip(idx, C):
        near = [np.abs(c[:2] - z[:2]).max() <= 0.1 + 0.5 / 3 for z in centres]  # box + half a bin of snapping
        assert any(near) or i in steps
        assert all(0 <= v < d.n for v, d in zip(i, SPACE.dims))
    assert set(neighbours(SPACE, (0, 3, 0))) <= set(idx)  # one-step neighbours always in
    ops = {i[2] for i in idx}
    assert len(ops) > 2  # categorical values flip with probability `length`...
    tiny = {to_index(SPACE, c)[2] for c in trust_region_set(SPACE, centres[1:], 1e-3, 200, rng, lambda i: False)}
    assert tiny == {0, 1, 2, 3}  # ...and with a tiny region only through the one-step neighbours


def _expected_neighbours(idx):
    out = set()
    for k, d in enumerate(SPACE.dims):
        for v in range(d.n):
            if v == idx[k]:
                continue
            if d.kind == "categorical" or abs(v - idx[k]) == 1:
                out.add(idx[:k] + (v,) + idx[k + 1:])
    return out


def test_neighbours_are_legal_and_complete():
    for idx in itertools.product(range(3), range(20), range(4)):
        got = neighbours(SPACE, idx)
        assert len(got) == len(set(got)) and set(got) == _expected_neighbours(idx)
    far = set(neighbours(SPACE, (1, 10, 0), far=True))
    assert {(1, 12, 0), (1, 8, 0)} <= far and (1, 10, 0) not in far  # 20 values: also 20 // 8 = 2 steps
    assert all(0 <= i < d.n for j in far for i, d in zip(j, SPACE.dims))


def test_local_search_never_returns_taken_or_illegal_points():
    rng = np.random.default_rng(0)
    taken = {tuple(int(rng.integers(d.n)) for d in SPACE.dims) for _ in range(120)}
    w = rng.normal(size=SPACE.ndim)

    def score(P):
        return P @ w - ((P - 0.6) ** 2).sum(axis=1)

    starts = [tuple(int(rng.integers(d.n)) for d in SPACE.dims) for _ in range(10)]
    ends = local_search(SPACE, starts, score, taken.__contains__, steps=5)
    assert ends and len(ends) == len(set(ends))
    for e in ends:
        assert e not in taken
        assert all(0 <= i < d.n for i, d in zip(e, SPACE.dims))
    best_start = max(score(np.array([to_cube(SPACE, s) for s in starts if s not in taken])))
    assert max(score(np.array([to_cube(SPACE, e) for e in ends]))) >= best_start


def _legal_points(C: np.ndarray) -> bool:
    """Every row is the bin centre of a legal point."""
    return bool(np.allclose(SPACE.snap(C), C))


def test_codec_round_trips_every_legal_point():
    every = list(itertools.product(*(range(d.n) for d in SPACE.dims)))
    for idx in every:
        x = to_cube(SPACE, idx)
        assert to_index(SPACE, x) == idx and _legal_points(x[None])
        assert SPACE.decode(x) == SPACE.from_indices(idx)
    assert np.array_equal(to_cubes(SPACE, np.array(every)), np.array([to_cube(SPACE, i) for i in every]))


def test_codec_maps_the_ends_and_points_outside_the_cube_to_the_end_values():
    assert to_index(SPACE, np.zeros(3)) == (0, 0, 0)
    assert to_index(SPACE, np.ones(3)) == (2, 19, 3)  # x = 1 is the last value, not one past it
    assert to_index(SPACE, np.array([-0.5, 1.5, 0.25])) == (0, 19, 1)
    assert to_index(SPACE, np.array([1 / 3, 0.05, 0.5])) == (1, 1, 2)  # a bin's lower edge belongs to it


def test_initial_design_is_seeded_distinct_and_inside_the_cube():
    a, b, c = (np.array(initial_design(SPACE, 10, np.random.default_rng(s))) for s in (3, 3, 4))
    assert a.shape == (10, 3) and ((a >= 0) & (a < 1)).all() and len(np.unique(a, axis=0)) == 10
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_candidate_set_is_legal_untaken_distinct_and_seeded():
    rng = np.random.default_rng(0)
    told = random_untaken(SPACE, 8, rng, lambda i: False)
    X = to_cubes(SPACE, np.array(told))
    Y = np.column_stack([X[:, 0], 1 - X[:, 0] + X[:, 1]])
    taken = set(told)
    sets = [candidate_set(SPACE, X, Y, np.random.default_rng(s), taken.__contains__, n_sobol=64) for s in (1, 1, 2)]
    C = sets[0]
    assert len(C) > 32 and _legal_points(C) and len(np.unique(C, axis=0)) == len(C)
    assert not taken & {to_index(SPACE, c) for c in C}
    assert np.array_equal(sets[0], sets[1]) and not np.array_equal(sets[0], sets[2])
    # with every point but two taken, the set is those two
    free = {(0, 0, 0), (2, 19, 3)}
    C = candidate_set(SPACE, X, Y, rng, lambda i: i not in free, n_sobol=64)
    assert {to_index(SPACE, c) for c in C} <= free
    # no observations yet: Sobol points only
    C = candidate_set(SPACE, np.zeros((0, 3)), np.zeros((0, 2)), rng, lambda i: False, n_sobol=16)
    assert 0 < len(C) <= 16 and _legal_points(C)


def test_random_untaken_points_are_distinct_legal_and_fewer_when_few_are_free():
    rng = np.random.default_rng(0)
    taken = {(1, 5, 2), (0, 0, 0)}
    pts = random_untaken(SPACE, 30, rng, taken.__contains__)
    assert len(pts) == len(set(pts)) == 30 and not taken & set(pts)
    assert all(0 <= i < d.n for p in pts for i, d in zip(p, SPACE.dims))
    free = {(0, 0, 0), (2, 19, 3)}
    assert set(random_untaken(SPACE, 5, rng, lambda i: i not in free)) == free  # 2 of the 5 asked
