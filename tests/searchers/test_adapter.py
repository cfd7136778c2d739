"""Tune's searcher contract (the one adapter) for CoflexSearch, BoTorchMOSearch and NSGA2Search, without a
Tuner: the cases of Ray's own tests/test_searchers.py (invalid values, constants, save/restore into a fresh
searcher, results after completion, warm starts, pickling), set_search_properties beside TuneConfig's
metric, and points_to_evaluate / evaluated_rewards.  The model-based searchers stay inside their initial
design here (no model fits): test_tune_searchers.py runs them with models; test_tuner_runs.py has a real
Tuner run of the same contract."""

from __future__ import annotations

import logging
import math
import pickle
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from ray import tune

from coflex_ray import BoTorchMOSearch, CoflexSearch, NSGA2Search
from coflex_ray.spaces import Dim, Space

from .helpers_tune import MO, PARAMS

NESTED = {**PARAMS, "layers": [tune.choice([1, 2]), tune.lograndint(1, 100), 7], "pair": (tune.uniform(0, 1), "k"),
          "opt/wd": tune.qloguniform(1e-4, 1e-1, 1e-4), "const": [1, (2, 3)]}
SEARCHERS = {
    "coflex": lambda **kw: CoflexSearch(n_init=16, **kw),
    "qnehvi": lambda **kw: BoTorchMOSearch(n_init=16, n_candidates=64, mc_samples=16, **kw),
    "nsga2": lambda **kw: NSGA2Search(pop_size=4, **kw),
}
each_searcher = pytest.mark.parametrize("make", list(SEARCHERS.values()), ids=list(SEARCHERS))


def f(cfg: dict) -> dict:
    a = (cfg["c"] / 32 + cfg["n"] / 3 + cfg["x"]) / 3
    return {"f1": a, "f2": 1 - math.sqrt(a) + cfg["u"] + math.log10(cfg["lr"]) / 10 + 0.4}


def drive(s, n: int, fn=f, start: int = 0) -> list[dict]:
    out = []
    for t in range(start, start + n):
        cfg = s.suggest(str(t))
        out.append(cfg)
        s.on_trial_complete(str(t), fn(cfg))
    return out


def test_set_search_properties_contract(caplog):
    s = NSGA2Search(pop_size=4)  # nothing set: takes Tune's metric, mode and param_space
    assert s.set_search_properties("f1", "min", PARAMS) and s.metric == ["f1"] and s.core is not None
    with pytest.raises(ValueError, match="mode="):  # the same metric with another mode
        s.set_search_properties("f1", "max", PARAMS)
    s = NSGA2Search(**MO, pop_size=4)
    assert s.set_search_properties(None, None, PARAMS)  # Tune gives no metric: the searcher's stays
    assert s.set_search_properties(None, None, PARAMS)  # the same param_space again: no conflict
    with caplog.at_level(logging.WARNING):
        assert not s.set_search_properties(None, None, {"other": tune.choice([1, 2])})  # other domains: refused
    assert "param_space ['other']" in caplog.text
    assert s.metric == ["f1", "f2"] and [d.name for d in s.space.dims][0] == "c"
    with pytest.raises(RuntimeError, match="no search space"):
        NSGA2Search(**MO).suggest("0")


def test_tuners_param_space_adds_constants_to_the_searchers_own_space():
    s = NSGA2Search({"c": tune.choice([8, 16]), "tag": "v1"}, **MO, pop_size=4)
    assert s.set_search_properties(None, None, {"c": tune.choice([8, 16]), "extra": [1, 2]})
    assert s.suggest("0") == {"c": s.configs["0"]["c"], "tag": "v1", "extra": [1, 2]}
    s = NSGA2Search(Space("s", (Dim("c", (1, 2)), Dim("d", ("p", "q"), "categorical"))), **MO, pop_size=4)
    assert s.set_search_properties(None, None, {"tag": 1})
    assert set(s.suggest("0")) == {"c", "d", "tag"}


@each_searcher
def test_tune_metric_beside_the_searchers_own_metrics(make):
    s = make(**MO)  # as TuneConfig(metric="f1", mode="min") beside metric=["f1", "f2"]: accepted, all kept
    assert s.set_search_properties("f1", "min", PARAMS) and s.metric == ["f1", "f2"] and s.mode == ["min", "min"]
    assert s.set_search_properties("f2", None, PARAMS)
    for metric, mode in (("f1", "max"), ("acc", "max")):
        with pytest.raises(ValueError, match=r"optimises metric=\['f1', 'f2'\] with mode=\['min', 'min'\].*leave "
                                             r"metric/mode out of TuneConfig.*TuneConfig\(metric='f1', mode='min'\)"):
            s.set_search_properties(metric, mode, PARAMS)


