"""Outcome constraints (``constraints={metric: (op, bound)}``) on every searcher, without Ray.

The toy: ZDT1 over four 17-level knobs (:data:`.helpers.CUBE_SPACE`) with the constraint
``c = x0 + x1 <= 0.8``.  A violating result is information (modelled, kept off the front), a
missing or non-finite constraint value a failure.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from ray import tune

from coflex_ray import BoTorchMOSearch, CoflexSearch, NSGA2Search, pareto_results
from coflex_ray.searchers.coflex import CoflexCore
from coflex_ray.searchers.normalise import Objectives, check_constraints
from coflex_ray.searchers.pareto import nondominated

from .helpers import CUBE_SPACE, ZDT1

BOUND = 0.8
CONS = {"c": ("<=", BOUND)}
N_INIT = 6


def toy(cfg: dict) -> dict:
    x = np.array([cfg[f"x{i}"] for i in range(4)], dtype=float)
    f = ZDT1.evaluate(x[None])[0]
    return {"f1": float(f[0]), "f2": float(f[1]), "c": float(x[0] + x[1])}


def make(method: str, seed: int = 0, metric=("f1", "f2"), constraints=CONS, **kw):
    metric = list(metric)
    kw.setdefault("mode", ["min"] * len(metric))
    common = dict(metric=metric, seed=seed, constraints=constraints, **kw)
    if method == "coflex":
        return CoflexSearch(CUBE_SPACE, n_init=N_INIT, n_candidates=256, global_candidates=256, **common)
    if method == "nsga2":
        return NSGA2Search(CUBE_SPACE, pop_size=N_INIT, **common)
    return BoTorchMOSearch(CUBE_SPACE, acquisition=method, n_init=N_INIT, n_candidates=128, mc_samples=16,
                           num_restarts=0, **common)


def drive(s, n: int, fn=toy) -> list[dict]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(n):
            cfg = s.suggest(str(t))
            assert cfg is not None
            out.append(fn(cfg))
            s.on_trial_complete(str(t), out[-1])
    return out


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", [
    {"c": ("<", 1.0)}, {"c": ("==", 1.0)}, {"c": ("<=", float("nan"))}, {"c": ("<=", math.inf)},
    {"c": ("<=", "1")}, {"c": ("<=", True)}, {"c": "<= 1"}, {"c": ("<=",)}, {"c": ("<=", 1.0, 2.0)},
    [("c", "<=", 1.0)], {1: ("<=", 1.0)},
])
def test_malformed_constraints_raise_one_clear_error(bad):
    with pytest.raises(ValueError, match=r"constraints must be \{metric: \(op, bound\)\}"):
        check_constraints(bad)
    with pytest.raises(ValueError, match="constraints must be"):
        CoflexSearch(CUBE_SPACE, metric=["f1", "f2"], mode=["min", "min"], constraints=bad)


def test_valid_constraints():
    assert check_constraints(None) == () and check_constraints({}) == ()
    assert check_constraints({"a": (">=", 1), "b": ("<=", np.float32(2.5))}) == (("a", ">=", 1.0), ("b", "<=", 2.5))
    # a constraint on an objective is allowed; log_metrics may name a constrained metric
    s = NSGA2Search(CUBE_SPACE, metric=["f1", "f2"], mode=["min", "max"], log_metrics=["lat"],
                    constraints={"f1": ("<=", 0.5), "lat": (">=", 10.0)})
    assert s.core.constraints == ((1.0, 0.5), (-1.0, math.log(10.0)))
    with pytest.raises(ValueError, match="needs a positive bound"):
        NSGA2Search(CUBE_SPACE, metric=["f1"], mode=["min"], log_metrics=["lat"], constraints={"lat": ("<=", 0)})
    with pytest.raises(ValueError, match="log_metrics"):  # still refused when neither objective nor constrained
        NSGA2Search(CUBE_SPACE, metric=["f1"], mode=["min"], log_metrics=["lat"])
    obj = Objectives(("f1",), ("max",), constraints=(("f1", ">=", 2.0),))
    assert obj.satisfied({"f1": 2.0}) and not obj.satisfied({"f1": 1.9})
    assert obj.constraint_values({"f1": 3.0}).tolist() == [3.0]  # the reported value, not negated


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), "x"])
def test_missing_or_non_finite_constraint_value_is_a_failure(bad):
    s = make("nsga2")
    cfg = s.suggest("0")
    r = toy(cfg)
    r.pop("c") if bad is None else r.update(c=bad)
    s.on_trial_complete("0", r)
    assert len(s.failed) == 1 and "'c'" in s.failed[0][1] and s.core.failed and not s.evaluated


def test_a_violation_is_information_not_a_failure_and_stays_off_the_front():
    s = NSGA2Search({"i": tune.choice(list(range(5)))}, metric=["a", "b"], mode=["min", "min"], pop_size=5,
                    constraints={"lat": ("<=", 10.0)})
    pts = {0: (0, 0, 11.0), 1: (1, 2, 10.0), 2: (2, 1, 3.0), 3: (3, 3, 1.0), 4: (0.5, 0.5, 10.5)}
    for t in range(5):
        cfg = s.suggest(str(t))
        a, b, lat = pts[cfg["i"]]
        s.on_trial_complete(str(t), {"a": a, "b": b, "lat": lat})
    assert not s.failed and len(s.core.X) == 5  # every result is a good observation for the search
    assert s.core.feasible().sum() == 3
    front = s.pareto_front()
    assert [c["i"] for c, _ in front] == [1, 2] and front[0][1] == {"a": 1.0, "b": 2.0, "lat": 10.0}


def test_core_tell_needs_the_constraint_values():
    core = CoflexCore(CUBE_SPACE, 2, constraints=[(1.0, BOUND)], n_init=4)
    (x,) = core.ask(1)
    with pytest.raises(ValueError, match="1 finite constraint values"):
        core.tell(x, [0.1, 0.2])
    core.tell(x, [0.1, 0.2], c=[0.9])
    assert core.feasible().tolist() == [False] and core.constraint_values().shape == (1, 1)


# ---------------------------------------------------------------------------- every searcher on the toy
@pytest.mark.parametrize("method", ["coflex", "qnehvi", "qehvi", "qnparego", "nsga2"])
def test_pareto_front_holds_only_feasible_points(method):
    s = make(method)
    results = drive(s, 14)
    assert s.n_fallbacks == 0  # the constrained model path ran (a failure would fall back to random)
    assert not s.failed and any(r["c"] > BOUND for r in results)  # some violations were seen and told
    front = s.pareto_front()
    assert front and all(m["c"] <= BOUND for _, m in front)
    feas = np.array([[r["f1"], r["f2"]] for r in results if r["c"] <= BOUND])
    want = {tuple(y) for y in feas[nondominated(feas, keep_ties=True)]}
    assert {(m["f1"], m["f2"]) for _, m in front} == want


@pytest.mark.parametrize("method", ["coflex", "qnehvi", "nsga2"])
def test_single_objective_with_a_constraint(method):
    s = make(method, metric=["f2"])
    results = drive(s, 12)
    assert s.n_fallbacks == 0 and not s.failed
    best = min(r["f2"] for r in results if r["c"] <= BOUND)
    front = s.pareto_front()
    assert front and all(m["c"] <= BOUND and m["f2"] == best for _, m in front)


def test_coflex_proposes_fewer_violations_than_random():
    """After the initial design, CoflexSearch's share of proposals that violate the constraint is
    below random search's (the share of the whole grid that violates it, its expected value), on
    average over three seeds and by a clear margin."""
    levels = np.array(CUBE_SPACE.dims[0].values, dtype=float)
    random_share = float(np.mean(levels[:, None] + levels[None, :] > BOUND))  # ~0.68
    shares = []
    for seed in range(3):
        results = drive(make("coflex", seed=seed), N_INIT + 16)[N_INIT:]
        shares.append(np.mean([r["c"] > BOUND for r in results]))
    assert np.mean(shares) < random_share - 0.2, (shares, random_share)
    assert max(shares) < random_share


def test_coflex_single_objective_pulled_across_the_bound_stays_mostly_feasible():
    """Maximising x0 pulls every model towards x0 + x1 > 0.8; the proposals after the initial design
    stay mostly feasible (random search's share of violating points is ~0.68) and approach the
    constrained optimum x0 = 0.8 (x1 = 0)."""
    for seed in range(2):
        s = make("coflex", seed=seed, metric=["f1"], mode=["max"])
        results = drive(s, N_INIT + 16)
        after = [r["c"] > BOUND for r in results[N_INIT:]]
        assert np.mean(after) < 0.4, after
        assert max(r["f1"] for r in results if r["c"] <= BOUND) >= 0.7


# ---------------------------------------------------------------------------- pareto_results
def test_pareto_results_with_constraints():
    df = pd.DataFrame({"config/i": range(5), "a": [0, 1, 2, 3, 0.5], "b": [0, 2, 1, 3, 0.5],
                       "lat": [11.0, 10.0, 3.0, 1.0, np.nan], "acc": [0.9, 0.9, 0.9, 0.9, 0.9]})
    assert pareto_results(df, ["a", "b"], ["min", "min"])["config/i"].tolist() == [0]
    got = pareto_results(df, ["a", "b"], ["min", "min"], constraints={"lat": ("<=", 10.0)})
    assert got["config/i"].tolist() == [1, 2]  # row 0 violates, row 4 has no value
    assert pareto_results(df, ["a", "b"], ["min", "min"], constraints={"lat": (">=", 2.0), "a": (">=", 0.5),
                                                                     "acc": (">=", 0.5)})["config/i"].tolist() == [1, 2]
    assert pareto_results(df, ["a", "b"], ["min", "min"], constraints={})["config/i"].tolist() == [0]
    with pytest.raises(ValueError, match="'energy' is not a column"):
        pareto_results(df, ["a", "b"], ["min", "min"], constraints={"energy": ("<=", 1.0)})
    with pytest.raises(ValueError, match="constraints must be"):
        pareto_results(df, ["a", "b"], ["min", "min"], constraints={"lat": ("<", 1.0)})
