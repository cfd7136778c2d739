"""CoflexSearch: multi-objective Bayesian optimisation with one sparse GP per objective and Pareto fusion.

After "Coflex: Enhancing HW-NAS with Sparse Gaussian Processes" (ICCAD 2025), implemented as the
method describes, with all objectives minimised (``max`` metrics are negated).

One batch of ``batch_size`` proposals is made as follows.

1. **Models.** For every objective, a sparse GP (:func:`.models.fit_sparse_gp`: SGPR, ``num_inducing``
   farthest-point inducing inputs, cost linear in the number of observations) on the unit-cube inputs
   and the standardised objective (``log_metrics``, e.g. EDP, are modelled in log space).
2. **Candidate set.** ``n_candidates`` scrambled-Sobol points of the cube plus Gaussian perturbations
   (sigma 0.08) and one-coordinate mutations of the observed Pareto-optimal points, snapped to legal
   values; points already evaluated, failed or pending are removed.
3. **Per-objective proposals.** Each objective's model scores the candidates with BoTorch's
   log expected improvement (:func:`log_ei`) on that objective alone and proposes its ``proposals_per_objective``
   best candidates (default 64: a single objective's top few all sit at one end of the front, so a
   short list leaves the fusion nothing in between; measured on DTLZ2, 8 lost to random search).
4. **Pareto fusion.** All proposals are pooled; every objective's model predicts its posterior mean
   for every pooled candidate; only candidates that are non-dominated among the pool (by predicted
   means) are kept.
5. **Batch by hypervolume contribution.** Objectives are normalised with fixed bounds
   (``objective_bounds`` if given, else the min and max of the evaluated initial design, frozen at the
   first model-based batch) and the reference point is fixed at 1.1 in every normalised coordinate.
   Greedily, the candidate whose prediction adds the most hypervolume to the current front is
   taken and its prediction joins the front.  The prediction is the posterior mean minus ``beta``
   posterior standard deviations (default ``beta=0``: the mean, as the method describes; ``beta>0``
   gives the optimistic SMS-EGO-style variant).  The front starts as the observed non-dominated
   points plus the predicted means of pending trials (the "kriging believer" liar), so parallel
   proposals differ and avoid what is already running.  When no candidate adds hypervolume, the
   candidate with the largest summed posterior standard deviation (normalised) is taken instead.

Hypervolumes come from moocore.  Everything is seeded: the candidate set from the core's numpy
RNG, model fitting after ``torch.manual_seed(seed, batch number)``.

``CoflexCore`` is the optimiser (ask/tell, no Ray, :mod:`.core`); ``CoflexSearch``
(:mod:`.tune_searchers`) is its Ray Tune searcher.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..spaces import Space
from .core import ModelCore
from .models import fit_sparse_gp, predict
from .pareto import hypervolume, nondominated

REF = 1.1


def log_ei(mu: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Log expected improvement below ``best`` (minimisation) of Gaussian predictions.

    The same quantity as BoTorch's ``LogExpectedImprovement(maximize=False)``, computed with BoTorch's
    numerically stable helper on a flat posterior: calling the acquisition module on a ``(N, 1, d)``
    batch makes gpytorch broadcast the training data over the batch (5.7 GB at n = 1000).
    """
    from botorch.acquisition.analytic import _log_ei_helper

    mu_t, sd_t = torch.as_tensor(mu, dtype=torch.double), torch.as_tensor(sd, dtype=torch.double).clamp_min(1e-12)
    return (_log_ei_helper((best - mu_t) / sd_t) + sd_t.log()).numpy()


def check_options(num_inducing: int, proposals_per_objective: int, beta: float) -> None:
    if num_inducing < 2:
        raise ValueError(f"num_inducing={num_inducing} must be at least 2")
    if proposals_per_objective < 1:
        raise ValueError(f"proposals_per_objective={proposals_per_objective} must be at least 1")
    if beta < 0:
        raise ValueError(f"beta={beta} must be >= 0 (0 fuses on posterior means)")


