"""Let Ray Tune's own searchers optimise the raw metrics a multi-objective trial reports.

A trial reports its raw objectives only (e.g. ``err``, ``edp`` and a ``feasible`` flag, with
``inf`` for what it could not measure).  Single-objective searchers such as ``HyperOptSearch`` need
one finite number, and Optuna's multi-objective samplers need finite values; these wrappers (built
like Tune's ``ConcurrencyLimiter``: a ``Searcher`` holding another one) compute them from each
result and hand the wrapped searcher an extended result:

* :class:`ScalarizedSearch`: one value under ``"scalar"`` (minimised): the weighted mean (default:
  the plain mean) of the objectives, each taken in ``log10`` if asked, oriented so that lower is
  better, and normalised by fixed ``bounds``; a failed result (error, ``infeasible_key`` false,
  missing, NaN or infinite objective, non-positive log objective) scores ``penalty``.
* :class:`FiniteObjectivesSearch`: one finite, minimised value per objective, under ``obj_<metric>``
  (``obj_log10_<metric>`` for a log objective), each ``penalty`` for a failed result.

**Multi-fidelity** (trials reporting once per rung, with ``fidelity_level`` / ``fidelity_max_level``;
see :mod:`coflex_ray.fidelity`): Tune calls ``on_trial_complete`` with a trial's last row, also for a
trial a scheduler stopped, so the wrapped searcher learns each trial once, at the highest fidelity
it reached.  Tune's searchers take no fidelity flag, so a stopped trial's value is its low-rung
value, a biased, slightly pessimistic estimate on the shipped ladders (``docs/design.md``,
"Multi-fidelity results").  Each config is told exactly once, never as a failure, and a stopped
trial is one the scheduler ranked low anyway.  The lower rungs reach the wrapped searcher's
``on_trial_result`` only, which ``OptunaSearch`` ignores for several objectives and
``HyperOptSearch`` ignores altogether.
:attr:`ScalarizedSearch.low_fidelity` counts the trials told below the top rung.

``bounds`` use the analysis' convention: ``{"err": [lo, hi], "log10_edp": [lo, hi]}``, one entry per
objective, named ``log10_<metric>`` (in log10 units) for a metric in ``log_metrics``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Sequence

from ray.tune.search import Searcher
from ray.tune.search.util import _set_search_properties_backwards_compatible

from .failures import failure_reason, fidelity_below_top
from .normalise import Objectives, as_list

logger = logging.getLogger(__name__)


class Scalarization:
    """The scalarisation itself, without a searcher: what :class:`ScalarizedSearch` hands HyperOpt and what
    :class:`coflex_ray.schedulers.ScalarizedASHAScheduler` hands Tune's ASHA (one formula, one place).

    Args:
        metric: the raw objectives the trials report.
        mode: ``"min"`` or ``"max"`` per metric.
        log_metrics: metrics taken in ``log10`` (positive values only).
        bounds: ``{objective: [lo, hi]}`` per objective (``log10_<metric>`` for a log metric), so each
            normalised objective is 0 at its best bound and 1 at its worst; ``None``: not normalised
            (each objective as reported, in ``log10`` where asked, negated for ``max``).
        weights: one weight per metric (default equal); the scalar is the weighted mean.
        penalty: the value of a failed result (larger than any normal value).
        infeasible_key: a result whose value under this key is false counts as failed.
    """

    def __init__(self, metric: str | Sequence[str], mode: str | Sequence[str], *, log_metrics: Sequence[str] = (),
                 bounds: Mapping[str, Sequence[float]] | None = None, weights: Sequence[float] | None = None,
                 penalty: float = 1e3, infeasible_key: str | None = "feasible") -> None:
        self.objectives = Objectives(tuple(as_list(metric)), tuple(as_list(mode)), tuple(as_list(log_metrics)),
                                     log=math.log10)
        metrics = self.objectives.metrics
        self.names = tuple(f"log10_{m}" if m in self.objectives.log_metrics else m for m in metrics)
        self.bounds = _check_bounds(bounds, self.names)
        w = [1.0] * len(metrics) if weights is None else [float(x) for x in weights]
        if len(w) != len(metrics) or any(not math.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"weights must be {len(metrics)} non-negative numbers with a positive sum, got {weights}")
        self.weights = [x / sum(w) for x in w]
        if not math.isfinite(penalty):
            raise ValueError(f"penalty={penalty} must be finite")
        self.penalty, self.infeasible_key = float(penalty), infeasible_key

    def set_bounds(self, bounds: Mapping[str, Sequence[float]] | None) -> None:
        """Set (or clear) the normalisation bounds, e.g. once a study has fixed them after building its
        searchers; only before the first result, so every scalar of a run uses the same bounds."""
        self.bounds = _check_bounds(bounds, self.names)

    def scalar(self, result: Mapping[str, Any] | None, error: bool = False) -> float:
        """The minimised scalar of one raw result: the weighted mean of the (normalised) objectives, or
        ``penalty`` for a failed result (see :func:`.failures.failure_reason`)."""
        t = self.transformed(result, error)
        if t is None:
            return self.penalty
        return sum(w * v for w, v in zip(self.weights, self.normalised(t)))

    def transformed(self, result: Mapping[str, Any] | None, error: bool) -> list[float] | None:
        """Each objective in log10 where asked, as reported (not yet oriented); ``None`` if failed."""
        if failure_reason(result, error, self.objectives, self.infeasible_key):
            return None
        return [math.log10(float(result[m])) if m in self.objectives.log_metrics else float(result[m])
                for m in self.objectives.metrics]

    def normalised(self, t: list[float]) -> list[float]:
        """Transformed objectives oriented (lower is better) and normalised by ``bounds`` (if set)."""
        out = []
        for v, name, mode in zip(t, self.names, self.objectives.modes):
            if self.bounds is None:
                out.append(v if mode == "min" else -v)
            else:
                lo, hi = self.bounds[name]
                out.append((v - lo) / (hi - lo) if mode == "min" else (hi - v) / (hi - lo))
        return out


class ScalarizedSearch(Scalarization, Searcher):
    """A Tune searcher that optimises one scalarisation of several raw metrics (see the module docstring).

    Example::

        inner = HyperOptSearch(n_initial_points=10, random_state_seed=0)   # no metric, no space
        search = ScalarizedSearch(inner, metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"],
                                  bounds={"err": [5, 90], "log10_edp": [-2, 1]})
        tune.Tuner(trainable, param_space=..., tune_config=tune.TuneConfig(search_alg=search, num_samples=50))

    Args:
        searcher: the wrapped Tune searcher, constructed without ``metric``/``mode`` (the wrapper sets
            them through ``set_search_properties``) or with the wrapper's :attr:`inner_metric` and
            ``"min"``.
        metric, mode, log_metrics, bounds, weights, penalty, infeasible_key: the scalarisation; see
            :class:`Scalarization`.
    """

    def __init__(self, searcher: Searcher, metric: str | Sequence[str], mode: str | Sequence[str], *,
                 log_metrics: Sequence[str] = (), bounds: Mapping[str, Sequence[float]] | None = None,
                 weights: Sequence[float] | None = None, penalty: float = 1e3,
                 infeasible_key: str | None = "feasible") -> None:
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher must be a ray.tune.search.Searcher, got {type(searcher).__name__}")
        Scalarization.__init__(self, metric, mode, log_metrics=log_metrics, bounds=bounds, weights=weights,
                               penalty=penalty, infeasible_key=infeasible_key)
        inner = self.inner_metric
        if searcher.metric is not None and as_list(searcher.metric) != as_list(inner):
            raise ValueError(f"the wrapped {type(searcher).__name__} has metric={searcher.metric!r}; construct it "
                             f"without metric/mode (or with metric={inner!r}, mode='min')")
        self.low_fidelity = 0  # trials completed below their ladder's top rung (see the module docstring)
        self.searcher = searcher  # the attribute name Tune's checkpointing expects of wrappers
        Searcher.__init__(self, metric=list(self.objectives.metrics), mode=list(self.objectives.modes))

    # ------------------------------------------------------------------ what the wrapped searcher sees
    @property
    def inner_metric(self) -> str | list[str]:
        """The metric name(s) the wrapped searcher optimises (all minimised)."""
        return "scalar"

    def inner_values(self, result: Mapping[str, Any] | None, error: bool = False) -> dict[str, float]:
        """The extra result entries for the wrapped searcher."""
        return {"scalar": self.scalar(result, error)}

    def _extend(self, result: Mapping[str, Any] | None, error: bool = False) -> dict | None:
        return None if result is None else {**result, **self.inner_values(result, error)}

    # ------------------------------------------------------------------ Searcher API, forwarded
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        if (metric and as_list(metric) != list(self.metric)) or (mode and as_list(mode) != list(self.mode)):
            logger.warning(f"{type(self).__name__}: Tune's metric={metric!r} mode={mode!r} would replace the "
                           f"wrapper's {self.metric}/{self.mode}; kept the wrapper's.")
            return False
        inner = self.inner_metric
        ok = _set_search_properties_backwards_compatible(
            self.searcher.set_search_properties, inner, ["min"] * len(inner) if isinstance(inner, list) else "min",
            config, **spec)
        if not ok and as_list(self.searcher.metric) != as_list(inner):
            raise ValueError(f"the wrapped {type(self.searcher).__name__} kept metric={self.searcher.metric!r}; "
                             f"construct it without metric/mode and space so the wrapper can set {inner!r}")
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str) -> dict | None:
        return self.searcher.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, self._extend(result))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """The trial's last row (its highest fidelity; see the module docstring)."""
        self.low_fidelity += fidelity_below_top(result) is not None
        self.searcher.on_trial_complete(trial_id, result=self._extend(result, error), error=error)

    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: Any = None) -> None:
        """``value``: the raw result dict (every metric)."""
        extra = self.inner_values(value, error or pruned)
        inner = extra[self.inner_metric] if isinstance(self.inner_metric, str) else [extra[k] for k in self.inner_metric]
        self.searcher.add_evaluated_point(parameters, inner, error, pruned, intermediate_values)

    def get_state(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "searcher"}

    def set_state(self, state: dict) -> None:
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


