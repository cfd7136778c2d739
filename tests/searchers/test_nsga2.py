"""The NSGA-II core (pymoo's ask/tell) on its own, without Tune."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from coflex_ray.searchers.nsga2 import NSGA2Core
from coflex_ray.spaces import NB201_SPACE

from .helpers import CUBE_SPACE as SPACE
from .helpers import cube_zdt1 as f


def test_nsga2_core_asks_a_generation_then_waits_for_it():
    core = NSGA2Core(SPACE, n_obj=2, seed=0, pop_size=4)
    first = core.ask(6)
    assert len(first) == 4 and core.ask(1) == []  # the rest of the generation must be told first
    for x in first[:3]:
        core.tell(x, f(x))
    assert core.ask(1) == []
    core.tell(first[3], failed=True)
    nxt = core.ask(4)
    assert len(nxt) >= 1 and len(core.failed) == 1 and core.generations == 2
    seen = {tuple(x) for x in first}
    assert not seen & {tuple(x) for x in nxt}


def test_nsga2_core_pickles_and_continues_identically():
    core = NSGA2Core(SPACE, n_obj=2, seed=4, pop_size=4)

    def run(c, n):
        out = []
        for _ in range(n):
            pts = c.ask(1)
            if not pts:
                break
            c.tell(pts[0], f(pts[0]))
            out.append(pts[0].tolist())
        return out

    run(core, 6)
    copy = pickle.loads(pickle.dumps(core))
    assert run(copy, 10) == run(core, 10)


def _generations(seed: int, n: int, pop_size: int = 6) -> list[list[float]]:
    """The points of ``n`` generations, every one told its ZDT1 objectives."""
    core = NSGA2Core(SPACE, n_obj=2, seed=seed, pop_size=pop_size)
    out = []
    for _ in range(n):
        pts = core.ask(pop_size)
        for x in pts:
            core.tell(x, f(x))
        out += [x.tolist() for x in pts]
    return out


def test_nsga2_core_asks_legal_distinct_untried_points_a_generation_at_a_time():
    pts = np.array(_generations(0, 4))
    assert 6 < len(pts) <= 24 and np.allclose(SPACE.snap(pts), pts)  # the first generation is 6 points
    assert len(np.unique(pts, axis=0)) == len(pts)  # never a point already told
    for x in pts:
        assert SPACE.validate(SPACE.decode(x)) == SPACE.decode(x)


def test_nsga2_core_is_deterministic_per_seed():
    assert _generations(1, 3) == _generations(1, 3) != _generations(2, 3)


def test_failed_points_enter_the_generation_with_the_penalty_vector():
    from coflex_ray.searchers.failures import penalty

    core = NSGA2Core(SPACE, n_obj=2, seed=0, pop_size=4)
    first = core.ask(4)
    for x in first[:3]:
        core.tell(x, f(x))
    core.tell(first[3], failed=True)
    told = {}
    real_tell = core.algorithm.tell
    core.algorithm.tell = lambda infills, **kw: (told.setdefault("F", infills.get("F").copy()),
                                                 real_tell(infills=infills, **kw))
    nxt = core.ask(4)
    good = np.array([f(x) for x in first[:3]])
    bad = penalty(good, 2)
    assert sorted(map(tuple, told["F"])) == sorted(map(tuple, [*good, bad]))
    assert (bad > good).all()  # every good point dominates it
    assert nxt and not {tuple(x) for x in nxt} & {tuple(x) for x in first}


def test_pop_size_below_two_is_refused():
    with pytest.raises(ValueError, match="pop_size=1 must be at least 2"):
        NSGA2Core(SPACE, n_obj=2, pop_size=1)


def test_a_converged_population_falls_back_to_random_points_instead_of_recursing():
    """Single-objective NSGA-II on the NAS-Bench-201 cells (real accuracies, latency on a Raspberry Pi
    4 at most its 30th percentile) converges onto evaluated cells within 100 evaluations; the core
    keeps proposing untried cells (counted as fallbacks) instead of asking pymoo for converged
    generations until the recursion limit."""
    from coflex_ray.evaluators.device import device_latency_ms
    from coflex_ray.evaluators.nb201 import nb201_accuracy, nb201_index

    core = NSGA2Core(NB201_SPACE, 1, seed=0, pop_size=10, constraints=[(1.0, math.log(19.29))])
    seen = set()
    for _ in range(100):
        (x,) = core.ask(1)
        cell = NB201_SPACE.decode(x)
        assert tuple(cell.values()) not in seen
        seen.add(tuple(cell.values()))
        core.tell(x, np.array([100.0 - nb201_accuracy(cell)]),
                  c=np.array([math.log(device_latency_ms(nb201_index(cell), "raspi4"))]))
    assert core.n_fallbacks > 0
