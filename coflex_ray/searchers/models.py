"""Gaussian-process surrogates shared by CoflexSearch and the BoTorch baselines: an exact GP, a sparse
GP (SGPR) and a feasibility classifier.  Inputs live in the unit cube (bin centres of the legal values,
:mod:`.candidates`); outputs may be on any scale (callers standardise them; the models standardise
again with BoTorch's ``Standardize``, which is the identity on standardised data, and predict on the
caller's scale).

**Kernel** (one construction, :func:`make_kernel`, for every model): BoTorch 0.18's default
``SingleTaskGP`` kernel on the ordered dimensions -- RBF with ARD lengthscales, the dimension-scaled
LogNormal lengthscale prior of Hvarfner et al. (2024) and no outputscale (the outcome is
standardised) -- times BoTorch's ``CategoricalKernel`` on the categorical dimensions (``cat_dims``),
``exp(-mean_i [c_i != c'_i] / l_i)``: two different categories are equally far apart whatever their
codes (categories are compared by exact equality, so categorical coordinates must be bin centres,
as ``Space.snap`` and the codec produce).  This is the product term of BoTorch's ``MixedSingleTaskGP``
kernel.  With ``additive=True`` (CoflexSearch's default up to ``ADDITIVE_MAX_N`` observations; the
BoTorch baselines keep BoTorch's kernel) a first-order additive part is added,
``k_full(x, x') + s * sum_i k_i(x_i, x'_i)``, one one-dimensional kernel per knob
(:func:`additive_kernel`), i.e. orders 1 and d of the additive GPs of Duvenaud et al. (NeurIPS 2011).  Why: with tens of points in 12 dimensions the full ARD kernel
cannot see an effect that is a sum over knobs (a per-layer cost summed over the network, DTLZ2's
distance term) and explains it as noise; the additive part learns each knob's effect from every
observation.  The marginal likelihood weighs the two parts (``s``).  Likelihood: BoTorch's
default Gaussian noise with a LogNormal(-4, 1) prior, noise >= 1e-4; constant mean.

**Exact GP** (:func:`fit_exact_gp`, the BoTorch baselines): ``SingleTaskGP`` with that kernel and
BoTorch's ``Standardize`` outcome transform, one batched model over the outputs when ``y`` is (n, k),
fitted by BoTorch's ``fit_gpytorch_mll`` (maximum a posteriori; retries from resampled priors).
Cost O(n^3).

**Sparse GP** (:func:`fit_sparse_gp`, one per objective in CoflexSearch): SGPR (Titsias 2009,
:class:`.sgpr.SGPRModel`) through gpytorch's ``InducingPointKernel`` over the same kernel,
conditioned on all n observations.
One scaling end to end: the SGPR holds ``Standardize``d targets and every hyperparameter is
fitted on exactly those targets.

* Hyperparameters: MAP of an exact GP on a random subset of ``HYPER_SUBSET`` of the observations
  (``fit_gpytorch_mll``, at most ``HYPER_FIT_ITERS`` L-BFGS iterations), copied into the SGPR.
  O(s^3), independent of n.
* Inducing points: BoTorch's ``GreedyVarianceReduction`` (pivoted Cholesky of the fitted kernel,
  Burt et al. 2020) over the observations, or over a random ``INDUCING_POOL`` of them when n is
  larger; it stops early when the remaining prior-conditional variance is ~0 (duplicates).
* Posterior: Titsias' (the variational / DTC predictive: mean and covariance from the projected
  process, with the test points' full prior variance, so the variance the inducing points do not
  explain is kept).  :meth:`SGPRModel.predict_latent` computes it in its stable Cholesky form, O(n m^2)
  once and O(m^2) per point; ``posterior`` gives the same numbers through gpytorch for BoTorch.

**Feasibility** (:func:`fit_feasibility`, :func:`prob_feasible`): a sparse GP regression on labels
+1 (feasible) / -1 (infeasible) with the probit of the latent posterior, ``P = Phi(mean / sd)``.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.kernels.categorical import CategoricalKernel
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.models.gpytorch import GPyTorchModel
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import Kernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from scipy.stats import norm

from .sgpr import SGPRModel, select_inducing

DTYPE = torch.double
# L-BFGS-B iterations per exact-GP marginal-likelihood fit (the BoTorch baselines).  Uncapped, an
# 11-dim fit on 100 DTLZ2 points took ~1000 iterations (7 s) while the marginal likelihood had long
# stopped improving in the third digit; converged by ~100 (measured before issue 15).
MAX_FIT_ITERS = 100
# Sparse GP hyperparameters: exact-GP MAP on a random subset of this many observations, at most
# HYPER_FIT_ITERS iterations (MAX_FIT_ITERS when n <= HYPER_SUBSET, i.e. the fit is on all the data:
# the cap is there to keep the cost flat at large n).  Measured on DTLZ2 (11 dims x 64 levels, 1000
# held-out points, m = 512; bench_results/sparse_gp.txt, shared machine): subset 128 / 30 iterations
# gave Spearman 0.998-0.999 and 95% coverage 0.95-0.98 at n = 2000 (3 seeds x 2 objectives) for
# 0.30-0.34 s of fit CPU; subset 256 gave Spearman 0.999, coverage 0.99 (2 seeds) for 0.5-0.8 s.
HYPER_SUBSET = 128
HYPER_FIT_ITERS = 30
# CoflexSearch gives its models the kernel's additive part (make_kernel(additive=True)) only while
# n <= ADDITIVE_MAX_N, i.e. while the hyperparameters are fitted on every observation; beyond, the
# full kernel alone.  Why: at n = 2000 on DTLZ2 (11 dims x 64 levels, the sparse-gp bench's
# "additive" model, seeds 0-2, 2026-11-25) the additive sparse GP ranked well (Spearman 0.997-0.9998)
# but its 95% intervals covered 0.43-0.68 of held-out points on 4 of 6 fits, one n = 10,000 fit
# failed (not positive definite), and a CoflexSearch batch took 4.7 s at n = 2000 and 5.8 s at
# n = 10,000; the full kernel alone meets all three targets there.
ADDITIVE_MAX_N = HYPER_SUBSET
# torch threads for the small (HYPER_SUBSET-point) hyperparameter fit: its 128 x 128 algebra gains
# nothing from a second thread and loses much when the cores are busy (measured on the shared 2-core
# machine, n = 10,000: 0.3-0.65 s CPU with one thread, 2.2-4.7 s with two).
FIT_THREADS = 1
# Suggested number of inducing points (CoflexSearch's default).  At n = 2000 on DTLZ2: 256 gave
# Spearman 0.993, coverage 0.79-0.86 (seed 0, gpytorch's FITC-style posterior); 384 gave 0.995-0.998, coverage 0.90-0.96 (one objective of four
# at 0.898); 512 gave 0.998-0.999, coverage 0.95-0.98 (and the same at n = 10,000).
NUM_INDUCING = 512


class HammingKernel(CategoricalKernel):
    """BoTorch's ``CategoricalKernel`` (``exp(-mean_j [x_j != x'_j] / l_j)``) with an O(N d) diagonal.

    BoTorch 0.18's ``forward(..., diag=True)`` builds the whole N x N matrix and then takes its
    diagonal: with all 15,625 NAS-Bench-201 cells as candidates (a tried variant), their posterior
    variances, asked in chunks of 2,048, took most of 4 s per batch (cProfile, NB201 x pixel3,
    2026-11-24); the shipped candidate sets (a few thousand points) paid the same per chunk.
    Off the diagonal it is BoTorch's kernel unchanged (same parameters, priors and values).
    """

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, last_dim_is_batch: bool = False,
                **params) -> torch.Tensor:
        if not diag or last_dim_is_batch or x1.shape[-2] != x2.shape[-2]:
            return super().forward(x1, x2, diag=diag, last_dim_is_batch=last_dim_is_batch)
        return torch.exp(-((x1 != x2) / self.lengthscale).mean(-1))


def make_kernel(d: int, cat_dims: Sequence[int] = (), batch_shape: torch.Size = torch.Size(),
                additive: bool = False) -> Kernel:
    """BoTorch's default RBF kernel on the ordered dims times a ``CategoricalKernel`` on ``cat_dims``
    (as :class:`HammingKernel`, whose diagonal is cheap).

    Alternatives measured by held-out mean log likelihood on DTLZ2 (11 dims x 64 levels, exact GP at
    n = 30 / 100, median of 3 seeds x 2 objectives; sparse GP at n = 2000, seed 0), this kernel first:
    -1.31 / -0.18 / 1.50; with an outputscale -1.11 / -0.05 / 1.51; Matern-5/2 (same prior) with an
    outputscale -0.78 / 0.19 / 1.37 (but 95% coverage 0.999 at n = 2000); BoTorch's older
    Gamma-prior Matern -0.79 / -0.07 / 0.62; the kernel before issue 15 (Matern-5/2, outputscale, no
    lengthscale prior) -2.17 / 0.19.  One smooth function is too little evidence to leave BoTorch's
    default, which is kept.

    ``additive=True`` adds :func:`additive_kernel` (see the module docstring).  Held-out mean log
    likelihood on DTLZ2 laid over the 12-dim SSS x accelerator codec (exact GP, n = 20 / 30 / 60
    random points, 500 held out, median of 3 seeds x 2 objectives; dev harness, 2026-11-25):
    -0.80 / -1.01 / -0.63 without it, -0.38 / -0.31 / 0.02 with it (median Spearman 0.90 / 0.91 / 0.91
    -> 0.92 / 0.94 / 0.97).
    """
    cat = sorted({int(c) % d for c in cat_dims})
    ordinal = [i for i in range(d) if i not in cat]
    parts: list[Kernel] = []
    if ordinal:
        parts.append(get_covar_module_with_dim_scaled_prior(ard_num_dims=len(ordinal), batch_shape=batch_shape,
                                                            active_dims=ordinal if cat else None))
    if cat:
        parts.append(HammingKernel(ard_num_dims=len(cat), batch_shape=batch_shape, active_dims=cat,
                                   lengthscale_constraint=GreaterThan(1e-6)))
    full = parts[0] if len(parts) == 1 else parts[0] * parts[1]
    return full + additive_kernel(d, cat, batch_shape) if additive else full


class FirstOrderAdditiveKernel(Kernel):
    """``sum_i exp(-0.5 * delta_i(x, x')**2 / l_i**2)`` over the inputs, one lengthscale ``l_i`` each:
    ``delta_i = x_i - x'_i`` on an ordered input, ``[x_i != x'_i]`` on a categorical one (``cat``;
    there it is BoTorch's one-dimensional ``CategoricalKernel`` with lengthscale ``2 l_i**2``).

    One module for all inputs, not gpytorch's ``AdditiveKernel`` of d one-dimensional kernels: the
    marginal-likelihood fit evaluates the kernel some hundred times per batch (cProfile: it took 16 of
    20 s of a 30-trial DTLZ2 run over the 12-dim SSS codec with ``AdditiveKernel``), and a run took
    13-19 s with ``AdditiveKernel``, 6-9 s with this module (dev script, 2026-11-25, the machine
    equally busy with a study both times; 3 s without the additive part).  Lengthscale
    prior: BoTorch's dimension-scaled LogNormal for one dimension, as for every input alone.
    """

    has_lengthscale = True

    def __init__(self, d: int, cat: Sequence[int] = (), **kwargs) -> None:
        prior = LogNormalPrior(loc=math.sqrt(2.0), scale=math.sqrt(3.0))
        super().__init__(ard_num_dims=d, lengthscale_prior=prior,
                         lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=prior.mode),
                         **kwargs)
        self.register_buffer("is_cat", torch.zeros(d, dtype=torch.bool))
        self.is_cat[list(cat)] = True

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, last_dim_is_batch: bool = False,
                **params) -> torch.Tensor:
        if last_dim_is_batch:
            raise NotImplementedError("FirstOrderAdditiveKernel does not support last_dim_is_batch")
        ls = self.lengthscale  # (..., 1, d)
        if diag:  # every term is 1 at distance 0
            return ls.new_ones(ls.shape[:-2] + (1,)) * x1.new_full(x1.shape[:-1], float(x1.shape[-1]))
        delta = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., n1, n2, d)
        delta = torch.where(self.is_cat, (delta != 0).to(delta.dtype), delta)
        return torch.exp(-0.5 * (delta / ls.unsqueeze(-2)) ** 2).sum(-1)


def additive_kernel(d: int, cat: Sequence[int], batch_shape: torch.Size = torch.Size()) -> Kernel:
    """First-order additive part of the ``additive=True`` kernel: ``s * sum_i k_i(x_i, x'_i)``
    (:class:`FirstOrderAdditiveKernel`) with one outputscale ``s``, LogNormal(0, 1) prior (a median of
    0.1 instead helped CoflexSearch less on DTLZ2 in a dev trial)."""
    return ScaleKernel(FirstOrderAdditiveKernel(d, cat, batch_shape=batch_shape), batch_shape=batch_shape,
                       outputscale_prior=LogNormalPrior(0.0, 1.0))


def _accept_iteration_limit(w: warnings.WarningMessage) -> bool:
    """BoTorch's fit retries (up to 5 times, from resampled priors) after any optimiser warning; reaching
    our own iteration cap is expected, not a failure, so it must not trigger a retry."""
    msg = str(w.message)
    return (not issubclass(w.category, OptimizationWarning) or "ITERATIONS REACHED LIMIT" in msg.upper()
            or "timed out" in msg)


def _exact(tx: torch.Tensor, ty: torch.Tensor, cat_dims: Sequence[int], transform: bool,
           additive: bool = False) -> SingleTaskGP:
    batch = torch.Size([ty.shape[-1]]) if ty.shape[-1] > 1 else torch.Size()
    kwargs = {} if transform else {"outcome_transform": None}
    return SingleTaskGP(tx, ty, covar_module=make_kernel(tx.shape[-1], cat_dims, batch, additive), **kwargs)


def _fit(model: SingleTaskGP, max_iters: int, rebuild) -> SingleTaskGP:
    """MAP fit; if every BoTorch attempt fails numerically, keep the priors' initial values."""
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": max_iters}},
                             warning_handler=_accept_iteration_limit)
        except (ModelFittingError, RuntimeError, ValueError):
            model = rebuild()
    model.eval()
    return model


def fit_exact_gp(X: np.ndarray, y: np.ndarray, *, cat_dims: Sequence[int] = (), additive: bool = False
                 ) -> SingleTaskGP:
    """Exact GP on ``y`` (n,) or (n, k) (one batched model over the k outputs); see the module docstring.

    (Warm-starting from the previous batch's hyperparameters was tried and dropped: on a discrete
    DTLZ2 toy it left CoflexSearch stuck in poor optima, median HV 1.08 vs 1.23 when refitted cold.)
    """
    tx = torch.tensor(X, dtype=DTYPE)
    ty = torch.tensor(y, dtype=DTYPE).reshape(len(X), -1)
    return _fit(_exact(tx, ty, cat_dims, True, additive), MAX_FIT_ITERS,
                lambda: _exact(tx, ty, cat_dims, True, additive))


def fit_sparse_gp(X: np.ndarray, y: np.ndarray, num_inducing: int, *, cat_dims: Sequence[int] = (),
                  inducing: np.ndarray | None = None, seed: int | None = None, additive: bool = False) -> SGPRModel:
    """SGPR on ``y`` (n,) with up to ``num_inducing`` inducing inputs; see the module docstring.

    ``inducing`` fixes the inducing inputs instead of selecting them (tests use it); ``seed`` seeds the
    random hyperparameter subset and inducing pool (default: drawn from torch's global generator, which
    CoflexSearch seeds per batch).
    """
    tx = torch.tensor(X, dtype=DTYPE)
    ty = torch.tensor(y, dtype=DTYPE).reshape(len(X), 1)
    if seed is None:
        seed = int(torch.randint(2**31 - 1, ()).item())
    rng = np.random.default_rng(seed)
    transform = Standardize(m=1)
    transform.train()
    ts, _ = transform(ty)  # the one scale every hyperparameter below is fitted on
    transform.eval()
    sub = torch.as_tensor(np.sort(rng.choice(len(X), HYPER_SUBSET, replace=False))) if len(X) > HYPER_SUBSET \
        else torch.arange(len(X))
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, FIT_THREADS))
    try:
        iters = MAX_FIT_ITERS if len(X) <= HYPER_SUBSET else HYPER_FIT_ITERS  # small n: as the exact GP
        hyper = _fit(_exact(tx[sub], ts[sub], cat_dims, False, additive), iters,
                     lambda: _exact(tx[sub], ts[sub], cat_dims, False, additive))
    finally:
        torch.set_num_threads(threads)
    kernel = copy.deepcopy(hyper.covar_module)
    Z = torch.tensor(inducing, dtype=DTYPE) if inducing is not None else select_inducing(tx, kernel, num_inducing, rng)
    model = SGPRModel(tx, ty, Z, copy.deepcopy(hyper.likelihood), kernel, copy.deepcopy(hyper.mean_module),
                      outcome_transform=transform)
    model.eval()
    return model


