"""CoflexSearch's core: the fusion, its scale and shortfall fallback, the single-objective batch, the
trust region, given bounds, batches and output warps."""

from __future__ import annotations

import numpy as np

from coflex_ray.searchers import coflex as coflex_module
from coflex_ray.searchers.coflex import CoflexCore, front_scale, ref_point, shortfall, single_objective_batch

from .helpers import MIXED_SPACE as SPACE


def test_batch_holds_a_mid_front_pick_and_clipping_stops_far_extremes():
    # observed front (normalised): the two ends; candidates: slightly beyond each end, far beyond the
    # ideal in one objective (an extrapolating model), and one in the middle of the front
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    L = np.array([[-0.05, 0.95], [0.95, -0.05], [-5.0, 0.9], [0.35, 0.35]])
    clipped = np.maximum(L, -0.2)
    picks = CoflexCore.fuse(np.arange(4), clipped, np.ones(4), front, n=2)
    assert picks[0] == 3  # the middle adds the most hypervolume
    assert 2 not in picks[:1]
    # unclipped, the far extreme would win: the clip is what stops it
    assert CoflexCore.fuse(np.arange(4), L, np.ones(4), front, n=1) == [2]


def test_feasibility_weight_enters_the_fusion():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    L = np.array([[0.35, 0.35], [0.45, 0.45]])
    assert CoflexCore.fuse(np.arange(2), L, np.array([0.1, 1.0]), front, n=1) == [1]


def test_front_scale_is_the_current_front():
    Y = np.array([[1.0, 9.0], [3.0, 4.0], [8.0, 2.0], [9.0, 9.0]])
    ideal, span = front_scale(Y)
    assert ideal.tolist() == [1.0, 2.0] and span.tolist() == [7.0, 7.0]  # nadir of the front, not of all


def test_reference_point_grows_with_a_front_past_the_nadir():
    inside = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert ref_point(inside).tolist() == [1.1, 1.1]  # bounds covering the front: the fixed REF
    # past the nadir but not the ideal: the bounds may be an exact front's (an early observed front can
    # pass its nadir), so the box stays
    assert ref_point(np.array([[0.1, 1.5], [1.0, 0.0]])).tolist() == [1.1, 1.1]
    past = np.array([[-0.2, 1.5], [1.0, 0.0]])  # found beyond the given nadir in objective 2
    assert np.allclose(ref_point(past), [1.1, 1.6])
    # a candidate extending that corner, (-0.4, 1.15): outside the fixed box, so it adds nothing there and
    # the greedy takes the other; with the grown box it adds the most
    L = np.array([[-0.4, 1.15], [0.6, 0.5]])
    assert CoflexCore.fuse(np.arange(2), L, np.ones(2), past, n=1) == [1]
    assert CoflexCore.fuse(np.arange(2), L, np.ones(2), past, n=1, ref=ref_point(past)) == [0]


def test_shortfall_hand_computed():
    front, ref = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]), np.array([1.1, 1.1])
    L = np.array([[0.7, 0.6],    # dominated by (0.5, 0.5): must fall by min(0.2, 0.1) = 0.1
                  [0.2, 0.2],    # adds hypervolume: 0
                  [1.5, -0.1],   # outside the box in objective 1 by 0.4; (1.0, 0.0) needs min(0.5, -0.1) < 0
                  [0.5, 0.5]])   # equal to a front point: weakly dominated, shortfall 0 (a tie)
    assert np.allclose(shortfall(L, front, ref), [0.1, 0.0, 0.4, 0.0])
    assert np.allclose(shortfall(L, np.zeros((0, 2)), ref), [0.0, 0.0, 0.4, 0.0])


