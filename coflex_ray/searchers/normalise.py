"""Objectives as the cores see them: reported metrics -> minimised vectors, and fixed normalisation bounds.

A reported result ``{metric: value}`` becomes one vector per trial, every entry minimised: ``max``
metrics are negated, and metrics in ``log_metrics`` (e.g. EDP, which spans decades) are taken in
log space first (natural log for the searchers' models; the scalarisation wrapper uses ``log10``
so that its bounds read like the analysis' ``log10_<metric>`` bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

MODES = ("min", "max")


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

    def __post_init__(self) -> None:
        if len(self.metrics) < 1 or len(self.metrics) != len(self.modes):
            raise ValueError(f"need one mode per metric; got metric={list(self.metrics)} mode={list(self.modes)}")
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ValueError(f"mode {bad[0]!r} is not allowed; allowed: 'min', 'max'")
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metric names must differ; got {list(self.metrics)}")
        unknown = [m for m in self.log_metrics if m not in self.metrics]
        if unknown:
            raise ValueError(f"log_metrics {unknown} are not among metrics {list(self.metrics)}")

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
