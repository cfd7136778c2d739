"""The one Ray Tune adapter for every ask/tell core (:mod:`.core`): ``AskTellSearcher``.

It does what Tune's searcher contract needs and no optimiser cares about:

* **Space**: a :class:`coflex_ray.spaces.Space` or a Tune ``param_space`` dict in the constructor,
  or (with neither) the Tuner's ``param_space`` through :meth:`set_search_properties`
  (:mod:`.tune_space` says which Tune domains are searched and how).  Constants of the
  ``param_space`` reach every trial unchanged.
* **Metric/mode**: a list of metrics and one mode per metric (a single string works too); results
  become minimised objective vectors (:mod:`.normalise`).
* **Trials**: trial id -> asked point; a result for an unknown or already completed trial is ignored.
* **Failures** (:mod:`.failures`): an error, a missing/NaN/infinite objective or an infeasible flag
  marks the point failed; the reasons are kept in ``failed``.
* **Warm starts**: :meth:`add_evaluated_point` / :meth:`add_evaluated_trials` (Trials, a
  ``ResultGrid`` or a results dataframe of an earlier run).
* **Checkpoints**: ``save``/``restore`` pickle the whole state (core included); the searcher itself
  pickles, and a restored searcher continues identically.
* **Pareto set out**: :meth:`pareto_front` (final-fidelity results only).
* **Fidelity** (multi-step trials, see :mod:`coflex_ray.fidelity`): a trial that reports once per
  rung carries ``fidelity_level`` (1..L) and ``fidelity_max_level`` (L) in every row.  The core is
  told one result per trial, the **last row the trial reported** (Tune hands it to
  ``on_trial_complete``, also for a trial a scheduler stopped), i.e. the highest fidelity it
  reached; intermediate rows (``on_trial_result``) are not used, since the same trial's later row
  supersedes them.  A stopped trial is told as a result, not as a failure, because the lower rungs
  are biased rather than random (``docs/design.md``, "Multi-fidelity results").  A low-fidelity
  result is never taken for a final one: it is kept apart in :attr:`AskTellSearcher.low_fidelity`
  (config, metrics, objectives, level), out of :attr:`AskTellSearcher.evaluated` and out of
  :meth:`pareto_front`, and its point is never proposed again.  Rows without ``fidelity_level``
  are final.
"""

from __future__ import annotations

import logging
import pickle
import time
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from ray.tune.search import Searcher

from ..spaces import Space
from .candidates import to_index
from .core import Core, ModelCore
from .failures import failure_reason, fidelity_below_top
from .normalise import Objectives, as_list
from .pareto import nondominated
from .tune_space import ALLOWED, from_param_space, snap

logger = logging.getLogger(__name__)


