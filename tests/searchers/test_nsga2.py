"""The NSGA-II core (pymoo's ask/tell) on its own, without Tune."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from coflex_ray.searchers.nsga2 import NSGA2Core

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
