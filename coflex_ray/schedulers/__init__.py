"""Ray Tune trial schedulers for multi-fidelity studies: trials report the same objectives at rising
fidelity (one ``tune.report`` per rung, ``time_attr`` saying which), and a scheduler stops the
unpromising ones early.

* :class:`.moasha.MOASHAScheduler`: multi-objective ASHA (Pareto rank, crowding tie-break).
* :class:`.scalarized_asha.ScalarizedASHAScheduler`: Tune's own ASHA on the study's scalarisation
  (the single-objective baseline).
* :func:`make_scheduler`: one of :data:`SCHEDULERS` by name.

Both keep their rung records next to Tune's experiment state (:mod:`.rungs`), so they survive
``Tuner.restore``, and both report per-rung counts with ``rung_counts()``.
"""

from __future__ import annotations

from typing import Any, Sequence

SCHEDULERS = ("none", "mo-asha", "asha")

__all__ = ["SCHEDULERS", "MOASHAScheduler", "ScalarizedASHAScheduler", "make_scheduler", "promotion_order"]


def make_scheduler(name: str, metric: str | Sequence[str], mode: str | Sequence[str], *, time_attr: str,
                   max_t: float, grace_period: float, reduction_factor: float,
                   log_metrics: Sequence[str] = ()) -> Any:
    """The ``TuneConfig(scheduler=...)`` for ``name``: ``None`` for ``"none"`` (Tune's FIFO), a
    :class:`MOASHAScheduler` for ``"mo-asha"``, a :class:`ScalarizedASHAScheduler` for ``"asha"``
    (give it the study's bounds with ``set_bounds`` before the run).

    Raises:
        ValueError: an unknown name (the allowed ones listed) or a bad setting.
    """
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; allowed: {', '.join(SCHEDULERS)}")
    if name == "none":
        return None
    kw = dict(time_attr=time_attr, max_t=max_t, grace_period=grace_period, reduction_factor=reduction_factor,
              log_metrics=log_metrics)
    if name == "mo-asha":
        from .moasha import MOASHAScheduler

        return MOASHAScheduler(metric, mode, **kw)
    from .scalarized_asha import ScalarizedASHAScheduler

    return ScalarizedASHAScheduler(metric, mode, **kw)


def __getattr__(name: str) -> Any:  # the classes import Ray: load them on first use
    if name in ("MOASHAScheduler", "promotion_order"):
        from . import moasha

        return getattr(moasha, name)
    if name == "ScalarizedASHAScheduler":
        from .scalarized_asha import ScalarizedASHAScheduler

        return ScalarizedASHAScheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
