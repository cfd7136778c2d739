"""CoflexSearch: multi-objective Bayesian optimisation with one sparse GP per objective and Pareto fusion.

After "Coflex: Enhancing HW-NAS with Sparse Gaussian Processes" (ICCAD 2025): per-objective sparse
GPs, per-objective proposals, Pareto fusion by non-dominance; all objectives minimised (``max``
metrics are negated).  The fusion is uncertainty-aware and can pick points anywhere on the front.

One batch of ``batch_size`` proposals is made as follows.

1. **Models.** For every objective, a sparse GP (:func:`.models.fit_sparse_gp`, cost linear in the
   number of observations) on the unit-cube inputs, with BoTorch's default kernel plus a first-order
   additive part (``additive=True``, :func:`.models.make_kernel`: one one-dimensional kernel per knob,
   summed, so an effect that adds up over knobs is learnt from every observation; without it the
   full ARD kernel explained DTLZ2's distance term as noise and picks drifted to the cube's corners;
   only up to ``models.ADDITIVE_MAX_N`` = 128 observations, beyond which the full kernel alone is
   both better calibrated and faster, see there), and the objective, warped per objective
   (``warp="auto"``, :func:`.warping.make_warp`): when its observations have a far-out value (Tukey:
   beyond the quartiles by three interquartile ranges, e.g. NAS-Bench-201's 90 %-error cells), the
   GP models their rank normal scores ``Phi^-1((rank - 0.5) / n)`` (a Gaussian copula,
   :class:`.warping.RankGauss`; ties share their mean rank), so those few values no longer dominate
   the fit; otherwise it models the standardised values, whose spacing lets the GP extrapolate an
   effect past the best observation (the rank scores cannot: on the SSS study the copula's EDP
   model saw no gain in shrinking the last channel count, and two of ten runs never reached the
   front's low-EDP end).  Measured with a dev harness (not shipped; the studies' evaluations
   without Ray, 10 seeds, budget 100): the copula on every objective 0.901 HV fraction on
   NAS-Bench-201 x pixel3 but 0.861 on SSS x accelerator; the standardised values 0.820 and 0.903;
   a Yeo-Johnson warp (:class:`.warping.PowerWarp`) 0.846 and 0.886; "auto" 0.904 on NAS-Bench-201,
   and on fresh seeds 10-19 "auto" against the copula 0.908 vs 0.889 (NAS-Bench-201) and 0.890 vs
   0.866 (SSS).  On DTLZ2 the copula did better (4 of 10 seeds above random, "auto" 0): its bounded
   extrapolation keeps picks away from the cube's corners.  Choosing between the copula and the
   standardised values per objective by the GP's leave-one-out log density (in the objective's
   units) was tried too (dev patch; NAS-Bench-201 budget 30, seeds 0-19; SSS budget 40, seeds
   0-2): it chose the copula in all 248 fits, i.e. it is the rank warp, which loses on SSS
   (presumably the density rewards the copula's Gaussian marginals, not the extrapolation the
   search needs).
   EI and LCB (rules 3-4) are computed in the model's units, which keep the objective's
   order; the fusion (rules 5-7) maps predictions back to the objective's units by the warp's
   inverse (rank scores: piecewise linear between the observed values, linear beyond them;
   ``log_metrics``, e.g. EDP, in log space).  ``warp`` may also force "rank", "power" or "none".
2. **Candidate set: a trust region around the front, plus a global set.**  About ``n_candidates`` points drawn
   uniformly in boxes of half-width ``length`` (unit-cube units) around each observed Pareto-optimal
   point, a categorical knob keeping the centre's value or, with probability ``length``, a random
   one, plus every one-step neighbour of each centre, snapped to legal values
   (:func:`.candidates.trust_region_set`); points already evaluated, failed or pending are removed.
   ``length`` follows TuRBO's rule (Eriksson et al., NeurIPS 2019; MORBO applies it to several
   objectives): it starts at ``TR_INIT``, doubles after ``TR_SUCC`` batches in a row that put a new
   point on the observed front, halves after ``TR_FAIL`` batches that did not, and restarts when it
   falls below ``TR_MIN``.  A global set joins the region's points (each point once):
   ``global_candidates`` scrambled-Sobol points of the cube plus Gaussian perturbations and
   one-coordinate mutations of the Pareto-optimal points (:func:`.candidates.candidate_set`); the
   global set alone (``n_candidates`` Sobol points) is used without the region
   (``trust_region=False``, nothing good observed yet, or nothing untaken in the region).  Why both:
   on NAS-Bench-201 (six categorical knobs, 15,625 cells) the region alone kept the search too local
   (dev harness, 10 seeds, budget 30: HV fraction 0.745 with the region alone, 0.790 without any
   region, 0.785 with both), while on the 12-dim SSS codec the region helped (ZDT1 HV 10.19 with it
   alone, 9.79 without, 10.14 with both).  Why a region at all: with 10-30 observations in 12 dimensions almost every
   far point has the prior's standard deviation, so optimistic and EI proposals from the whole cube
   go to its corners (measured on DTLZ2 over the SSS x accelerator codec: distance term g 1.2-1.5
   at the picks against random's 0.9).
3. **Local search.** For every objective, its ``n_starts`` best candidates by log expected
   improvement (:func:`log_ei`, BoTorch's) are hill-climbed on that objective's log EI over their
   untaken legal neighbours (:func:`.candidates.local_search`: one step in an ordinal/integer knob,
   also an eighth of its range for knobs with more than 8 values, or any other value of a
   categorical knob), at most ``local_steps`` moves; the end points join the candidate set.
4. **Per-objective proposals.** Each objective's model proposes its ``proposals_per_objective``
   best candidates by log EI (plus the log probability of feasibility, rule 7) and as many by its
   lower confidence bound ``mean - kappa * sd``.
   (EI and LCB on one objective alone favour the ends of the front.)  In addition, for each of
   ``n_directions`` random weight vectors ``w`` on the simplex (evenly spaced for two objectives),
   the candidate minimising the augmented Chebyshev scalarisation ``max_j w_j l_j + 0.05 sum_j w_j l_j``
   of the normalised predictions ``l`` (rule 5) is proposed: these reach the middle
   of the front.
5. **Normalisation.** Objectives are normalised by the objective bounds when the searcher was
   given them (0 at the lower, 1 at the upper bound; a study hands its bounds to every searcher that
   uses them, the BoTorch baselines too), otherwise by the **current** observed front: 0 at its ideal
   point (the per-objective minimum of every good observation), 1 at its nadir (the per-objective
   maximum over the non-dominated observations; where the front is a single point in an objective,
   the maximum over all observations); the reference point is 1.1 in every coordinate.  The
   (optimistic) prediction of a candidate is ``l = (mean - beta * sd - ideal) / (nadir - ideal)``,
   clipped below at ``-clip``: a prediction far beyond the observed ideal (an extrapolating model,
   or a large ``sd``) gets the credit of ``-clip``, not more.  By default ``beta = 0``: ``l`` is the
   normalised posterior mean.  Where uncertainty enters the fusion: through what it fuses (the
   EI and LCB proposals of rule 4 are chosen for their uncertainty, the trust region of rule 2
   follows success), the feasibility probability of rule 7, and, with ``beta > 0``, through ``l``.
   Why the means: on DTLZ2 laid over the SSS x accelerator codec (``python -m coflex_ray.bench
   synthetic``, seeds 0-9, budget 30) ``beta`` 1 / 0.5 / 0.25 / 0 gave median HV 0.199 / 0.333 /
   0.347 / 0.547 and 2 / 6 / 8 / 10 seeds above random search (0.5 and 0.25 by a dev script that
   reproduces the bench's figures for 0 and 1); on fresh seeds 10-19 ``beta = 0`` was above random
   on 10 of 10.  Presumably an optimistic ``l`` credits a candidate for its ignorance twice (its
   proposal and its fusion score), which with 10-30 observations in 12 dimensions favours the
   unexplored corners.  A Monte-Carlo expected hypervolume improvement in place of rules 6-7 (128
   posterior samples per candidate, greedy over sample-wise fronts; dev script) did no better than
   ``beta = 1`` (0.181, 2 of 10).  On the four real studies (NB201 x pixel3 and SSS, budgets 30
   and 100; README, "Results") the median HV fraction moved by +0.006, +0.016, +0.030 and -0.001
   with ``beta = 0``, IGD+ improved on SSS at budget 100 (two-sided Mann-Whitney p = 0.038),
   nothing else significant.
6. **Pareto fusion.** Of the pooled proposals, only those non-dominated among the pool by their
   predictions ``l`` are kept (when they are fewer than the batch, the next Pareto layers
   of the pool too, so a batch is full).
7. **Batch by hypervolume improvement of the predictions.** The front starts as the observed non-dominated
   points plus the predicted means of pending trials (the "kriging believer" liar).  Greedily, the
   candidate whose ``l`` adds the most hypervolume (moocore) to the front is taken
   (hypervolume improvement times the candidate's probability of being feasible, see the
   ``FEASIBILITY`` line of :meth:`CoflexCore.propose`: a sparse-GP classifier of every told point,
   :func:`.models.fit_feasibility`, fitted once a point has failed; 1 before), and its ``l`` joins the
   front, so the next pick must improve another part of the front (diversity across the batch).
   When no candidate adds hypervolume, the one closest to adding some is taken: the smallest
   amount by which all its coordinates ``l`` would have to fall to leave the front's dominated
   region and enter the reference box (:func:`shortfall`; the largest posterior standard deviation,
   used before, sent picks to the cube's corners).

What differs from the first implementation (measured on DTLZ2 laid over the SSS x accelerator
codec, where every pick sat at an end of the front): LCB and direction proposals, local search,
the trust region, the given bounds or the current front's normalisation instead of bounds frozen
from the initial design, the clip, the shortfall fallback, the output warp and the kernel's
additive part.  The first implementation fused on posterior means too (``beta = 0``); ``beta = 1``
was the default in between, until the additive part made the means worth trusting (rule 5; on the
code before it, beta 0 gave 3 of 10 DTLZ2 seeds above random, dev script).  Everything is seeded:
the candidate set and the directions from the core's numpy RNG, model fitting after
``torch.manual_seed(seed, batch number)``.

``CoflexCore`` is the optimiser (ask/tell, no Ray, :mod:`.core`); ``CoflexSearch``
(:mod:`.tune_searchers`) is its Ray Tune searcher.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..spaces import Space
from .candidates import local_search, to_cubes, trust_region_set
from .core import ModelCore
from .models import NUM_INDUCING, fit_sparse_gp, predict, prob_feasible
from .pareto import hypervolume, nondominated
from .warping import make_warp, warp_kind

REF = 1.1
# Trust region (rule 2): initial, smallest and largest half-width in the unit cube, and how many
# batches in a row must succeed (double it) or fail (halve it).  TuRBO's rule with its constants scaled
# to budgets of tens of batches (TuRBO: 0.4 / 0.5**8 / 0.8, 3 successes, ceil(d / q) failures).
TR_INIT, TR_MIN, TR_MAX, TR_SUCC, TR_FAIL = 0.3, 1 / 128, 0.8, 2, 2


def log_ei(mu: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Log expected improvement below ``best`` (minimisation) of Gaussian predictions.

    The same quantity as BoTorch's ``LogExpectedImprovement(maximize=False)``, computed with BoTorch's
    numerically stable helper on a flat posterior: calling the acquisition module on a ``(N, 1, d)``
    batch makes gpytorch broadcast the training data over the batch (5.7 GB at n = 1000).
    """
    from botorch.acquisition.analytic import _log_ei_helper

    mu_t, sd_t = torch.as_tensor(mu, dtype=torch.double), torch.as_tensor(sd, dtype=torch.double).clamp_min(1e-12)
    return (_log_ei_helper((best - mu_t) / sd_t) + sd_t.log()).numpy()