class FiniteObjectivesSearch(ScalarizedSearch):
    """A Tune multi-objective searcher (e.g. ``OptunaSearch``) on finite, minimised copies of the raw metrics.

    The wrapped searcher optimises ``obj_<metric>`` (``obj_log10_<metric>`` for a log metric), all
    ``"min"``: the objective in ``log10`` where asked, negated for a ``max`` metric, or ``penalty``
    for a failed result.  Arguments as :class:`ScalarizedSearch` (``bounds`` and ``weights`` unused).
    """

    @property
    def inner_metric(self) -> list[str]:
        return [f"obj_{n}" for n in self.names]

    def inner_values(self, result: Mapping[str, Any] | None, error: bool = False) -> dict[str, float]:
        t = self.transformed(result, error)
        if t is None:
            return {k: self.penalty for k in self.inner_metric}
        return {k: v if mode == "min" else -v for k, v, mode in zip(self.inner_metric, t, self.objectives.modes)}


def _check_bounds(bounds: Mapping[str, Sequence[float]] | None, names: tuple[str, ...]) -> dict | None:
    if bounds is None:
        return None
    if set(bounds) != set(names):
        raise ValueError(f"bounds need exactly the objectives {list(names)} (log10_<metric> for a log metric); "
                         f"got {sorted(bounds)}")
    out = {}
    for k in names:
        pair = [float(v) for v in bounds[k]]
        if len(pair) != 2 or not all(math.isfinite(v) for v in pair) or not pair[0] < pair[1]:
            raise ValueError(f"bounds[{k!r}] must be [lo, hi] with lo < hi, got {bounds[k]!r}")
        out[k] = tuple(pair)
    return out
