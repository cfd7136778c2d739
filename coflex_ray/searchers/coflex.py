"""CoflexSearch's optimiser: one sparse GP per objective and a Pareto fusion of their proposals.

After Coflex (ICCAD 2025): per-objective sparse GPs, per-objective proposals, fusion by Pareto
non-dominance.  All objectives are minimised (``max`` metrics are negated by the adapter).  After a
Sobol initial design (:class:`.core.ModelCore`), each batch of ``batch_size`` proposals is made by
the rules below.  ``docs/design.md`` gives the reason for each rule and the measurements behind it.

1. **Models.**  For every objective, a sparse GP (:func:`.models.fit_sparse_gp`) on the unit-cube
   inputs and the objective warped by :func:`.warping.make_warp` (``warp``).  With ``additive`` its
   kernel has a first-order additive part while the model has at most ``models.ADDITIVE_MAX_N``
   observations, on a space of at least ``models.ADDITIVE_MIN_D`` inputs (:func:`.models.make_kernel`).
2. **Candidates.**  With ``trust_region``: about ``n_candidates`` points in a box of half-width
   ``length`` around each observed Pareto-optimal point, plus their one-step neighbours
   (:func:`.candidates.trust_region_set`), joined by a global set of ``global_candidates`` Sobol
   points and perturbations of the Pareto-optimal points (:func:`.candidates.candidate_set`).
   ``length`` follows TuRBO's rule (Eriksson et al., NeurIPS 2019) with the ``TR_*`` constants
   (:meth:`CoflexCore.update_region`).  Without a region (disabled, nothing good observed, or nothing
   untaken in it): the global set with ``n_candidates`` Sobol points.  Evaluated, failed and
   pending points are never candidates.
3. **Local search.**  Each objective's ``n_starts`` best candidates by log EI are hill-climbed on
   that log EI over their untaken legal neighbours, at most ``local_steps`` moves each
   (:meth:`CoflexCore.improve`); the end points join the candidates.
4. **Proposals.**  Each objective proposes its ``k`` best candidates by log
   EI (below the best feasible observation, with outcome constraints) plus the log probability of
   feasibility (times, with outcome constraints, the probability that they hold:
   :meth:`CoflexCore.constraint_prob`), and as many by its lower confidence bound
   ``mean - kappa * sd`` (both in the model's units), where ``k = proposals_per_objective ** (m - 1)``
   for ``m`` objectives (:func:`pool_size`: as many per objective as cover an ``(m - 1)``-dimensional
   front at ``proposals_per_objective`` points per direction); a batch of ``n`` larger than ``k``
   raises both counts, and ``n_directions``, to ``n``.  Each of the
   ``n_directions`` weight vectors ``w``
   (:func:`directions`) proposes the candidate minimising ``max_j w_j l_j + 0.05 sum_j w_j l_j``
   of the normalised predictions ``l`` of rule 5 (ParEGO's augmented Chebyshev scalarisation),
   rescaled to the observed front's box once the search has passed the bounds' ideal
   (:func:`direction_picks`).
5. **Normalised predictions.**  ``l = (mean - beta * sd - ideal) / (nadir - ideal)`` per objective,
   ``mean - beta * sd`` taken in the model's units and mapped to the objective's by the warp's
   inverse, clipped below at ``-clip`` (or ``clip`` below the observed front where the search has
   passed the given ideal: :func:`clip_floor`).  ``ideal`` and ``nadir``: the given bounds, else
   :func:`front_scale` of the observations.  ``beta = 0`` (the default) fuses on posterior means.
   The hypervolume reference point is ``REF`` in every coordinate, or, once the search has passed
   the bounds' ideal, ``REF - 1`` beyond the observed front where that extends past their nadir
   (:func:`ref_point`).
6. **Pareto filter.**  Of the pooled proposals, those non-dominated by ``l``; while fewer than the
   batch, the next Pareto layers too (:func:`pareto_layers`).
7. **Batch.**  Greedily (:meth:`CoflexCore.fuse`), the candidate whose ``l`` adds the most
   hypervolume to the front, times its probability of feasibility (:meth:`CoflexCore.feasibility`,
   times :meth:`CoflexCore.constraint_prob` with outcome constraints), joins the batch and the front.
   The front starts as the observed non-dominated points plus the posterior means of the pending
   points (kriging believer).  The greedy is evaluated lazily (the gains only shrink as the front
   grows), which picks the same batch with far fewer hypervolume computations.
8. **One objective.**  Rules 5-7 would pick the lowest posterior means (in one dimension the
   hypervolume gain is the improvement of the mean): a greedy batch.  With a single objective the
   batch is instead the ``batch_size`` candidates with the highest log EI plus log probability of
   feasibility, among the likely-feasible ones with outcome constraints
   (:func:`single_objective_batch`); pending points are not candidates, but their predictions do
   not enter the score.

Outcome constraints (``constraints``, :mod:`.core`): one sparse GP per constrained metric on its
reported values (standardised, no warp; log-space where the metric is in ``log_metrics``), fitted
like the objectives' (rule 1); a candidate's probability that every constraint holds is the product
of ``Phi(sign * (bound - mean) / sd)``.  Infeasible observations train the objectives' models; the
observed front of rules 2, 5 and 7 (trust-region centres, normalisation, starting front) is built
from the feasible observations whenever any exists.  When no candidate adds hypervolume,
   the one with the smallest :func:`shortfall` is taken.

Determinism: candidates and directions come from the core's numpy Generator; torch is seeded before
each batch from ``(seed, batch number)``, the sparse GPs' subsets and inducing pools from ``seed``.

``CoflexCore`` is the ask/tell optimiser (no Ray, :mod:`.core`); ``CoflexSearch``
(:mod:`.tune_searchers`) is its Ray Tune searcher.
"""

