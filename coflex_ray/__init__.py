"""coflex-ray: hardware/software co-design of neural networks as a Ray Tune plugin.

Public names are imported lazily so that ``import coflex_ray`` stays cheap (torch and Ray load only
when a name that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # spaces
    "Space": "coflex_ray.spaces",
    "Dim": "coflex_ray.spaces",
    "SSS_SPACE": "coflex_ray.spaces",
    "NB201_SPACE": "coflex_ray.spaces",
    "ACCEL_SPACE": "coflex_ray.spaces",
    "get_space": "coflex_ray.spaces",
    "joint": "coflex_ray.spaces",
    # network-side evaluators
    "NatsSSS": "coflex_ray.evaluators.nats_sss",
    "nb201_accuracy": "coflex_ray.evaluators.nb201",
    "nb201_best": "coflex_ray.evaluators.nb201",
    "RBFProxy": "coflex_ray.evaluators.proxy",
    "sss_network": "coflex_ray.evaluators.networks",
    "nb201_network": "coflex_ray.evaluators.networks",
    "network_costs": "coflex_ray.evaluators.networks",
    "make_accuracy_evaluator": "coflex_ray.evaluators.accuracy",
    # searchers (Ray Tune Searchers; multi-objective) and their ask/tell cores (no Ray needed)
    "CoflexSearch": "coflex_ray.searchers.tune_searchers",
    "BoTorchMOSearch": "coflex_ray.searchers.tune_searchers",
    "NSGA2Search": "coflex_ray.searchers.tune_searchers",
    "CoflexCore": "coflex_ray.searchers.coflex",
    "BoTorchCore": "coflex_ray.searchers.botorch_mo",
    "NSGA2Core": "coflex_ray.searchers.nsga2",
    # wrappers letting Tune's own searchers optimise raw multi-objective metrics
    "ScalarizedSearch": "coflex_ray.searchers.scalarize",
    "FiniteObjectivesSearch": "coflex_ray.searchers.scalarize",
    # the non-dominated trials of a ResultGrid / results table
    "pareto_results": "coflex_ray.searchers.pareto",
    # Tune side
    "cosearch_trial": "coflex_ray.trial",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'coflex_ray' has no attribute {name!r}")
