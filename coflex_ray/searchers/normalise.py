"""Objectives as the cores see them: reported metrics -> minimised vectors, and fixed normalisation bounds.

A reported result ``{metric: value}`` becomes one vector per trial, every entry minimised: ``max``
metrics are negated, and metrics in ``log_metrics`` (e.g. EDP, which spans decades) are taken in
log space first (natural log for the searchers' models; the scalarisation wrapper uses ``log10``
so that its bounds read like the analysis' ``log10_<metric>`` bounds).

Outcome constraints (:func:`check_constraints`) ``{metric: (op, bound)}`` with ``op`` ``"<="`` or
``">="`` are reported metrics (an objective may be one too).  The cores see each as a pair
``(sign, bound)`` on the model scale (log where the metric is in ``log_metrics``): the constraint
holds when ``sign * (value - bound) <= 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

MODES = ("min", "max")
CONSTRAINT_OPS = ("<=", ">=")


def as_list(value: Any) -> list:
    """``None`` -> ``[]``, a string -> ``[string]``, a sequence -> a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class Objectives:
    """The metric/mode contract of a multi-objective search (validated on construction)."""

    metrics: tuple[str, ...]
    modes: tuple[str, ...]
    log_metrics: tuple[str, ...] = ()
    log: Callable[[float], float] = math.log
    constraints: tuple[tuple[str, str, float], ...] = ()  # (metric, op, bound), see check_constraints

    def __post_init__(self) -> None:
        if len(self.metrics) < 1 or len(self.metrics) != len(self.modes):
            raise ValueError(f"need one mode per metric; got metric={list(self.metrics)} mode={list(self.modes)}")
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ValueError(f"mode {bad[0]!r} is not allowed; allowed: 'min', 'max'")
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metric names must differ; got {list(self.metrics)}")
        names = list(self.metrics) + [c[0] for c in self.constraints if c[0] not in self.metrics]
        unknown = [m for m in self.log_metrics if m not in names]
        if unknown:
            raise ValueError(f"log_metrics {unknown} are not among metrics {names}")
        bad = [(m, b) for m, _, b in self.constraints if m in self.log_metrics and b <= 0]
        if bad:
            raise ValueError(f"constraint on {bad[0][0]!r} has bound {bad[0][1]!r}; a metric in log_metrics "
                             "needs a positive bound")

    @property
    def constraint_metrics(self) -> tuple[str, ...]:
        """The constrained metrics, in the order of :attr:`constraints`."""
        return tuple(c[0] for c in self.constraints)

    def constraint_specs(self) -> tuple[tuple[float, float], ...]:
        """``(sign, bound)`` per constraint on the model scale: it holds when ``sign * (value - bound) <= 0``
        for the value from :meth:`constraint_values`."""
        return tuple((1.0 if op == "<=" else -1.0, self._clog(m, b)) for m, op, b in self.constraints)

    def _clog(self, metric: str, value: float) -> float:
        return math.log(float(value)) if metric in self.log_metrics else float(value)

    def constraint_values(self, result: Mapping[str, Any]) -> np.ndarray:
        """The constraint metrics of a good result on the model scale (natural log where in ``log_metrics``)."""
        return np.array([self._clog(m, result[m]) for m in self.constraint_metrics])

    def satisfied(self, result: Mapping[str, Any]) -> bool:
        """Whether a good result meets every constraint (in reported units)."""
        return all(float(result[m]) <= b if op == "<=" else float(result[m]) >= b for m, op, b in self.constraints)

    def transform(self, metric: str, value: float) -> float:
        """One metric's reported value on the minimised (log where asked) scale."""
        v = self.log(float(value)) if metric in self.log_metrics else float(value)
        return v if self.modes[self.metrics.index(metric)] == "min" else -v

    def vector(self, result: Mapping[str, Any]) -> np.ndarray:
        """The minimised objective vector of a good result (see :func:`.failures.failure_reason`)."""
        return np.array([self.transform(m, result[m]) for m in self.metrics])

    def internal_bounds(self, objective_bounds: Sequence[Sequence[float]] | Mapping[str, Sequence[float]] | None
                        ) -> np.ndarray | None:
        """Bounds in reported units on the minimised scale.

        Args:
            objective_bounds: ``[[lo, hi]]`` per metric, ``{metric: (lo, hi)}``, or ``None``.

        Returns:
            ``(n_metrics, 2)`` array, each row sorted, or ``None`` for ``None``.

        Raises:
            ValueError: wrong keys or shape, or ``lo >= hi``.
        """
        if objective_bounds is None:
            return None
        if isinstance(objective_bounds, Mapping):
            if set(objective_bounds) != set(self.metrics):
                raise ValueError(f"objective_bounds keys {sorted(objective_bounds)} must be the metrics {list(self.metrics)}")
            objective_bounds = [objective_bounds[m] for m in self.metrics]
        b = np.array(objective_bounds, dtype=float)
        if b.shape != (len(self.metrics), 2) or np.any(b[:, 0] >= b[:, 1]):
            raise ValueError(f"objective_bounds must be [[lo, hi]] per metric with lo < hi, got {objective_bounds}")
        return np.array([np.sort([self.transform(m, lo), self.transform(m, hi)]) for m, (lo, hi) in zip(self.metrics, b)])


