"""Sparse GP regression (SGPR; Titsias, AISTATS 2009) as a BoTorch model, and its inducing points.

:class:`SGPRModel` conditions on all n observations through m fixed inducing inputs (gpytorch's
``InducingPointKernel``).  Its posterior is Titsias' (the variational / DTC predictive with the test
points' full prior variance), computed from cached Cholesky factors: O(n m^2) once, O(m^2) per point.
:func:`.models.fit_sparse_gp` builds it and fits its hyperparameters.
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.inducing_point_allocators import GreedyVarianceReduction
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import InducingPointKernel, Kernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from gpytorch.models import ExactGP
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.errors import NotPSDError

# Inducing points are chosen among at most this many observations (GreedyVarianceReduction forms
# their full kernel matrix: 2000^2 doubles = 32 MB).
INDUCING_POOL = 2000


class SGPRModel(ExactGP, GPyTorchModel):
    """Sparse GP regression (SGPR) with fixed inducing points, usable by BoTorch acquisition functions.

    Args:
        train_X: inputs, shape ``(n, d)``.
        train_Y: targets on the caller's scale, shape ``(n, 1)``.
        inducing: inducing inputs, shape ``(m, d)`` (kept fixed).
        likelihood: a fitted Gaussian likelihood.
        base_kernel: the fitted kernel.
        mean: the fitted constant mean.
        outcome_transform: BoTorch ``Standardize`` mapping ``train_Y`` to the scale the
            hyperparameters were fitted on; posteriors are mapped back.  ``None``: no transform.
    """

    _num_outputs = 1

    def __init__(self, train_X: torch.Tensor, train_Y: torch.Tensor, inducing: torch.Tensor,
                 likelihood: GaussianLikelihood, base_kernel: Kernel, mean: ConstantMean,
                 outcome_transform: Standardize | None = None) -> None:
        if outcome_transform is not None:
            outcome_transform.train()
            train_Y, _ = outcome_transform(train_Y)
            outcome_transform.eval()
        super().__init__(train_X, train_Y.squeeze(-1), likelihood)
        self.mean_module = mean
        self.covar_module = InducingPointKernel(base_kernel, inducing_points=inducing, likelihood=likelihood)
        self.covar_module.inducing_points.requires_grad_(False)
        if outcome_transform is not None:
            self.outcome_transform = outcome_transform
        self.n_gram_retries = 0  # factorisations redone in the Gram form (:meth:`_factors`)
        self.to(train_X)

    def forward(self, x: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))

    def posterior(self, X: torch.Tensor, output_indices=None, observation_noise: bool = False,
                  posterior_transform=None, **kwargs) -> GPyTorchPosterior:
        """BoTorch posterior of Titsias' SGPR, from the same factors as :meth:`predict_latent`.

        gpytorch's own eval-mode SGPR posterior is not used: with its diagonal correction the training
        covariance becomes FITC's (Snelson & Ghahramani, NIPS 2005), without it the test variances
        lose ``K - Q`` and are overconfident.

        Args:
            X: points, shape ``(..., q, d)``.
            output_indices: ignored (one output).
            observation_noise: add the likelihood's noise to the covariance.
            posterior_transform: applied to the result if given.

        Returns:
            A ``GPyTorchPosterior``, joint over the ``q`` points of each batch, on the caller's scale.
        """
        self.eval()
        L, LB, c = self._factors()
        k, Z = self.covar_module.base_kernel, self.covar_module.inducing_points
        V = torch.linalg.solve_triangular(L, k(Z, X).to_dense(), upper=False)
        W = torch.linalg.solve_triangular(LB, V, upper=False)
        mean = self.mean_module(X) + (W * c.unsqueeze(-1)).sum(-2)
        cov = k(X, X).to_dense() - V.transpose(-1, -2) @ V + W.transpose(-1, -2) @ W
        if observation_noise:
            cov = cov + self.likelihood.noise.reshape(()) * torch.eye(cov.shape[-1], dtype=cov.dtype)
        post = GPyTorchPosterior(MultivariateNormal(mean, cov))
        if hasattr(self, "outcome_transform"):
            post = self.outcome_transform.untransform_posterior(post, X=X)
        return posterior_transform(post) if posterior_transform is not None else post

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cholesky factors ``L`` of K_uu, ``LB`` of I + A A^T (A = L^-1 K_uf / sigma) and ``c`` =
        LB^-1 A (y - mean) / sigma: Titsias' SGPR posterior in its numerically stable form, cached.

        ``LB`` comes from the fast product form (:func:`_fast_lb`); when that matrix is not positive
        definite even with linear_operator's largest jitter, it is formed again from ``A`` itself
        (:func:`_gram_lb`, counted in :attr:`n_gram_retries`), so the model is still usable.  Why:
        an ill-conditioned K_uu (a smooth objective: long lengthscales, noise at its floor) spoils the
        product form by rounding, while ``A A^T`` is a Gram matrix and so positive semi-definite.

        Raises:
            NotPSDError: K_uu itself, or ``I + A A^T`` in the Gram form, has no Cholesky factor.
        """
        cache = getattr(self, "_fast_cache", None)
        if cache is None:
            with torch.no_grad():
                Z, k = self.covar_module.inducing_points, self.covar_module.base_kernel
                X, y = self.train_inputs[0], self.train_targets
                L = psd_safe_cholesky(k(Z, Z).to_dense())
                Kuf = k(Z, X).to_dense()
                noise = self.likelihood.noise.reshape(())
                try:
                    LB = _fast_lb(L, Kuf, noise)
                except NotPSDError:
                    self.n_gram_retries += 1
                    LB = _gram_lb(L, Kuf, noise)
                Ar = torch.linalg.solve_triangular(L, Kuf @ (y - self.mean_module(X)).unsqueeze(-1), upper=False)
                c = torch.linalg.solve_triangular(LB, Ar / noise, upper=False).squeeze(-1)
            cache = self._fast_cache = (L, LB, c)
        return cache

    def predict_latent(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of the latent function, without gpytorch's lazy-tensor overhead.

        Args:
            X: points, shape ``(N, d)``.

        Returns:
            ``(mean, var)``, each of shape ``(N,)``, on the caller's scale: the marginals of
            ``posterior(X)``, at O(m^2) per point after an O(n m^2) factorisation.
        """
        L, LB, c = self._factors()
        k = self.covar_module.base_kernel
        V = torch.linalg.solve_triangular(L, k(self.covar_module.inducing_points, X).to_dense(), upper=False)
        W = torch.linalg.solve_triangular(LB, V, upper=False)
        mean = self.mean_module(X) + W.T @ c
        var = (k(X, X, diag=True) - V.square().sum(0) + W.square().sum(0)).clamp_min(1e-12)
        if hasattr(self, "outcome_transform"):
            scale, shift = self.outcome_transform.stdvs.reshape(()), self.outcome_transform.means.reshape(())
            mean, var = mean * scale + shift, var * scale**2
        return mean, var


def _fast_lb(L: torch.Tensor, Kuf: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Cholesky factor of ``I + A A^T``, ``A = L^-1 K_uf / sqrt(noise)``, with ``A A^T`` formed as
    ``L^-1 (K_uf K_fu) L^-T / noise``: one n m^2 product and two m^3 solves instead of an n m^2
    triangular solve plus an n m^2 product.

    Raises:
        NotPSDError: rounding made the matrix indefinite beyond linear_operator's largest jitter.
    """
    AAt = torch.linalg.solve_triangular(L, Kuf @ Kuf.T, upper=False)
    AAt = torch.linalg.solve_triangular(L, AAt.T, upper=False) / noise
    return psd_safe_cholesky(torch.eye(len(L), dtype=AAt.dtype) + (AAt + AAt.T) / 2)


def _gram_lb(L: torch.Tensor, Kuf: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The factor of :func:`_fast_lb` from ``A`` itself (an n m^2 triangular solve more): ``A A^T`` is
    then a Gram matrix, so ``I + A A^T`` has eigenvalues of at least about 1.

    Raises:
        NotPSDError: only for non-finite inputs.
    """
    A = torch.linalg.solve_triangular(L, Kuf, upper=False) / noise.sqrt()
    return psd_safe_cholesky(torch.eye(len(L), dtype=A.dtype) + A @ A.T)


def select_inducing(X: torch.Tensor, kernel: Kernel, num_inducing: int, rng: np.random.Generator) -> torch.Tensor:
    """Inducing inputs chosen by BoTorch's ``GreedyVarianceReduction`` (Burt et al., JMLR 2020).

    Args:
        X: the observations' inputs, shape ``(n, d)``.
        kernel: the fitted kernel.
        num_inducing: at most this many inducing inputs.
        rng: draws the pool when ``n > INDUCING_POOL``.

    Returns:
        Up to ``num_inducing`` rows of ``X`` (of a random ``INDUCING_POOL`` of them when there are
        more); fewer when the remaining prior-conditional variance is about zero (duplicates).
    """
    pool = X if len(X) <= INDUCING_POOL else X[torch.as_tensor(rng.choice(len(X), INDUCING_POOL, replace=False))]
    with torch.no_grad():
        return GreedyVarianceReduction().allocate_inducing_points(pool, kernel, min(num_inducing, len(pool)),
                                                                  torch.Size())
