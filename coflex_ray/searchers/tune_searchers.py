"""The Ray Tune searchers: each ask/tell core behind the one adapter (:class:`.adapter.AskTellSearcher`).

``CoflexSearch`` (:class:`.coflex.CoflexCore`), ``BoTorchMOSearch`` (:class:`.botorch_mo.BoTorchCore`)
and ``NSGA2Search`` (:class:`.nsga2.NSGA2Core`).  The cores' modules do not import Ray.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

import numpy as np

from ..spaces import Space
from .adapter import AskTellSearcher
from .botorch_mo import BoTorchCore, check_acquisition
from .coflex import CoflexCore, CoflexOptions
from .core import check_model_options
from .nsga2 import NSGA2Core, check_pop_size


class CoflexSearch(AskTellSearcher):
    """Ray Tune searcher: per-objective sparse GPs and a Pareto fusion (:class:`.coflex.CoflexCore`).

    Multi-objective Bayesian optimisation after Coflex (ICCAD 2025); the rules are in
    :mod:`.coflex`, their reasons and measurements in ``docs/design.md``.

    Multi-fidelity: each trial is told once, at the last rung it reported; a trial stopped below the
    top rung enters the sparse GPs as an ordinary observation at that fidelity and stays out of
    :meth:`pareto_front` (see :mod:`.adapter`).

    Example::

        from ray import tune
        from ray.tune.search import ConcurrencyLimiter
        from coflex_ray import CoflexSearch, pareto_results

        def trainable(config):
            tune.report({"err": 100.0 / config["c1"], "edp": config["c1"] * config["X1"]})

        searcher = CoflexSearch(metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], seed=0)
        grid = tune.Tuner(
            trainable,
            param_space={"c1": tune.choice([8, 16, 32]), "X1": tune.randint(1, 65)},
            tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, 2), num_samples=20),
        ).fit()
        front = pareto_results(grid, metric=["err", "edp"], mode=["min", "min"])

    Args:
        space: a :class:`coflex_ray.spaces.Space` or a Tune ``param_space`` dict; ``None`` (default):
            the Tuner's ``param_space``.
        metric: the objective(s), e.g. ``["err", "edp"]``; ``None`` (default): the Tuner's.
        mode: ``"min"`` or ``"max"`` per metric; ``None`` (default): the Tuner's.
        options: the Coflex method's options (:class:`.coflex.CoflexOptions`: initial design, batch
            size, inducing points, candidates, fusion, warps, kernel); default: its defaults.
        seed: seeds every random choice of the search.  Default 0.
        log_metrics: metrics modelled in log space (positive values only), e.g. ``["edp"]``.
            Default ``()``.
        objective_bounds: normalisation bounds of the fusion in reported units, ``[[lo, hi]]`` per
            metric or ``{metric: (lo, hi)}``; ``None`` (default): the current observed front's.
        infeasible_key: a result whose value under this key is false counts as failed; ``None``: no
            such flag.  Default ``"feasible"``.
        float_levels: legal values per ``tune.uniform`` / ``tune.loguniform`` knob (at most that many per
            ``tune.lograndint`` / ``qlograndint`` / ``qloguniform`` knob).  Default 1001.
        points_to_evaluate: configs to run first, exactly as given (they count in ``num_samples`` and
            in the initial design); each must lie in the space.  Default none.
        evaluated_rewards: known results of ``points_to_evaluate`` (one per point: a dict of the
            metrics, a list in metric order, or a number for one metric): the points are told, not
            run.  Default none.
        constraints: outcome constraints ``{metric: (op, bound)}`` (see
            :class:`.adapter.AskTellSearcher`); one sparse GP per constrained metric, and the
            fusion's scores weighted by the probability that every constraint holds.  Default none.
        background: fit the models and make batches on a worker thread, so that ``suggest`` never
            waits for a fit; batches then grow to the number of trials Tune's ``ConcurrencyLimiter``
            runs at once (see :class:`.adapter.AskTellSearcher`).  Not deterministic.  Default
            ``False``.
        **overrides: any :class:`.coflex.CoflexOptions` field as a keyword (``n_init=6``),
            replacing that field of ``options``.

    Raises:
        ValueError: an option out of range (:class:`.coflex.CoflexOptions`), ``metric`` without
            ``mode`` or with a different length, malformed ``objective_bounds``, or a space that
            cannot be searched.
        TypeError: an unknown keyword argument.
    """

    def __init__(self, space: Space | Mapping[str, Any] | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, *, options: CoflexOptions | None = None,
                 **kwargs: Any) -> None:
        own = set(inspect.signature(AskTellSearcher.__init__).parameters)
        self.options = CoflexOptions.merged(options, {k: v for k, v in kwargs.items() if k not in own})
        super().__init__(space, metric, mode, **{k: v for k, v in kwargs.items() if k in own})

    def make_core(self, space: Space, n_obj: int, bounds: np.ndarray | None) -> CoflexCore:
        return CoflexCore(space, n_obj, self.seed, bounds=bounds, options=self.options,
                          constraints=self.core_constraints())


class BoTorchMOSearch(AskTellSearcher):
    """Ray Tune searcher: qNEHVI / qEHVI / qNParEGO on an exact GP (:class:`.botorch_mo.BoTorchCore`).

    Args:
        space, metric, mode: the search space and objectives, as for every Tune searcher; see
            :class:`.adapter.AskTellSearcher` (``None``: taken from the Tuner).
        acquisition: ``"qnehvi"``, ``"qehvi"`` or ``"qnparego"``.  Default ``"qnehvi"``.
        n_init: size of the Sobol initial design.  Default 10.
        batch_size: proposals per model fit.  Default 4.
        n_candidates: Sobol points of the candidate set.  Default 1024.
        mc_samples: quasi-MC samples of the acquisition.  Default 128.
        raw_samples: initial points of BoTorch's ``optimize_acqf_mixed_alternating``.  Default 256.
        num_restarts: its restarts; 0 scores the candidate set only.  Default 4.
        **kwargs: ``seed``, ``log_metrics``, ``objective_bounds`` (``None``: frozen from the initial
            design), ``infeasible_key``, ``float_levels``, ``points_to_evaluate``, ``evaluated_rewards``,
            ``constraints`` (BoTorch outcome constraints on extra model outputs), ``background`` of
            :class:`.adapter.AskTellSearcher`.

    Raises:
        ValueError: an unknown ``acquisition`` or an option out of range.

    Multi-fidelity: each trial is told once, at the last rung it reported; a trial stopped below the
    top rung enters the GP (and the observed front the hypervolume improvement is measured from) at
    that fidelity, and stays out of :meth:`pareto_front` (see :mod:`.adapter`).
    """

    def __init__(self, space: Space | Mapping[str, Any] | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, *, acquisition: str = "qnehvi", n_init: int = 10,
                 batch_size: int = 4, n_candidates: int = 1024, mc_samples: int = 128, raw_samples: int = 256,
                 num_restarts: int = 4, **kwargs: Any) -> None:
        check_model_options(n_init, batch_size)
        check_acquisition(acquisition)
        self.options = dict(acquisition=acquisition, n_init=n_init, batch_size=batch_size, n_candidates=n_candidates,
                            mc_samples=mc_samples, raw_samples=raw_samples, num_restarts=num_restarts)
        super().__init__(space, metric, mode, **kwargs)

    def make_core(self, space: Space, n_obj: int, bounds: np.ndarray | None) -> BoTorchCore:
        return BoTorchCore(space, n_obj, self.seed, bounds=bounds, constraints=self.core_constraints(), **self.options)


class NSGA2Search(AskTellSearcher):
    """Ray Tune searcher: pymoo NSGA-II (:class:`.nsga2.NSGA2Core`).

    Args:
        space, metric, mode: the search space and objectives, as for every Tune searcher; see
            :class:`.adapter.AskTellSearcher` (``None``: taken from the Tuner).
        pop_size: individuals per generation.  Default 20.
        **kwargs: ``seed``, ``log_metrics``, ``infeasible_key``, ``float_levels``, ``points_to_evaluate``,
            ``evaluated_rewards``, ``constraints`` (pymoo constraint values ``G``), ``background`` of
            :class:`.adapter.AskTellSearcher`.

    Raises:
        ValueError: ``pop_size < 2`` or ``objective_bounds`` given (selection is rank-based).

    Multi-fidelity: each trial is told once, at the last rung it reported; a trial stopped below the
    top rung gets that fidelity's objectives as its fitness in the generation (rank-based selection
    then mostly drops it, as the scheduler did), and stays out of :meth:`pareto_front` (see
    :mod:`.adapter`).
    """

    def __init__(self, space: Space | Mapping[str, Any] | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, *, pop_size: int = 20, **kwargs: Any) -> None:
        check_pop_size(pop_size)
        self.pop_size = pop_size
        if "objective_bounds" in kwargs:
            raise ValueError("NSGA2Search takes no objective_bounds (selection is rank-based)")
        super().__init__(space, metric, mode, **kwargs)

    def make_core(self, space: Space, n_obj: int, bounds: np.ndarray | None) -> NSGA2Core:
        return NSGA2Core(space, n_obj, self.seed, pop_size=self.pop_size, constraints=self.core_constraints())