def front_scale(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ideal, span)`` normalising by the current observed front (rule 5 of the module docstring)."""
    ideal = Y.min(axis=0)
    nadir = Y[nondominated(Y)].max(axis=0)
    nadir = np.where(nadir > ideal, nadir, Y.max(axis=0))
    span = nadir - ideal
    return ideal, np.where(span > 0, span, 1.0)


def directions(n_obj: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` weight vectors on the simplex: evenly spaced (interior) for two objectives, else uniform."""
    if k <= 0:
        return np.zeros((0, n_obj))
    if n_obj == 2:
        a = (np.arange(k) + rng.random()) / k
        return np.stack([a, 1 - a], axis=1)
    return rng.dirichlet(np.ones(n_obj), size=k)


def shortfall(L: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """How far each row of ``L`` is from adding hypervolume: the smallest amount by which all its
    coordinates must decrease so that it is inside the reference box and not weakly dominated by a
    point of ``front`` (the additive epsilon to the front, 0 for a point that already adds some)."""
    box = (L - ref).max(axis=1)
    dom = (L[:, None, :] - front[None, :, :]).min(axis=2).max(axis=1) if len(front) else np.full(len(L), -np.inf)
    return np.maximum(np.maximum(box, dom), 0.0)


def pareto_layers(pool: np.ndarray, L: np.ndarray, n: int) -> np.ndarray:
    """Rule 6: the pool's members non-dominated by ``L``, then (while fewer than ``n``) the next layers."""
    keep: list[int] = []
    rest = np.asarray(pool)
    while len(rest) and (not keep or len(keep) < n):
        nd = nondominated(L[rest])
        keep.extend(rest[nd].tolist())
        rest = rest[~nd]
    return np.array(keep, dtype=int)


def check_options(num_inducing: int, proposals_per_objective: int, beta: float, global_candidates: int,
                  warp: str | bool = "auto") -> None:
    warp_kind(warp)
    if num_inducing < 2:
        raise ValueError(f"num_inducing={num_inducing} must be at least 2")
    if proposals_per_objective < 1:
        raise ValueError(f"proposals_per_objective={proposals_per_objective} must be at least 1")
    if beta < 0:
        raise ValueError(f"beta={beta} must be >= 0 (0 fuses on posterior means)")
    if global_candidates < 0:
        raise ValueError(f"global_candidates={global_candidates} must be >= 0 (0: trust-region candidates only)")


class CoflexCore(ModelCore):
    """Ask/tell Coflex optimiser over the unit cube of ``space`` (see the module docstring).

    Args:
        space: the search space.
        n_obj: number of objectives (all minimised).
        seed: seeds the candidate sets and the model fits.
        n_init: size of the Sobol initial design.
        batch_size: proposals per model fit.
        bounds: fixed normalisation bounds ``[[lo, hi]]`` per objective (rule 5); ``None``: the
            current observed front's.
        num_inducing: inducing points of each sparse GP.
        n_candidates: Sobol points of the candidate set (as many again around the Pareto front).
        proposals_per_objective: candidates each objective proposes by log EI (and as many by LCB).
        beta: the fusion's optimism (posterior mean minus ``beta`` standard deviations; 0, the
            default: the posterior means, rule 5).
        kappa: the LCB proposals' optimism.
        n_directions: scalarisation directions that propose one candidate each.
        n_starts, local_steps: local-search starts per objective and moves per start.
        clip: the normalised predictions ``l`` are clipped below at ``-clip``.
        trust_region: draw the candidates in a trust region around the front (rule 2).
        warp: each objective's output warp (rule 1): "auto" (rank normal scores when the objective
            has far-out values, else none), "rank", "power" (Yeo-Johnson) or "none" (standardised);
            ``True`` / ``False`` mean "rank" / "none".
        global_candidates: Sobol points of the global set that joins the trust region's (rule 2; 0:
            the region's points alone).
        additive: give every model (objectives and feasibility) of at most ``models.ADDITIVE_MAX_N``
            observations the kernel's first-order additive part (rule 1, :func:`.models.make_kernel`);
            ``False``: BoTorch's default kernel alone.
    """

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *, n_init: int = 10, batch_size: int = 4,
                 bounds: np.ndarray | None = None, num_inducing: int = NUM_INDUCING, n_candidates: int = 1024,
                 proposals_per_objective: int = 16, beta: float = 0.0, kappa: float = 2.0,
                 n_directions: int = 16, n_starts: int = 4, local_steps: int = 3, clip: float = 0.2,
                 trust_region: bool = True, warp: str | bool = "auto", global_candidates: int = 1024,
                 additive: bool = True) -> None:
        super().__init__(space, n_obj, seed, n_init=n_init, batch_size=batch_size, bounds=bounds)
        check_options(num_inducing, proposals_per_objective, beta, global_candidates, warp)
        self.num_inducing, self.n_candidates = num_inducing, n_candidates
        self.proposals_per_objective, self.beta, self.kappa = proposals_per_objective, beta, kappa
        self.n_directions, self.n_starts, self.local_steps, self.clip = n_directions, n_starts, local_steps, clip
        self.trust_region, self.tr_length, self.tr_succ, self.tr_fail, self.tr_seen = trust_region, TR_INIT, 0, 0, 0
        self.warp, self.global_candidates, self.additive = warp_kind(warp), global_candidates, bool(additive)

    def update_region(self, Y: np.ndarray) -> None:
        """TuRBO's rule on the whole batch: the region doubles after ``TR_SUCC`` batches that put a new
        point on the front, halves after ``TR_FAIL`` batches that did not, and restarts when too small."""
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
        X, Y = self.observed()
        torch.manual_seed(self.seed * 100_003 + self.n_batches)
        C = np.zeros((0, self.space.ndim))
        if self.trust_region and len(Y):
            self.update_region(Y)
            C = trust_region_set(self.space, X[nondominated(Y)], self.tr_length, self.n_candidates, self.rng,
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
                scale.append((mean, std, float(ys.min())))

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
            # FEASIBILITY: the one place a feasibility model enters (every told point, failed ones included)
            pfeas = self.feasibility(X, C)
        ideal, span = front_scale(Y) if self.bounds is None else (self.bounds[:, 0], np.diff(self.bounds, axis=1)[:, 0])
        L = np.maximum((units(M - self.beta * S) - ideal) / span, -self.clip)  # rule 5 (optimistic if beta > 0)
        pooled: set[int] = set()
        k = self.proposals_per_objective
        for j in range(m):
            pooled.update(np.argsort(-(ei(j, M, S) + np.log(np.clip(pfeas, 1e-12, 1))), kind="stable")[:k].tolist())
            pooled.update(np.argsort(M[:, j] - self.kappa * S[:, j], kind="stable")[:k].tolist())
        for w in directions(m, self.n_directions, self.rng):
            wl = w * L
            pooled.add(int(np.argmin(wl.max(axis=1) + 0.05 * wl.sum(axis=1))))
        pool = np.array(sorted(pooled))
        keep = pareto_layers(pool, L, n)
        front = (np.vstack([Y[nondominated(Y)], P_mean]) - ideal) / span
        return [C[i] for i in self.fuse(keep, L[keep], pfeas[keep], front, n)]

    def feasibility(self, X: np.ndarray, C: np.ndarray) -> np.ndarray:
        """Rule 4's weight: the probability that each candidate is feasible, from a sparse-GP classifier
        of every told point (:func:`.models.fit_feasibility`); 1 while nothing has failed."""
        if not self.failed:
            return np.ones(len(C))
        model = self.feasibility_model(X)
        return prob_feasible(model, C)

    def improve(self, C: np.ndarray, M: np.ndarray, S: np.ndarray, models: list, scale: list
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rule 3: add the end points of each objective's local search of its log EI to the candidates."""
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
    def fuse(pool: np.ndarray, L: np.ndarray, pfeas: np.ndarray, front: np.ndarray, n: int) -> list[int]:
        """Rule 7: greedy batch by hypervolume improvement of the predictions (normalised ``L`` and ``front``)."""
        ref = np.full(L.shape[1], REF)
        chosen: list[int] = []
        remaining = list(range(len(pool)))
        while remaining and len(chosen) < n:
            base = hypervolume(front, ref)
            gains = np.array([hypervolume(np.vstack([front, L[r]]), ref) - base for r in remaining])
            gains *= pfeas[remaining]
            k = int(np.argmax(gains)) if gains.max() > 1e-12 else int(np.argmin(shortfall(L[remaining], front, ref)))
            r = remaining.pop(k)
            chosen.append(int(pool[r]))
            front = np.vstack([front, L[r]])
        return chosen
