"""The codec and candidate points: cube <-> legal indices, initial designs, candidate sets, legal
neighbours, local search, trust regions and random untried points."""

from __future__ import annotations

import itertools

import numpy as np

from coflex_ray.searchers.candidates import local_search, neighbours, to_cube, to_index, trust_region_set

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