def test_fallback_without_any_gain_takes_the_smallest_shortfall_not_the_largest_sd():
    front = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    L = np.array([[0.9, 0.9], [0.6, 1.05], [3.0, 3.0]])  # all dominated or outside: no hypervolume gain
    # the old rule took the largest posterior sd, here the far candidate 2 (3.0, 3.0)
    assert np.allclose(shortfall(L, front, np.full(2, 1.1)), [0.4, 0.1, 2.5])
    assert CoflexCore.fuse(np.arange(3), L, np.ones(3), front, n=1) == [1]


def test_single_objective_batch_is_constrained_ei_among_likely_candidates():
    log_ei = np.log(np.array([0.5, 0.4, 0.3, 0.2, 0.1]))
    # EI alone would take 0 and 1; times the probability of feasibility, 2 (0.3 x 0.9) beats 1 (0.4 x 0.6)
    pfeas = np.array([0.4, 0.6, 0.9, 1.0, 1.0])
    likely = pfeas >= 0.5
    assert single_objective_batch(log_ei, pfeas, likely, 2).tolist() == [2, 1]  # 0 (p 0.4) is not likely
    assert single_objective_batch(log_ei, pfeas, likely, 9).tolist() == [2, 1, 3, 4]  # never an unlikely one
    assert single_objective_batch(log_ei, np.ones(5), np.ones(5, bool), 3).tolist() == [0, 1, 2]


def test_trust_region_doubles_on_success_halves_on_failure():
    core = CoflexCore(SPACE, n_obj=2, seed=0)
    start = coflex_module.TR_INIT
    Y = np.array([[1.0, 1.0]])
    core.update_region(Y)
    Y = np.vstack([Y, [[0.5, 2.0]]])   # a new front point: success 1
    core.update_region(Y)
    Y = np.vstack([Y, [[0.4, 1.5]]])   # success 2: doubled
    core.update_region(Y)
    assert core.tr_length == min(2 * start, coflex_module.TR_MAX)
    Y = np.vstack([Y, [[2.0, 2.0]]])   # dominated: failure 1
    core.update_region(Y)
    Y = np.vstack([Y, [[0.4, 1.5]]])   # equal to a front point: no new point on the front, failure 2
    core.update_region(Y)
    assert core.tr_length == min(2 * start, coflex_module.TR_MAX) / 2
    core.tr_length = coflex_module.TR_MIN * 1.5
    for _ in range(coflex_module.TR_FAIL):
        Y = np.vstack([Y, [[3.0, 3.0]]])
        core.update_region(Y)
    assert core.tr_length == start  # collapsed: restarted


def test_given_bounds_set_the_normalisation(monkeypatch):
    """With bounds the fusion normalises by them (the study's information), without by the front."""
    def run(bounds):
        core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=5, batch_size=2, n_candidates=64, num_inducing=8,
                          bounds=bounds)
        for x in core.ask(5):
            core.tell(x, np.array([x[0], 1 - x[0] + x[1]]))
        seen = {}
        original = coflex_module.front_scale
        monkeypatch.setattr(coflex_module, "front_scale", lambda Y: seen.setdefault("front", original(Y)))
        core.ask(2)
        monkeypatch.undo()
        return seen

    assert "front" in run(None) and run(np.array([[0.0, 1.0], [0.0, 2.0]])) == {}


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


def test_auto_warp_mixes_warped_and_plain_objectives():
    """``warp="auto"``: an objective with far-out values (a 90 %-error-like cell) gets the rank
    warp, the other none, and a batch is still model-based (the mixed case once fell back to random
    points on every batch)."""
    from coflex_ray.searchers.warping import RankGauss, has_far_out, make_warp

    core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=6, batch_size=4, n_candidates=64, num_inducing=8)
    assert core.warp == "auto"  # the default

    def f(x):
        return np.array([90.0 if x[2] > 0.75 else 8 + x[0], 1 - x[0] + (x[1] - 0.5) ** 2])

    for _ in range(4):
        for x in core.ask(6):
            core.tell(x, f(x))
    Y = core.observed()[1]
    assert has_far_out(Y[:, 0]) and not has_far_out(Y[:, 1])
    assert isinstance(make_warp("auto", Y[:, 0]), RankGauss) and make_warp("auto", Y[:, 1]) is None
    assert core.n_fallbacks == 0 and len(core.results) == 24


