"""Gaussian-process surrogates shared by CoflexSearch and the BoTorch baselines.

Three models, all on unit-cube inputs (legal-value bin centres, :mod:`.candidates`) and on outputs
of any scale (each model standardises its targets with BoTorch's ``Standardize`` and predicts on the
caller's scale):

* :func:`fit_exact_gp`: BoTorch's ``SingleTaskGP`` (the BoTorch baselines); cost O(n^3).
* :func:`fit_sparse_gp`: sparse GP regression (SGPR; Titsias, AISTATS 2009; :class:`.sgpr.SGPRModel`),
  one per objective in CoflexSearch; cost linear in n.
* :func:`fit_feasibility` / :func:`prob_feasible`: a classifier of feasibility, a sparse GP on
  labels +1 / -1 with ``P = Phi(mean / sd)``.

Every model uses the kernel of :func:`make_kernel`: BoTorch's default ``SingleTaskGP`` kernel on the
ordered inputs times a Hamming kernel on the categorical ones, optionally plus a first-order
additive part; likelihood BoTorch's default Gaussian noise (LogNormal(-4, 1) prior, noise >= 1e-4),
constant mean.  The constants below and the measurements behind them: ``docs/design.md``, "Models".
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
# L-BFGS-B iterations per exact-GP marginal-likelihood fit: the marginal likelihood stops improving
# long before L-BFGS-B's own tolerance is met.
MAX_FIT_ITERS = 100
# Sparse GP hyperparameters: exact-GP MAP on a random subset of this many observations, at most
# HYPER_FIT_ITERS iterations (MAX_FIT_ITERS when n <= HYPER_SUBSET, i.e. when the fit sees all the
# data), so the fit's cost does not grow with n.
HYPER_SUBSET = 128
HYPER_FIT_ITERS = 30
# CoflexSearch gives a model the kernel's additive part (make_kernel(additive=True)) only while it has
# at most this many observations, i.e. while the hyperparameters are fitted on every observation;
# beyond, the additive sparse GP is poorly calibrated and slow (python -m benchmarks sparse-gp
# --models additive).
ADDITIVE_MAX_N = HYPER_SUBSET
# ... and only on a space of at least this many inputs: the part learns an effect that is a sum over
# many inputs from few points; with two inputs the full kernel sees every effect, and the part only
# misfits where the inputs interact (docs/design.md, "First-order additive part").
ADDITIVE_MIN_D = 3
# torch threads for the small (HYPER_SUBSET-point) hyperparameter fit: its 128 x 128 algebra gains
# nothing from a second thread and loses much when the cores are shared.
FIT_THREADS = 1
# Default number of inducing points (CoflexSearch's and the feasibility classifier's): keeps the 95%
# intervals calibrated on held-out DTLZ2 points up to n = 10,000 (python -m benchmarks sparse-gp).
NUM_INDUCING = 512


class HammingKernel(CategoricalKernel):
    """BoTorch's ``CategoricalKernel`` (``exp(-mean_j [x_j != x'_j] / l_j)``) with an O(N d) diagonal.

    Off the diagonal it is BoTorch's kernel unchanged (same parameters, priors and values).  Why:
    BoTorch 0.18's ``forward(..., diag=True)`` builds the whole N x N matrix to take its diagonal,
    which dominates the posterior variances of large candidate sets.
    """

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, last_dim_is_batch: bool = False,
                **params) -> torch.Tensor:
        if not diag or last_dim_is_batch or x1.shape[-2] != x2.shape[-2]:
            return super().forward(x1, x2, diag=diag, last_dim_is_batch=last_dim_is_batch)
        return torch.exp(-((x1 != x2) / self.lengthscale).mean(-1))


def make_kernel(d: int, cat_dims: Sequence[int] = (), batch_shape: torch.Size = torch.Size(),
                additive: bool = False) -> Kernel:
    """The kernel of every model: BoTorch's default kernel, times a Hamming kernel, plus an optional
    first-order additive part.

    On the ordered inputs, BoTorch 0.18's default ``SingleTaskGP`` kernel: RBF with ARD lengthscales
    and the dimension-scaled LogNormal lengthscale prior of Hvarfner et al. (ICML 2024), no
    outputscale.  On the categorical inputs, :class:`HammingKernel` (BoTorch's ``CategoricalKernel``:
    two different categories are equally far apart whatever their codes; categories are compared by
    exact equality, so categorical coordinates must be bin centres, as ``Space.snap`` produces).  The
    product of the two is the product term of BoTorch's ``MixedSingleTaskGP`` kernel.  With
    ``additive``, plus :func:`additive_kernel`: ``k_full(x, x') + s * sum_i k_i(x_i, x'_i)``, orders 1
    and d of the additive GPs of Duvenaud et al. (NeurIPS 2011), so that an effect that is a sum over
    inputs is learnt from every observation.

    Args:
        d: number of inputs.
        cat_dims: indices of the categorical inputs (negative indices count from the end).
        batch_shape: batch shape of the kernel's parameters (one batch member per output).
        additive: add the first-order additive part.

    Returns:
        A gpytorch ``Kernel`` over ``d`` inputs.
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
    """``sum_i exp(-0.5 * delta_i(x, x')**2 / l_i**2)`` over the inputs, one lengthscale ``l_i`` each.

    ``delta_i = x_i - x'_i`` on an ordered input and ``[x_i != x'_i]`` on a categorical one (there
    the term is BoTorch's one-dimensional ``CategoricalKernel`` with lengthscale ``2 l_i**2``).
    Lengthscale prior: BoTorch's dimension-scaled LogNormal for one dimension.  One module for all
    inputs rather than gpytorch's ``AdditiveKernel`` of d kernels, because the marginal-likelihood
    fit evaluates the kernel hundreds of times per batch.

    Args:
        d: number of inputs.
        cat: indices of the categorical inputs.
        **kwargs: passed to gpytorch's ``Kernel`` (e.g. ``batch_shape``).

    Raises:
        NotImplementedError: from ``forward`` with ``last_dim_is_batch=True``.
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
    """The first-order additive part of the ``additive=True`` kernel, ``s * sum_i k_i(x_i, x'_i)``.

    Args:
        d: number of inputs.
        cat: indices of the categorical inputs.
        batch_shape: batch shape of the parameters.

    Returns:
        A :class:`FirstOrderAdditiveKernel` scaled by one outputscale ``s`` (LogNormal(0, 1) prior).
    """
    return ScaleKernel(FirstOrderAdditiveKernel(d, cat, batch_shape=batch_shape), batch_shape=batch_shape,
                       outputscale_prior=LogNormalPrior(0.0, 1.0))


def _accept_iteration_limit(w: warnings.WarningMessage) -> bool:
    """Warning handler for ``fit_gpytorch_mll``: ``True`` (not a failure) for anything but an optimiser
    warning, and for reaching the iteration cap or the time limit.

    BoTorch retries a fit from resampled priors after an optimiser warning; reaching the cap that
    :func:`_fit` sets is expected and must not trigger a retry.
    """
    msg = str(w.message)
    return (not issubclass(w.category, OptimizationWarning) or "ITERATIONS REACHED LIMIT" in msg.upper()
            or "timed out" in msg)


def _exact(tx: torch.Tensor, ty: torch.Tensor, cat_dims: Sequence[int], transform: bool,
           additive: bool = False) -> SingleTaskGP:
    """An unfitted ``SingleTaskGP`` with :func:`make_kernel`'s kernel (one batch member per output
    column of ``ty``); ``transform``: with BoTorch's default ``Standardize`` outcome transform."""
    batch = torch.Size([ty.shape[-1]]) if ty.shape[-1] > 1 else torch.Size()
    kwargs = {} if transform else {"outcome_transform": None}
    return SingleTaskGP(tx, ty, covar_module=make_kernel(tx.shape[-1], cat_dims, batch, additive), **kwargs)


