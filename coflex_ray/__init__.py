"""coflex-ray: hardware/software co-design of neural networks as a Ray Tune plugin.

The public API is the Ray Tune side: the multi-objective searchers and their options, the wrappers
that let Tune's own searchers take several objectives, the multi-fidelity schedulers,
``pareto_results`` and the search spaces.  Everything else lives in the subpackages
(``coflex_ray.evaluators``, ``coflex_ray.searchers``, ``coflex_ray.codesign``, ...).

Names are imported lazily so that ``import coflex_ray`` stays cheap (torch and Ray load only when a
name that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # Ray Tune searchers (multi-objective) and CoflexSearch's options
    "CoflexSearch": "coflex_ray.searchers.tune_searchers",
    "BoTorchMOSearch": "coflex_ray.searchers.tune_searchers",
    "NSGA2Search": "coflex_ray.searchers.tune_searchers",
    "CoflexOptions": "coflex_ray.searchers.coflex",
    # wrappers letting Tune's own searchers optimise raw multi-objective metrics
    "ScalarizedSearch": "coflex_ray.searchers.scalarize",
    "FiniteObjectivesSearch": "coflex_ray.searchers.scalarize",
    # Ray Tune trial schedulers for multi-fidelity trials (MO-ASHA; ASHA on the scalarisation)
    "MOASHAScheduler": "coflex_ray.schedulers.moasha",
    "ScalarizedASHAScheduler": "coflex_ray.schedulers.scalarized_asha",
    # the non-dominated trials of a ResultGrid / results table
    "pareto_results": "coflex_ray.searchers.pareto",
    # search spaces
    "Space": "coflex_ray.spaces",
    "Dim": "coflex_ray.spaces",
    "get_space": "coflex_ray.spaces",
    "joint": "coflex_ray.spaces",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'coflex_ray' has no attribute {name!r}")
