"""Gradient refinement of an acquisition over a space's fine-grained (near-continuous) knobs.

A ``tune.uniform`` knob becomes an ordinal dimension of ``float_levels`` values; stepping through it
one level at a time (:func:`.candidates.local_search`) barely moves a point, and an optimum on the
box's boundary is seldom among the random candidates.  :func:`polish` instead optimises the
acquisition over the fine knobs as real numbers with L-BFGS-B, as BoTorch's ``optimize_acqf`` does
(:func:`botorch.generation.gen.gen_candidates_scipy`), the other knobs held at the start's values,
and snaps the result to legal values.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from ..spaces import Space

FINE_LEVELS = 101  # an ordinal dimension with at least this many legal values is refined as continuous
POLISH_ITERS = 50  # L-BFGS-B iterations per refinement


def fine_dims(space: Space) -> list[int]:
    """Indices of the ordinal dimensions of ``space`` with at least ``FINE_LEVELS`` legal values."""
    return [k for k, d in enumerate(space.dims) if d.kind == "ordinal" and d.n >= FINE_LEVELS]


def polish(space: Space, starts: np.ndarray, acqf: Any, dims: list[int] | None = None) -> np.ndarray:
    """Maximise ``acqf`` from each start over the fine dimensions, the others fixed.

    Args:
        space: the search space.
        starts: cube points to start from, shape ``(b, d)``.
        acqf: a BoTorch acquisition function (higher is better) on ``(b, 1, d)`` cube points.
        dims: the dimensions to refine; default :func:`fine_dims`.

    Returns:
        The refined points snapped to legal bin centres, shape ``(b, d)``; ``starts`` snapped when
        there is nothing to refine or the optimiser fails numerically.
    """
    from botorch.generation.gen import gen_candidates_scipy

    dims = fine_dims(space) if dims is None else dims
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    if not dims or not len(starts):
        return space.snap(starts)
    x0 = torch.tensor(starts, dtype=torch.double).unsqueeze(1)
    fixed = {k: x0[:, 0, k] for k in range(space.ndim) if k not in dims}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's and BoTorch's optimisation warnings
            X, _ = gen_candidates_scipy(x0, acqf, lower_bounds=0.0, upper_bounds=1.0,
                                        options={"maxiter": POLISH_ITERS}, fixed_features=fixed or None)
    except (RuntimeError, ValueError):  # a non-finite gradient or a failed factorisation: keep the starts
        return space.snap(starts)
    return space.snap(X.detach().squeeze(1).numpy())