class AskTellSearcher(Searcher):
    """A Tune ``Searcher`` around an ask/tell core; subclasses say which core (:meth:`make_core`).

    Args:
        space: the search space: a :class:`coflex_ray.spaces.Space`, a Tune ``param_space`` dict, or
            ``None`` to take the Tuner's ``param_space``.
        metric: the objective(s) to optimise, e.g. ``["err", "edp"]``; ``None`` to take the Tuner's.
        mode: ``"min"`` or ``"max"`` per metric.
        seed: seeds every random choice of the search.
        log_metrics: metrics modelled in log space (positive values only), e.g. ``["edp"]``.
        objective_bounds: fixed normalisation bounds in reported units, ``[[lo, hi]]`` per metric or
            ``{metric: (lo, hi)}``; ``None``: each core's own normalisation (CoflexSearch: the
            current observed front; the BoTorch baselines: bounds frozen from the initial design).
        infeasible_key: a result whose value under this key is false counts as failed (``None``: no
            such flag).
        float_levels: legal values per ``tune.uniform`` / ``tune.loguniform`` knob.

    Raises:
        ValueError: ``metric`` without ``mode`` (or the reverse), a bad mode, malformed
            ``objective_bounds``, or a space that cannot be searched.
    """

    def __init__(self, space: Space | Mapping[str, Any] | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, *, seed: int = 0, log_metrics: Sequence[str] = (),
                 objective_bounds: Any = None, infeasible_key: str | None = "feasible",
                 float_levels: int = 1001) -> None:
        metrics, modes = as_list(metric), as_list(mode)
        if bool(metrics) != bool(modes):
            raise ValueError(f"metric and mode go together; got metric={metric!r} mode={mode!r}")
        if metrics:  # validate now, not inside Tuner.fit()
            Objectives(tuple(metrics), tuple(modes), tuple(as_list(log_metrics))).internal_bounds(objective_bounds)
        super().__init__(metric=metrics or None, mode=modes or None)
        self.seed, self.log_metrics, self.infeasible_key = seed, tuple(as_list(log_metrics)), infeasible_key
        self.objective_bounds, self.float_levels = objective_bounds, float_levels
        self.space: Space | None = None
        self.constants: dict[str, Any] = {}
        self._floats: dict[str, tuple[np.ndarray, bool]] = {}
        if space is not None:
            self._set_space(space)
        self.core: Core | None = None
        self.pending: dict[str, np.ndarray] = {}  # trial id -> cube point
        self.failed: list[tuple[dict, str]] = []  # (config, reason)
        self.evaluated: list[tuple[dict, dict[str, float], np.ndarray]] = []  # good: config, metrics, objectives
        # good results of trials that stopped below the top rung: config, metrics, objectives, level
        self.low_fidelity: list[tuple[dict, dict[str, float], np.ndarray, int]] = []
        self._warm: list[tuple[Any, Any, bool]] = []  # warm-start points waiting for the space/metric
        self.suggest_time_s = 0.0
        self._setup()

    # ------------------------------------------------------------------ for subclasses
    def make_core(self, space: Space, n_obj: int, bounds: np.ndarray | None) -> Core:
        """The core for this searcher (``bounds``: on the minimised scale, or ``None``)."""
        raise NotImplementedError

    def set_objective_bounds(self, objective_bounds: Any) -> None:
        """Fixed normalisation bounds in reported units (as the constructor's ``objective_bounds``),
        handed over once known (a study's bounds); they reach a core whose bounds are not yet fixed.
        Which cores use them: see each core (the BoTorch baselines and CoflexSearch normalise by
        them; NSGA-II is scale-free)."""
        internal = self._objectives().internal_bounds(objective_bounds) if self._metric else None  # validates
        self.objective_bounds = objective_bounds
        if isinstance(self.core, ModelCore) and self.core.bounds is None:
            self.core.bounds = internal

    # ------------------------------------------------------------------ set-up
    def _objectives(self) -> Objectives:
        return Objectives(tuple(self._metric), tuple(self._mode), self.log_metrics)

    def _set_space(self, space: Space | Mapping[str, Any]) -> None:
        if isinstance(space, Space):
            self.space = space
        elif isinstance(space, Mapping):
            self.space, self.constants, self._floats = from_param_space(space, self.float_levels)
            if self.space is None:
                raise ValueError(f"space has nothing to search (only constants {sorted(self.constants)}); "
                                 f"allowed: {ALLOWED}")
        else:
            raise ValueError(f"space must be a coflex_ray Space or a Tune param_space dict, got {type(space).__name__}")

    def _setup(self) -> None:
        """Build the core once the space and the metrics are known; replay buffered warm-start points."""
        if self.core is not None or self.space is None or not self._metric:
            return
        objectives = self._objectives()
        self.core = self.make_core(self.space, len(objectives.metrics), objectives.internal_bounds(self.objective_bounds))
        warm, self._warm = self._warm, []
        for parameters, value, error in warm:
            self.add_evaluated_point(parameters, value, error)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Take the Tuner's metric, mode and ``param_space`` where the searcher has none of its own.

        Returns ``False`` (and logs why) when the searcher already has a metric, mode or space and
        Tune's would differ; Tune then raises if ``config`` has search domains.  Constants of
        ``config`` are always taken.
        """
        conflicts = []
        if metric and self._metric and as_list(metric) != list(self._metric):
            conflicts.append(f"metric {metric!r} (the searcher's: {self._metric})")
        if mode and self._mode and as_list(mode) != list(self._mode):
            conflicts.append(f"mode {mode!r} (the searcher's: {self._mode})")
        space, constants, floats = from_param_space(config or {}, self.float_levels)
        if space is not None and self.space is not None and _dims(space) != _dims(self.space):
            conflicts.append(f"param_space {list(space.keys)} (the searcher's space: {list(self.space.keys)})")
        if conflicts:
            logger.warning(f"{type(self).__name__}: Tune's " + " and ".join(conflicts)
                           + " would replace the searcher's own; kept the searcher's.")
            return False
        if metric and not self._metric:
            self._metric, self._mode = as_list(metric), as_list(mode or "min")
            self._objectives().internal_bounds(self.objective_bounds)
        if space is not None and self.space is None:
            self.space, self._floats = space, floats
        self.constants = {**self.constants, **constants}
        self._setup()
        return True

    # ------------------------------------------------------------------ Tune loop
    def suggest(self, trial_id: str) -> dict | None:
        if self.core is None:
            raise RuntimeError(f"{type(self).__name__} has no {'search space' if self.space is None else 'metric'} "
                               "yet: pass space=/metric=/mode= or give the Tuner a param_space and metric")
        start = time.perf_counter()
        try:
            points = self.core.ask(1, pending=list(self.pending.values()))
        finally:
            self.suggest_time_s += time.perf_counter() - start
        if not points:
            return Searcher.FINISHED if self.core.exhausted else None
        self.pending[trial_id] = points[0]
        return self._config(points[0])

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Intermediate results (a multi-step trial's lower rungs) are not used: the trial's last row,
        given to :meth:`on_trial_complete`, supersedes them (see the module docstring)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        x = self.pending.pop(trial_id, None)
        if x is None:  # unknown trial, or a result after completion: ignored
            logger.debug(f"{type(self).__name__}: ignored a result for trial {trial_id} that is not running")
            return
        self._record(x, result, error)

    def _record(self, x: np.ndarray, result: Mapping[str, Any] | None, error: bool) -> None:
        objectives = self._objectives()
        config = self._config(x)
        reason = failure_reason(result, error, objectives, self.infeasible_key)
        if reason:
            self.failed.append((config, reason))
            self.core.tell(x, failed=True)
            return
        y = objectives.vector(result)
        self.core.tell(x, y)  # the highest fidelity the trial reached (see the module docstring)
        metrics = {m: float(result[m]) for m in objectives.metrics}
        level = fidelity_below_top(result)
        if level is not None:
            self.low_fidelity.append((config, metrics, y, level))
        else:
            self.evaluated.append((config, metrics, y))

    def _config(self, x: np.ndarray) -> dict:
        from ray.tune.utils.util import unflatten_dict

        flat = {**self.constants, **self.space.decode(x)}
        return unflatten_dict(flat) if any("/" in k for k in flat) else flat

    def _encode(self, parameters: Mapping[str, Any]) -> np.ndarray:
        from ray.tune.utils.util import flatten_dict

        flat = {k: v.item() if isinstance(v, np.generic) else v  # numpy scalars from a dataframe
                for k, v in flatten_dict(dict(parameters), delimiter="/").items()}
        flat = {k: snap(v, self._floats[k]) if k in self._floats else v for k, v in flat.items()}
        return self.space.encode(flat)

    # ------------------------------------------------------------------ warm start
    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: Any = None) -> None:
        """Tell the search about a point evaluated elsewhere.

        Args:
            parameters: the config (extra keys, e.g. constants, are ignored).
            value: the result: a dict with every metric, a sequence in metric order, or one number
                for a single metric; ``None`` with ``error``.
            error: the evaluation failed.
            pruned: the evaluation was stopped early (counted as failed: there is no final result).
            intermediate_values: ignored.
        """
        if intermediate_values is not None:
            warnings.warn(f"{type(self).__name__}.add_evaluated_point ignores intermediate_values", stacklevel=2)
        if self.core is None:
            self._warm.append((parameters, value, error or pruned))
            return
        if value is None or isinstance(value, Mapping):
            result = value
        else:
            result = dict(zip(self._metric, np.atleast_1d(np.asarray(value, dtype=float)).tolist()))
        x = self._encode(parameters)
        if self.core.is_taken(to_index(self.space, x)):
            return  # already evaluated (or running): keep the first result
        self._record(x, result, error or pruned)

    def add_evaluated_trials(self, trials_or_analysis: Any, metric: Any = None) -> None:
        """Warm start from an earlier run: a ``ResultGrid``, its ``get_dataframe()`` (``config/*`` columns),
        an ``ExperimentAnalysis``, or ``Trial`` objects.  Every searcher metric is read from each
        trial's last result; ``metric`` is only checked against the searcher's."""
        import pandas as pd

        if metric is not None and self._metric and as_list(metric) != list(self._metric):
            warnings.warn(f"{type(self).__name__}: metric={metric!r} is ignored; the searcher's metrics "
                          f"{self._metric} are read from every trial", stacklevel=2)
        src = trials_or_analysis
        if isinstance(src, pd.DataFrame):
            from ray.tune.utils.util import unflatten_dict

            if {"fidelity_level", "trial_id"} <= set(src.columns):  # one row per rung: each trial's last
                src = src.sort_values("fidelity_level", kind="stable").groupby("trial_id", sort=False).tail(1)

            cols = [c for c in src.columns if c.startswith("config/")]
            for _, row in src.iterrows():
                params = unflatten_dict({c[len("config/"):]: row[c] for c in cols})
                self.add_evaluated_point(params, row.to_dict())
            return
        if hasattr(src, "get_dataframe") and hasattr(src, "__getitem__") and not hasattr(src, "trials"):  # ResultGrid
            for i in range(len(src)):  # ResultGrid has __len__/__getitem__ but no __iter__ (Ray 2.60)
                r = src[i]
                self.add_evaluated_point(r.config, dict(r.metrics or {}) or None, r.error is not None)
            return
        trials = src.trials if hasattr(src, "trials") else (src if isinstance(src, (list, tuple)) else [src])
        for t in trials:
            self.add_evaluated_point(t.config, dict(t.last_result or {}) or None, t.status == "ERROR")

    # ------------------------------------------------------------------ results
    def pareto_front(self) -> list[tuple[dict, dict[str, float]]]:
        """The non-dominated evaluated points: ``(config, {metric: value})`` pairs, by the first metric.

        Every evaluated point not strictly dominated by another one (no other is at least as good
        in every metric and better in one); ties are all kept (configs with equal metric values are
        all on the front), in the order they were evaluated.
        """
        if not self.evaluated:
            return []
        Y = np.array([y for _, _, y in self.evaluated])
        keep = np.flatnonzero(nondominated(Y, keep_ties=True))
        keep = keep[np.argsort(Y[keep, 0], kind="stable")]
        return [(self.evaluated[i][0], self.evaluated[i][1]) for i in keep]

    @property
    def n_fallbacks(self) -> int:
        """Model batches that fell back to random points (0 for cores without a model)."""
        return getattr(self.core, "n_fallbacks", 0)

    # ------------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        return dict(self.__dict__)

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))


def _dims(space: Space) -> list[tuple[str, tuple]]:
    return [(d.name, d.values) for d in space.dims]