def test_clip_floor_follows_an_observed_front_beyond_the_given_ideal():
    from coflex_ray.searchers.coflex import clip_floor

    observed = np.array([[-0.5, 0.3], [0.2, 0.1]])  # objective 0 beyond the given ideal, objective 1 not
    assert np.allclose(clip_floor(observed, 0.2), [-0.7, -0.2])
    # a candidate improving on the observed -0.5 adds hypervolume; floored at -0.2 it would add none
    from coflex_ray.searchers.pareto import REF, hypervolume

    ref, cand = np.full(2, REF), np.array([-0.6, 0.3])

    def gain(c):
        return hypervolume(np.vstack([observed, c]), ref) - hypervolume(observed, ref)

    assert gain(np.maximum(cand, clip_floor(observed, 0.2))) > 0.05
    assert gain(np.maximum(cand, -0.2)) == 0.0


def test_directions_spread_over_a_front_below_the_given_ideal():
    from coflex_ray.searchers.coflex import direction_picks, directions

    # a DTLZ7-like front from probe bounds: objective 1 entirely below the given ideal, squeezed
    a = np.linspace(0.0, 0.9, 31)
    L = np.stack([a, -0.32 - 0.15 * a], axis=1)
    observed = L[[0, 30]]
    W = directions(2, 16, np.random.default_rng(0))
    picks = direction_picks(L, observed, W)
    assert 0 in picks and 30 in picks  # both ends, and the interior in between
    assert len(set(picks.tolist())) >= 10
    # on the raw values a negative coordinate never wins the maximum: every weight picks row 0
    raw = {int(np.argmin((w * L).max(axis=1) + 0.05 * (w * L).sum(axis=1))) for w in W}
    assert raw == {0}


def test_directions_keep_the_normalisation_while_the_front_is_inside_the_bounds():
    from coflex_ray.searchers.coflex import direction_picks

    L = np.array([[0.0, 1.0], [0.2, 0.3], [0.5, 0.5], [1.0, 0.0]])
    observed = np.array([[0.4, 0.6], [0.6, 0.4]])  # a small front inside the box: not rescaled
    W = np.array([[0.5, 0.5], [0.9, 0.1], [0.1, 0.9]])
    # hand-computed on the raw L: (0.5, 0.5) -> row 1 (0.15 + 0.025 = 0.175 beats row 2's 0.275)
    assert direction_picks(L, observed, W).tolist() == [1, 0, 3]


def test_a_numerical_failure_is_retried_with_simpler_models_before_falling_back(monkeypatch):
    from linear_operator.utils.errors import NotPSDError

    real = coflex_module.fit_sparse_gp
    seen = []

    def fit(X, y, num_inducing, **kw):
        seen.append((num_inducing, kw["additive"]))
        if kw["additive"]:
            raise NotPSDError("Matrix not positive definite after repeatedly adding jitter up to 1.0e-03")
        return real(X, y, num_inducing, **kw)

    monkeypatch.setattr(coflex_module, "fit_sparse_gp", fit)
    core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=6, batch_size=3, n_candidates=64, num_inducing=16)
    for x in core.ask(6):
        core.tell(x, np.array([x[0], 1 - x[0] + x[1]]))
    batch = core.ask(3)
    assert len(batch) == 3 and core.n_retries == 1 and core.n_fallbacks == 0  # a model batch, not random
    assert seen[0] == (16, True) and (4, False) in seen  # the retry: no additive part, a quarter of the points
    assert core.additive and core.num_inducing == 16  # restored afterwards


