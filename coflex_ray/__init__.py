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
    # Ray Tune trial schedulers for multi-fidelity trials (MO-ASHA; ASHA on the scalarisation)
    "MOASHAScheduler": "coflex_ray.schedulers.moasha",
    "ScalarizedASHAScheduler": "coflex_ray.schedulers.scalarized_asha",
    "make_scheduler": "coflex_ray.schedulers",
    # Tune side
    "cosearch_trial": "coflex_ray.trial",
    # co-design methods beside CoflexSearch (semi-decoupled, RL co-exploration) and their ground truth
    "monotonicity": "coflex_ray.codesign.monotonicity",
    "plot_monotonicity": "coflex_ray.codesign.monotonicity",
    "build_ground_truth": "coflex_ray.codesign.groundtruth",
    "GroundTruth": "coflex_ray.codesign.groundtruth",
    "nb201_layers": "coflex_ray.codesign.layers",
    "semi_decoupled": "coflex_ray.codesign.semidecoupled",
    "every_proxy": "coflex_ray.codesign.semidecoupled",
    "semi_decoupled_tune": "coflex_ray.codesign.methods",
    "stage1_coflex": "coflex_ray.codesign.methods",
    "ReinforceSearch": "coflex_ray.codesign.reinforce",
    "rl_coexplore": "coflex_ray.codesign.methods",
    "hw_aware_nas": "coflex_ray.codesign.methods",
    "sequential": "coflex_ray.codesign.methods",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'coflex_ray' has no attribute {name!r}")
