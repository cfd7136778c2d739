"""The wrappers that let Tune's own searchers optimise raw multi-objective metrics (no Tuner)."""

from __future__ import annotations

import math

import pytest
from ray import tune

from coflex_ray import FiniteObjectivesSearch, ScalarizedSearch

SPACE = {"a": tune.uniform(0, 1), "b": tune.choice([1, 2, 3])}
BOUNDS = {"err": [0.0, 1.0], "log10_edp": [-1.0, 3.0]}


def raw(cfg: dict, t: int) -> dict:
    ok = t % 4 != 3
    return {"err": cfg["a"], "edp": 10 ** cfg["b"] if ok else math.inf, "feasible": ok}


def test_scalar_is_the_mean_of_bounded_objectives_and_penalty_on_failure():
    from ray.tune.search.hyperopt import HyperOptSearch

    s = ScalarizedSearch(HyperOptSearch(random_state_seed=0), metric=["err", "edp"], mode=["min", "min"],
                         log_metrics=["edp"], bounds=BOUNDS)
    assert s.inner_values({"err": 0.5, "edp": 10.0, "feasible": True}) == {"scalar": 0.5 * 0.5 + 0.5 * 0.5}
    for bad in ({"err": 0.5, "edp": math.inf}, {"err": math.nan, "edp": 1.0}, {"err": 0.5, "edp": 0.0},
                {"err": 0.5, "edp": 1.0, "feasible": False}, None):
        assert s.inner_values(bad) == {"scalar": 1e3}
    mx = ScalarizedSearch(HyperOptSearch(), metric=["acc", "edp"], mode=["max", "min"], log_metrics=["edp"],
                          bounds={"acc": [0, 100], "log10_edp": [0, 2]}, weights=[3, 1])
    assert mx.inner_values({"acc": 100, "edp": 100.0}) == {"scalar": pytest.approx(0.75 * 0 + 0.25 * 1)}


def test_optuna_gets_finite_minimised_copies_of_every_objective():
    from optuna.samplers import RandomSampler
    from ray.tune.search.optuna import OptunaSearch

    inner = OptunaSearch(sampler=RandomSampler(seed=0))
    s = FiniteObjectivesSearch(inner, metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"])
    assert s.set_search_properties(None, None, SPACE) and inner.metric == ["obj_err", "obj_log10_edp"]
    for t in range(6):
        cfg = s.suggest(str(t))
        s.on_trial_complete(str(t), raw(cfg, t))
    values = [tr.values for tr in inner._ot_study.trials]
    assert len(values) == 6 and values[3] == [1e3, 1e3] and all(math.isfinite(v) for vs in values for v in vs)
    assert values[0][1] in (1.0, 2.0, 3.0)  # log10 of 10 ** b


@pytest.mark.parametrize("kwargs, match", [
    (dict(bounds={"err": [0, 1], "edp": [0, 1]}), r"log10_<metric> for a log metric"),
    (dict(bounds={"err": [1, 0], "log10_edp": [0, 1]}), r"bounds\['err'\] must be \[lo, hi\]"),
    (dict(weights=[1, -1]), "weights must be 2 non-negative"),
    (dict(penalty=math.inf), "penalty=inf"),
])
def test_bad_wrapper_arguments_are_named(kwargs, match):
    from ray.tune.search.hyperopt import HyperOptSearch

    with pytest.raises(ValueError, match=match):
        ScalarizedSearch(HyperOptSearch(), metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], **kwargs)
    with pytest.raises(ValueError, match="construct it without metric/mode"):
        ScalarizedSearch(HyperOptSearch(metric="err", mode="min"), metric=["err", "edp"], mode=["min", "min"])