from __future__ import annotations

import heapq
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, Iterator

import numpy as np
import torch

from ..spaces import Space
from .candidates import local_search, to_cubes, trust_region_set
from .core import ModelCore, check_model_options
from .models import NUM_INDUCING, fit_sparse_gp, predict, prob_feasible
from .pareto import REF, hypervolume, nondominated
from .warping import make_warp, warp_kind

# Trust region (rule 2): initial, smallest and largest half-width in the unit cube, and how many
# batches in a row must succeed (double it) or fail (halve it).  TuRBO's rule with its constants scaled
# to budgets of tens of batches (TuRBO's, as half-widths: 0.4 / 0.5**8 / 0.8, 3 successes, ceil(d / q)
# failures).
TR_INIT, TR_MIN, TR_MAX, TR_SUCC, TR_FAIL = 0.3, 1 / 128, 0.8, 2, 2
# Outcome constraints (rules 4 and 6): a candidate is "likely feasible" when the probability that every
# constraint holds is at least this (or, when no candidate reaches it, at least the highest there is)
LIKELY = 0.5


def log_ei(mu: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Log expected improvement below ``best`` (minimisation) of Gaussian predictions.

    Args:
        mu: posterior means, shape ``(N,)``.
        sd: posterior standard deviations, shape ``(N,)`` (clamped below at 1e-12).
        best: the value to improve on, in the units of ``mu``.

    Returns:
        ``(N,)`` array, the value of BoTorch's ``LogExpectedImprovement(maximize=False)`` (Ament et
        al., NeurIPS 2023) at each prediction.  Computed with BoTorch's stable helper on flat arrays,
        because the acquisition module broadcasts the training data over an ``(N, 1, d)`` batch.
    """
    from botorch.acquisition.analytic import _log_ei_helper

    mu_t, sd_t = torch.as_tensor(mu, dtype=torch.double), torch.as_tensor(sd, dtype=torch.double).clamp_min(1e-12)
    return (_log_ei_helper((best - mu_t) / sd_t) + sd_t.log()).numpy()


def front_scale(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalisation by the current observed front (rule 5 of the module docstring).

    Args:
        Y: good observations, shape ``(n, m)``, all minimised.

    Returns:
        ``(ideal, span)``, each of shape ``(m,)``: ``ideal`` is the per-objective minimum of ``Y``;
        ``span = nadir - ideal``, the nadir being the per-objective maximum over the non-dominated
        rows (over all rows where that equals the ideal); a zero span becomes 1.
    """
    ideal = Y.min(axis=0)
    nadir = Y[nondominated(Y)].max(axis=0)
    nadir = np.where(nadir > ideal, nadir, Y.max(axis=0))
    span = nadir - ideal
    return ideal, np.where(span > 0, span, 1.0)


def clip_floor(observed: np.ndarray, clip: float) -> np.ndarray:
    """The lower clip of the normalised predictions (rule 5): ``clip`` below the normalised ideal, or
    below the observed front where that lies beyond the ideal (given bounds the search has passed).

    Args:
        observed: the observed non-dominated points, normalised, shape ``(k, m)``.
        clip: how far below.

    Returns:
        ``(m,)`` floors, ``min(observed.min(0), 0) - clip``.  Why: a floor above an observed value
        would rate every candidate that improves on it as worse than it, and stall that objective.
    """
    return np.minimum(observed.min(axis=0), 0.0) - clip


