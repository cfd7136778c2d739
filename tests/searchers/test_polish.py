"""Gradient refinement over fine-grained knobs: which knobs count as fine, and a boundary optimum
of log EI that random candidates miss is reached while the other knobs stay put."""

from __future__ import annotations

import numpy as np
import torch

from coflex_ray.spaces import Dim, Space, integer_dim
from coflex_ray.searchers.polish import fine_dims, polish

FINE = tuple(float(v) for v in np.linspace(0.0, 1.0, 1001))
SPACE = Space("t", (Dim("a", FINE), Dim("b", FINE), Dim("c", ("x", "y", "z"), "categorical"),
                    integer_dim("r", 10, 512), Dim("s", (1, 2, 4, 8))))


def test_fine_dims_are_the_many_valued_ordinal_knobs():
    assert fine_dims(SPACE) == [0, 1]  # not the 503-value integer knob, not the 4-value ordinal one


def test_polish_reaches_the_boundary_optimum_and_keeps_the_other_knobs():
    from botorch.acquisition.analytic import LogExpectedImprovement

    from coflex_ray.searchers.models import fit_sparse_gp

    rng = np.random.default_rng(0)
    X = rng.uniform(0.1, 0.9, (30, SPACE.ndim))
    y = X[:, 0] + 2 * X[:, 1]  # minimised at a = b = 0, outside the data
    model = fit_sparse_gp(X, (y - y.mean()) / y.std(), 16, cat_dims=(2,), seed=0)
    acqf = LogExpectedImprovement(model, best_f=float(((y - y.mean()) / y.std()).min()), maximize=False)
    starts = SPACE.snap(rng.uniform(0.3, 0.7, (3, SPACE.ndim)))
    P = polish(SPACE, starts, acqf)
    assert np.allclose(P[:, 2:], starts[:, 2:])  # categorical, integer and coarse knobs unchanged
    assert np.all(P[:, :2] < 0.01)  # both fine knobs at their lower ends
    assert np.allclose(P, SPACE.snap(P))  # legal bin centres
    with torch.no_grad():
        before, after = acqf(torch.tensor(starts).unsqueeze(1)), acqf(torch.tensor(P).unsqueeze(1))
    assert torch.all(after > before)


def test_polish_without_fine_knobs_only_snaps():
    coarse = Space("c", (Dim("s", (1, 2, 4, 8)), integer_dim("r", 10, 512)))
    starts = np.array([[0.3, 0.51]])
    assert np.array_equal(polish(coarse, starts, acqf=None), coarse.snap(starts))