def _fit(model: SingleTaskGP, max_iters: int, rebuild) -> SingleTaskGP:
    """Fit ``model`` by maximum a posteriori (``fit_gpytorch_mll``, at most ``max_iters`` L-BFGS-B
    iterations) and put it in eval mode.

    Returns:
        The fitted model, or, if every BoTorch attempt fails numerically, ``rebuild()`` (a fresh
        model with the priors' initial values).
    """
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
    """Exact GP regression (BoTorch's ``SingleTaskGP``), fitted by maximum a posteriori.

    Args:
        X: inputs in the unit cube, shape ``(n, d)``.
        y: targets, shape ``(n,)`` or ``(n, k)`` (one batched model over the k outputs).
        cat_dims: indices of the categorical inputs.
        additive: give the kernel its first-order additive part (:func:`make_kernel`).

    Returns:
        The fitted model in eval mode, with BoTorch's ``Standardize`` outcome transform; fitted from
        the priors every call (at most ``MAX_FIT_ITERS`` iterations), or left at the priors' initial
        values if every fit attempt fails numerically.
    """
    tx = torch.tensor(X, dtype=DTYPE)
    ty = torch.tensor(y, dtype=DTYPE).reshape(len(X), -1)
    return _fit(_exact(tx, ty, cat_dims, True, additive), MAX_FIT_ITERS,
                lambda: _exact(tx, ty, cat_dims, True, additive))