def passed_ideal(observed: np.ndarray) -> bool:
    """Whether an observation has passed the normalisation bounds' ideal (a normalised value below 0):
    the sign that given bounds are narrower than the front (rules 4 and 5: :func:`ref_point`,
    :func:`direction_picks`).

    Args:
        observed: the observed non-dominated points, normalised, shape ``(F, m)`` with ``F >= 1``.
    """
    return bool(observed.min() < 0.0)


def ref_point(observed: np.ndarray) -> np.ndarray:
    """Rule 5's hypervolume reference point in normalised units.

    Args:
        observed: the observed non-dominated points, normalised, shape ``(F, m)`` with ``F >= 1``.

    Returns:
        ``(m,)`` array: ``REF`` in every coordinate while no observation has passed the bounds'
        ideal (``observed >= 0``), i.e. while the bounds may be the front's own (an exact or
        best-known reference front; or the observed front's bounds, which it cannot pass); once it
        has, the bounds are known to be narrower than the front (a random probe's, which miss its
        corners) and the box follows the observed front past their nadir too, ``max(REF,
        observed.max(0) + REF - 1)``, so that those parts of the front still add hypervolume
        (similar to BoTorch's ``infer_reference_point``, a tenth of the front's range beyond its
        nadir; :func:`clip_floor` is the same rule on the ideal side).  Early in a search the
        observed front can pass an exact front's nadir, which is why it takes the ideal to tell.
    """
    if not passed_ideal(observed):
        return np.full(observed.shape[1], REF)
    return np.maximum(REF, observed.max(axis=0) + REF - 1.0)