def test_a_second_failure_falls_back_to_random_points(monkeypatch):
    def fit(*a, **kw):
        raise RuntimeError("singular")  # with the simpler models too

    monkeypatch.setattr(coflex_module, "fit_sparse_gp", fit)
    core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=6, batch_size=3, n_candidates=64, num_inducing=16)
    for x in core.ask(6):
        core.tell(x, np.array([x[0], 1 - x[0]]))
    with np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        assert len(core.ask(3)) == 3
    assert core.n_fallbacks == 1 and core.n_retries == 0


def _greedy(pool, L, pfeas, front, n):
    """The plain greedy of rule 7: every gain recomputed at every step."""
    from coflex_ray.searchers.pareto import REF, hypervolume

    ref, chosen, remaining = np.full(L.shape[1], REF), [], list(range(len(pool)))
    while remaining and len(chosen) < n:
        base = hypervolume(front, ref)
        gains = np.array([hypervolume(np.vstack([front, L[r]]), ref) - base for r in remaining]) * pfeas[remaining]
        k = int(np.argmax(gains)) if gains.max() > 1e-12 else int(np.argmin(shortfall(L[remaining], front, ref)))
        r = remaining.pop(k)
        chosen.append(int(pool[r]))
        front = np.vstack([front, L[r]])
    return chosen


def test_lazy_fusion_picks_what_the_plain_greedy_picks():
    rng = np.random.default_rng(3)
    for m, P, n in [(2, 40, 12), (3, 30, 10), (2, 25, 25), (3, 90, 90), (2, 120, 100)]:
        front = rng.random((6, m))
        L = rng.random((P, m)) * 1.2 - 0.1
        pfeas = rng.uniform(0.2, 1.0, P)
        pool = np.arange(100, 100 + P)
        assert CoflexCore.fuse(pool, L, pfeas, front, n) == _greedy(pool, L, pfeas, front, n)
    # every candidate dominated: the shortfall order, as the plain greedy
    front = np.array([[0.0, 0.0]])
    L = rng.random((8, 2)) * 0.5 + 0.2
    assert CoflexCore.fuse(np.arange(8), L, np.ones(8), front, 5) == _greedy(np.arange(8), L, np.ones(8), front, 5)


def test_a_batch_larger_than_the_default_pool_is_filled_by_the_model():
    core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=8, batch_size=120, n_candidates=256, num_inducing=16,
                      global_candidates=256)
    for x in core.ask(8):
        core.tell(x, np.array([x[0], 1 - x[0] + x[1]]))
    out = core.propose(120, np.zeros((0, SPACE.ndim)))
    assert len(out) == 120  # the default pool (16 per list, 16 directions) holds at most 80


def test_pool_grows_with_the_dimension_of_the_front():
    assert coflex_module.pool_size(16, 2, 4) == 16  # two objectives: the option itself
    assert coflex_module.pool_size(16, 3, 4) == 256  # a 2-dimensional front: 16 x 16
    assert coflex_module.pool_size(4, 3, 100) == 100  # a larger batch raises it


def test_a_three_objective_pool_holds_more_than_the_two_objective_rule_allows(monkeypatch):
    seen = []
    real = coflex_module.pareto_layers
    monkeypatch.setattr(coflex_module, "pareto_layers", lambda pool, L, n: seen.append(len(pool)) or real(pool, L, n))
    core = CoflexCore(SPACE, n_obj=3, seed=0, n_init=8, batch_size=2, n_candidates=256, num_inducing=16,
                      global_candidates=256, proposals_per_objective=4, n_directions=4)
    for x in core.ask(8):
        core.tell(x, np.array([x[0], 1 - x[0] + x[1], (x[0] - 0.5) ** 2 + x[2]]))
    assert len(core.propose(2, np.zeros((0, SPACE.ndim)))) == 2
    # 4 ** 2 = 16 per objective and kind: more than 2 * 4 * 3 + 4 = 28, the most a pool of 4 per list holds
    assert seen and seen[0] > 2 * 4 * 3 + 4
