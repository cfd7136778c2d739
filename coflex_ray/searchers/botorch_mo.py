"""BoTorch multi-objective baselines on exact GPs: qNEHVI, qEHVI, qNParEGO, as Ray Tune searchers.

Same codec, candidate set and batch interface as CoflexSearch (:mod:`.core`, :mod:`.candidates`),
so the comparison isolates the model and the acquisition:

* **Model**: one exact ``SingleTaskGP`` over all objectives (batched multi-output,
  :func:`.models.fit_exact_gp`) with the shared kernel of :func:`.models.make_kernel` without the
  additive part, fitted by maximum a posteriori.  Cost O(n^3): this is what the sparse GP avoids.
* **Objectives**: minimised objectives are normalised with fixed bounds (given, or frozen from the
  initial design) and **negated** for BoTorch's maximisation convention; the reference point is
  fixed at -1.1 in that normalised, negated space (i.e. 1.1 x the normalised nadir box).
* **Acquisitions** (BoTorch's log-space versions, which BoTorch recommends over the originals):
  ``qnehvi`` = ``qLogNoisyExpectedHypervolumeImprovement``; ``qehvi`` =
  ``qLogExpectedHypervolumeImprovement`` with a fast non-dominated partitioning of the observed
  front; ``qnparego`` = ``qLogNoisyExpectedImprovement`` of an augmented Chebyshev scalarisation with
  fresh random simplex weights for every point of the batch.  With a single metric all three are
  ``qLogNoisyExpectedImprovement`` of that metric.
* **Optimisation** (:meth:`BoTorchCore.optimise`), as BoTorch recommends for mixed and discrete
  spaces: ``optimize_acqf_mixed_alternating`` (sequential greedy for ``q > 1``) over the legal bin
  centres of the cube, every ordinal/integer knob given as a discrete dimension and every
  categorical knob as a categorical one (knobs with more than 20 values are relaxed to continuous
  by BoTorch and rounded); ``raw_samples`` initial points, ``num_restarts`` starts.  The result is
  snapped to legal values; points that are taken (evaluated, failed, pending) or repeated within
  the batch are replaced by the best remaining points of the shared candidate set
  (``optimize_acqf_discrete``, the earlier picks as ``X_pending``).  Running trials are passed as
  ``X_pending``.
* **Feasibility** (the same classifier as CoflexSearch's): once a trial has failed (an infeasible
  accelerator, a crash), a sparse-GP classifier of every told point (:func:`.models.fit_feasibility`)
  weights the acquisition: its log probability of feasibility is added to the log-space acquisition
  value of every point of a batch (:class:`FeasibilityWeighted`), i.e. the acquisition times the
  probability that the batch is feasible, the constrained-EI rule of Gardner et al. (ICML 2014).
  BoTorch's own outcome constraints need a constraint value at every observation, which a failed
  trial does not report.
* **Outcome constraints** (``constraints``, :mod:`.core`): each constraint's violation
  ``sign * (value - bound)`` becomes an extra output of the GP (standardised with the objectives),
  and BoTorch's outcome constraints (``constraints=`` callables, feasible where ``<= 0``) weight
  every acquisition by the probability of feasibility; the acquisition's objective keeps the
  objective outputs only.  qNEHVI and qNParEGO/qNEI take their baseline front from the feasible
  samples; qEHVI partitions the posterior means of the feasible observations (all of them while
  none is feasible).

``BoTorchCore`` is the optimiser (ask/tell, no Ray); ``BoTorchMOSearch`` (:mod:`.tune_searchers`) is its
Ray Tune searcher.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction

from ..spaces import Space
from .core import ModelCore
from .models import DTYPE, fit_exact_gp, log_prob_feasible
from .normalise import violation
from .pareto import REF

ACQUISITIONS = ("qnehvi", "qehvi", "qnparego")


class FeasibilityWeighted(AcquisitionFunction):
    """A log-space BoTorch acquisition ``acq`` plus the log probability that every point of the batch
    is feasible under the classifier ``model`` (:func:`.models.fit_feasibility`).  Pending points are
    passed through to ``acq``."""

    _log = True

    def __init__(self, acq: AcquisitionFunction, model) -> None:
        super().__init__(acq.model)
        self.acq, self.feasibility = acq, model

    @property
    def X_pending(self):  # noqa: N802 - BoTorch's name
        return self.acq.X_pending

    def set_X_pending(self, X_pending=None) -> None:  # noqa: N803
        self.acq.set_X_pending(X_pending)

    def forward(self, X):  # noqa: N803
        return self.acq(X) + log_prob_feasible(self.feasibility, X).sum(-1)


def feasibility_weighted(acq: AcquisitionFunction, model) -> AcquisitionFunction:
    """``acq`` weighted by the feasibility classifier ``model`` (:class:`FeasibilityWeighted`), or ``acq``
    itself while there is none (nothing has failed)."""
    return acq if model is None else FeasibilityWeighted(acq, model)


def check_acquisition(acquisition: str) -> None:
    """Raises ``ValueError`` unless ``acquisition`` is one of :data:`ACQUISITIONS`."""
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {acquisition!r}; allowed: {list(ACQUISITIONS)}")


class BoTorchCore(ModelCore):
    """Ask/tell qNEHVI / qEHVI / qNParEGO optimiser on an exact GP (see the module docstring).

    Args:
        space: the search space.
        n_obj: number of objectives (all minimised).
        seed: seeds the candidate sets, the model fits and the MC samplers.
        acquisition: ``"qnehvi"``, ``"qehvi"`` or ``"qnparego"``.
        n_init: size of the Sobol initial design.
        batch_size: proposals per model fit.
        bounds: fixed normalisation bounds ``[[lo, hi]]`` per objective; ``None``: frozen from the
            initial design.
        n_candidates: Sobol points of the candidate set (the fallback for taken points).
        mc_samples: quasi-MC samples of the acquisition.
        raw_samples, num_restarts: of ``optimize_acqf_mixed_alternating``; ``num_restarts=0`` scores
            the candidate set only (``optimize_acqf_discrete``).
        constraints: outcome constraints ``[(sign, bound), ...]`` on the model scale (:mod:`.core`).
    """

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *, acquisition: str = "qnehvi", n_init: int = 10,
                 batch_size: int = 4, bounds: np.ndarray | None = None, n_candidates: int = 1024,
                 mc_samples: int = 128, raw_samples: int = 256, num_restarts: int = 4,
                 constraints=()) -> None:
        super().__init__(space, n_obj, seed, n_init=n_init, batch_size=batch_size, bounds=bounds,
                         constraints=constraints)
        check_acquisition(acquisition)
        self.acquisition, self.n_candidates, self.mc_samples = acquisition, n_candidates, mc_samples
        self.raw_samples, self.num_restarts = raw_samples, num_restarts

    def optimise(self, acq, q: int, choices: torch.Tensor, chunk: int, exclude: tuple = ()) -> list[torch.Tensor]:
        """``q`` legal, untaken, distinct points maximising ``acq`` (see "Optimisation" above), none of
        them among the cube points ``exclude`` (earlier picks of the batch)."""
        from botorch.optim import optimize_acqf_discrete
        from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

        from .candidates import to_cube, to_index

        picked: list[torch.Tensor] = []
        base_pending = acq.X_pending
        if self.num_restarts > 0:
            centres = [((np.arange(d.n) + 0.5) / d.n).tolist() for d in self.space.dims]
            bounds = torch.tensor([[c[0] for c in centres], [c[-1] for c in centres]], dtype=DTYPE)
            fixed = {k: c[0] for k, c in enumerate(centres) if len(c) == 1}
            discrete = {k: c for k, c in enumerate(centres) if k not in fixed and k not in self.cat_dims}
            cats = {k: centres[k] for k in self.cat_dims if k not in fixed}
            try:
                cand, _ = optimize_acqf_mixed_alternating(
                    acq, bounds, discrete_dims=discrete, cat_dims=cats, q=q, raw_samples=self.raw_samples,
                    num_restarts=self.num_restarts, fixed_features=fixed or None,
                    options={"batch_limit": chunk, "maxiter_alternating": 16})
            except Exception as e:  # an optimiser failure leaves the candidate-set path below
                logging.getLogger(__name__).warning("BoTorch's mixed optimiser failed (%s: %s); this batch scores "
                                                    "the candidate set only", type(e).__name__, e)
                cand = torch.zeros((0, self.space.ndim), dtype=DTYPE)
            seen = {to_index(self.space, e.numpy()) for e in exclude}
            for c in cand:
                idx = to_index(self.space, c.numpy())
                if not self.is_taken(idx) and idx not in seen:
                    seen.add(idx)
                    picked.append(torch.tensor(to_cube(self.space, idx), dtype=DTYPE))
        if len(picked) < q:
            if picked:
                extra = torch.stack(picked)
                acq.set_X_pending(extra if base_pending is None else torch.cat([base_pending, extra]))
            taken = {to_index(self.space, p.numpy()) for p in [*picked, *exclude]}
            keep = [i for i, c in enumerate(choices) if to_index(self.space, c.numpy()) not in taken]
            if keep:
                more, _ = optimize_acqf_discrete(acq, q=min(q - len(picked), len(keep)), choices=choices[keep],
                                                 unique=True, max_batch_size=chunk)
                picked += list(more)
            acq.set_X_pending(base_pending)
        return picked[:q]

    def propose(self, n: int, pending: np.ndarray) -> list[np.ndarray]:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.multi_objective.logei import (qLogExpectedHypervolumeImprovement,
                                                               qLogNoisyExpectedHypervolumeImprovement)
        from botorch.acquisition.objective import GenericMCObjective
        from botorch.sampling import SobolQMCNormalSampler
        from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning
        from botorch.utils.multi_objective.scalarization import get_chebyshev_scalarization
        from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
        from botorch.utils.sampling import sample_simplex

        X, Y = self.observed()
        torch.manual_seed(self.seed * 100_003 + self.n_batches)
        self.freeze_bounds()
        lo, span = self.bounds[:, 0], self.bounds[:, 1] - self.bounds[:, 0]
        target = -(Y - lo) / span  # maximise the negated normalised objectives
        C = self.candidates(self.n_candidates)
        if len(C) == 0:
            return []
        m, k = Y.shape[1], len(self.constraints)
        if k:  # the constraints' violations as extra outputs (feasible where <= 0)
            target = np.hstack([target, violation(self.constraint_values(), self.constraints)])
        tx, ty = torch.tensor(X, dtype=DTYPE), torch.tensor(target, dtype=DTYPE)
        mu, sd = ty.mean(0), ty.std(0).clamp_min(1e-9)
        model = fit_exact_gp(X, ((ty - mu) / sd).numpy(), cat_dims=self.cat_dims)
        ref = ((torch.full((m,), -REF, dtype=DTYPE)) - mu[:m]) / sd[:m]  # fixed reference, in the model's scale
        pending = torch.tensor(pending, dtype=DTYPE) if len(pending) else None
        sampler = SobolQMCNormalSampler(torch.Size([self.mc_samples]), seed=self.seed + self.n_batches)
        feas = self.feasibility(X)
        choices = torch.tensor(C, dtype=DTYPE)
        # candidates scored per call: each one carries a joint posterior over the n baseline points
        # (about 8 (n + q)^2 bytes), so BoTorch's default of 2048 needs 16 GB at n = 1000
        chunk = max(8, min(2048, int(2e8 // (len(X) + n) ** 2)))
        # outcome constraints on the model's standardised outputs: output m + i is feasible where <= 0
        cons = dict(constraints=[lambda Z, j=m + i, t=float(mu[m + i] / sd[m + i]): Z[..., j] + t for i in range(k)]) \
            if k else {}
        ok = self.feasible()
        tf = tx[torch.as_tensor(ok)] if k and ok.any() else tx  # the feasible observations, when any
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if m == 1:  # one metric: every acquisition is the (noisy, log) expected improvement
                obj = dict(objective=GenericMCObjective(lambda Z, X=None: Z[..., 0])) if k else {}
                acq = qLogNoisyExpectedImprovement(model, X_baseline=tx, sampler=sampler, X_pending=pending,
                                                   prune_baseline=True, **obj, **cons)
                return [c.numpy() for c in self.optimise(feasibility_weighted(acq, feas), n, choices, chunk)]
            if self.acquisition == "qnparego":
                picked: list[torch.Tensor] = []
                for _ in range(n):
                    w = sample_simplex(m, dtype=DTYPE).squeeze(0)
                    with torch.no_grad():
                        pred = model.posterior(tf).mean[..., :m]
                    scal = get_chebyshev_scalarization(w, pred)
                    extra = torch.stack(picked) if picked else None
                    pend = torch.cat([t for t in (pending, extra) if t is not None]) if (pending is not None or extra is not None) else None
                    acq = qLogNoisyExpectedImprovement(model, X_baseline=tx, sampler=sampler,
                                                       objective=GenericMCObjective(
                                                           lambda Z, X=None, s=scal: s(Z[..., :m] if k else Z)),
                                                       X_pending=pend, prune_baseline=True, **cons)
                    picked += self.optimise(feasibility_weighted(acq, feas), 1, choices, chunk, exclude=tuple(picked))
                return [p.numpy() for p in picked]
            obj = dict(objective=IdentityMCMultiOutputObjective(outcomes=list(range(m)))) if k else {}
            if self.acquisition == "qnehvi":
                acq = qLogNoisyExpectedHypervolumeImprovement(model, ref_point=ref.tolist(), X_baseline=tx,
                                                              sampler=sampler, X_pending=pending, prune_baseline=True,
                                                              **obj, **cons)
            else:
                with torch.no_grad():
                    pred = model.posterior(tf).mean[..., :m]
                part = FastNondominatedPartitioning(ref_point=ref, Y=pred)
                acq = qLogExpectedHypervolumeImprovement(model, ref_point=ref.tolist(), partitioning=part,
                                                         sampler=sampler, X_pending=pending, **obj, **cons)
            cand = self.optimise(feasibility_weighted(acq, feas), n, choices, chunk)
        return [c.numpy() for c in cand]

    def feasibility(self, X: np.ndarray):
        """The feasibility classifier (:meth:`.core.ModelCore.feasibility_model`), or None while nothing
        has failed (see "Feasibility" above)."""
        return self.feasibility_model(X) if self.failed else None
