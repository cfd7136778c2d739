"""The one Ray Tune adapter for every ask/tell core (:mod:`.core`): ``AskTellSearcher``.

It does what Tune's searcher contract needs and no optimiser cares about:

* **Space**: a :class:`coflex_ray.spaces.Space` or a Tune ``param_space`` dict in the constructor,
  or (with neither) the Tuner's ``param_space`` through :meth:`set_search_properties`
  (:mod:`.tune_space` says which Tune domains are searched and how).  A config has the
  ``param_space``'s shape (nested dicts, lists, tuples, any key), constants included, as Tune's
  ``BasicVariantGenerator`` would deliver it.  A Tuner ``param_space`` beside the searcher's own
  space may only add constants (different search domains: Tune's "already instantiated" error).
* **Metric/mode**: a list of metrics and one mode per metric (a single string works too); results
  become minimised objective vectors (:mod:`.normalise`).  Tune's ``TuneConfig(metric=, mode=)``
  is taken when the searcher has none, accepted when it names one of the searcher's metrics with its
  mode (Tune then reports and ranks by it), and refused with a ``ValueError`` otherwise.
* **Points to evaluate**: ``points_to_evaluate`` run first, exactly as given, and count in the
  budget; with ``evaluated_rewards`` they are told as results instead of run.  Each must lie in the
  space (``ValueError`` naming the point and the key otherwise).
* **Trials**: trial id -> asked point and its config; a result for an unknown or already completed
  trial is ignored.
* **Failures** (:mod:`.failures`): an error, a missing/NaN/infinite objective or an infeasible flag
  marks the point failed; the reasons are kept in ``failed``.
* **Outcome constraints**: ``constraints={metric: (op, bound)}`` (``op`` ``"<="`` or ``">="``,
  :func:`.normalise.check_constraints`); every constrained metric must be reported (missing or
  non-finite: a failed trial).  A result that violates a constraint is not a failure: the core is
  told its objectives and constraint values, and it stays off :meth:`pareto_front`.
* **Warm starts**: :meth:`add_evaluated_point` / :meth:`add_evaluated_trials` (Trials, a
  ``ResultGrid`` or a results dataframe of an earlier run).
* **Checkpoints**: ``save``/``restore`` pickle the whole state (core included); the searcher itself
  pickles, and a restored searcher continues identically.
* **Background mode** (``background=True``, :mod:`.background`): model fits and batches run on a
  worker thread; ``suggest`` hands out ready points or returns ``None`` (Tune asks again) and never
  waits for a fit, results are queued while a fit runs and go to the next one, and each batch has
  at least as many points as Tune's ``ConcurrencyLimiter`` lets run at once
  (:meth:`AskTellSearcher.set_max_concurrency`).  Not deterministic (which results a batch sees
  depends on timing); the default, synchronous mode is.
* **Pareto set out**: :meth:`pareto_front` (final-fidelity results only: below the top
  ``fidelity_level``, or, in a plain Tune script with a scheduler, below the ``training_iteration``
  that full-length trials reach, a result is a low-fidelity one; see :meth:`AskTellSearcher.full_length`).
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

import copy
import logging
import pickle
import time
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from ray.tune.search import Searcher

from ..spaces import Space
from .candidates import to_index
from .background import QUICK_S, BackgroundAsker, tell_once
from .core import Core, ModelCore
from .failures import failure_reason, fidelity_below_top
from .normalise import Objectives, as_list, check_constraints
from .pareto import nondominated
from .tune_space import ALLOWED, Layout, from_param_space, space_layout

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
        float_levels: legal values per ``tune.uniform`` / ``tune.loguniform`` knob, and at most that
            many per ``tune.lograndint`` / ``qlograndint`` / ``qloguniform`` knob.
        points_to_evaluate: configs to run first (dicts shaped like the space, or with ``/``-joined
            keys), exactly as given; they count in the Tuner's ``num_samples``.
        evaluated_rewards: the results of ``points_to_evaluate`` known already, one per point (a dict
            of the metrics, a list in metric order, or a number for one metric): the points are told
            to the search and not run.
        constraints: outcome constraints ``{metric: (op, bound)}``, ``op`` ``"<="`` or ``">="``, e.g.
            ``{"latency_ms": ("<=", 10.0)}``; each metric must be reported by the trainable (it may
            also be an objective, and be in ``log_metrics``).  A result that violates one is
            infeasible: modelled, but kept off the Pareto front.  ``None`` or ``{}``: none.
        background: fit models and make batches on a worker thread (:mod:`.background`), so that
            ``suggest`` never holds up Tune's loop: it returns ``None`` while no point is ready, and
            batches grow to the concurrency Tune allows.  Not deterministic.  Default ``False``:
            every ``suggest`` that needs a batch fits the model itself, and the same seed gives
            the same suggestions.

    Raises:
        ValueError: ``metric`` without ``mode`` (or the reverse), a bad mode, malformed
            ``objective_bounds`` or ``constraints``, a space that cannot be searched, or malformed
            ``points_to_evaluate`` / ``evaluated_rewards`` (a point outside the space is named once
            the space is known).
    """

    def __init__(self, space: Space | Mapping[str, Any] | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, *, seed: int = 0, log_metrics: Sequence[str] = (),
                 objective_bounds: Any = None, infeasible_key: str | None = "feasible",
                 float_levels: int = 1001, points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
                 evaluated_rewards: Sequence[Any] | None = None, constraints: Mapping[str, Any] | None = None,
                 background: bool = False) -> None:
        metrics, modes = as_list(metric), as_list(mode)
        if bool(metrics) != bool(modes):
            raise ValueError(f"metric and mode go together; got metric={metric!r} mode={mode!r}")
        self.constraints = check_constraints(constraints)
        if metrics:  # validate now, not inside Tuner.fit()
            Objectives(tuple(metrics), tuple(modes), tuple(as_list(log_metrics)),
                       constraints=self.constraints).internal_bounds(objective_bounds)
        super().__init__(metric=metrics or None, mode=modes or None)
        self.seed, self.log_metrics, self.infeasible_key = seed, tuple(as_list(log_metrics)), infeasible_key
        self.objective_bounds, self.float_levels = objective_bounds, float_levels
        self.space: Space | None = None
        self.layout: Layout | None = None  # where each knob sits in the configs (:mod:`.tune_space`)
        self.points_to_evaluate, self.evaluated_rewards = _check_points(points_to_evaluate, evaluated_rewards)
        self._queue: list[tuple[dict, np.ndarray]] = []  # points to evaluate not yet handed out
        if space is not None:
            self._set_space(space)
        self.core: Core | None = None
        self.pending: dict[str, np.ndarray] = {}  # trial id -> cube point
        self.configs: dict[str, dict] = {}  # trial id -> the config handed out
        self.failed: list[tuple[dict, str]] = []  # (config, reason)
        self.evaluated: list[tuple[dict, dict[str, float], np.ndarray]] = []  # good: config, metrics, objectives
        # good results of trials that stopped below the top rung: config, metrics, objectives, level
        self.low_fidelity: list[tuple[dict, dict[str, float], np.ndarray, int]] = []
        # Tune's training_iteration of each evaluated result (None where none was reported)
        self.iterations: list[int | None] = []
        self._warm: list[tuple[Any, Any, bool]] = []  # warm-start points waiting for the space/metric
        self.suggest_time_s = 0.0  # seconds inside suggest (the time Tune's loop waited for the searcher)
        self.background = bool(background)
        self.max_concurrency: int | None = None  # from Tune's ConcurrencyLimiter (set_max_concurrency)
        self._runner: BackgroundAsker | None = None  # background mode: every call into the core goes through it
        self._setup()

    # ------------------------------------------------------------------ for subclasses
    def make_core(self, space: Space, n_obj: int, bounds: np.ndarray | None) -> Core:
        """The core for this searcher (``bounds``: on the minimised scale, or ``None``); it takes
        :meth:`core_constraints` as its ``constraints``."""
        raise NotImplementedError

    def core_constraints(self) -> tuple[tuple[float, float], ...]:
        """The outcome constraints as the cores take them: ``(sign, bound)`` on the model scale."""
        return self._objectives().constraint_specs()

    def set_objective_bounds(self, objective_bounds: Any) -> None:
        """Fixed normalisation bounds in reported units (as the constructor's ``objective_bounds``),
        handed over once known (a study's bounds); they reach a core whose bounds are not yet fixed.
        Which cores use them: see each core (the BoTorch baselines and CoflexSearch normalise by
        them; NSGA-II is scale-free)."""
        internal = self._objectives().internal_bounds(objective_bounds) if self._metric else None  # validates
        self.objective_bounds = objective_bounds
        self.settle()
        if isinstance(self.core, ModelCore) and self.core.bounds is None:
            self.core.bounds = internal

    # ------------------------------------------------------------------ set-up
    def _objectives(self) -> Objectives:
        return Objectives(tuple(self._metric), tuple(self._mode), self.log_metrics,
                          constraints=getattr(self, "constraints", ()))

    def _set_space(self, space: Space | Mapping[str, Any]) -> None:
        if isinstance(space, Space):
            self.space, self.layout = space, space_layout(space)
        elif isinstance(space, Mapping):
            self.space, self.layout = from_param_space(space, self.float_levels)
            if self.space is None:
                raise ValueError(f"space has nothing to search (only constants {sorted(space)}); allowed: {ALLOWED}")
        else:
            raise ValueError(f"space must be a coflex_ray Space or a Tune param_space dict, got {type(space).__name__}")

    def _setup(self) -> None:
        """Build the core once the space and the metrics are known; replay buffered warm-start points."""
        if self.core is not None or self.space is None or not self._metric:
            return
        points = [self._point(p, f"points_to_evaluate[{i}]") for i, p in enumerate(self.points_to_evaluate)]
        rewards = [self._result(r, f"evaluated_rewards[{i}]") for i, r in enumerate(self.evaluated_rewards or [])]
        objectives = self._objectives()
        self.core = self.make_core(self.space, len(objectives.metrics), objectives.internal_bounds(self.objective_bounds))
        if getattr(self, "background", False):
            self._runner = BackgroundAsker(self.core)
            self._runner.max_concurrency = self.max_concurrency
        warm, self._warm = self._warm, []
        for parameters, value, error in warm:
            self.add_evaluated_point(parameters, value, error)
        if self.evaluated_rewards is None:
            self._queue = points
        else:
            for p, result in zip(self.points_to_evaluate, rewards):
                self.add_evaluated_point(p, result)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Take the Tuner's metric, mode and ``param_space`` where the searcher has none of its own.

        Tune's metric beside the searcher's own metrics is accepted when it is one of them with the
        same mode (Tune reports and ranks by it; the searcher keeps optimising all of them).  Tune's
        ``param_space`` beside the searcher's own space may add constants; search domains that differ
        from the searcher's return ``False`` (logged), and Tune then raises its "already
        instantiated with a search space" error.

        Raises:
            ValueError: Tune's metric is not one of the searcher's, or has another mode (the message
                says what to write); a ``param_space`` entry that cannot be searched.
        """
        self._take_tune_metric(metric, mode)
        if config:
            space, layout = from_param_space(config, self.float_levels)
            if self.space is None:
                self.space, self.layout = space, layout if space is not None else None
            else:
                merged = None
                if space is None or _same_dims(space, self.space):
                    from ray.tune.utils.util import merge_dicts

                    merged = _aligned(*from_param_space(merge_dicts(self.layout.template, config), self.float_levels),
                                      self.space)
                if merged is None:
                    logger.warning(f"{type(self).__name__}: Tune's param_space {sorted(config)} would replace the "
                                   f"searcher's own space {list(self.space.keys)}; kept the searcher's.")
                    return False
                self.layout = merged
        self._setup()
        return True

    def _take_tune_metric(self, metric: str | None, mode: str | None) -> None:
        if not metric:
            return
        if not self._metric:
            self._metric, self._mode = as_list(metric), as_list(mode or "min")
            self._objectives().internal_bounds(self.objective_bounds)
            return
        ours = dict(zip(self._metric, self._mode))
        names, modes = as_list(metric), as_list(mode)
        if all(m in ours for m in names) and (not modes or modes == [ours[m] for m in names]):
            return
        name = type(self).__name__
        raise ValueError(
            f"{name} optimises metric={list(self._metric)} with mode={list(self._mode)}, and Tune's "
            f"metric={metric!r}, mode={mode!r} (TuneConfig / tune.run) is not one of them: give the objectives "
            f"to {name} only and leave metric/mode out of TuneConfig, or name one of the searcher's metrics with "
            f"its mode, e.g. TuneConfig(metric={self._metric[0]!r}, mode={self._mode[0]!r})")

    # ------------------------------------------------------------------ Tune loop
    def suggest(self, trial_id: str) -> dict | str | None:
        """The config for the new trial ``trial_id``: points to evaluate first, then the core's points.

        Returns:
            A config; ``None`` when no point is ready (the core waits for results, or in background
            mode a fit is running: Tune asks again); ``Searcher.FINISHED`` once every legal point is
            taken.

        Raises:
            RuntimeError: the searcher has no space or no metric yet.
        """
        if self.core is None:
            raise RuntimeError(f"{type(self).__name__} has no {'search space' if self.space is None else 'metric'} "
                               "yet: pass space=/metric=/mode= or give the Tuner a param_space and metric")
        if self._queue:  # points to evaluate first, as given (no background job runs before they are out)
            config, x = self._queue.pop(0)
            self.core.reserve(x)
        else:
            start = time.perf_counter()
            try:
                x = self._next_point()
            finally:
                self.suggest_time_s += time.perf_counter() - start
            if x is None:
                runner = getattr(self, "_runner", None)
                done = self.core.exhausted if runner is None else not runner.busy and not runner.ready \
                    and self.core.exhausted
                return Searcher.FINISHED if done else None
            config = self._config(x)
        self.pending[trial_id], self.configs[trial_id] = x, config
        return copy.deepcopy(config)

    def _next_point(self) -> np.ndarray | None:
        """The next point to run, or ``None``: synchronously from the core, or in background mode a
        ready point, starting a job when none is (waiting ``QUICK_S`` for it: cheap batches, such as
        the initial design's, are then handed out at once) or when few are left
        (:meth:`.background.BackgroundAsker.start`)."""
        runner = getattr(self, "_runner", None)
        if runner is None:
            return next(iter(self.core.ask(1, pending=list(self.pending.values()))), None)
        x = runner.take()
        if x is None and runner.start(list(self.pending.values())):
            runner.wait(QUICK_S)
            x = runner.take()
        elif x is not None:  # the next batch starts while this one is handed out (when the runner's rules allow)
            runner.start(list(self.pending.values()) + [x], early=True)
        return x

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Record how many trials may run at once (Tune's ``ConcurrencyLimiter`` calls this when it is
        built and again before the search starts); in background mode each batch has at least that
        many points (up to ``background.BATCH_CAP``).

        Returns:
            ``False``: the limiter keeps limiting the trials itself.
        """
        self.max_concurrency = int(max_concurrent)
        if getattr(self, "_runner", None) is not None:
            self._runner.max_concurrency = self.max_concurrency
        return False

    @property
    def stale_proposals(self) -> int:
        """Background mode: points handed out after results their model had not seen (0 otherwise)."""
        runner = getattr(self, "_runner", None)
        return 0 if runner is None else runner.stale_proposals

    def settle(self, timeout: float | None = None) -> bool:
        """Background mode: wait for the running fit and tell the core every result received; the
        synchronous mode has nothing to wait for.

        Args:
            timeout: seconds to wait at most; ``None``: as long as the fit takes.

        Returns:
            ``True`` when the core has every result, ``False`` when the fit was still running.
        """
        runner = getattr(self, "_runner", None)
        return True if runner is None else runner.settle(timeout)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Intermediate results (a multi-step trial's lower rungs) are not used: the trial's last row,
        given to :meth:`on_trial_complete`, supersedes them (see the module docstring)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        x, config = self.pending.pop(trial_id, None), self.configs.pop(trial_id, None)
        if x is None:  # unknown trial, or a result after completion: ignored
            logger.debug(f"{type(self).__name__}: ignored a result for trial {trial_id} that is not running")
            return
        self._record(x, result, error, config)

    def _record(self, x: np.ndarray, result: Mapping[str, Any] | None, error: bool, config: dict | None = None) -> None:
        objectives = self._objectives()
        config = self._config(x) if config is None else config
        reason = failure_reason(result, error, objectives, self.infeasible_key)
        if reason:
            self.failed.append((config, reason))
            self._tell(x, None)
            return
        y = objectives.vector(result)  # the highest fidelity the trial reached (see the module docstring)
        self._tell(x, y, objectives.constraint_values(result) if objectives.constraints else None)
        metrics = {m: float(result[m]) for m in dict.fromkeys(objectives.metrics + objectives.constraint_metrics)}
        level = fidelity_below_top(result)
        if level is not None:
            self.low_fidelity.append((config, metrics, y, level))
        else:
            self.evaluated.append((config, metrics, y))
            it = result.get("training_iteration")
            self.iterations.append(int(it) if isinstance(it, (int, np.integer)) else None)

    def _tell(self, x: np.ndarray, y: np.ndarray | None, c: np.ndarray | None = None) -> None:
        """Tell the core (through the background runner, if any) unless the point has a result already
        (a point run twice, e.g. points to evaluate on one legal point: the first result is kept)."""
        runner = getattr(self, "_runner", None)
        if runner is None:
            tell_once(self.core, x, y, c)
        else:
            runner.tell(x, y, c)

    def _config(self, x: np.ndarray) -> dict:
        values = self.space.decode(x)
        return self.layout.config([values[k.name] for k in self.layout.knobs])

    def _point(self, parameters: Mapping[str, Any], where: str) -> tuple[dict, np.ndarray]:
        """(the config with ``parameters``' values as given, the cube point of their nearest legal values)."""
        given, legal = self.layout.values(self.space, parameters, where)
        x = self.space.encode({k.name: v for k, v in zip(self.layout.knobs, legal)})
        return self.layout.config(given, given=parameters), x

    # ------------------------------------------------------------------ warm start
    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: Any = None) -> None:
        """Tell the search about a point evaluated elsewhere.

        Args:
            parameters: the config, nested like the space or with ``/``-joined keys (extra keys, e.g.
                constants, are ignored); every searched value must lie in its domain.
            value: the result: a dict with every metric, a sequence in metric order, or one number
                for a single metric; ``None`` with ``error``.
            error: the evaluation failed.
            pruned: the evaluation was stopped early (counted as failed: there is no final result).
            intermediate_values: ignored.

        In background mode this first waits for a running fit (:meth:`settle`).
        """
        if intermediate_values is not None:
            warnings.warn(f"{type(self).__name__}.add_evaluated_point ignores intermediate_values", stacklevel=2)
        if self.core is None:
            self._warm.append((parameters, value, error or pruned))
            return
        self.settle()  # background mode: the core must not change under the check below
        result = self._result(value, "add_evaluated_point")
        config, x = self._point(parameters, "add_evaluated_point")
        if self.core.is_taken(to_index(self.space, x)):
            return  # already evaluated (or running): keep the first result
        self._record(x, result, error or pruned, config)

    def _result(self, value: Any, where: str) -> Mapping[str, Any] | None:
        """A result given as a dict, a sequence in metric order or one number, as a dict."""
        if value is None or isinstance(value, Mapping):
            return value
        values = np.atleast_1d(np.asarray(value, dtype=float)).tolist()
        if len(values) != len(self._metric):
            raise ValueError(f"{where}: the result {value!r} for metrics {list(self._metric)} needs one value per "
                             "metric (in their order), or a dict")
        return dict(zip(self._metric, values))

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
            if {"fidelity_level", "trial_id"} <= set(src.columns):  # one row per rung: each trial's last
                src = src.sort_values("fidelity_level", kind="stable").groupby("trial_id", sort=False).tail(1)

            cols = [c for c in src.columns if c.startswith("config/")]
            for _, row in src.iterrows():
                params = {c[len("config/"):]: row[c] for c in cols}  # '/'-joined keys: see tune_space.lookup
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

        Every feasible evaluated point (meeting every outcome constraint) not strictly dominated by
        another feasible one (no other is at least as good in every metric and better in one); ties
        are all kept (configs with equal metric values are all on the front), in the order they were
        evaluated.  The metric dicts hold the constrained metrics too.
        """
        full = self.full_length()
        if getattr(self, "constraints", ()) and len(full):
            objectives = self._objectives()
            full = full[[objectives.satisfied(self.evaluated[i][1]) for i in full]]
        if not len(full):
            return []
        Y = np.array([self.evaluated[i][2] for i in full])
        keep = full[np.flatnonzero(nondominated(Y, keep_ties=True))]
        keep = keep[np.argsort([self.evaluated[i][2][0] for i in keep], kind="stable")]
        return [(self.evaluated[i][0], self.evaluated[i][1]) for i in keep]

    def full_length(self) -> np.ndarray:
        """Indices into :attr:`evaluated` of the results of full-length trials.

        A trial that a Tune scheduler (ASHA, HyperBand, median stopping) stopped early ends with a
        ``training_iteration`` below that of the trials that ran to the end; such a result is a
        low-fidelity one and stays out of :meth:`pareto_front`, as a ``fidelity_level`` below the
        top does.  Without iterations (warm starts, single-report trials) every result counts.
        """
        its = getattr(self, "iterations", [])
        its = its + [None] * (len(self.evaluated) - len(its))
        known = [i for i in its if i is not None]
        top = max(known) if known else None
        return np.array([k for k, i in enumerate(its) if top is None or i is None or i >= top], dtype=int)

    @property
    def n_fallbacks(self) -> int:
        """Model batches that fell back to random points (0 for cores without a model)."""
        return getattr(self.core, "n_fallbacks", 0)

    # ------------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        """The whole state.  In background mode it never waits for a running fit: the core and the
        runner are then taken as the fit found them, with the results received since (see
        :meth:`.background.BackgroundAsker.frozen`); no thread or lock is in it."""
        state = dict(self.__dict__)
        if state.get("_runner") is not None:
            state["_runner"] = frozen = state["_runner"].frozen()
            state["core"] = frozen.core
        return state

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def __getstate__(self) -> dict:
        return self.get_state()

    def save(self, checkpoint_path: str) -> None:
        from ray import cloudpickle  # a tune.sample_from function in the searcher's own space is a lambda

        with open(checkpoint_path, "wb") as f:
            cloudpickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))


def _same_dims(a: Space, b: Space) -> bool:
    return {d.name: d.values for d in a.dims} == {d.name: d.values for d in b.dims}


def _aligned(space: Space | None, layout: Layout, target: Space) -> Layout | None:
    """``layout`` with its knobs in the order of ``target``'s dimensions, or ``None`` if their names and
    legal values differ."""
    if space is None or not _same_dims(space, target):
        return None
    by_name = {k.name: k for k in layout.knobs}
    return Layout(layout.template, tuple(by_name[d.name] for d in target.dims), layout.derived)


def _check_points(points: Any, rewards: Any) -> tuple[list[dict], list | None]:
    """``points_to_evaluate`` and ``evaluated_rewards`` as lists, checked for shape (the values are checked
    against the space once it is known)."""
    if points is None:
        points = []
    if isinstance(points, Mapping) or not isinstance(points, Sequence):
        raise ValueError(f"points_to_evaluate must be a list of configs (dicts), got {type(points).__name__}")
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise ValueError(f"points_to_evaluate[{i}] must be a config dict, got {p!r}")
    if rewards is None:
        return list(points), None
    if isinstance(rewards, (Mapping, str)) or not isinstance(rewards, Sequence) or len(rewards) != len(points):
        raise ValueError(f"evaluated_rewards must be a list with one result per point of points_to_evaluate "
                         f"({len(points)}), got {rewards!r}")
    return list(points), list(rewards)
