"""The single-objective baseline: Ray Tune's own ``ASHAScheduler`` on the study's scalarisation.

Trials report raw metrics only; :class:`ScalarizedASHAScheduler` computes, for every result, the scalar
HyperOpt optimises in the study (:class:`coflex_ray.searchers.scalarize.Scalarization`: the mean of the
objectives normalised by the study's fixed bounds, ``penalty`` for a failed result) and hands ASHA the
result with that value added.  Nothing else of ASHA changes, except what restores need (see the class).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

from ..searchers.normalise import as_list
from ..searchers.scalarize import Scalarization
from .rungs import RungReport, RungStore, check_ladder, level_of

SCALAR = "scalar"  # the column ASHA ranks (added to a copy of each result; never reported)


class ScalarizedASHAScheduler(RungReport, AsyncHyperBandScheduler):
    """Tune's ASHA (one bracket) on one scalarisation of several raw metrics.

    ``metric``/``mode``/``log_metrics`` and ``bounds`` mean what they mean for
    :class:`coflex_ray.searchers.scalarize.ScalarizedSearch` (the same
    :class:`~coflex_ray.searchers.scalarize.Scalarization` computes the value; lower is better).
    The study fixes its bounds after building the schedulers and hands them over with
    :meth:`set_bounds`, as it does for HyperOpt.  **Before bounds are set** the scalar is the mean of
    the raw objectives (``log10`` where asked, negated for ``max``), not normalised: ASHA still
    compares every result of the run on one scale, but an objective with a larger range weighs more.

    Two additions to Tune's ASHA, both for ``Tuner.restore`` (Tune 2.60 does not checkpoint
    schedulers): the rung records are kept in ``asha_rungs.json`` beside Tune's experiment state and
    taken back for the trials Tune restores, and a trial that reports a rung it was already decided at
    (a retried or resumed trial run from scratch) gets the decision made then (Tune's ASHA would let
    a stopped trial go on).  :meth:`rung_counts` has the same columns as MO-ASHA's.  Tune's
    ``metric`` attribute is ``None`` (the scalar is never reported, so Tune's result check must not
    look for it).

    Args:
        metric: the raw objectives, e.g. ``["err", "edp"]``.
        mode: ``"min"`` or ``"max"`` per metric.
        time_attr, max_t, grace_period, reduction_factor: the rungs, as for
            :class:`coflex_ray.schedulers.MOASHAScheduler` and Tune's ASHA.
        log_metrics: metrics taken in ``log10``.
        bounds: ``{objective: [lo, hi]}`` (``log10_<metric>`` for a log metric), or ``None`` until
            :meth:`set_bounds`.
        weights, penalty, infeasible_key: see :class:`~coflex_ray.searchers.scalarize.Scalarization`.

    Raises:
        ValueError: one bad argument, named with what is allowed.
    """

    RECORDS_FILE = "asha_rungs.json"

    def __init__(self, metric: str | Sequence[str], mode: str | Sequence[str], *, time_attr: str = "fidelity_level",
                 max_t: float = 2, grace_period: float = 1, reduction_factor: float = 3,
                 log_metrics: Sequence[str] = (), bounds: Mapping[str, Sequence[float]] | None = None,
                 weights: Sequence[float] | None = None, penalty: float = 1e3,
                 infeasible_key: str | None = "feasible") -> None:
        if not as_list(metric) or not as_list(mode):
            raise ValueError(f"{type(self).__name__} needs metric=[...] and one mode per metric; got "
                             f"metric={metric!r} mode={mode!r}")
        check_ladder(time_attr, max_t, grace_period, reduction_factor)
        self.scalarization = Scalarization(metric, mode, log_metrics=log_metrics, bounds=bounds, weights=weights,
                                           penalty=penalty, infeasible_key=infeasible_key)
        super().__init__(time_attr=time_attr, metric=SCALAR, mode="min", max_t=max_t, grace_period=grace_period,
                         reduction_factor=reduction_factor, brackets=1)
        self._decisions: dict[tuple[float, str], str | None] = {}  # (rung level, trial id) -> decision
        self._final: set[str] = set()  # trials that reported max_t
        self._store: RungStore | None = None  # the records beside Tune's experiment state

    @property
    def metrics(self) -> list[str]:
        return list(self.scalarization.objectives.metrics)

    @property
    def levels(self) -> list[float]:
        """The rungs below ``max_t``, lowest first."""
        return sorted(m for m, _ in self._brackets[0]._rungs if m < self._max_t)

    def set_bounds(self, bounds: Mapping[str, Sequence[float]] | None) -> None:
        """Set the normalisation bounds (as ``ScalarizedSearch.set_bounds``); only before the first result.

        Raises:
            ValueError: results were already ranked with other bounds, or the bounds are malformed.
        """
        if self._decisions and bounds != self.scalarization.bounds:
            raise ValueError(f"{type(self).__name__}.set_bounds after {len(self._decisions)} results were ranked; "
                             "set the bounds before the run starts")
        self.scalarization.set_bounds(bounds)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """``True`` unless the Tuner names a metric or mode other than the scheduler's own."""
        if (metric and as_list(metric) != self.metrics) or (mode and as_list(mode) != list(self.scalarization.objectives.modes)):
            return False
        return True

    # ------------------------------------------------------------------ Tune callbacks
    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_add(tune_controller, trial)
        if self._store is None:
            self._store = RungStore(self.RECORDS_FILE, {"metrics": self.metrics, "time_attr": self._time_attr,
                                                        "levels": [m for m, _ in self._brackets[0]._rungs]})
        self._take_back(trial.trial_id, self._store.claim(trial))

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        t = level_of(result, self._time_attr)
        if t is not None and t >= self._max_t and trial.trial_id not in self._final:
            self._final.add(trial.trial_id)
            self._persist()
        hit = self._rung_hit(t)
        if hit is not None and (hit, trial.trial_id) in self._decisions:  # decided before: the same decision
            return TrialScheduler.STOP if self._decisions[hit, trial.trial_id] == TrialScheduler.STOP \
                else TrialScheduler.CONTINUE
        before = self._recorded(trial.trial_id)
        action = super().on_trial_result(tune_controller, trial, self._extend(result))
        self._note(trial.trial_id, before, action)
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict | None) -> None:
        before = self._recorded(trial.trial_id)
        if trial.trial_id in self._trial_info:
            super().on_trial_complete(tune_controller, trial, self._extend(result or {}))
        self._note(trial.trial_id, before, None)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._trial_info.pop(trial.trial_id, None)

    # ------------------------------------------------------------------ counts
    def rung_counts(self) -> list[dict[str, Any]]:
        """As :meth:`coflex_ray.schedulers.MOASHAScheduler.rung_counts`."""
        out = []
        for i, level in enumerate(self.levels):
            decided = [d for (m, _), d in self._decisions.items() if m == level]
            out.append({"rung": i, "level": level, "recorded": len(decided),
                        "promoted": sum(d == TrialScheduler.CONTINUE for d in decided),
                        "stopped": sum(d == TrialScheduler.STOP for d in decided)})
        return out + [{"rung": len(out), "level": float(self._max_t), "recorded": len(self._final),
                       "promoted": 0, "stopped": 0}]

    def debug_string(self) -> str:
        return f"Using ASHA on the scalarisation of {self.metrics}: " + self.rungs_text(self._time_attr)

    # ------------------------------------------------------------------ internals
    def _extend(self, result: Mapping[str, Any]) -> dict:
        return {**result, SCALAR: self.scalarization.scalar(result)}

    def _rung_hit(self, t: float | None) -> float | None:
        below = [level for level in self.levels if t is not None and level <= t]
        return below[-1] if below else None

    def _recorded(self, trial_id: str) -> set[float]:
        return {m for m, recorded in self._brackets[0]._rungs if trial_id in recorded}

    def _note(self, trial_id: str, before: set[float], action: str | None) -> None:
        new = [m for m in self._recorded(trial_id) - before if m < self._max_t]
        for m in new:
            self._decisions[m, trial_id] = action
        if new:
            self._persist()

    def _persist(self) -> None:
        if self._store is None:
            return
        rewards = {(m, tid): r for m, recorded in self._brackets[0]._rungs for tid, r in recorded.items()}
        recs = [{"trial_id": tid, "level": m, "reward": rewards.get((m, tid)), "decision": d}
                for (m, tid), d in self._decisions.items()]
        recs += [{"trial_id": tid, "level": "final"} for tid in self._final]
        self._store.write(recs)

    def _take_back(self, trial_id: str, saved: list[dict]) -> None:
        for rec in saved:
            if rec["level"] == "final":
                self._final.add(trial_id)
                continue
            for m, recorded in self._brackets[0]._rungs:
                if m == rec["level"] and rec["reward"] is not None:
                    recorded.setdefault(trial_id, rec["reward"])
            self._decisions.setdefault((rec["level"], trial_id), rec["decision"])
