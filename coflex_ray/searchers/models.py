"""Per-objective Gaussian-process surrogates: a sparse GP (SGPR) and an exact GP, BoTorch-compatible.

Sparse GP (what CoflexSearch uses, one per objective):

* **Model**: SGPR / projected-process GP (Titsias 2009) via gpytorch's ``InducingPointKernel`` over a
  scaled Matern-5/2 ARD kernel, conditioned on *all* ``n`` observations through ``m`` inducing
  points: fitting the posterior costs O(n m^2) and memory O(n m), i.e. linear in ``n``.
* **Inducing points**: greedy farthest-point (k-center) selection among the observed inputs,
  starting from the best observation of the objective; for a stationary kernel the farthest point is
  the one the current inducing set explains worst (highest prior-conditional variance), so this is a
  cheap stand-in for greedy variance selection.  O(n m).
* **Hyperparameters** (lengthscales, outputscale, constant mean, noise): maximum marginal likelihood
  of an exact GP on the inducing points' own observations (``m`` points, BoTorch's
  ``fit_gpytorch_mll``), then frozen and shared with the SGPR.  This keeps the fit O(m^3), independent
  of ``n``.
* Inputs live in the unit cube; outputs are standardised (zero mean, unit variance) by the caller.

Exact GP (for the BoTorch baselines): BoTorch's ``SingleTaskGP`` fitted by ``fit_gpytorch_mll``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.exceptions.errors import ModelFittingError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.gpytorch import GPyTorchModel
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import InducingPointKernel, MaternKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.models import ExactGP

DTYPE = torch.double
# L-BFGS-B iterations per marginal-likelihood fit.  Uncapped, an 11-dim fit on 100 DTLZ2 points took
# ~1000 iterations (7 s) while the marginal likelihood had long stopped improving in the third
# digit.  Measured on 128 farthest points of 1000 DTLZ2 / ZDT1 samples (mean log likelihood per
# point after 25/50/100/200/1000 iterations): DTLZ2 f1 -0.332/-0.300/-0.287/-0.284/-0.267, DTLZ2 f2
# and both ZDT1 objectives converged by 100; an iteration costs ~6.5-9 ms (gpytorch overhead, not
# the 128x128 algebra): a fit took 0.5-1.1 s at 100 iterations vs up to 1.7 s at 200.  The same cap
# holds for the sparse and the exact GPs, so comparisons stay fair.
MAX_FIT_ITERS = 100


def farthest_points(X: np.ndarray, m: int, start: int) -> np.ndarray:
    """Indices of ``m`` rows of ``X`` chosen greedily by max-min distance, beginning at ``start``."""
    n = len(X)
    if m >= n:
        return np.arange(n)
    chosen = [start]
    dist = np.linalg.norm(X - X[start], axis=1)
    for _ in range(m - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(X - X[nxt], axis=1))
    return np.array(chosen)


class SGPRModel(ExactGP, GPyTorchModel):
    """Sparse GP regression with fixed inducing points, usable by BoTorch acquisition functions."""

    _num_outputs = 1

    def __init__(self, train_X: torch.Tensor, train_Y: torch.Tensor, inducing: torch.Tensor,
                 likelihood: GaussianLikelihood, base_kernel: ScaleKernel, mean: ConstantMean) -> None:
        super().__init__(train_X, train_Y.squeeze(-1), likelihood)
        self.mean_module = mean
        self.covar_module = InducingPointKernel(base_kernel, inducing_points=inducing, likelihood=likelihood)
        self.covar_module.inducing_points.requires_grad_(False)
        self.to(train_X)

    def forward(self, x: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _matern(d: int, outputs: int = 1) -> ScaleKernel:
    batch = torch.Size([outputs]) if outputs > 1 else torch.Size([])
    return ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d, batch_shape=batch), batch_shape=batch)


def _accept_iteration_limit(w: warnings.WarningMessage) -> bool:
    """BoTorch's fit retries (up to 5 times, from resampled priors) after any optimiser warning; reaching
    our own iteration cap is expected, not a failure, so it must not trigger a retry."""
    msg = str(w.message)
    return (not issubclass(w.category, OptimizationWarning) or "ITERATIONS REACHED LIMIT" in msg.upper()
            or "timed out" in msg)


def fit_exact_gp(X: np.ndarray, y: np.ndarray) -> SingleTaskGP:
    """Exact GP on standardised ``y`` (n,) or (n, k), fitted by marginal likelihood from BoTorch's defaults.

    (Warm-starting from the previous batch's hyperparameters was tried and dropped: on a discrete
    DTLZ2 toy it left CoflexSearch stuck in poor optima, median HV 1.08 vs 1.23 when refitted cold.)
    """
    tx = torch.tensor(X, dtype=DTYPE)
    ty = torch.tensor(y, dtype=DTYPE).reshape(len(X), -1)
    model = SingleTaskGP(tx, ty, covar_module=_matern(X.shape[1], ty.shape[1]))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": MAX_FIT_ITERS}},
                             warning_handler=_accept_iteration_limit)
        except ModelFittingError:  # every attempt failed numerically: keep BoTorch's default priors' mode
            model.load_state_dict(SingleTaskGP(tx, ty, covar_module=_matern(X.shape[1], ty.shape[1])).state_dict())
    model.eval()
    return model


def fit_sparse_gp(X: np.ndarray, y: np.ndarray, num_inducing: int) -> SGPRModel:
    """SGPR on standardised ``y`` (n,), with ``num_inducing`` farthest-point inducing inputs."""
    start = int(np.argmin(y))  # begin the inducing set at the best observation (minimisation)
    ind = farthest_points(X, min(num_inducing, len(X)), start)
    hyper = fit_exact_gp(X[ind], y[ind])
    likelihood = GaussianLikelihood().to(DTYPE)
    likelihood.noise = hyper.likelihood.noise.detach().clone()
    mean = ConstantMean().to(DTYPE)
    mean.constant.data = hyper.mean_module.constant.detach().clone()
    kernel = _matern(X.shape[1]).to(DTYPE)
    kernel.load_state_dict(hyper.covar_module.state_dict())
    model = SGPRModel(torch.tensor(X, dtype=DTYPE), torch.tensor(y, dtype=DTYPE).reshape(-1, 1),
                      torch.tensor(X[ind], dtype=DTYPE), likelihood, kernel, mean)
    model.eval()
    return model


def predict(model: GPyTorchModel, X: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation at the rows of ``X``."""
    means, stds = [], []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpytorch warns when it clamps tiny negative variances
        for i in range(0, len(X), chunk):
            post = model.posterior(torch.tensor(X[i:i + chunk], dtype=DTYPE))
            means.append(post.mean.squeeze(-1).numpy())
            stds.append(post.variance.clamp_min(1e-12).sqrt().squeeze(-1).numpy())
    return np.concatenate(means), np.concatenate(stds)
