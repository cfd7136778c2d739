"""Outcome constraints for Ray Tune's ``OptunaSearch``.

Tune's ``OptunaSearch`` tells Optuna a trial's objective values only, so Optuna's constraint-aware
samplers (``TPESampler``, ``GPSampler``, ``NSGAIISampler``) never see a constraint.
:class:`ConstrainedOptunaSearch` is the same searcher that, when a result is told, first stores one
constraint value per outcome constraint on the Optuna trial with ``Trial.set_constraint`` (Optuna
5's replacement for the deprecated ``constraints_func``; every one of those samplers reads it from
the trial, so the sampler needs no argument and the searcher pickles as before).

The constraints are the ones our searchers take, ``{metric: (op, bound)}`` (see
:func:`.normalise.check_constraints`), and the value told is ``c = value - bound`` for ``"<="`` and
``bound - value`` for ``">="`` (Optuna: ``c <= 0`` is feasible), in ``log10`` units for a metric in
``log_metrics``.  A result that cannot give a value (no result, ``infeasible_key`` false, the metric
missing, NaN, infinite, or not positive for a log metric) counts as violating every constraint by
``penalty``, as does a trial that errored but is told a (penalty) result; a trial told as failed
(nothing to tell) needs none.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
from ray.tune.search.optuna import OptunaSearch

from .normalise import as_list, check_constraints


class ConstrainedOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that tells Optuna the outcome constraints of every result.

    Example::

        from optuna.samplers import TPESampler
        inner = ConstrainedOptunaSearch(sampler=TPESampler(seed=0), constraints={"latency_ms": ("<=", 10.0)},
                                        log_metrics=["latency_ms"])

    Args:
        constraints: ``{metric: (op, bound)}``, ``op`` ``"<="`` or ``">="``; ``None`` or ``{}``:
            exactly ``OptunaSearch``.
        log_metrics: constrained metrics whose constraint value is taken in ``log10`` (positive
            bound needed).
        penalty: the constraint value told for a result that cannot give one (finite, positive).
        infeasible_key: a result whose value under this key is false cannot give constraint values.
        **kwargs: passed to ``OptunaSearch``.

    Raises:
        ValueError: malformed ``constraints``, a non-positive bound on a log metric, a bad ``penalty``,
            or constraints on an Optuna older than 5.0.
    """

    def __init__(self, *args: Any, constraints: Mapping[str, Any] | None = None, log_metrics: Sequence[str] = (),
                 penalty: float = 1e3, infeasible_key: str | None = "feasible", **kwargs: Any) -> None:
        self.constraints = check_constraints(constraints)
        self.constraint_log_metrics = tuple(m for m in as_list(log_metrics) if m in {c[0] for c in self.constraints})
        bad = [(m, b) for m, _, b in self.constraints if m in self.constraint_log_metrics and b <= 0]
        if bad:
            raise ValueError(f"constraint on {bad[0][0]!r} has bound {bad[0][1]!r}; a metric in log_metrics "
                             "needs a positive bound")
        if not (math.isfinite(penalty) and penalty > 0):
            raise ValueError(f"penalty={penalty} must be finite and positive")
        self.constraint_penalty, self.infeasible_key = float(penalty), infeasible_key
        if self.constraints:
            from optuna.trial import Trial

            if not hasattr(Trial, "set_constraint"):
                raise ValueError("constraints on an Optuna searcher need optuna>=5.0 (Trial.set_constraint); "
                                 "upgrade optuna or drop the constraints")
        super().__init__(*args, **kwargs)

    def constraint_values(self, result: Mapping[str, Any] | None) -> dict[str, float]:
        """``{metric: c}`` for one result (``c <= 0``: the constraint holds); see the module docstring."""
        if not result or (self.infeasible_key and self.infeasible_key in result and not result[self.infeasible_key]):
            return {m: self.constraint_penalty for m, _, _ in self.constraints}
        out = {}
        for m, op, bound in self.constraints:
            v = result.get(m)
            ok = v is not None and not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
                and math.isfinite(float(v)) and (m not in self.constraint_log_metrics or float(v) > 0)
            if not ok:
                out[m] = self.constraint_penalty
                continue
            v, b = float(v), bound
            if m in self.constraint_log_metrics:
                v, b = math.log10(v), math.log10(b)
            out[m] = v - b if op == "<=" else b - v
        return out

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        told = trial_id in self._completed_trials or trial_id not in self._ot_trials
        if self.constraints and not told and not (error and not result):
            ot_trial = self._ot_trials[trial_id]
            for m, c in self.constraint_values(None if error else result).items():
                ot_trial.set_constraint(m, c)
        super().on_trial_complete(trial_id, result=result, error=error)

    def add_evaluated_point(self, *args: Any, **kwargs: Any) -> None:
        if self.constraints:
            raise ValueError("ConstrainedOptunaSearch takes no evaluated points when it has constraints "
                             "(a point told without its constraint values would break Optuna's constrained samplers)")
        super().add_evaluated_point(*args, **kwargs)
