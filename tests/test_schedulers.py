"""The multi-fidelity schedulers: MO-ASHA's Pareto promotion on planted results, ASHA on the study's
scalarisation, real Tuner runs with every searcher kind, and rung records across ``Tuner.restore``."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from coflex_ray.schedulers import SCHEDULERS, MOASHAScheduler, ScalarizedASHAScheduler, make_scheduler, promotion_order

CONTINUE, STOP = "CONTINUE", "STOP"


class _Trial:  # what the schedulers read of a Tune trial (no storage: no records file)
    def __init__(self, trial_id: str) -> None:
        self.trial_id, self.storage = trial_id, None


def _feed(sched, rows: list[tuple], level: float = 1, metrics=("a", "b")) -> list[str]:
    """Report one result per row (objective values in ``metrics`` order, ``None`` = not reported)."""
    out = []
    for k, row in enumerate(rows):
        t = _Trial(f"t{len(sched.rung_counts()) * 1000 + k}_{id(row)}")
        sched.on_trial_add(None, t)
        result = {"fidelity_level": level, **{m: v for m, v in zip(metrics, row) if v is not None}}
        out.append(sched.on_trial_result(None, t, result))
    return out


# ---------------------------------------------------------------------------------------------- ordering
def test_promotion_order_fronts_then_crowding_then_arrival_failed_last():
    # front 0 on the line a + b = 10; crowding (hand-computed, pymoo's NSGA-II definition):
    # (0,10), (10,0): infinite; (5,5): (8-1)/10/2 + (9-2)/10/2 = 0.7; (1,9) and (8,2): 0.5 each
    Y = [(0, 10), (10, 0), (1, 9), (5, 5), (8, 2), (6, 6), (math.inf, 0)]
    assert promotion_order(np.array(Y)).tolist() == [0, 1, 3, 2, 4, 5, 6]


def test_equal_crowding_ties_go_by_arrival_and_nan_is_last():
    assert promotion_order(np.array([[np.nan, 1.0], [2.0, 2.0], [1.0, 3.0], [3.0, 1.0]])).tolist() == [2, 3, 1, 0]


# ---------------------------------------------------------------------------------------------- planted toys
@pytest.mark.parametrize("rf", [2, 3])
def test_non_dominated_promoted_dominated_stopped(rf):
    # non-dominated results N (on a + b = 10) arrive one after every (rf - 1) dominated ones D; at each
    # arrival the front fits in the top ceil(n / rf), so exactly the N go on
    N = [(1, 9), (9, 1), (5, 5), (3, 7)]
    D = [(10 + k, 10 + k) for k in range(len(N) * (rf - 1))]
    rows, expect = [], []
    for i, n in enumerate(N):
        rows.append(n), expect.append(CONTINUE)
        for d in D[i * (rf - 1):(i + 1) * (rf - 1)]:
            rows.append(d), expect.append(STOP)
    sched = MOASHAScheduler(["a", "b"], ["min", "min"], max_t=3, reduction_factor=rf)
    assert _feed(sched, rows) == expect
    c = sched.rung_counts()[0]
    assert (c["recorded"], c["promoted"], c["stopped"]) == (len(rows), len(N), len(D))


def test_max_mode_flips_the_order():
    sched = MOASHAScheduler(["acc", "edp"], ["max", "min"], max_t=2, reduction_factor=2)
    # (acc 90, edp 1) dominates (acc 80, edp 2) when acc is maximised (it would not if minimised)
    assert _feed(sched, [(80, 2), (90, 1), (70, 3)], metrics=("acc", "edp")) == [CONTINUE, CONTINUE, STOP]
    sched = MOASHAScheduler(["acc", "edp"], ["min", "min"], max_t=2, reduction_factor=2)
    assert _feed(sched, [(80, 2), (90, 1), (70, 3)], metrics=("acc", "edp")) == [CONTINUE, STOP, CONTINUE]


def test_crowding_tie_break_stops_a_crowded_non_dominated_point():
    sched = MOASHAScheduler(["a", "b"], ["min", "min"], max_t=2, reduction_factor=2)
    # 4 mutually non-dominated results: the 4th, (5.1, 4.9), is between (5,5) and (10,0) and close to
    # (5,5): crowding (10-5)/10/2 + (5-0)/10/2 = 0.5 for it vs 0.55 for (5,5): position 3 >= ceil(4/2)
    assert _feed(sched, [(0, 10), (5, 5), (10, 0), (5.1, 4.9)]) == [CONTINUE, STOP, CONTINUE, STOP]


def test_failed_missing_and_infeasible_rank_last_and_stop_without_crashing():
    sched = MOASHAScheduler(["a", "b"], ["min", "min"], max_t=2, reduction_factor=2)
    assert _feed(sched, [(math.inf, 1)]) == [STOP]  # failed: never promoted, even first at its rung
    assert _feed(sched, [(None, 1), (float("nan"), 0), (5, 5)]) == [STOP, STOP, CONTINUE]
    t = _Trial("infeasible")
    sched.on_trial_add(None, t)
    assert sched.on_trial_result(None, t, {"fidelity_level": 1, "a": 0, "b": 0, "feasible": False}) == STOP
    t = _Trial("error-row")  # no fidelity column at all: not recorded, not stopped
    sched.on_trial_add(None, t)
    assert sched.on_trial_result(None, t, {"error": "boom"}) == CONTINUE
    c = sched.rung_counts()[0]
    assert (c["recorded"], c["promoted"], c["stopped"]) == (5, 1, 4)


def test_rungs_repeats_and_max_t():
    sched = MOASHAScheduler(["a"], ["min"], max_t=9, grace_period=1, reduction_factor=3)
    assert sched.levels == [1, 3]
    t = _Trial("x")
    sched.on_trial_add(None, t)
    assert sched.on_trial_result(None, t, {"fidelity_level": 1, "a": 1}) == CONTINUE
    assert sched.on_trial_result(None, t, {"fidelity_level": 1, "a": 99}) == CONTINUE  # repeat: decided, kept
    assert sched.on_trial_result(None, t, {"fidelity_level": 2, "a": 99}) == CONTINUE  # still rung 1
    assert sched.on_trial_result(None, t, {"fidelity_level": 3, "a": 1}) == CONTINUE
    assert sched.on_trial_result(None, t, {"fidelity_level": 9, "a": 1}) == STOP  # max_t: done
    sched.on_trial_complete(None, t, {"fidelity_level": 9, "a": 1})
    assert [c["recorded"] for c in sched.rung_counts()] == [1, 1, 1]
    assert "MO-ASHA" in sched.debug_string()


# ---------------------------------------------------------------------------------------------- ASHA baseline
def test_scalarized_asha_uses_the_searchers_scalarisation():
    from coflex_ray.searchers.scalarize import ScalarizedSearch

    bounds = {"err": [0.0, 100.0], "log10_edp": [-2.0, 2.0]}
    sched = ScalarizedASHAScheduler(["err", "edp"], ["min", "min"], log_metrics=["edp"], max_t=2, reduction_factor=2)
    sched.set_bounds(bounds)
    from ray.tune.search.hyperopt import HyperOptSearch

    search = ScalarizedSearch(HyperOptSearch(), ["err", "edp"], ["min", "min"], log_metrics=["edp"],
                              bounds=bounds)
    for r in ({"err": 10.0, "edp": 0.1}, {"err": 50.0, "edp": 10.0}, {"err": 5.0}, {"err": 1.0, "edp": -1.0}):
        assert sched._extend(r)["scalar"] == search.inner_values(r)["scalar"]
    # err 10, edp 1 -> (0.1 + 0.5) / 2 = 0.3; err 20, edp 0.01 -> (0.2 + 0) / 2 = 0.1: the second is better
    out = _feed(sched, [(10, 1), (20, 0.01), (30, 100), (None, 1)], metrics=("err", "edp"))
    assert out == [CONTINUE, CONTINUE, STOP, STOP]
    c = sched.rung_counts()[0]
    assert (c["recorded"], c["promoted"], c["stopped"]) == (4, 2, 2)
    assert sched.metric is None and "ASHA" in sched.debug_string()
    with pytest.raises(ValueError, match="before the run starts"):
        sched.set_bounds({"err": [0.0, 1.0], "log10_edp": [0.0, 1.0]})


# ---------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, message", [
    (dict(metric=["a", "b"], mode=["min"]), "one mode per metric"),
    (dict(metric=["a"], mode=["up"]), "mode 'up' is not allowed"),
    (dict(metric=["a"], mode=None), "metric and mode go together"),
    (dict(metric=["a"], mode=["min"], reduction_factor=1), "reduction_factor=1 must be > 1"),
    (dict(metric=["a"], mode=["min"], grace_period=0), "grace_period=0 must be >= 1"),
    (dict(metric=["a"], mode=["min"], grace_period=3, max_t=2), "grace_period=3 must be <= max_t=2"),
    (dict(metric=["a"], mode=["min"], max_t=float("nan")), "max_t=nan must be a finite number"),
    (dict(metric=["a"], mode=["min"], log_metrics=["b"]), "log_metrics"),
])
def test_bad_settings_get_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MOASHAScheduler(**kwargs)


def test_make_scheduler_names():
    kw = dict(time_attr="fidelity_level", max_t=2, grace_period=1, reduction_factor=3, log_metrics=["edp"])
    assert SCHEDULERS == ("none", "mo-asha", "asha")
    assert make_scheduler("none", ["err", "edp"], ["min", "min"], **kw) is None
    assert isinstance(make_scheduler("mo-asha", ["err", "edp"], ["min", "min"], **kw), MOASHAScheduler)
    assert isinstance(make_scheduler("asha", ["err", "edp"], ["min", "min"], **kw), ScalarizedASHAScheduler)
    with pytest.raises(ValueError, match="unknown scheduler 'hyperband'; allowed: none, mo-asha, asha"):
        make_scheduler("hyperband", ["err"], ["min"], **kw)
    with pytest.raises(ValueError, match="reduction_factor=0.5"):
        make_scheduler("asha", ["err"], ["min"], **{**kw, "reduction_factor": 0.5, "log_metrics": ()})


def test_set_search_properties_contract():
    sched = MOASHAScheduler(max_t=2)
    assert sched.set_search_properties(None, None) and sched.metrics == []
    assert sched.set_search_properties(["err", "edp"], ["min", "min"]) and sched.metrics == ["err", "edp"]
    assert sched.set_search_properties(["err", "edp"], ["min", "min"])  # the same: fine
    assert not sched.set_search_properties("acc", "max")  # a conflict: Tune raises
    with pytest.raises(ValueError, match="has no metric"):
        MOASHAScheduler(max_t=2).on_trial_add(None, _Trial("x"))


# ---------------------------------------------------------------------------------------------- real Tuner runs
MAX_T = 2


def _trainable():
    """Two fidelities; the cheap one is a noisy copy of the accurate one; x == 7 is infeasible.
    (Built in a function so Ray pickles it by value: the workers cannot import this test module.)"""
    from ray import tune

    def multi_fidelity(config):
        import time

        x = config["x"]
        for level in range(1, MAX_T + 1):
            time.sleep(config.get("sleep", 0))
            noise = 0.0 if level == MAX_T else 0.02 * ((x * 7919) % 11 - 5)
            if x == 7:
                tune.report({"fidelity_level": level, "err": float("inf"), "edp": float("inf"), "feasible": False})
            else:
                tune.report({"fidelity_level": level, "err": x / 20 + noise, "edp": math.exp(2 - x / 10),
                             "feasible": True})

    return tune.with_resources(multi_fidelity, {"cpu": 1})


TRAINABLE = _trainable()


@pytest.fixture(scope="module")
def ray_session():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _space():
    from coflex_ray.spaces import Dim, Space

    return Space("toy", (Dim("x", tuple(range(20)), "integer"),))


def _run(search_alg, sched, path: Path, name: str, n: int):
    from ray import tune

    tuner = tune.Tuner(
        TRAINABLE, param_space=_space().param_space(),
        tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=sched, num_samples=n, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(path), name=name, verbose=0))
    return tuner.fit().get_dataframe()


def _check_consistent(sched, df, n: int) -> None:
    """Every trial recorded once at rung 1; promoted == reached max_t; a stopped trial has one row."""
    rung, final = sched.rung_counts()
    assert len(df) == n and rung["recorded"] == n
    assert rung["promoted"] + rung["stopped"] == n
    assert final["recorded"] == rung["promoted"] == int((df["fidelity_level"] == MAX_T).sum())
    assert 1 <= rung["promoted"] < n
    bad = df[df["config/x"] == 7]
    assert (bad["fidelity_level"] == 1).all()  # infeasible at the cheap rung: stopped there


@pytest.mark.parametrize("searcher", ["random", "coflex", "optuna-tpe"])
def test_tuner_with_every_searcher_kind(ray_session, tmp_path, searcher):
    from coflex_ray.registry import make_searcher

    n = 8
    alg = make_searcher(searcher, _space(), seed=0, n_init=4, concurrency=2)  # ConcurrencyLimiter but random
    sched = make_scheduler("mo-asha", ["err", "edp"], ["min", "min"], time_attr="fidelity_level", max_t=MAX_T,
                           grace_period=1, reduction_factor=3, log_metrics=["edp"])
    df = _run(alg, sched, tmp_path, searcher, n)
    _check_consistent(sched, df, n)
    saved = json.loads((tmp_path / searcher / MOASHAScheduler.RECORDS_FILE).read_text())
    assert len(saved["records"]) == n + sched.rung_counts()[1]["recorded"]


def test_tuner_with_scalarized_asha(ray_session, tmp_path):
    from ray.tune.search import BasicVariantGenerator

    n = 9
    sched = make_scheduler("asha", ["err", "edp"], ["min", "min"], time_attr="fidelity_level", max_t=MAX_T,
                           grace_period=1, reduction_factor=3, log_metrics=["edp"])
    sched.set_bounds({"err": [0.0, 1.0], "log10_edp": [-1.0, 1.0]})
    df = _run(BasicVariantGenerator(random_state=0, max_concurrent=2), sched, tmp_path, "asha", n)
    _check_consistent(sched, df, n)


KILLED_RUN = """
import sys, time
import ray
from ray import tune
from ray.tune.search import BasicVariantGenerator
from coflex_ray.schedulers import make_scheduler
from test_schedulers import TRAINABLE, MAX_T, _space

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
sched = make_scheduler(sys.argv[2], ["err", "edp"], ["min", "min"], time_attr="fidelity_level", max_t=MAX_T,
                       grace_period=1, reduction_factor=3, log_metrics=["edp"])
