"""Tune's searcher contract (the one adapter), without a Tuner: set_search_properties, NaN/inf,
constants, pickling, late results and warm starts (cheap: NSGA-II, no model fits)."""

from __future__ import annotations

import logging
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from ray import tune

from coflex_ray import NSGA2Search

from .helpers_tune import MO, PARAMS


def f(cfg: dict) -> dict:
    a = (cfg["c"] / 32 + cfg["n"] / 3 + cfg["x"]) / 3
    return {"f1": a, "f2": 1 - math.sqrt(a) + cfg["u"] + math.log10(cfg["lr"]) / 10 + 0.4}


def test_set_search_properties_contract(caplog):
    s = NSGA2Search(pop_size=4)  # nothing set: takes Tune's metric, mode and param_space
    assert s.set_search_properties("f1", "min", PARAMS) and s.metric == ["f1"] and s.core is not None
    assert not s.set_search_properties("f1", "max", PARAMS)  # mode conflicts
    s = NSGA2Search(**MO, pop_size=4)
    assert s.set_search_properties(None, None, PARAMS)  # Tune gives no metric: the searcher's stays
    assert s.set_search_properties(None, None, PARAMS)  # the same param_space again: no conflict
    with caplog.at_level(logging.WARNING):
        assert not s.set_search_properties("f1", "min", PARAMS)  # a different metric: refused, said
        assert not s.set_search_properties(None, None, {"other": tune.choice([1, 2])})  # a different space
    assert "metric 'f1'" in caplog.text and "param_space ['other']" in caplog.text
    assert s.metric == ["f1", "f2"] and [d.name for d in s.space.dims][0] == "c"
    with pytest.raises(RuntimeError, match="no search space"):
        NSGA2Search(**MO).suggest("0")


def drive(s, n: int, fn=f, start: int = 0) -> list[dict]:
    out = []
    for t in range(start, start + n):
        cfg = s.suggest(str(t))
        out.append(cfg)
        s.on_trial_complete(str(t), fn(cfg))
    return out


def test_constants_and_nesting_reach_every_trial():
    s = NSGA2Search(PARAMS, **MO, pop_size=4)
    for cfg in drive(s, 8):
        assert cfg["tag"] == "zdt" and cfg["opt"]["name"] == "sgd" and cfg["opt"]["m"] in ("a", "b")
        assert cfg["u"] in (0.0, 0.25, 0.5, 0.75, 1.0) and cfg["q"] in (0, 5, 10)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), None, "oops"])
def test_non_finite_objectives_are_failures_not_crashes(bad):
    s = NSGA2Search(PARAMS, **MO, pop_size=4)
    cfgs = drive(s, 12, fn=lambda c: {**f(c), "f2": bad} if c["n"] == 1 else f(c))
    n_bad = sum(c["n"] == 1 for c in cfgs)
    assert n_bad > 0 and len(s.failed) == n_bad and len(s.core.Y) == 12 - n_bad
    assert all(np.isfinite(y).all() for y in s.core.Y)


def test_late_and_unknown_results_are_ignored():
    s = NSGA2Search(PARAMS, **MO, pop_size=4)
    drive(s, 3)
    told = len(s.core.results)
    s.on_trial_complete("1", {"f1": -100.0, "f2": -100.0})  # already completed
    s.on_trial_result("1", {"f1": -100.0, "f2": -100.0})
    s.on_trial_complete("never-suggested", {"f1": 0.0, "f2": 0.0})
    assert len(s.core.results) == told and min(m["f1"] for _, m in s.pareto_front()) > -100


def test_searcher_pickles_and_the_copy_continues_identically():
    s = NSGA2Search(PARAMS, **MO, pop_size=4, seed=3)
    drive(s, 5)
    running = s.suggest("running")
    copy = pickle.loads(pickle.dumps(s))
    for x in (s, copy):
        x.on_trial_complete("running", f(running))
    assert drive(copy, 9, start=10) == drive(s, 9, start=10)


def test_warm_start_from_points_and_from_a_results_table():
    first = NSGA2Search(PARAMS, **MO, pop_size=4, seed=1)
    cfgs = drive(first, 8)
    df = pd.DataFrame([{**{f"config/{k}": v for k, v in pd.json_normalize(c, sep="/").iloc[0].items()}, **f(c)}
                       for c in cfgs])
    df.loc[0, "f1"] = float("nan")  # a failed row of the earlier run
    warm = NSGA2Search(**MO, pop_size=4, seed=2)
    warm.add_evaluated_trials(df)  # before the searcher knows its space: kept until it does
    warm.add_evaluated_point(cfgs[0], [0.5, 0.5])  # same config again: the first result stays
    assert warm.core is None
    assert warm.set_search_properties(None, None, PARAMS)
    assert len(warm.core.results) == 8 and len(warm.failed) == 1 and len(warm.evaluated) == 7
    seen = {repr(sorted(pd.json_normalize(c, sep="/").iloc[0].items())) for c in cfgs}
    later = drive(warm, 8, start=100)
    assert not seen & {repr(sorted(pd.json_normalize(c, sep="/").iloc[0].items())) for c in later}