def fit_sparse_gp(X: np.ndarray, y: np.ndarray, num_inducing: int, *, cat_dims: Sequence[int] = (),
                  inducing: np.ndarray | None = None, seed: int | None = None, additive: bool = False) -> SGPRModel:
    """Sparse GP regression (SGPR, :class:`.sgpr.SGPRModel`) conditioned on all observations.

    Hyperparameters: the maximum a posteriori fit of an exact GP with the same kernel on a random
    subset of ``HYPER_SUBSET`` observations (at most ``HYPER_FIT_ITERS`` iterations; all observations
    and ``MAX_FIT_ITERS`` when there are at most ``HYPER_SUBSET``), on one torch thread, copied into
    the SGPR.  Inducing inputs: BoTorch's ``GreedyVarianceReduction`` (Burt et al., JMLR 2020) under
    the fitted kernel (:func:`.sgpr.select_inducing`).  Every hyperparameter is fitted on the targets
    as the model's ``Standardize`` transform scales them.

    Args:
        X: inputs in the unit cube, shape ``(n, d)``.
        y: targets, shape ``(n,)``.
        num_inducing: at most this many inducing inputs.
        cat_dims: indices of the categorical inputs.
        inducing: fixed inducing inputs, shape ``(m, d)``, instead of selecting them.
        seed: seeds the hyperparameter subset and the inducing pool; ``None``: drawn from torch's
            global generator.
        additive: give the kernel its first-order additive part (:func:`make_kernel`).

    Returns:
        The fitted model in eval mode; it predicts on the scale of ``y``.
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
    """Posterior mean and standard deviation of the latent function at the rows of ``X``.

    Args:
        model: a fitted :class:`.sgpr.SGPRModel` or BoTorch GP.
        X: points, shape ``(N, d)``.
        chunk: points per posterior call (bounds the memory of one call).

    Returns:
        ``(mean, sd)`` on the scale of the model's targets: shape ``(N,)`` each for a single-output
        model, ``(N, k)`` for a k-output exact GP.
    """
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
    """Classifier of feasibility from every evaluated point, feasible or not.

    The latent function is a sparse GP regression (:func:`fit_sparse_gp`) on labels +1 (feasible) /
    -1; :func:`prob_feasible` gives ``Phi(mean / sd)`` of its latent posterior, the probability that
    the latent label is positive (BoTorch's rule for an outcome constraint ``c(x) > 0``): about 1 near
    feasible points, about 0 near infeasible ones.

    Args:
        X_all: every evaluated point, shape ``(n, d)``.
        feasible: ``(n,)`` booleans.
        cat_dims: indices of the categorical inputs.
        num_inducing: inducing inputs of the sparse GP.
        seed: as for :func:`fit_sparse_gp`.
        additive: give the kernel its first-order additive part.

    Returns:
        The classifier for :func:`prob_feasible` / :func:`log_prob_feasible`.  When every label is
        the same (or there are none) it is the constant ``(k + 1) / (n + 2)`` for ``k`` feasible of
        ``n`` (Laplace's rule): near 1 when many are all feasible, never exactly 0.
    """
    feasible = np.asarray(feasible, dtype=bool).reshape(-1)
    n, k = len(feasible), int(feasible.sum())
    if k == 0 or k == n:
        return FeasibilityModel(None, (k + 1) / (n + 2))
    labels = np.where(feasible, 1.0, -1.0)
    return FeasibilityModel(fit_sparse_gp(X_all, labels, num_inducing, cat_dims=cat_dims, seed=seed,
                                          additive=additive), k / n)


def log_prob_feasible(model: FeasibilityModel, X: torch.Tensor) -> torch.Tensor:
    """``log`` of :func:`prob_feasible`, differentiable in ``X``, for weighting a log-space BoTorch
    acquisition.

    Args:
        model: a classifier from :func:`fit_feasibility`.
        X: points, shape ``(..., d)``.

    Returns:
        Tensor of shape ``(...)``.
    """
    if model.gp is None:
        return torch.full(X.shape[:-1], math.log(model.constant), dtype=X.dtype)
    mu, var = model.gp.predict_latent(X.reshape(-1, X.shape[-1]))
    return torch.special.log_ndtr(mu / var.sqrt()).reshape(X.shape[:-1])


def prob_feasible(model: FeasibilityModel, C: np.ndarray) -> np.ndarray:
    """Probability that each row of ``C`` is feasible (see :func:`fit_feasibility`).

    Args:
        model: a classifier from :func:`fit_feasibility`.
        C: points, shape ``(N, d)``.

    Returns:
        ``(N,)`` probabilities in [0, 1].
    """
    if model.gp is None:
        return np.full(len(C), model.constant)
    mu, sd = predict(model.gp, C)
    return np.clip(norm.cdf(mu / sd), 0.0, 1.0)