@each_searcher
def test_constants_and_nesting_reach_every_trial(make):
    s = make(space=NESTED, **MO)
    for cfg in drive(s, 8):
        assert list(cfg) == list(NESTED) and cfg["tag"] == "zdt" and cfg["const"] == [1, (2, 3)]
        assert cfg["opt"]["name"] == "sgd" and cfg["opt"]["m"] in ("a", "b") and list(cfg["opt"]) == ["name", "m"]
        assert cfg["u"] in (0.0, 0.25, 0.5, 0.75, 1.0) and cfg["q"] in (0, 5, 10)
        assert type(cfg["layers"]) is list and cfg["layers"][0] in (1, 2) and 1 <= cfg["layers"][1] < 100
        assert cfg["layers"][2] == 7 and type(cfg["pair"]) is tuple and cfg["pair"][1] == "k"
        assert 1e-4 <= cfg["opt/wd"] <= 0.1 and "wd" not in cfg["opt"]


@each_searcher
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), None, "oops"])
def test_non_finite_objectives_are_failures_not_crashes(make, bad):
    s = make(space=PARAMS, **MO)
    cfgs = drive(s, 12, fn=lambda c: {**f(c), "f2": bad} if c["n"] == 1 else f(c))
    n_bad = sum(c["n"] == 1 for c in cfgs)
    assert n_bad > 0 and len(s.failed) == n_bad and len(s.core.Y) == 12 - n_bad
    assert all(np.isfinite(y).all() for y in s.core.Y)


def _invalid_objective(config: dict) -> dict:  # Ray's test_searchers.py: at least one NaN, -inf, inf
    r = config["report"]
    return {"_metric": float("inf") if r > 4 else float("-inf") if r > 3 else float("nan") if r > 2 else r or 0.1}


@each_searcher
def test_invalid_values_with_one_metric_from_tune(make):
    s = make()  # metric and mode from Tune, as in Ray's InvalidValuesTest
    assert s.set_search_properties("_metric", "max", {"report": tune.uniform(0.0, 5.0), "list": [1, 2, 3], "num": 4})
    cfgs = drive(s, 8, fn=_invalid_objective)
    assert all(c["list"] == [1, 2, 3] and type(c["list"]) is list and c["num"] == 4 for c in cfgs)
    n_bad = sum(c["report"] > 2 for c in cfgs)
    assert 0 < n_bad == len(s.failed) and len(s.evaluated) == 8 - n_bad
    assert max(s.evaluated, key=lambda e: e[1]["_metric"])[0]["report"] <= 2.0


@each_searcher
def test_late_and_unknown_results_are_ignored(make):
    s = make(space=PARAMS, **MO)
    drive(s, 3)
    told = len(s.core.results)
    s.on_trial_complete("1", {"f1": -100.0, "f2": -100.0})  # already completed
    s.on_trial_result("1", {"f1": -100.0, "f2": -100.0, "training_iteration": 3})  # reported after completion
    s.on_trial_complete("never-suggested", {"f1": 0.0, "f2": 0.0})
    s.on_trial_result("never-suggested", {"f1": 0.0, "f2": 0.0})
    assert len(s.core.results) == told and min(m["f1"] for _, m in s.pareto_front()) > -100


@each_searcher
def test_searcher_pickles_and_the_copy_continues_identically(make):
    s = make(space=PARAMS, **MO, seed=3)
    drive(s, 5)
    running = s.suggest("running")
    copy = pickle.loads(pickle.dumps(s))
    for x in (s, copy):
        x.on_trial_complete("running", f(running))
    assert drive(copy, 9, start=10) == drive(s, 9, start=10)


def _callbacks(searcher, trial_id: str) -> None:
    result = {"training_iteration": 1, "metric": 1, "config/a": 1.0, "time_total_s": 1}
    searcher.on_trial_result(trial_id, result)
    searcher.on_trial_complete(trial_id, result)


