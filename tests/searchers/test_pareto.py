"""Pareto helpers: non-dominance, non-dominated sorting, hypervolume, and the Pareto set of a run
(pareto_results and the searchers' pareto_front: every non-dominated row, ties all kept)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ray import tune

from coflex_ray import NSGA2Search, pareto_results
from coflex_ray.searchers.pareto import hypervolume, nondominated, pareto_ranks


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


# minimised: (3, 4) is dominated by (2, 3), (5, 5) by (3, 4) as well; (2, 3) twice
Y = np.array([[1.0, 5.0], [2.0, 3.0], [3.0, 4.0], [4.0, 1.0], [2.0, 3.0], [5.0, 5.0]])


def test_nondominated_and_ranks_hand_computed():
    assert nondominated(Y).tolist() == [True, True, False, True, False, False]  # of equal rows only the first
    assert nondominated(np.array([[1.0, 2.0], [1.0, 3.0]])).tolist() == [True, False]  # equal in one, worse in the other
    assert pareto_ranks(Y).tolist() == [0, 0, 1, 0, 0, 2]  # equal rows share a front
    assert nondominated(np.zeros((0, 2))).tolist() == [] and pareto_ranks(np.zeros((0, 2))).tolist() == []


@pytest.mark.parametrize("m", [2, 3, 4])
def test_nondominated_sorting_agrees_with_pymoo(m):
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    rng = np.random.default_rng(m)
    for F in (rng.random((150, m)), rng.integers(4, size=(150, m)).astype(float)):  # ties in the second
        ranks = np.empty(len(F), dtype=int)
        for k, front in enumerate(NonDominatedSorting().do(F)):
            ranks[front] = k
        assert pareto_ranks(F).tolist() == ranks.tolist()
    F = rng.random((150, m))
    assert np.flatnonzero(nondominated(F)).tolist() == sorted(NonDominatedSorting().do(F, only_non_dominated_front=True))


def test_hypervolume_hand_computed():
    stairs = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(stairs, [4.0, 4.0]) == pytest.approx(1 * 1 + 1 * 2 + 1 * 3)
    assert hypervolume(np.vstack([stairs, [[3.0, 3.0], [5.0, 0.0], [0.5, 4.0]]]), [4.0, 4.0]) == pytest.approx(6.0)
    assert hypervolume([[1.0, 1.0, 1.0]], [2.0, 3.0, 4.0]) == pytest.approx(1 * 2 * 3)
    # two boxes of 4 and 2 that share a unit cube
    assert hypervolume([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [2.0, 2.0, 2.0]) == pytest.approx(5.0)
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0]) == 0.0 and hypervolume([[2.0, 0.0]], [1.0, 1.0]) == 0.0


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_agrees_with_pymoo(m):
    from pymoo.indicators.hv import HV

    F = np.random.default_rng(m).random((60, m))
    ref = np.full(m, 1.1)
    assert hypervolume(F, ref) == pytest.approx(HV(ref_point=ref)(F), rel=1e-9)


# The Pareto set keeps every row that no other row strictly dominates; rows with equal objective
# values are all kept (a front of one point per distinct vector would drop trials).  Each case:
# modes, {config i: (a, b)}, the front's configs (by the first objective, ties in table order).
TIES = {
    "identical rows are both on the front": (
        ["min", "min"], {0: (0.1, 5.0), 1: (0.1, 5.0), 2: (0.2, 1.0), 3: (0.3, 6.0)}, [0, 1, 2]),
    "a dominated duplicate stays out": (
        ["min", "min"], {0: (0.1, 5.0), 1: (0.3, 6.0), 2: (0.3, 6.0), 3: (0.2, 1.0), 4: (0.1, 6.0)}, [0, 3]),
    "mixed min and max modes": (
        ["min", "max"], {0: (0.2, 0.95), 1: (0.1, 0.9), 2: (0.2, 0.9), 3: (0.1, 0.9), 4: (0.2, 0.95),
                         5: (0.3, 0.95)}, [1, 3, 0, 4]),
}


def _results_front(modes: list[str], pts: dict) -> list[int]:
    df = pd.DataFrame([{"config/i": i, "a": a, "b": b} for i, (a, b) in pts.items()])
    return pareto_results(df, metric=["a", "b"], mode=modes)["config/i"].tolist()


def _searcher_front(modes: list[str], pts: dict) -> list[int]:
    s = NSGA2Search({"i": tune.choice(list(pts))}, metric=["a", "b"], mode=modes, pop_size=2)
    for i, (a, b) in pts.items():
        s.add_evaluated_point({"i": i}, {"a": a, "b": b})
    return [c["i"] for c, _ in s.pareto_front()]


@pytest.mark.parametrize("front", [_results_front, _searcher_front], ids=["pareto_results", "pareto_front"])
@pytest.mark.parametrize("case", list(TIES))
def test_every_tied_non_dominated_row_is_kept(front, case):
    modes, pts, want = TIES[case]
    assert front(modes, pts) == want


def test_nondominated_keeping_ties_agrees_with_pymoo():
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.random.default_rng(0).integers(4, size=(200, 3)).astype(float)  # many equal rows
    mask = nondominated(F, keep_ties=True)
    assert np.flatnonzero(mask).tolist() == sorted(NonDominatedSorting().do(F, only_non_dominated_front=True))
    assert mask.sum() > nondominated(F).sum()  # the default keeps one row per distinct vector