def directions(n_obj: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Weight vectors on the simplex for the direction proposals (rule 4).

    Args:
        n_obj: number of objectives.
        k: number of vectors.
        rng: the random source.

    Returns:
        ``(k, n_obj)`` array (``(0, n_obj)`` for ``k <= 0``): for two objectives ``(a_i, 1 - a_i)``
        with ``a_i = (i + u) / k`` and one uniform ``u``; otherwise uniform (Dirichlet(1)) draws.
    """
    if k <= 0:
        return np.zeros((0, n_obj))
    if n_obj == 2:
        a = (np.arange(k) + rng.random()) / k
        return np.stack([a, 1 - a], axis=1)
    return rng.dirichlet(np.ones(n_obj), size=k)


def direction_picks(L: np.ndarray, observed: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Rule 4's direction proposals: for each weight vector, the candidate minimising the augmented
    Chebyshev scalarisation ``max_j w_j u_j + 0.05 sum_j w_j u_j`` (ParEGO's; Knowles, IEEE TEC 2006).

    ``u`` is ``L`` itself while no observation has passed the bounds' ideal (``observed >= 0``);
    once one has, ``L`` rescaled to the observed front's box, ``(L - observed.min(0)) /
    observed.ptp(0)``.  Why: the scalarisation trades objectives off only between coordinates on a
    common, non-negative scale (ParEGO normalises by the observed ranges); on a front that lies below
    the ideal of bounds from a random probe, a coordinate below 0 never wins the maximum, so every
    direction picked the same end of the front (``docs/design.md``, "Proposals").

    Args:
        L: normalised predictions of the candidates (rule 5), shape ``(N, m)``, ``N >= 1``.
        observed: the observed non-dominated points, normalised the same way, shape ``(F, m)``, ``F >= 1``.
        W: weight vectors (:func:`directions`), shape ``(k, m)``.

    Returns:
        ``(k,)`` row indices of ``L``, one per weight vector (ties: the lowest row).
    """
    U = L
    if passed_ideal(observed):
        low, span = front_scale(observed)  # observed is a front: its own ideal and nadir, a zero span 1
        U = (L - low) / span
    picks = []
    for w in W:
        wu = w * U
        picks.append(int(np.argmin(wu.max(axis=1) + 0.05 * wu.sum(axis=1))))
    return np.array(picks, dtype=int)


def shortfall(L: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """How far each row of ``L`` is from adding hypervolume (rule 7's fallback).

    Args:
        L: candidate points, shape ``(N, m)``.
        front: the current front, shape ``(F, m)`` (may be empty).
        ref: the reference point, shape ``(m,)``.

    Returns:
        ``(N,)`` array: the smallest amount by which all coordinates of each row must decrease so that
        it lies inside the reference box and is not weakly dominated by a point of ``front`` (the
        additive epsilon to the front); 0 for a row that already adds hypervolume.
    """
    return np.maximum(np.maximum((L - ref).max(axis=1), front_gap(L, front)), 0.0)


def front_gap(L: np.ndarray, front: np.ndarray) -> np.ndarray:
    """For each row of ``L`` (``(N, m)``), the additive epsilon by which it is weakly dominated by a point
    of ``front`` (``(F, m)``): ``max_f min_j (L_j - f_j)``; ``-inf`` for an empty front."""
    if not len(front):
        return np.full(len(L), -np.inf)
    return (L[:, None, :] - front[None, :, :]).min(axis=2).max(axis=1)


def single_objective_batch(log_ei: np.ndarray, pfeas: np.ndarray, likely: np.ndarray, n: int) -> np.ndarray:
    """Rule 8: the batch of a single objective, by constrained log expected improvement.

    Args:
        log_ei: each candidate's log EI, shape ``(N,)``.
        pfeas: each candidate's probability of feasibility (failures and outcome constraints), ``(N,)``.
        likely: which candidates may be picked (the likely-feasible ones), ``(N,)`` booleans.
        n: the batch size.

    Returns:
        Up to ``n`` indices of ``likely`` candidates, highest ``log_ei + log pfeas`` first (ties in
        candidate order): EI times the probability of feasibility (Gardner et al., ICML 2014), the
        acquisition of Optuna's GP sampler and of BoTorch's constrained EI.
    """
    score = np.where(likely, log_ei + np.log(np.clip(pfeas, 1e-12, 1)), -np.inf)
    order = np.argsort(-score, kind="stable")
    return order[np.isfinite(score[order])][:n]


def pool_size(per_direction: int, n_obj: int, n: int) -> int:
    """Rule 4's proposals per objective and kind (log EI, lower confidence bound).

    Args:
        per_direction: the ``proposals_per_objective`` option.
        n_obj: number of objectives ``m`` (at least 2).
        n: the batch size.

    Returns:
        ``max(per_direction ** (m - 1), n)``.  Why: the front is ``(m - 1)``-dimensional, so covering it
        at a given spacing takes that power of the points a two-objective front needs
        (``docs/design.md``, "Proposals").
    """
    return max(per_direction ** (n_obj - 1), n)


def pareto_layers(pool: np.ndarray, L: np.ndarray, n: int) -> np.ndarray:
    """Rule 6: the Pareto filter of the pooled proposals.

    Args:
        pool: candidate indices (rows of ``L``).
        L: normalised predictions of every candidate, shape ``(N, m)``.
        n: the batch size.

    Returns:
        The members of ``pool`` non-dominated by their rows of ``L``, then, while fewer than ``n``,
        the next non-dominated layers of the rest, layer by layer.
    """
    keep: list[int] = []
    rest = np.asarray(pool)
    while len(rest) and (not keep or len(keep) < n):
        nd = nondominated(L[rest])
        keep.extend(rest[nd].tolist())
        rest = rest[~nd]
    return np.array(keep, dtype=int)


@dataclass(frozen=True)
class CoflexOptions:
    """The options of the Coflex method, in one place (rules 1-7 of the module docstring).

    :class:`CoflexCore` and :class:`coflex_ray.CoflexSearch` take an instance as ``options=`` or
    any of these fields as keyword arguments.

    Args:
        n_init: size of the Sobol initial design.  Default 10.
        batch_size: proposals per model fit (pending trials are accounted for).  Default 4.
        num_inducing: inducing points of each objective's sparse GP.  Default
            ``models.NUM_INDUCING`` (512).
        n_candidates: points drawn in the trust region, or, without a region, Sobol points of the
            global set (rule 2).  Default 1024.
        proposals_per_objective: with two objectives, the candidates each objective proposes by
            log EI, and as many by its lower confidence bound; with ``m`` objectives this number to
            the power ``m - 1`` (rule 4, :func:`pool_size`).  Default 16.
        beta: optimism of the fusion's predictions, ``mean - beta * sd`` (rule 5); 0 fuses on the
            posterior means.  Default 0.0.
        kappa: optimism of the lower-confidence-bound proposals (rule 4).  Default 2.0.
        n_directions: scalarisation directions, each proposing one candidate (rule 4).  Default 16.
        n_starts: local-search starts per objective (rule 3).  Default 4.
        local_steps: local-search moves per start; 0 turns local search off (rule 3).  Default 3.
        clip: the normalised predictions are clipped below at ``-clip`` (rule 5).  Default 0.2.
        trust_region: draw candidates in a trust region around the observed front (rule 2).
            Default ``True``.
        warp: each objective's output warp (rule 1, :func:`.warping.make_warp`): ``"auto"`` (rank
            normal scores for an objective with far-out values, else standardised values),
            ``"rank"``, ``"power"`` (Yeo-Johnson) or ``"none"``; ``True`` / ``False`` mean
            ``"rank"`` / ``"none"``.  Default ``"auto"``.
        global_candidates: Sobol points of the global set joined to the trust region's points
            (rule 2); 0: the region's points alone.  Default 1024.
        additive: give every model (objectives and feasibility) of at most ``models.ADDITIVE_MAX_N``
            observations on a space of at least ``models.ADDITIVE_MIN_D`` inputs the kernel's
            first-order additive part (rule 1); ``False``: BoTorch's default kernel alone.  Default
            ``True``.

    Raises:
        ValueError: ``n_init < 1``, ``batch_size < 1``, ``num_inducing < 2``,
            ``proposals_per_objective < 1``, ``beta < 0``, ``global_candidates < 0`` or an unknown
            ``warp``.
        TypeError: an unknown option name (from :meth:`merged`).
    """

    n_init: int = 10
    batch_size: int = 4
    num_inducing: int = NUM_INDUCING
    n_candidates: int = 1024
    proposals_per_objective: int = 16
    beta: float = 0.0
    kappa: float = 2.0
    n_directions: int = 16
    n_starts: int = 4
    local_steps: int = 3
    clip: float = 0.2
    trust_region: bool = True
    warp: str | bool = "auto"
    global_candidates: int = 1024
    additive: bool = True

    def __post_init__(self) -> None:
        check_model_options(self.n_init, self.batch_size)
        warp_kind(self.warp)
        if self.num_inducing < 2:
            raise ValueError(f"num_inducing={self.num_inducing} must be at least 2")
        if self.proposals_per_objective < 1:
            raise ValueError(f"proposals_per_objective={self.proposals_per_objective} must be at least 1")
        if self.beta < 0:
            raise ValueError(f"beta={self.beta} must be >= 0 (0 fuses on posterior means)")
        if self.global_candidates < 0:
            raise ValueError(f"global_candidates={self.global_candidates} must be >= 0 "
                             "(0: trust-region candidates only)")

    @classmethod
    def merged(cls, options: CoflexOptions | None, overrides: dict[str, Any]) -> CoflexOptions:
        """``options`` (default: the defaults) with the fields in ``overrides`` replaced.

        Raises:
            TypeError: a key of ``overrides`` is not an option; the message lists the options.
        """
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown Coflex option {unknown[0]!r}; options: "
                            + ", ".join(f.name for f in fields(cls)))
        return replace(options or cls(), **overrides)


class CoflexCore(ModelCore):
    """Ask/tell Coflex optimiser over the unit cube of ``space`` (rules 1-7 of the module docstring).

    Example::

        from coflex_ray import get_space
        from coflex_ray.searchers.coflex import CoflexCore

        space = get_space("sss")
        core = CoflexCore(space, n_obj=2, seed=0)
        for _ in range(12):
            (x,) = core.ask(1)
            c = space.decode(x)
            core.tell(x, [-c["c5"], c["c1"] + c["c5"]])  # minimised objectives; failed=True for a failure

    Args:
        space: the search space.
        n_obj: number of objectives (all minimised).
        seed: seeds every random choice (candidates, directions, model fits).  Default 0.
        bounds: normalisation bounds ``[[lo, hi]]`` per objective on the minimised scale (rule 5);
            ``None`` (default): the current observed front's ideal and nadir.
        options: the method's options (:class:`CoflexOptions`); default: its defaults.
        constraints: outcome constraints ``[(sign, bound), ...]`` on the model scale (:mod:`.core`);
            results are then told with ``c=``.  Default none.
        **overrides: any :class:`CoflexOptions` field, replacing that field of ``options``.

    Raises:
        ValueError: ``space`` is not a :class:`coflex_ray.spaces.Space`, ``n_obj < 1``, malformed
            ``bounds``, or an option out of range (:class:`CoflexOptions`).
        TypeError: an unknown option name.
    """

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *, bounds: np.ndarray | None = None,
                 options: CoflexOptions | None = None, constraints: Any = (), **overrides: Any) -> None:
        o = self.options = CoflexOptions.merged(options, overrides)
        super().__init__(space, n_obj, seed, n_init=o.n_init, batch_size=o.batch_size, bounds=bounds,
                         constraints=constraints)
        self.num_inducing, self.n_candidates = o.num_inducing, o.n_candidates
        self.proposals_per_objective, self.beta, self.kappa = o.proposals_per_objective, o.beta, o.kappa
        self.n_directions, self.n_starts, self.local_steps, self.clip = o.n_directions, o.n_starts, o.local_steps, o.clip
        self.trust_region, self.tr_length, self.tr_succ, self.tr_fail, self.tr_seen = o.trust_region, TR_INIT, 0, 0, 0
        self.warp, self.global_candidates, self.additive = warp_kind(o.warp), o.global_candidates, bool(o.additive)

    @contextmanager
    def simpler_models(self) -> Iterator[None]:
        """Within: the models of a retry after a numerical failure (:meth:`.core.ModelCore.simpler_models`),
        also with a quarter of the inducing points (greedy variance reduction then leaves out the
        near-duplicate inputs that make K_uu singular)."""
        saved = self.num_inducing
        self.num_inducing = max(2, saved // 4)
        try:
            with super().simpler_models():
                yield
        finally:
            self.num_inducing = saved

    def update_region(self, Y: np.ndarray) -> None:
        """Update the trust region's half-width by TuRBO's rule (rule 2), once per batch.

        A batch succeeds when one of the observations added since the last call is not weakly
        dominated by the earlier ones.  The half-width doubles (up to ``TR_MAX``) after ``TR_SUCC``
        successes in a row, halves after ``TR_FAIL`` failures in a row, and restarts at ``TR_INIT``
        when it falls below ``TR_MIN``.

        Args:
            Y: every good observation so far, in the order told.
        """
        if self.tr_seen and len(Y) > self.tr_seen:
            old = Y[: self.tr_seen][nondominated(Y[: self.tr_seen])]
            new = Y[self.tr_seen:]
            hit = any(not np.any(np.all(old <= y, axis=1)) for y in new)
            self.tr_succ, self.tr_fail = (self.tr_succ + 1, 0) if hit else (0, self.tr_fail + 1)
            if self.tr_succ >= TR_SUCC:
                self.tr_length, self.tr_succ = min(2 * self.tr_length, TR_MAX), 0
            if self.tr_fail >= TR_FAIL:
                self.tr_length, self.tr_fail = self.tr_length / 2, 0
                if self.tr_length < TR_MIN:
                    self.tr_length = TR_INIT
        self.tr_seen = len(Y)

    def propose(self, n: int, pending: np.ndarray) -> list[np.ndarray]:
        """One batch by rules 1-7 of the module docstring.

        Args:
            n: the batch size.
            pending: cube points being evaluated now, shape ``(p, d)``.

        Returns:
            Up to ``n`` untaken cube points, in the order picked; empty when no candidate is left.
        """
        X, Y = self.observed()
        Xf, Yf = self.front_data()  # the feasible observations when there are any (outcome constraints)
        ok = self.feasible() if self.constraints else None
        torch.manual_seed(self.seed * 100_003 + self.n_batches)
        C = np.zeros((0, self.space.ndim))
        if self.trust_region and len(Y):
            self.update_region(Y)
            C = trust_region_set(self.space, Xf[nondominated(Yf)], self.tr_length, self.n_candidates, self.rng,
                                 self.is_taken)
        if len(C) == 0:  # no region (disabled, nothing good yet) or a region with nothing left untaken
            C = self.candidates(self.n_candidates)
        elif self.global_candidates:  # the region's points and a global set, each point once
            C = np.unique(np.vstack([C, self.candidates(self.global_candidates)]), axis=0)
        if len(C) == 0:
            return []
        m = Y.shape[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models, scale, warps = [], [], []
            for j in range(m):
                warps.append(make_warp(self.warp, Y[:, j]))
                if warps[j] is not None:  # the GP models the warped objective (rule 1)
                    mean, std, ys = 0.0, 1.0, warps[j].z
                else:
                    mean, std = Y[:, j].mean(), Y[:, j].std() or 1.0
                    ys = (Y[:, j] - mean) / std
                models.append(fit_sparse_gp(X, ys, self.num_inducing, cat_dims=self.cat_dims, seed=self.seed,
                                            additive=self.additive_for(len(X))))
                # EI improves on the best feasible observation (all of them while none is feasible)
                scale.append((mean, std, float(ys[ok].min() if ok is not None and ok.any() else ys.min())))

            def posterior(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                """Means and sds of every objective at the rows of ``P``, in the models' units (the
                warped ones for a warped objective, else the objective's)."""
                out = [predict(models[j], P) for j in range(m)]
                return (np.stack([o[0] * s[1] + s[0] for o, s in zip(out, scale)], 1),
                        np.stack([o[1] * s[1] for o, s in zip(out, scale)], 1))

            def units(Q: np.ndarray) -> np.ndarray:
                """Model-unit values (a column per objective) in the objectives' own units."""
                return np.stack([Q[:, j] if w is None else w.inverse(Q[:, j]) for j, w in enumerate(warps)], 1)

            def ei(j: int, M: np.ndarray, S: np.ndarray) -> np.ndarray:
                mean, std, best = scale[j]
                return log_ei((M[:, j] - mean) / std, S[:, j] / std, best)

            M, S = posterior(C)
            C, M, S = self.improve(C, M, S, models, scale)
            P_mean = units(posterior(pending)[0]) if len(pending) else np.zeros((0, m))
            # the one place the feasibility model and the outcome constraints enter (rules 4 and 7)
            pfeas = self.feasibility(X, C)
            if self.constraints:
                pfeas = pfeas * self.constraint_prob(X, C)
        if self.constraints and not ok.any():  # nothing feasible yet: the likeliest to hold first
            return [C[i] for i in np.argsort(-pfeas, kind="stable")[:n]]
        # with outcome constraints, the confidence-bound, direction and Pareto-filter picks (and rule 8's)
        # are made among the candidates likely to meet them (all candidates without constraints)
        likely = (pfeas >= min(LIKELY, pfeas.max())) if self.constraints else np.ones(len(C), bool)
        if m == 1:
            return [C[i] for i in single_objective_batch(ei(0, M, S), pfeas, likely, n)]
        ideal, span = front_scale(Yf) if self.bounds is None else (self.bounds[:, 0], np.diff(self.bounds, axis=1)[:, 0])
        observed = (Yf[nondominated(Yf)] - ideal) / span
        # rule 5 (optimistic if beta > 0)
        L = np.maximum((units(M - self.beta * S) - ideal) / span, clip_floor(observed, self.clip))
        sub = np.flatnonzero(likely)
        pooled: set[int] = set()
        k = pool_size(self.proposals_per_objective, m, n)
        for j in range(m):
            pooled.update(np.argsort(-(ei(j, M, S) + np.log(np.clip(pfeas, 1e-12, 1))), kind="stable")[:k].tolist())
            pooled.update(sub[np.argsort(M[sub, j] - self.kappa * S[sub, j], kind="stable")[:k]].tolist())
        pooled.update(sub[direction_picks(L[sub], observed, directions(m, max(self.n_directions, n), self.rng))].tolist())
        pool = np.array(sorted(pooled))
        pool = pool[likely[pool]]  # all of it without constraints
        keep = pareto_layers(pool, L, n)
        front = np.vstack([observed, (P_mean - ideal) / span])
        return [C[i] for i in self.fuse(keep, L[keep], pfeas[keep], front, n, ref_point(observed))]

    def feasibility(self, X: np.ndarray, C: np.ndarray) -> np.ndarray:
        """The probability that each candidate is feasible (the weight of rules 4 and 7).

        Args:
            X: the good observations (the classifier also takes every failed point).
            C: candidate cube points, shape ``(N, d)``.

        Returns:
            ``(N,)`` probabilities from a sparse-GP classifier of every told point
            (:meth:`.core.ModelCore.feasibility_model`); all 1 while nothing has failed.
        """
        if not self.failed:
            return np.ones(len(C))
        model = self.feasibility_model(X)
        return prob_feasible(model, C)

    def constraint_prob(self, X: np.ndarray, C: np.ndarray) -> np.ndarray:
        """The probability that every outcome constraint holds at each candidate (rules 4 and 7).

        Args:
            X: the good observations (their constraint values are :meth:`.core.Core.constraint_values`).
            C: candidate cube points, shape ``(N, d)``.

        Returns:
            ``(N,)`` product over the constraints of ``Phi(sign * (bound - mean) / sd)`` under one
            sparse GP per constrained metric (standardised values, the objectives' model code); all 1
            without constraints.
        """
        from scipy.special import ndtr

        p = np.ones(len(C))
        V = self.constraint_values()
        for k, (sign, bound) in enumerate(self.constraints):
            v = V[:, k]
            mean, std = v.mean(), v.std() or 1.0
            model = fit_sparse_gp(X, (v - mean) / std, self.num_inducing, cat_dims=self.cat_dims, seed=self.seed,
                                  additive=self.additive_for(len(X)))
            mu, sd = predict(model, C)
            mu, sd = mu * std + mean, np.maximum(sd * std, 1e-12)
            p = p * ndtr(sign * (bound - mu) / sd)
        return p

    def improve(self, C: np.ndarray, M: np.ndarray, S: np.ndarray, models: list, scale: list
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rule 3: add the end points of each objective's local search of its log EI to the candidates.

        Args:
            C: candidate cube points (legal bin centres), shape ``(N, d)``.
            M, S: their posterior means and standard deviations per objective, shape ``(N, m)``.
            models: the objectives' fitted GPs.
            scale: per objective ``(mean, std, best)``: how the GP's targets were standardised and
                their minimum.

        Returns:
            ``(C, M, S)`` with the new end points (and their predictions) appended.
        """
        if self.local_steps <= 0 or self.n_starts <= 0:
            return C, M, S
        found: list = []
        n_levels = np.array([d.n for d in self.space.dims])
        idx = np.minimum(np.floor(C * n_levels), n_levels - 1).astype(int)  # C is snapped: its legal indices
        for j, (mean, std, best) in enumerate(scale):
            vals = log_ei((M[:, j] - mean) / std, S[:, j] / std, best)
            top = np.argsort(-vals, kind="stable")[: self.n_starts]
            starts = [tuple(int(v) for v in r) for r in idx[top]]
            found += local_search(self.space, starts, lambda P, j=j: log_ei(*predict(models[j], P), scale[j][2]),
                                  self.is_taken, self.local_steps, start_values=vals[top])
        have = set(map(tuple, idx.tolist()))
        new = [i for i in dict.fromkeys(found) if i not in have]
        if not new:
            return C, M, S
        P = to_cubes(self.space, np.array(new))
        out = [predict(mdl, P) for mdl in models]
        Mn = np.stack([o[0] * s[1] + s[0] for o, s in zip(out, scale)], 1)
        Sn = np.stack([o[1] * s[1] for o, s in zip(out, scale)], 1)
        return np.vstack([C, P]), np.vstack([M, Mn]), np.vstack([S, Sn])

    @staticmethod
    def _by_shortfall(rest: np.ndarray, L: np.ndarray, front: np.ndarray, ref: np.ndarray, n: int) -> list[int]:
        """Rule 7's fallback for the rest of a batch: ``n`` rows of ``rest`` picked one by one, each the
        smallest :func:`shortfall` to the front grown by the earlier picks (ties: the lower row).

        The shortfall's front term is a maximum over the front's points, so a pick updates it with its
        one new point: ``O(len(rest) * m)`` per pick rather than a recomputation against the whole front.
        """
        Lr = L[rest]
        box = (Lr - ref).max(axis=1)
        dom = front_gap(Lr, front)
        alive, picks = np.ones(len(rest), bool), []
        for _ in range(min(n, len(rest))):
            live = np.flatnonzero(alive)
            k = int(live[np.argmin(np.maximum(np.maximum(box[live], dom[live]), 0.0))])
            picks.append(int(rest[k]))
            alive[k] = False
            dom = np.maximum(dom, (Lr - Lr[k]).min(axis=1))
        return picks

    @staticmethod
    def fuse(pool: np.ndarray, L: np.ndarray, pfeas: np.ndarray, front: np.ndarray, n: int,
             ref: np.ndarray | None = None) -> list[int]:
        """Rule 7: a greedy batch by hypervolume improvement of the normalised predictions.

        Args:
            pool: candidate indices, one per row of ``L``.
            L: normalised predictions of the pool, shape ``(P, m)``.
            pfeas: probability of feasibility of the pool, shape ``(P,)``.
            front: the normalised starting front (observed non-dominated points and pending means).
            n: the batch size.
            ref: the reference point (:func:`ref_point`); ``None``: ``REF`` in every coordinate.

        Returns:
            Up to ``n`` members of ``pool``, in the order picked.
        """
        ref = np.full(L.shape[1], REF) if ref is None else np.asarray(ref, float)
        chosen: list[int] = []
        base = hypervolume(front, ref)
        # lazy greedy (Minoux 1978): a point's gain only shrinks as the front grows (the hypervolume is
        # submodular), so a stale gain is an upper bound and only the heap's top needs recomputing
        heap = [(-(hypervolume(np.vstack([front, L[r]]), ref) - base) * pfeas[r], r) for r in range(len(pool))]
        heapq.heapify(heap)
        while heap and len(chosen) < n:
            _, r = heapq.heappop(heap)
            gain = (hypervolume(np.vstack([front, L[r]]), ref) - base) * pfeas[r]
            if heap and gain < -heap[0][0]:
                heapq.heappush(heap, (-gain, r))  # no longer the best: back with its fresh gain
                continue
            if gain <= 1e-12:  # nothing adds hypervolume, now or later (gains only shrink): by shortfall
                heapq.heappush(heap, (-gain, r))
                rest = np.array(sorted(q for _, q in heap))
                return chosen + [int(pool[q]) for q in CoflexCore._by_shortfall(rest, L, front, ref, n - len(chosen))]
            chosen.append(int(pool[r]))
            front = np.vstack([front, L[r]])
            base = hypervolume(front, ref)
        return chosen