@each_searcher
def test_save_restore_into_a_fresh_searcher(make, tmp_path):
    path = str(tmp_path / "checkpoint.pkl")  # Ray's SaveRestoreCheckpointTest
    s = make()
    assert s.set_search_properties("metric", "max", {"a": tune.uniform(0.0, 5.0)})
    for t in ("1", "2", "not_completed"):
        s.suggest(t)
    _callbacks(s, "1")
    s.save(path)
    restored = type(s)()  # restoring needs no set_search_properties
    restored.restore(path)
    _callbacks(restored, "2")
    assert restored.suggest("3") is not None
    _callbacks(restored, "3")
    assert "not_completed" in restored.pending and len(restored.core.results) == 3


@each_searcher
def test_warm_start_from_points_from_a_results_table_and_from_trials(make):
    first = make(space=NESTED, **MO, seed=1)
    cfgs = drive(first, 8)
    df = pd.DataFrame([{**{f"config/{k}": v for k, v in pd.json_normalize(c, sep="/", max_level=1).iloc[0].items()},
                        **f(c)} for c in cfgs])  # as ResultGrid.get_dataframe(): '/'-joined keys, lists kept
    df.loc[0, "f1"] = float("nan")  # a failed row of the earlier run
    warm = make(**MO, seed=2)
    warm.add_evaluated_trials(df)  # before the searcher knows its space: kept until it does
    warm.add_evaluated_point(cfgs[0], [0.5, 0.5])  # same config again: the first result stays
    assert warm.core is None
    assert warm.set_search_properties(None, None, NESTED)
    assert len(warm.core.results) == 8 and len(warm.failed) == 1 and len(warm.evaluated) == 7
    assert warm.evaluated[0][0] == cfgs[1]  # the config as it ran, constants and shape included
    seen = {repr(c) for c in cfgs}
    assert not seen & {repr(c) for c in drive(warm, 8, start=100)}

    trials = [SimpleNamespace(config=c, last_result=f(c), status="TERMINATED") for c in cfgs[:3]]
    trials.append(SimpleNamespace(config=cfgs[3], last_result={}, status="ERROR"))
    from_trials = make(space=NESTED, **MO)
    from_trials.add_evaluated_trials(trials)
    from_trials.add_evaluated_trials(trials[0])  # one Trial; already told: no change
    assert len(from_trials.core.results) == 4 and len(from_trials.failed) == 1


@each_searcher
def test_add_evaluated_point_with_one_metric(make):
    s = make(space={"report": tune.uniform(0.0, 5.0)}, metric="metric", mode="max")  # Ray's AddEvaluatedPointTest
    s.add_evaluated_point({"report": 1.0}, 1.0)
    assert len(s.core.X) == len(s.core.Y) == 1
    s.add_evaluated_point({"report": 1.0}, 1.0, error=True)  # the same point again: the first result stays
    s.add_evaluated_point({"report": 2.0}, None, error=True)
    s.add_evaluated_point({"report": 3.0}, 1.0, pruned=True)
    assert len(s.core.X) == 1 and len(s.failed) == 2 and s.suggest("1") is not None
    with pytest.raises(ValueError, match=r"report=7.0 is outside the search space; allowed: floats in \[0.0, 5.0\]"):
        s.add_evaluated_point({"report": 7.0}, 1.0)
    with pytest.raises(ValueError, match="one value per metric"):
        s.add_evaluated_point({"report": 4.0}, [1.0, 2.0])


# ---------------------------------------------------------------- points_to_evaluate / evaluated_rewards
POINTS = [{"c": 16, "n": 2, "q": 5, "u": 0.25, "x": 0.123456, "lr": 1e-3, "opt": {"m": "b"}},
          {"c": 8, "n": 3, "q": 10, "u": 0.75, "x": 0.5, "lr": 0.05, "opt/m": "a"}]  # '/'-joined keys work too
RUN = [{**p, "tag": "zdt", "opt": {"name": "sgd", "m": m}} for p, m in zip(POINTS, "ba")]
for _p in RUN:
    _p.pop("opt/m", None)


@each_searcher
def test_points_to_evaluate_run_first_exactly_as_given_and_count_in_the_budget(make):
    s = make(**MO, points_to_evaluate=POINTS)  # space from Tune: the points are checked there
    assert s.set_search_properties(None, None, PARAMS)
    cfgs = drive(s, 6)
    assert cfgs[:2] == RUN  # off the searcher's grid (x=0.123456, lr=1e-3), yet run as given
    assert len(s.core.results) == 6 and [c for c, _, _ in s.evaluated[:2]] == RUN


