"""Searchers are deterministic: the same seed gives the same suggestions, another seed others.

Two runs of the same seed in one environment are compared (not a sequence recorded with other
library versions).  Concurrency 1, a fixed budget, a small discrete toy (ZDT2 over ordinal,
categorical and integer knobs) with a ``max`` objective, a log-modelled objective and an infeasible
result every 5th trial, so the orientation, the log transform and the failure path are all on the
compared path; the budget covers the initial design and one model batch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymoo.problems import get_problem

from coflex_ray.spaces import Dim, Space, integer_dim

SPACE = Space("toy", (Dim("c1", (8, 16, 24, 32, 40, 48, 56, 64), "ordinal"),
                      Dim("op", ("none", "skip", "conv"), "categorical"),
                      integer_dim("X1", 1, 64), integer_dim("X3", 10, 512)))
ZDT2 = get_problem("zdt2", n_var=4)
BUDGET, SEED = 10, 7  # the initial design (6) and one model batch
METHODS = ("coflex", "qnehvi", "qnparego", "nsga2")


def objective(cfg: dict, t: int) -> dict:
    x = np.array([(cfg["c1"] - 8) / 56, ("none", "skip", "conv").index(cfg["op"]) / 2, (cfg["X1"] - 1) / 63,
                  (cfg["X3"] - 10) / 502])
    f = ZDT2.evaluate(x[None])[0]
    return {"neg_f1": -float(f[0]), "f2e": math.exp(float(f[1])), "feasible": t % 5 != 4}


def sequence(searcher) -> list[dict]:
    out = []
    for t in range(BUDGET):
        cfg = searcher.suggest(str(t))
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in cfg.items()})
        searcher.on_trial_complete(str(t), objective(cfg, t))
    return out


def make(method: str, space=SPACE, seed: int = SEED, **options):
    """The searcher ``method`` on the toy; ``options`` go to CoflexSearch only."""
    from coflex_ray import BoTorchMOSearch, CoflexSearch, NSGA2Search

    kw = dict(metric=["neg_f1", "f2e"], mode=["max", "min"], log_metrics=["f2e"], seed=seed)
    if method == "coflex":
        return CoflexSearch(space, n_init=6, n_candidates=256, **kw, **options)
    if method == "nsga2":
        return NSGA2Search(space, pop_size=6, **kw)
    return BoTorchMOSearch(space, acquisition=method, n_init=6, n_candidates=256, mc_samples=32, **kw)


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_suggestions(method):
    first = sequence(make(method))
    assert len({str(c) for c in first}) > 1
    assert sequence(make(method)) == first


def test_coflex_options_change_the_suggestions():
    """A fusion option reaches the model path: ``beta=1`` (optimistic scores) searches other points
    than the default, and does so deterministically."""
    default, optimistic = sequence(make("coflex")), sequence(make("coflex", beta=1.0))
    assert optimistic == sequence(make("coflex", beta=1.0))
    assert optimistic[:6] == default[:6]  # the initial design does not depend on the fusion
    assert optimistic != default


@pytest.mark.parametrize("method", METHODS)
def test_another_seed_differs(method):
    a, b = make(method), make(method, seed=SEED + 1)
    assert [a.suggest(str(t)) for t in range(6)] != [b.suggest(str(t)) for t in range(6)]


def test_same_suggestions_from_a_tune_param_space():
    """The space given as the Tune dict it stands for searches exactly the same points."""
    assert sequence(make("nsga2", SPACE.param_space())) == sequence(make("nsga2"))