class CoflexCore(ModelCore):
    """Ask/tell Coflex optimiser over the unit cube of ``space`` (see the module docstring).

    Args:
        space: the search space.
        n_obj: number of objectives (all minimised).
        seed: seeds the candidate sets and the model fits.
        n_init: size of the Sobol initial design.
        batch_size: proposals per model fit.
        bounds: fixed normalisation bounds ``[[lo, hi]]`` per objective; ``None``: frozen from the
            initial design.
        num_inducing: inducing points of each sparse GP.
        n_candidates: Sobol points of the candidate set (as many again around the Pareto front).
        proposals_per_objective: candidates each objective's model proposes to the fusion.
        beta: the fusion's optimism (posterior mean minus ``beta`` standard deviations).
    """

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *, n_init: int = 10, batch_size: int = 4,
                 bounds: np.ndarray | None = None, num_inducing: int = 128, n_candidates: int = 1024,
                 proposals_per_objective: int = 64, beta: float = 0.0) -> None:
        super().__init__(space, n_obj, seed, n_init=n_init, batch_size=batch_size, bounds=bounds)
        check_options(num_inducing, proposals_per_objective, beta)
        self.num_inducing, self.n_candidates = num_inducing, n_candidates
        self.proposals_per_objective, self.beta = proposals_per_objective, beta

    def propose(self, n: int, pending: np.ndarray) -> list[np.ndarray]:
        X, Y = self.observed()
        torch.manual_seed(self.seed * 100_003 + self.n_batches)
        self.freeze_bounds()
        C = self.candidates(self.n_candidates)
        if len(C) == 0:
            return []
        P = pending
        mus, sds, pending_means, pooled = [], [], [], set()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for j in range(Y.shape[1]):
                mean, std = Y[:, j].mean(), Y[:, j].std() or 1.0
                ys = (Y[:, j] - mean) / std
                model = fit_sparse_gp(X, ys, self.num_inducing)
                mu, sd = predict(model, C)  # one flat posterior over all candidates
                vals = log_ei(mu, sd, best=float(ys.min()))
                pooled.update(np.argsort(-vals, kind="stable")[: self.proposals_per_objective].tolist())
                mus.append(mu * std + mean)
                sds.append(sd * std)
                if len(P):
                    pending_means.append(predict(model, P)[0] * std + mean)
        pool = np.array(sorted(pooled))
        M, S = np.stack(mus, 1)[pool], np.stack(sds, 1)[pool]
        keep = nondominated(M)
        pending_y = np.stack(pending_means, 1) if pending_means else np.zeros((0, Y.shape[1]))
        return [C[i] for i in self.fuse(pool[keep], M[keep], S[keep], Y, pending_y, n)]

    def fuse(self, pool: np.ndarray, M: np.ndarray, S: np.ndarray, Y: np.ndarray, pending: np.ndarray,
             n: int) -> list[int]:
        """Greedy batch by hypervolume contribution of predicted means (see the module docstring)."""
        lo, span = self.bounds[:, 0], self.bounds[:, 1] - self.bounds[:, 0]
        ref = np.full(Y.shape[1], REF)
        # kriging believer: pending points count at their predicted means
        front = (np.vstack([Y[nondominated(Y)], pending]) - lo) / span
        Sn = S / span
        Mn = (M - lo) / span - self.beta * Sn  # optimistic (lower confidence bound) prediction
        chosen: list[int] = []
        remaining = list(range(len(pool)))
        while remaining and len(chosen) < n:
            base = hypervolume(front, ref)
            gains = np.array([hypervolume(np.vstack([front, Mn[r]]), ref) - base for r in remaining])
            k = int(np.argmax(gains)) if gains.max() > 1e-12 else int(np.argmax(Sn[remaining].sum(axis=1)))
            r = remaining.pop(k)
            chosen.append(int(pool[r]))
            front = np.vstack([front, Mn[r]])
        return chosen