@pytest.mark.parametrize("cls", [CoflexSearch, BoTorchMOSearch])
def test_points_to_evaluate_count_towards_the_initial_design(cls):
    s = cls(PARAMS, **MO, n_init=4, points_to_evaluate=POINTS)
    got = [s.suggest(str(t)) for t in range(5)]
    assert got[:2] == RUN and None not in got[:4]
    assert got[4] is None  # 2 points + 2 Sobol points = n_init: now it waits for their results


@each_searcher
def test_evaluated_rewards_are_told_not_run(make):
    s = make(space=PARAMS, **MO, points_to_evaluate=POINTS,
             evaluated_rewards=[[0.2, 0.8], {"f1": 0.5, "f2": float("nan")}])
    assert len(s.core.results) == 2 and len(s.failed) == 1 and s.evaluated[0][0] == RUN[0]
    assert s.suggest("0") not in RUN


@pytest.mark.parametrize("point, match", [
    ({**POINTS[0], "x": 1.5}, r"points_to_evaluate\[0\]: x=1.5 is outside the search space; allowed: floats in "
                              r"\[0.0, 1.0\]"),
    ({**POINTS[0], "c": 12}, r"c=12 is outside the search space; allowed: \{8, 16, 32\}"),
    ({**POINTS[0], "q": 7}, r"q=7 is outside the search space; allowed: integers \(multiples of 5\) in \[0, 10\]"),
    ({**POINTS[0], "n": 2.5}, r"n=2.5 is outside the search space; allowed: integers in \[1, 3\]"),
    ({**POINTS[0], "opt": {"m": "c"}}, r"opt/m='c' is outside the search space"),
    ({k: v for k, v in POINTS[0].items() if k != "lr"}, r"points_to_evaluate\[0\] lacks 'lr'"),
], ids=["range", "choice", "quantized", "integer", "nested", "missing"])
def test_points_outside_the_space_are_named(point, match):
    with pytest.raises(ValueError, match=match):
        NSGA2Search(PARAMS, **MO, points_to_evaluate=[point])
    s = CoflexSearch(**MO, points_to_evaluate=[point])
    with pytest.raises(ValueError, match=match):
        s.set_search_properties(None, None, PARAMS)  # as Tuner.fit() calls it


def test_malformed_points_and_rewards_are_refused_at_once():
    with pytest.raises(ValueError, match="points_to_evaluate must be a list of configs"):
        NSGA2Search(PARAMS, **MO, points_to_evaluate=POINTS[0])
    with pytest.raises(ValueError, match=r"points_to_evaluate\[1\] must be a config dict"):
        NSGA2Search(PARAMS, **MO, points_to_evaluate=[POINTS[0], 3])
    with pytest.raises(ValueError, match=r"evaluated_rewards must be a list with one result per point .*\(2\)"):
        NSGA2Search(PARAMS, **MO, points_to_evaluate=POINTS, evaluated_rewards=[[0.1, 0.2]])
    with pytest.raises(ValueError, match=r"evaluated_rewards\[0\]: the result 1.0 for metrics \['f1', 'f2'\]"):
        NSGA2Search(PARAMS, **MO, points_to_evaluate=POINTS[:1], evaluated_rewards=[1.0])


@each_searcher
def test_trials_a_scheduler_stopped_early_stay_out_of_the_pareto_front(make):
    """A plain Tune script with ASHA: results are told with Tune's training_iteration; a trial stopped
    below the iteration full-length trials reach is a low-fidelity result, never on the front, even
    where it would dominate (no fidelity_level columns needed)."""
    from coflex_ray import pareto_results

    s = make(space=PARAMS, **MO)
    rows = []
    for t in range(8):
        cfg = s.suggest(str(t))
        full = t % 2 == 0
        res = {**f(cfg), "training_iteration": 4 if full else 1}
        if not full:  # stopped after one step: looks better than every full-length trial
            res = {**res, "f1": -1.0, "f2": -1.0}
        s.on_trial_complete(str(t), res)
        rows.append({**res, "trial_id": str(t)})
    front = s.pareto_front()
    assert front and all(m["f1"] >= 0 for _, m in front)
    table = pd.DataFrame(rows)
    assert set(pareto_results(table, ["f1", "f2"], ["min", "min"])["training_iteration"]) == {4}
    assert (pareto_results(table, ["f1", "f2"], ["min", "min"], full_length_only=False)["f1"] == -1.0).all()
