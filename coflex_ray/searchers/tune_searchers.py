"""The Ray Tune searchers: each ask/tell core behind the one adapter (:class:`.adapter.AskTellSearcher`).

``CoflexSearch`` (:class:`.coflex.CoflexCore`), ``BoTorchMOSearch`` (:class:`.botorch_mo.BoTorchCore`)
and ``NSGA2Search`` (:class:`.nsga2.NSGA2Core`).  The cores' modules do not import Ray.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..spaces import Space
from .adapter import AskTellSearcher
from .botorch_mo import BoTorchCore, check_acquisition
from .coflex import CoflexCore, check_options
from .core import check_model_options
from .models import NUM_INDUCING
from .nsga2 import NSGA2Core, check_pop_size


class CoflexSearch(AskTellSearcher):
    """Ray Tune searcher: per-objective sparse GPs + Pareto fusion (:class:`CoflexCore`).

    Example::

        searcher = CoflexSearch(metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"])
        tune.Tuner(trainable, param_space={"c1": tune.choice([8, 16, 32]), "X1": tune.randint(1, 65)},
                   tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, 2), num_samples=100))

    Args:
        space, metric, mode: the search space and objectives, as for every Tune searcher; see
            :class:`.adapter.AskTellSearcher` (``None``: taken from the Tuner).
        n_init: size of the Sobol initial design.
        batch_size: proposals per model fit (pending ones are accounted for).
        num_inducing: inducing points of each sparse GP (default ``models.NUM_INDUCING``, 512).
        n_candidates: size of the candidate set (trust-region points, or Sobol points without it).
        proposals_per_objective: candidates each objective proposes to the fusion by log EI (and as
            many by its lower confidence bound).
        beta: fusion optimism (posterior mean minus ``beta`` standard deviations; 0, the default:
            the means; rule 5 of :mod:`.coflex` says why).
        kappa: optimism of the lower-confidence-bound proposals.
        n_directions: random scalarisation directions proposing one candidate each.
        n_starts, local_steps: local-search starts per objective and moves per start.
        clip: the fusion's normalised predictions are clipped below at ``-clip``.
        trust_region: draw candidates in a TuRBO-style trust region around the observed front
            (rule 2 of :mod:`.coflex`); ``False``: from the whole space.
        global_candidates: Sobol points of a global candidate set that joins the trust region's (0:
            the region's alone).
        warp: each objective's output warp (:mod:`.warping`; rule 1 of :mod:`.coflex`): "auto" (the
            normal scores of its ranks, a Gaussian copula, when it has far-out values, else its
            standardised values), "rank", "power" (Yeo-Johnson) or "none"; ``True`` / ``False``
            mean "rank" / "none".
        additive: add a first-order additive part to every GP kernel (one kernel per knob, summed;
            rule 1 of :mod:`.coflex`) while a model has at most 128 observations
            (``models.ADDITIVE_MAX_N``); ``False``: BoTorch's default kernel alone.
        **kwargs: ``seed``, ``log_metrics``, ``objective_bounds`` (the fusion normalises by them; without
            them, by the current observed front), ``infeasible_key``, ``float_levels`` of
            :class:`.adapter.AskTellSearcher`.

    Multi-fidelity: each trial is told once, at the last rung it reported; a trial stopped below the
    top rung enters the sparse GPs as an ordinary observation at that fidelity (a biased, roughly
    pessimistic value, so it steers proposals away from what the scheduler ranked low), and stays
    out of :meth:`pareto_front` (see :mod:`.adapter`).
    """

    def __init__(self, space: Space | Mapping[str, Any] | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, *, n_init: int = 10, batch_size: int = 4,
                 num_inducing: int = NUM_INDUCING, n_candidates: int = 1024, proposals_per_objective: int = 16,
                 beta: float = 0.0, kappa: float = 2.0, n_directions: int = 16, n_starts: int = 4,
                 local_steps: int = 3, clip: float = 0.2, trust_region: bool = True, warp: str | bool = "auto",
                 global_candidates: int = 1024, additive: bool = True, **kwargs: Any) -> None:
        check_model_options(n_init, batch_size)
        check_options(num_inducing, proposals_per_objective, beta, global_candidates, warp)
        self.options = dict(n_init=n_init, batch_size=batch_size, num_inducing=num_inducing,
                            n_candidates=n_candidates, proposals_per_objective=proposals_per_objective, beta=beta,
                            kappa=kappa, n_directions=n_directions, n_starts=n_starts, local_steps=local_steps,
                            clip=clip, trust_region=trust_region, warp=warp, global_candidates=global_candidates,
                            additive=additive)
        super().__init__(space, metric, mode, **kwargs)

    def make_core(self, space: Space, n_obj: int, bounds: np.ndarray | None) -> CoflexCore:
        return CoflexCore(space, n_obj, self.seed, bounds=bounds, **self.options)


class BoTorchMOSearch(AskTellSearcher):
    """Ray Tune searcher: qNEHVI / qEHVI / qNParEGO on an exact GP (:class:`BoTorchCore`).

    Args:
        space, metric, mode: the search space and objectives, as for every Tune searcher; see
            :class:`.adapter.AskTellSearcher` (``None``: taken from the Tuner).
        acquisition: ``"qnehvi"``, ``"qehvi"`` or ``"qnparego"``.
        n_init: size of the Sobol initial design.
        batch_size: proposals per model fit.
        n_candidates: Sobol points of the candidate set.
        mc_samples: quasi-MC samples of the acquisition.
        raw_samples, num_restarts: of BoTorch's ``optimize_acqf_mixed_alternating`` (``num_restarts=0``:
            score the candidate set only).
        **kwargs: ``seed``, ``log_metrics``, ``objective_bounds``, ``infeasible_key``, ``float_levels``
            of :class:`.adapter.AskTellSearcher`.

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
        return BoTorchCore(space, n_obj, self.seed, bounds=bounds, **self.options)


class NSGA2Search(AskTellSearcher):
    """Ray Tune searcher: pymoo NSGA-II (:class:`NSGA2Core`).

    Args:
        space, metric, mode: the search space and objectives, as for every Tune searcher; see
            :class:`.adapter.AskTellSearcher` (``None``: taken from the Tuner).
        pop_size: individuals per generation.
        **kwargs: ``seed``, ``log_metrics``, ``infeasible_key``, ``float_levels`` of
            :class:`.adapter.AskTellSearcher`.

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
        return NSGA2Core(space, n_obj, self.seed, pop_size=self.pop_size)
