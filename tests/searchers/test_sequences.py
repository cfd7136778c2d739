"""Suggestion sequences are reproducible: recorded sequences of the searchers, replayed.

``data/sequences.json`` was first written by the searchers as they were before the ask/tell split
(commit "Record suggestion sequences ..."), which proved the split changed no suggestion; NSGA-II's
sequence is still that one.  The model-based searchers' sequences were re-recorded when their models
and fusion changed (issue "CoflexSearch must be a strong optimizer"; CoflexSearch's again when its
default output warp became "auto", when its kernel got the additive part (``coflex-additive-off`` is
the sequence before that, which ``additive=False, beta=1`` still reproduces) and when its fusion's
default ``beta`` became 0 (``coflex-beta1`` is the sequence before that, which ``beta=1`` still
reproduces); the first 6 suggestions, the initial design, are unchanged), so the test now guards
against unintended changes.  Concurrency 1, a fixed seed and budget, a small discrete toy (ZDT2 over
ordinal and integer knobs) with a ``max`` objective, a log-modelled objective and an infeasible
result every 5th trial, so the orientation, the log transform and the failure path are all on the
recorded path.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pymoo.problems import get_problem

from coflex_ray.spaces import Dim, Space, integer_dim

DATA = Path(__file__).parent / "data" / "sequences.json"
SPACE = Space("toy", (Dim("c1", (8, 16, 24, 32, 40, 48, 56, 64), "ordinal"),
                      Dim("op", ("none", "skip", "conv"), "categorical"),
                      integer_dim("X1", 1, 64), integer_dim("X3", 10, 512)))
ZDT2 = get_problem("zdt2", n_var=4)
BUDGET, SEED = 10, 7  # the first 10 of the 14 recorded: the initial design and one model batch
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
    """The recorded searcher ``method``; ``options`` go to CoflexSearch only."""
    from coflex_ray import BoTorchMOSearch, CoflexSearch, NSGA2Search

    kw = dict(metric=["neg_f1", "f2e"], mode=["max", "min"], log_metrics=["f2e"], seed=seed)
    if method == "coflex":
        return CoflexSearch(space, n_init=6, n_candidates=256, **kw, **options)
    if method == "nsga2":
        return NSGA2Search(space, pop_size=6, **kw)
    return BoTorchMOSearch(space, acquisition=method, n_init=6, n_candidates=256, mc_samples=32, **kw)


@pytest.mark.parametrize("method", METHODS)
def test_same_suggestions_as_recorded(method):
    assert sequence(make(method)) == json.loads(DATA.read_text())[method][:BUDGET]


@pytest.mark.parametrize("options, key", [(dict(beta=1.0), "coflex-beta1"),
                                          (dict(beta=1.0, additive=False), "coflex-additive-off")])
def test_coflex_options_make_the_suggestions_recorded_before_their_default_changed(options, key):
    recorded = json.loads(DATA.read_text())
    assert sequence(make("coflex", **options)) == recorded[key][:BUDGET] != recorded["coflex"][:BUDGET]


@pytest.mark.parametrize("method", METHODS)
def test_another_seed_differs(method):
    s = make(method, seed=SEED + 1)
    first = [s.suggest(str(t)) for t in range(6)]  # the initial design / first generation: no model fit
    assert first != json.loads(DATA.read_text())[method][:6]


def test_same_suggestions_from_a_tune_param_space():
    """The space given as the Tune dict it stands for searches exactly the same points."""
    assert sequence(make("nsga2", SPACE.param_space())) == json.loads(DATA.read_text())["nsga2"][:BUDGET]