if sys.argv[2] == "asha":
    sched.set_bounds({"err": [0.0, 1.0], "log10_edp": [-1.0, 1.0]})
tune.Tuner(TRAINABLE, param_space={**_space().param_space(), "sleep": 0.4},
           tune_config=tune.TuneConfig(search_alg=BasicVariantGenerator(random_state=0, max_concurrent=2),
                                       scheduler=sched, num_samples=int(sys.argv[3]), reuse_actors=True),
           run_config=tune.RunConfig(storage_path=sys.argv[1], name="run", verbose=0)).fit()
"""


def _with_results(run: Path) -> set[str]:
    """Trials that Tune's newest experiment state holds with at least one result."""
    newest = max(run.glob("experiment_state-*.json"), key=lambda f: f.stat().st_mtime)
    state = json.loads(newest.read_text())
    return {json.loads(t)["trial_id"] if isinstance(t, str) else t["trial_id"]
            for t, meta in state["trial_data"] if json.loads(meta)["last_result"]}


@pytest.mark.slow  # about 40 s: a second local Ray, killed, then the restored run
@pytest.mark.parametrize("name", ["mo-asha", "asha"])
def test_sigkill_then_restore_keeps_rung_records(ray_session, tmp_path, name):
    """SIGKILL a run (driver and its Ray) mid-way, ``Tuner.restore`` it: the decisions about every trial
    Tune restores are kept, nothing is recorded twice, and exactly the promoted trials reached the last
    fidelity."""
    from ray import tune

    n, root = 14, Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}", "RAY_AUTH_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0", "TUNE_GLOBAL_CHECKPOINT_S": "0.5"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path), name, str(n)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run = tmp_path / "run"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(_with_results(run)) >= 3 and len(_records(run, name)) >= 4:
                break
        except (ValueError, OSError, KeyError):  # nothing written yet, or a file being replaced
            pass
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    restored = _with_results(run)
    before = {_key(r): r for r in _records(run, name) if r["trial_id"] in restored}
    assert before
    df = tune.Tuner.restore(str(run), trainable=TRAINABLE, resume_unfinished=True, resume_errored=False,
                            restart_errored=True).fit().get_dataframe()
    assert len(df) == n and df["trial_id"].is_unique
    after = _records(run, name)
    assert len({_key(r) for r in after}) == len(after)  # nothing recorded twice
    assert {k: r for k, r in ((_key(r), r) for r in after) if k in before} == before  # decisions kept
    rung1 = {r["trial_id"]: r for r in after if _key(r)[1] != "final"}
    assert set(rung1) == set(df["trial_id"])  # every trial of the finished run has its rung-1 record, no other
    promoted = {t for t, r in rung1.items() if r["decision"] == CONTINUE}
    assert promoted == set(df.loc[df["fidelity_level"] == MAX_T, "trial_id"])  # promoted went on, stopped did not


def _key(record: dict) -> tuple:
    return record["trial_id"], record.get("rung", record.get("level"))


def _file(name: str) -> str:
    return MOASHAScheduler.RECORDS_FILE if name == "mo-asha" else ScalarizedASHAScheduler.RECORDS_FILE


def _records(path: Path, name: str) -> list[dict]:
    return json.loads((path / _file(name)).read_text())["records"]
