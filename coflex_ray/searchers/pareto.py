"""Pareto helpers shared by the searchers, the schedulers and the post-hoc analysis (all objectives minimised).

Non-dominance, non-dominated sorting and exact hypervolume come from moocore.  :func:`pareto_results` picks the
non-dominated trials out of a Ray Tune ``ResultGrid`` (or its dataframe), since Tune's
``get_best_result`` ranks by one metric only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

# Hypervolume reference point, in every coordinate of the normalised objective space (1.1 x the nadir of
# the unit box): one value for the searchers and the analysis, so they measure the same thing.
REF = 1.1


def nondominated(Y: np.ndarray, keep_ties: bool = False) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``Y`` (minimisation).

    Args:
        Y: objective vectors, one row per point.
        keep_ties: keep every copy of a non-dominated row; ``False`` (default): only the first of
            equal rows (a front of distinct points).
    """
    import moocore

    Y = np.asarray(Y, dtype=float)
    if len(Y) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(Y, maximise=False, keep_weakly=keep_ties))


def pareto_ranks(Y: np.ndarray) -> np.ndarray:
    """Non-dominated sorting (minimisation): the front index of each row of ``Y``, 0 for the non-dominated
    ones; equal rows share a front.  Rows must be finite."""
    import moocore

    Y = np.asarray(Y, dtype=float)
    if len(Y) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(moocore.pareto_rank(Y, maximise=False), dtype=int)


def hypervolume(Y: np.ndarray, ref: Sequence[float]) -> float:
    """Exact hypervolume of ``Y`` (minimisation) w.r.t. ``ref``; points not better than ``ref`` are dropped."""
    import moocore

    Y, ref = np.asarray(Y, dtype=float).reshape(-1, len(ref)), np.asarray(ref, dtype=float)
    Y = Y[np.all(Y < ref, axis=1)]
    return float(moocore.hypervolume(Y, ref=ref)) if len(Y) else 0.0


def pareto_results(results: Any, metric: Sequence[str] | str, mode: Sequence[str] | str,
                   infeasible_key: str | None = "feasible", full_length_only: bool = True,
                   constraints: Any = None) -> "Any":
    """The non-dominated trials of a run, as rows of its result table.

    Args:
        results: a ``ray.tune.ResultGrid`` (its ``get_dataframe()`` is used) or a pandas DataFrame
            with one row per trial (e.g. ``grid.get_dataframe()`` or a saved results table).
        metric: the objective column(s).
        mode: ``"min"`` or ``"max"`` per objective.
        infeasible_key: rows whose column of this name is false are left out (if the column exists);
            ``None`` keeps every row.
        full_length_only: leave out trials a scheduler stopped early: rows below the top
            ``fidelity_level`` (multi-step trials of this package), else rows whose
            ``training_iteration`` is below the largest in the table (ASHA, HyperBand, median
            stopping in a plain Tune script).  Default ``True``.
        constraints: outcome constraints ``{column: (op, bound)}``, ``op`` ``"<="`` or ``">="`` (as
            the searchers take them); rows that violate one, or lack a finite value, are left out.
            Default none.

    Returns:
        The rows (all columns, ``config/*`` included) that are finite in every objective, feasible
        (``infeasible_key`` and ``constraints``) and non-dominated among those: every such row not strictly dominated by another row (no other row is
        at least as good in every objective and better in one); ties are all kept (trials with
        equal objective values are all on the front).  Sorted by the first objective, ties in
        table order.

    Raises:
        ValueError: a metric or constrained column is not a column, a mode is not
            ``"min"``/``"max"``, or malformed ``constraints``.
    """
    import pandas as pd

    from .normalise import check_constraints

    metrics = [metric] if isinstance(metric, str) else list(metric)
    modes = [mode] if isinstance(mode, str) else list(mode)
    df = results.get_dataframe() if hasattr(results, "get_dataframe") else pd.DataFrame(results)
    if len(modes) != len(metrics) or any(m not in ("min", "max") for m in modes):
        raise ValueError(f"need one mode ('min' or 'max') per metric; got metric={metrics} mode={modes}")
    cons = check_constraints(constraints)
    missing = [m for m in metrics + [c[0] for c in cons] if m not in df.columns]
    if missing:
        raise ValueError(f"metric {missing[0]!r} is not a column of the results; columns: {list(df.columns)}")
    Y = df[metrics].apply(pd.to_numeric, errors="coerce").to_numpy(float) * [1 if m == "min" else -1 for m in modes]
    ok = np.all(np.isfinite(Y), axis=1)
    if infeasible_key and infeasible_key in df.columns:
        ok &= df[infeasible_key].fillna(False).astype(bool).to_numpy()
    for m, op, bound in cons:
        v = pd.to_numeric(df[m], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(v) & ((v <= bound) if op == "<=" else (v >= bound))
    if full_length_only and {"fidelity_level", "fidelity_max_level"} <= set(df.columns):
        ok &= (df["fidelity_level"] == df["fidelity_max_level"]).to_numpy()
    elif full_length_only and "training_iteration" in df.columns and len(df):
        it = pd.to_numeric(df["training_iteration"], errors="coerce")
        ok &= (it.isna() | (it >= it.max())).to_numpy()
    rows = np.flatnonzero(ok)
    front = df.iloc[rows[nondominated(Y[rows], keep_ties=True)]]
    return front.sort_values(metrics[0], ascending=modes[0] == "min", kind="stable")
