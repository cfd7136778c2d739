"""Toy spaces, objectives and GP helpers that several test modules of ``tests/searchers`` share."""

from __future__ import annotations

import numpy as np
from pymoo.problems import get_problem

from coflex_ray.spaces import Dim, Space, integer_dim

# four ordinal knobs of 17 levels in [0, 1], with ZDT1's objectives (:func:`cube_zdt1`)
CUBE_SPACE = Space("zdt1", tuple(Dim(f"x{i}", tuple(np.round(np.linspace(0, 1, 17), 4).tolist())) for i in range(4)))
ZDT1 = get_problem("zdt1", n_var=4)

# an ordinal, an integer and a categorical knob (3 x 20 x 4 legal points)
MIXED_SPACE = Space("mixed", (Dim("c", (8, 16, 32), "ordinal"), integer_dim("X", 1, 20),
                              Dim("op", ("a", "b", "c", "d"), "categorical")))


def cube_zdt1(x: np.ndarray) -> np.ndarray:
    """ZDT1's two objectives at the cube point ``x`` of :data:`CUBE_SPACE`."""
    return ZDT1.evaluate(np.array(list(CUBE_SPACE.decode(x).values()), dtype=float)[None])[0]


def grid(rng: np.random.Generator, n: int, d: int, levels: int = 16) -> np.ndarray:
    """``n`` random bin centres of a ``d``-dimensional grid with ``levels`` values per dimension."""
    return (rng.integers(levels, size=(n, d)) + 0.5) / levels


def exact_twin(sgpr, X: np.ndarray, additive: bool = False):
    """An exact GP with the SGPR's hyperparameters, on the same (standardised) scale."""
    import torch
    from botorch.models import SingleTaskGP

    from coflex_ray.searchers.models import DTYPE, make_kernel

    exact = SingleTaskGP(torch.tensor(X, dtype=DTYPE), sgpr.train_targets.unsqueeze(-1),
                         covar_module=make_kernel(X.shape[1], additive=additive), outcome_transform=None)
    exact.covar_module.load_state_dict(sgpr.covar_module.base_kernel.state_dict())
    exact.likelihood.load_state_dict(sgpr.likelihood.state_dict())
    exact.mean_module.load_state_dict(sgpr.mean_module.state_dict())
    exact.outcome_transform = sgpr.outcome_transform
    exact.eval()
    return exact
