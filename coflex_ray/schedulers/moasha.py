"""Multi-objective asynchronous successive halving (MO-ASHA) as a Ray Tune ``TrialScheduler``.

ASHA (Li et al., 2020) with the one-metric cutoff replaced by a Pareto ordering, as in multi-objective
ASHA (Schmucker et al., 2021; Syne Tune's ``MOASHA``): at each rung a trial goes on if its result is
in the top ``1/reduction_factor`` of the results recorded at that rung so far, ordered by
non-dominated sorting.  See :class:`MOASHAScheduler`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from ..searchers.failures import failure_reason
from ..searchers.normalise import Objectives, as_list
from ..searchers.pareto import pareto_ranks
from .rungs import RungReport, RungStore, check_ladder, level_of, rung_levels

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def promotion_order(Y: np.ndarray) -> np.ndarray:
    """The rows of ``Y`` (minimised objective vectors, in the order they were recorded), best first.

    Finite rows by Pareto front (non-dominated sorting); within a front by crowding distance, largest
    first (NSGA-II's, from pymoo; a front of one or two points: all infinite); remaining ties by
    arrival.  Rows with a non-finite entry (failed, infeasible, missing) come last, by arrival.
    """
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    Y = np.asarray(Y, dtype=float)
    Y = Y.reshape(len(Y), -1)
    ok = np.all(np.isfinite(Y), axis=1)
    good = np.flatnonzero(ok)
    F = Y[good]
    fronts = pareto_ranks(F)
    crowding = np.zeros(len(good))
    for r in np.unique(fronts):
        sel = fronts == r
        crowding[sel] = np.inf if sel.sum() <= 2 else calc_crowding_distance(F[sel])
    order = good[np.lexsort((good, -crowding, fronts))]  # lexsort: the last key sorts first
    return np.concatenate([order, np.flatnonzero(~ok)]).astype(int)


class MOASHAScheduler(RungReport, FIFOScheduler):
    """Asynchronous successive halving on several objectives (MO-ASHA), a Ray Tune ``TrialScheduler``.

    Rungs sit at ``grace_period * reduction_factor**k`` below ``max_t`` (as in ASHA), measured in the
    reported column ``time_attr`` (here: the fidelity level).  When a trial reports a result whose
    ``time_attr`` reaches a rung it has no result at yet (the highest such rung), the result is
    recorded there, and the trial CONTINUEs if the result is among the best
    ``ceil(n / reduction_factor)`` of the ``n`` results recorded at that rung so far (itself
    included), else it STOPs.  Decisions are asynchronous, as in ASHA: made at once on what is
    recorded, never revised; the first trials at a rung may be promoted.  A result at ``max_t`` or
    beyond STOPs the trial (its last fidelity) and is counted as completed.

    The order (:func:`promotion_order`): non-dominated sorting of the minimised objective vectors
    (``max`` metrics negated), ties within a front broken by **crowding distance** (NSGA-II), then by
    arrival.  Crowding rather than hypervolume contribution because it needs no reference point (the
    results at a rung arrive one by one, and a reference point taken from them would move with every
    result, while the study's bounds are in final-fidelity units that a cheap rung need not share),
    it is scale-free (distances are divided by the front's range per objective), and it keeps the
    front's extreme points (infinite distance), i.e. the spread of trade-offs.  Metrics in
    ``log_metrics`` enter the crowding distance in log space (dominance does not change).

    A result that failed (an objective missing, NaN or infinite, not positive for a log metric, or
    ``infeasible_key`` false) ranks after every good one and is STOPped: promoting it would spend an
    expensive fidelity on a configuration the cheap one could not measure.  A result without
    ``time_attr`` (e.g. an error row) gets CONTINUE and is not recorded.  The scheduler only reads
    results, so it works with any searcher and with ``ConcurrencyLimiter``.

    Tune 2.60 does not checkpoint schedulers; the rung records are kept in ``moasha_rungs.json``
    beside Tune's experiment state (:mod:`.rungs`), and after ``Tuner.restore`` the scheduler takes
    back the records of the trials Tune restores, so a trial run again from scratch gets its earlier
    decisions back and no result is recorded twice; records of trials Tune lost are dropped.

    Tune's ``metric`` attribute of this scheduler is ``None`` (Tune's result check expects one
    string); the objectives are :attr:`metrics` / :attr:`modes`.  :meth:`rung_counts` says how many
    results each rung recorded, promoted and stopped.

    Args:
        metric: the objectives, e.g. ``["err", "edp"]``; ``None``: taken from the Tuner
            (``set_search_properties``).
        mode: ``"min"`` or ``"max"`` per metric.
        time_attr: the reported column that says how far a trial got (increasing within a trial).
        max_t: the last fidelity; a result at ``max_t`` or beyond ends the trial.
        grace_period: the first rung (>= 1, <= ``max_t``).
        reduction_factor: > 1; about ``1/reduction_factor`` of the results at a rung go on.
        log_metrics: metrics compared in log space for the crowding tie-break (positive values).
        infeasible_key: a result whose value under this key is false counts as failed (``None``: no
            such flag), as for the searchers.

    Raises:
        ValueError: one bad argument, named with what is allowed.
    """

    RECORDS_FILE = "moasha_rungs.json"

    def __init__(self, metric: str | Sequence[str] | None = None, mode: str | Sequence[str] | None = None,
                 time_attr: str = "fidelity_level", max_t: float = 2, grace_period: float = 1,
                 reduction_factor: float = 3, log_metrics: Sequence[str] = (),
                 infeasible_key: str | None = "feasible") -> None:
        metrics, modes = as_list(metric), as_list(mode)
        if bool(modes) != bool(metrics):
            raise ValueError(f"metric and mode go together (one mode per metric, or neither); got metric={metric!r} "
                             f"mode={mode!r}")
        check_ladder(time_attr, max_t, grace_period, reduction_factor)
        self.log_metrics = tuple(as_list(log_metrics))
        if metrics:
            Objectives(tuple(metrics), tuple(modes), self.log_metrics)  # validates lengths, modes, log_metrics
        super().__init__()
        self._metrics, self._modes = metrics, modes
        self.time_attr, self.max_t = time_attr, float(max_t)
        self.grace_period, self.reduction_factor = float(grace_period), float(reduction_factor)
        self.infeasible_key = infeasible_key
        self.levels = rung_levels(self.grace_period, self.reduction_factor, self.max_t)
        # per rung: trial id -> {"y": minimised vector, "decision": CONTINUE/STOP/None, "seq": arrival}
        self._rungs: list[dict[str, dict]] = [{} for _ in self.levels]
        self._final: dict[str, dict] = {}  # trial id -> record of its result at max_t
        self._seq = 0
        self._store: RungStore | None = None  # the records beside Tune's experiment state

    # ------------------------------------------------------------------ metric / mode
    @property
    def metrics(self) -> list[str]:
        return list(self._metrics)

    @property
    def modes(self) -> list[str]:
        return list(self._modes)

    def set_search_properties(self, metric: str | Sequence[str] | None, mode: str | Sequence[str] | None,
                              **spec: Any) -> bool:
        """Take the Tuner's metric(s) and mode(s) if the scheduler has none; ``False`` if they differ
        from the scheduler's own (Tune then raises), ``True`` otherwise."""
        metrics, modes = as_list(metric), as_list(mode)
        if (metrics and self._metrics and metrics != self._metrics) or (modes and self._modes and modes != self._modes):
            return False
        if metrics and not self._metrics:
            if not modes:
                raise ValueError(f"{type(self).__name__} got metric={metric!r} without a mode; give one mode "
                                 "('min' or 'max') per metric")
            Objectives(tuple(metrics), tuple(modes), self.log_metrics)
            self._metrics, self._modes = metrics, modes
        return True

    def _objectives(self) -> Objectives:
        return Objectives(tuple(self._metrics), tuple(self._modes), self.log_metrics)

    def _vector(self, result: Mapping[str, Any] | None) -> list[float]:
        """The minimised objective vector of a result; all ``inf`` if it failed."""
        objectives = self._objectives()
        if failure_reason(result, False, objectives, self.infeasible_key):
            return [math.inf] * len(self._metrics)
        return objectives.vector(result).tolist()

    # ------------------------------------------------------------------ Tune callbacks
    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if not self._metrics:
            raise ValueError(f"{type(self).__name__} has no metric: pass metric=[...] and mode=[...] to it "
                             "(or a metric/mode to tune.TuneConfig)")
        if self._store is None:
            self._store = RungStore(self.RECORDS_FILE, self._header())
        self._take_back(trial.trial_id, self._store.claim(trial))

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        t = level_of(result, self.time_attr)
        if t is None:
            return CONTINUE
        if t >= self.max_t:
            self._record_final(trial.trial_id, result)
            return STOP
        i = self._rung_of(t)
        if i is None:
            return CONTINUE
        known = self._rungs[i].get(trial.trial_id)
        if known is not None:  # a repeated report (a retried or resumed trial): the decision made then
            return STOP if known["decision"] == STOP else CONTINUE
        y = self._vector(result)
        decision = self._decide(i, y)
        self._record(i, trial.trial_id, y, decision)
        return decision

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict | None) -> None:
        """Record a last result the scheduler has not seen (a trial that ended on its own at a rung)."""
        t = level_of(result or {}, self.time_attr)
        if t is None:
            return
        if t >= self.max_t:
            self._record_final(trial.trial_id, result)
            return
        i = self._rung_of(t)
        if i is not None and trial.trial_id not in self._rungs[i]:
            self._record(i, trial.trial_id, self._vector(result), None)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        """Records stay: a retried trial (same id) reporting a rung again gets the decision made then."""

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        """Records stay (they were real results)."""

    def debug_string(self) -> str:
        return (f"Using MO-ASHA on {self._metrics} ({self._modes}), reduction factor {self.reduction_factor:g}: "
                + self.rungs_text(self.time_attr))

    # ------------------------------------------------------------------ counts
    def rung_counts(self) -> list[dict[str, Any]]:
        """Per rung, lowest first, then ``max_t``: ``{"rung", "level", "recorded", "promoted", "stopped"}``
        (``recorded`` at ``max_t``: trials that reached it; a trial that ended on its own at a rung is
        recorded but neither promoted nor stopped).  ``pandas.DataFrame(sched.rung_counts())`` makes
        the table."""
        out = [{"rung": i, "level": level, "recorded": len(recs),
                "promoted": sum(r["decision"] == CONTINUE for r in recs.values()),
                "stopped": sum(r["decision"] == STOP for r in recs.values())}
               for i, (level, recs) in enumerate(zip(self.levels, self._rungs))]
        return out + [{"rung": len(self.levels), "level": self.max_t, "recorded": len(self._final),
                       "promoted": 0, "stopped": 0}]

    # ------------------------------------------------------------------ internals
    def _rung_of(self, t: float) -> int | None:
        below = [i for i, level in enumerate(self.levels) if level <= t]
        return below[-1] if below else None

    def _decide(self, i: int, y: list[float]) -> str:
        if not all(math.isfinite(v) for v in y):
            return STOP
        Y = [r["y"] for r in self._rungs[i].values()] + [y]
        position = int(np.flatnonzero(promotion_order(np.array(Y)) == len(Y) - 1)[0])
        return CONTINUE if position < math.ceil(len(Y) / self.reduction_factor) else STOP

    def _record(self, i: int, trial_id: str, y: list[float], decision: str | None) -> None:
        self._rungs[i][trial_id] = {"y": list(y), "decision": decision, "seq": self._seq}
        self._seq += 1
        self._persist()

    def _record_final(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if trial_id not in self._final:
            self._final[trial_id] = {"y": self._vector(result), "decision": None, "seq": self._seq}
            self._seq += 1
            self._persist()

    def _header(self) -> dict:
        return {"metrics": self._metrics, "modes": self._modes, "time_attr": self.time_attr, "levels": self.levels,
                "max_t": self.max_t, "reduction_factor": self.reduction_factor}

    def _persist(self) -> None:
        if self._store is None:
            return
        recs = [{"trial_id": tid, "rung": i, **r} for i, rung in enumerate(self._rungs) for tid, r in rung.items()]
        recs += [{"trial_id": tid, "rung": "final", **r} for tid, r in self._final.items()]
        self._store.write(recs)

    def _take_back(self, trial_id: str, saved: list[dict]) -> None:
        """Put the saved records of a restored trial back in their rungs, in their original arrival order."""
        for rec in saved:
            r = {"y": rec["y"], "decision": rec["decision"], "seq": rec["seq"]}
            if rec["rung"] == "final":
                self._final.setdefault(trial_id, r)
            else:
                self._rungs[rec["rung"]].setdefault(trial_id, r)
            self._seq = max(self._seq, rec["seq"] + 1)
        if saved:
            for k, rung in enumerate(self._rungs):
                self._rungs[k] = dict(sorted(rung.items(), key=lambda kv: kv[1]["seq"]))
