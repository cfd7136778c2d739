"""The sparse GP (SGPR): with every point inducing it is the exact GP; its fast prediction is its posterior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coflex_ray.searchers.models import DTYPE, SGPRModel, fit_sparse_gp, predict

from .helpers import exact_twin as _exact_twin
from .helpers import grid as _grid

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_sgpr_with_all_points_inducing_matches_exact_gp():
    rng = np.random.default_rng(0)
    X = _grid(rng, 40, 3)
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 + 0.01 * rng.normal(size=40)
    sgpr = fit_sparse_gp(X, y, 40, inducing=X, seed=0)
    exact = _exact_twin(sgpr, X)
    Xt = _grid(rng, 200, 3)
    m1, s1 = predict(sgpr, Xt)
    m2, s2 = predict(exact, Xt)
    assert np.abs(m1 - m2).max() < 1e-5 * max(1.0, np.abs(m2).max())
    assert np.abs(s1 - s2).max() < 1e-5  # measured 7.7e-7 (sd 0.005-0.03); means 3.5e-7
    # and the prediction is on the caller's scale, not the standardised one
    assert abs(m1.mean() - y.mean()) < 3 * y.std()
    assert np.abs(predict(sgpr, X)[0] - y).max() < 0.2 * y.std()


def test_fast_sgpr_prediction_equals_gpytorch_posterior():
    rng = np.random.default_rng(1)
    X = _grid(rng, 300, 4)
    y = np.cos(5 * X[:, 0]) * (1 + X[:, 1]) + X[:, 2:].sum(1)
    model = fit_sparse_gp(X, 10 * y + 3, 32, seed=1)
    assert isinstance(model, SGPRModel) and len(model.covar_module.inducing_points) == 32
    Xt = torch.tensor(_grid(rng, 100, 4), dtype=DTYPE)
    with torch.no_grad():
        post = model.posterior(Xt)
        mu, var = model.predict_latent(Xt)
    assert torch.allclose(mu, post.mean.squeeze(-1), rtol=1e-8, atol=1e-8)
    assert torch.allclose(var, post.variance.squeeze(-1), rtol=1e-8, atol=1e-10)
    # the mean is gpytorch's SGPR mean (which, without its FITC-style correction, is Titsias')
    import gpytorch
    from gpytorch.models import ExactGP

    with torch.no_grad(), gpytorch.settings.sgpr_diagonal_correction(False):
        ref = ExactGP.__call__(model, Xt).mean * model.outcome_transform.stdvs + model.outcome_transform.means
    assert torch.allclose(mu, ref.squeeze(0), rtol=1e-6, atol=1e-6)
    # a joint posterior over batches of q points, as BoTorch acquisitions ask for
    with torch.no_grad():
        joint = model.posterior(Xt[:12].reshape(3, 4, 4))
    assert joint.mean.shape == (3, 4, 1)
    assert torch.allclose(joint.variance.reshape(-1), var[:12], rtol=1e-8, atol=1e-10)