def check_constraints(constraints: Any) -> tuple[tuple[str, str, float], ...]:
    """Outcome constraints ``{metric: (op, bound)}`` as a tuple of ``(metric, op, bound)``.

    ``op`` is ``"<="`` or ``">="``, ``bound`` a finite number; ``None`` or ``{}``: no constraints.  A
    constrained metric may also be an objective.

    Raises:
        ValueError: not a dict of ``(op, bound)`` pairs keyed by metric name, an unknown op or a
            non-finite bound (one message naming the entry and the rule).
    """
    if constraints is None:
        return ()
    rule = "constraints must be {metric: (op, bound)} with op '<=' or '>=' and a finite bound, e.g. " \
           "{'latency_ms': ('<=', 10.0)}"
    if not isinstance(constraints, Mapping):
        raise ValueError(f"{rule}; got {constraints!r}")
    out = []
    for m, spec in constraints.items():
        ok = isinstance(m, str) and m and isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2
        if ok:
            op, bound = spec
            ok = op in CONSTRAINT_OPS and not isinstance(bound, bool) \
                and isinstance(bound, (int, float, np.integer, np.floating)) and math.isfinite(float(bound))
        if not ok:
            raise ValueError(f"{rule}; got {m!r}: {spec!r}")
        out.append((m, op, float(bound)))
    return tuple(out)


def violation(values: np.ndarray, specs: Sequence[tuple[float, float]]) -> np.ndarray:
    """``sign * (value - bound)`` per constraint (columns of ``values``, shape ``(n, k)`` or ``(k,)``):
    a constraint holds where this is ``<= 0``."""
    v = np.asarray(values, dtype=float)
    if not len(specs):
        return np.zeros(v.shape[:-1] + (0,)) if v.ndim else np.zeros(0)
    sign, bound = np.array(specs, dtype=float).T
    return sign * (v - bound)


def check_bounds(bounds: Any, n_obj: int) -> np.ndarray | None:
    """Bounds on the minimised scale as a ``(n_obj, 2)`` array (``None`` stays ``None``)."""
    if bounds is None:
        return None
    b = np.array(bounds, dtype=float)
    if b.shape != (n_obj, 2) or np.any(b[:, 0] >= b[:, 1]):
        raise ValueError(f"bounds must be [[lo, hi]] per objective ({n_obj}) with lo < hi, got {bounds}")
    return b


def frozen_bounds(bounds: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
    """Fixed objective bounds ``[[lo, hi]] per objective``: given, or taken from the data ``Y`` now."""
    if bounds is not None:
        return bounds
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    return np.stack([lo, np.where(hi > lo, hi, lo + 1.0)], axis=1)
