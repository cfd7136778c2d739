"""The failure policy: which reported results count as failed, and what a failed point is worth to NSGA-II.

A trial fails when Tune reports an error, when it reports nothing, when its ``infeasible_key``
column is false, or when an objective or a constrained metric is missing, not a number, NaN or infinite (or not positive
for a log-modelled metric).  A result that violates an outcome constraint is not a failure: it is
an infeasible observation (see :mod:`.adapter`).  A failed point is never proposed again and never modelled.

A result of a multi-step trial below its ladder's top rung (:func:`fidelity_below_top`) is not a
failure: it is a low-fidelity result (see :mod:`.adapter` for how the searchers use it).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .normalise import Objectives


def failure_reason(result: Mapping[str, Any] | None, error: bool, objectives: Objectives,
                   infeasible_key: str | None = "feasible") -> str:
    """Why a trial's result cannot be used ("" when it can)."""
    if error:
        return "trial error"
    if not result:
        return "no result"
    if infeasible_key and infeasible_key in result and not result[infeasible_key]:
        return f"infeasible: {str(result.get('error', ''))[:200]}"
    for m in dict.fromkeys(objectives.metrics + objectives.constraint_metrics):
        v = result.get(m)
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                or not math.isfinite(float(v)):
            return f"metric {m!r} missing or non-finite: {v!r}"
        if m in objectives.log_metrics and float(v) <= 0:
            return f"metric {m!r}={v!r} is not positive (modelled in log space)"
    return ""


def penalty(good: np.ndarray, n_obj: int) -> np.ndarray:
    """Objective vector standing in for failed points (NSGA-II selection pushes away from them): per
    objective, the worst good value plus the observed range plus one (1e6 with no good values)."""
    if len(good) == 0:
        return np.full(n_obj, 1e6)
    Y = np.asarray(good, dtype=float)
    return Y.max(axis=0) + (Y.max(axis=0) - Y.min(axis=0)) + 1.0


def fidelity_below_top(result: Mapping[str, Any] | None) -> int | None:
    """The ``fidelity_level`` of a result below its ladder's top rung, or ``None`` for a final result
    (top rung, or no ladder at all)."""
    if not result or result.get("fidelity_level") is None or result.get("fidelity_max_level") is None:
        return None
    level, top = int(result["fidelity_level"]), int(result["fidelity_max_level"])
    return level if level < top else None
