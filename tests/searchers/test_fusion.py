"""CoflexSearch's fusion, legal neighbours and local search, and the optuna-gp peer."""

from __future__ import annotations

import itertools

import numpy as np

from coflex_ray.searchers.candidates import local_search, neighbours, to_cube
from coflex_ray.searchers.coflex import CoflexCore, front_scale
from coflex_ray.spaces import Dim, Space, integer_dim

SPACE = Space("mixed", (Dim("c", (8, 16, 32), "ordinal"), integer_dim("X", 1, 20),
                        Dim("op", ("a", "b", "c", "d"), "categorical")))


def test_batch_holds_a_mid_front_pick_and_clipping_stops_far_extremes():
    # observed front (normalised): the two ends; candidates: slightly beyond each end, far beyond the
    # ideal in one objective (an extrapolating model), and one in the middle of the front
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    L = np.array([[-0.05, 0.95], [0.95, -0.05], [-5.0, 0.9], [0.35, 0.35]])
    clipped = np.maximum(L, -0.2)
    S = np.full_like(L, 0.1)
    picks = CoflexCore.fuse(np.arange(4), clipped, S, np.ones(4), front, n=2)
    assert picks[0] == 3  # the middle adds the most hypervolume
    assert 2 not in picks[:1]
    # unclipped, the far extreme would win: the clip is what stops it
    assert CoflexCore.fuse(np.arange(4), L, S, np.ones(4), front, n=1) == [2]


def test_feasibility_weight_enters_the_fusion():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    L = np.array([[0.35, 0.35], [0.45, 0.45]])
    assert CoflexCore.fuse(np.arange(2), L, np.zeros_like(L), np.array([0.1, 1.0]), front, n=1) == [1]


def test_front_scale_is_the_current_front():
    Y = np.array([[1.0, 9.0], [3.0, 4.0], [8.0, 2.0], [9.0, 9.0]])
    ideal, span = front_scale(Y)
    assert ideal.tolist() == [1.0, 2.0] and span.tolist() == [7.0, 7.0]  # nadir of the front, not of all


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


def test_coflex_core_batches_are_legal_untaken_and_distinct():
    core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=5, batch_size=4, n_candidates=64, num_inducing=8)

    def f(x):
        return np.array([x[0] + 0.1 * x[2], 1 - x[0] + (x[1] - 0.5) ** 2])

    for _ in range(3):
        pts = core.ask(5)
        for x in pts:
            core.tell(x, f(x))
    assert core.n_fallbacks == 0 and len(core.taken) == len(core.results) == 15
    assert np.allclose(np.array([SPACE.snap(x)[0] for x in core.X]), np.array(core.X))


def test_optuna_gp_builds_and_suggests():
    from coflex_ray.study import REQUIRES, make_searcher

    assert "scipy" in REQUIRES["optuna-gp"]
    alg = make_searcher("optuna-gp", SPACE, seed=0, n_init=3, concurrency=1)
    alg.set_search_properties(None, None, SPACE.param_space())
    seen = []
    for t in range(5):  # 3 random startup trials, then 2 from the GP
        cfg = alg.suggest(str(t))
        assert SPACE.validate(cfg) == cfg
        seen.append(cfg)
        alg.on_trial_complete(str(t), {"err": float(cfg["X"]), "edp": float(1 + 20 - cfg["X"]) * cfg["c"],
                                       "feasible": True})
    assert len(seen) == 5