def predict(model: GPyTorchModel, X: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation (of the latent function, on the caller's scale) at the rows
    of ``X``; (N,) each for a single-output model, (N, k) for a k-output exact GP."""
    means, stds = [], []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpytorch warns when it clamps tiny negative variances
        for i in range(0, len(X), chunk):
            tx = torch.tensor(X[i:i + chunk], dtype=DTYPE)
            if isinstance(model, SGPRModel):
                mu, var = model.predict_latent(tx)
                means.append(mu.numpy())
                stds.append(var.sqrt().numpy())
                continue
            post = model.posterior(tx)
            means.append(post.mean.squeeze(-1).numpy() if post.mean.shape[-1] == 1 else post.mean.numpy())
            sd = post.variance.clamp_min(1e-12).sqrt()
            stds.append(sd.squeeze(-1).numpy() if sd.shape[-1] == 1 else sd.numpy())
    return np.concatenate(means), np.concatenate(stds)


@dataclass
class FeasibilityModel:
    """A fitted feasibility classifier: a sparse GP on +-1 labels, or a constant when the labels are."""

    gp: SGPRModel | None
    constant: float


def fit_feasibility(X_all: np.ndarray, feasible: np.ndarray, *, cat_dims: Sequence[int] = (),
                    num_inducing: int = NUM_INDUCING, seed: int | None = None, additive: bool = False
                    ) -> FeasibilityModel:
    """Classifier of feasibility from every evaluated point ``X_all`` (feasible or not) and its label.

    Contract: ``prob_feasible(model, C)`` returns, for each row of ``C``, a probability in [0, 1] that it
    is feasible.  The latent function is a sparse GP regression (:func:`fit_sparse_gp`) on labels +1 /
    -1; the probability is ``Phi(mean / sd)`` of its latent posterior, i.e. the probability that the
    latent label is positive (BoTorch's rule for an outcome constraint ``c(x) > 0``).  Near feasible
    data it is ~1, near infeasible data ~0, far from all data it returns to about the overall feasible share.
    When every label is the same (all feasible, all infeasible, or no data) the model is the constant
    ``(k + 1) / (n + 2)`` (k feasible of n, Laplace's rule): ~1 when all of many are feasible, never
    exactly 0.
    """
    feasible = np.asarray(feasible, dtype=bool).reshape(-1)
    n, k = len(feasible), int(feasible.sum())
    if k == 0 or k == n:
        return FeasibilityModel(None, (k + 1) / (n + 2))
    labels = np.where(feasible, 1.0, -1.0)
    return FeasibilityModel(fit_sparse_gp(X_all, labels, num_inducing, cat_dims=cat_dims, seed=seed,
                                          additive=additive), k / n)


def log_prob_feasible(model: FeasibilityModel, X: torch.Tensor) -> torch.Tensor:
    """``log`` of :func:`prob_feasible` at ``X`` (``... x d``), as a differentiable torch function of
    ``X`` (shape ``...``), for weighting a log-space BoTorch acquisition."""
    if model.gp is None:
        return torch.full(X.shape[:-1], math.log(model.constant), dtype=X.dtype)
    mu, var = model.gp.predict_latent(X.reshape(-1, X.shape[-1]))
    return torch.special.log_ndtr(mu / var.sqrt()).reshape(X.shape[:-1])


def prob_feasible(model: FeasibilityModel, C: np.ndarray) -> np.ndarray:
    """Probability in [0, 1] that each row of ``C`` is feasible (see :func:`fit_feasibility`)."""
    if model.gp is None:
        return np.full(len(C), model.constant)
    mu, sd = predict(model.gp, C)
    return np.clip(norm.cdf(mu / sd), 0.0, 1.0)
