"""Pareto helpers: non-dominance, non-dominated sorting, hypervolume, and the Pareto set of a run."""

from __future__ import annotations

import pandas as pd
import pytest
from ray import tune

from coflex_ray import NSGA2Search, pareto_results


def test_pareto_front_of_searcher_and_of_a_results_table():
    s = NSGA2Search({"i": tune.choice(list(range(6)))}, metric=["a", "b"], mode=["min", "max"], pop_size=6)
    pts = {0: (1, 1), 1: (2, 3), 2: (3, 2), 3: (0, 0), 4: (5, 9), 5: (4, float("inf"))}
    for t in range(6):
        cfg = s.suggest(str(t))
        s.on_trial_complete(str(t), {"a": pts[cfg["i"]][0], "b": pts[cfg["i"]][1]})
    front = s.pareto_front()
    assert [c["i"] for c, _ in front] == [3, 0, 1, 4] and front[0][1] == {"a": 0.0, "b": 0.0}
    df = pd.DataFrame([{"config/i": i, "a": a, "b": b, "feasible": i != 1} for i, (a, b) in pts.items()])
    assert pareto_results(df, metric=["a", "b"], mode=["min", "max"])["config/i"].tolist() == [3, 0, 2, 4]
    with pytest.raises(ValueError, match="'c' is not a column"):
        pareto_results(df, metric=["a", "c"], mode=["min", "min"])
