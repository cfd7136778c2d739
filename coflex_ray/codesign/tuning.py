"""The Tune side of the co-design methods: trial functions and the one place CoflexSearch is built.

Trials reuse :func:`coflex_ray.trial.evaluate_config` (accuracy source + hardware simulator through
the shared layer-cost cache), so every method here sees exactly the evaluations of the main study.
Each trial reports ``n_evals``: how many (network, accelerator) evaluations it cost, the unit the
co-design comparisons count.

* :func:`pair_trial`: one network on one accelerator; ``fixed`` supplies the part a method does not
  search (the proxy accelerator in semi-decoupled stage 1, the fixed accelerator of hardware-aware
  NAS, the chosen network in the sequential method's accelerator search).
* :func:`members_trial`: semi-decoupled stage 2; evaluates only the given member networks on the
  trial's accelerator and reports the most accurate one meeting the constraints.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..spaces import Space
from ..trial import EvalSpec, evaluate_config

INFEASIBLE_SCORE = -1.0  # members_trial's score when no member meets the constraints


def make_coflex(space: Space, metrics: Sequence[str], modes: Sequence[str], log_metrics: Sequence[str] = (),
                seed: int = 0, n_init: int = 10, batch_size: int = 4,
                constraints: Mapping[str, tuple[str, float]] | None = None) -> Any:
    """CoflexSearch on ``space`` (the only place the co-design code builds one); ``constraints``:
    outcome constraints ``{metric: (op, bound)}`` (see :class:`coflex_ray.CoflexSearch`)."""
    from ..searchers.tune_searchers import CoflexSearch

    return CoflexSearch(space, metric=list(metrics), mode=list(modes), log_metrics=list(log_metrics), seed=seed,
                        n_init=n_init, batch_size=batch_size, constraints=constraints)


def design_constraints(latency_max: float, energy_max: float, max_pes: int | None) -> dict[str, tuple[str, float]]:
    """One co-design constraint as outcome constraints on :func:`pair_result`'s columns: ``latency``
    (cycles), ``energy`` (pJ) and, with ``max_pes``, ``pes`` (``X1 * X2``)."""
    out = {"latency": ("<=", float(latency_max)), "energy": ("<=", float(energy_max))}
    if max_pes:
        out["pes"] = ("<=", float(max_pes))
    return out


def pair_result(config: Mapping[str, Any], spec: EvalSpec, hardware: Any = None) -> dict[str, Any]:
    """evaluate_config plus ``latency`` (cycles), ``energy`` (pJ), ``accuracy`` and ``pes`` (inf/NaN when
    infeasible, so constraint checks fail)."""
    out = evaluate_config(dict(config), spec, hardware)
    ok = bool(out["feasible"])
    out["latency"] = float(out["latency_cycles"]) if ok else math.inf
    out["energy"] = float(out["energy_pJ"]) if ok else math.inf
    out["accuracy"] = 100.0 - float(out["err"]) if ok else math.nan
    out["pes"] = int(config["X1"]) * int(config["X2"]) if "X1" in config else 0
    out["n_evals"] = 1
    return out


def pair_trial(config: dict[str, Any], spec: EvalSpec = EvalSpec(), hardware: Any = None,
               fixed: Mapping[str, Any] | None = None) -> None:
    """Tune trainable: ``config`` merged with ``fixed``, evaluated once, reported."""
    from ray import tune

    full = {**config, **(fixed or {})}
    out = pair_result(full, spec, hardware)
    out.update({f"fixed/{k}": v for k, v in (fixed or {}).items()})
    tune.report(out)


def meets(res: Mapping[str, Any], latency_max: float, energy_max: float, max_pes: int | None = None) -> bool:
    """A feasible evaluation within the latency, energy (and PE) constraints."""
    return (bool(res["feasible"]) and res["latency"] <= latency_max and res["energy"] <= energy_max
            and (max_pes is None or res["pes"] <= max_pes))


def evaluate_members(accel: Mapping[str, Any], members: Sequence[Mapping[str, Any]], spec: EvalSpec,
                     latency_max: float, energy_max: float, max_pes: int | None, hardware: Any = None) -> dict[str, Any]:
    """Stage 2 of the semi-decoupled method on one accelerator: only ``members`` are evaluated.

    Returns ``score`` = accuracy (%) of the most accurate member meeting the constraints (or
    :data:`INFEASIBLE_SCORE`), ``err`` = 100 - score, the winner, and ``evaluated``: the arch strings
    evaluated (always exactly the members)."""
    pes = int(accel["X1"]) * int(accel["X2"])
    out: dict[str, Any] = {"score": INFEASIBLE_SCORE, "err": 100.0 - INFEASIBLE_SCORE, "best_arch": "",
                           "latency": math.nan, "energy": math.nan, "pes": pes, "feasible": True, "evaluated": [],
                           "n_evals": 0}
    if max_pes is not None and pes > max_pes:  # the accelerator's own resource constraint: nothing to evaluate
        out["feasible"], out["error"] = False, f"{pes} PEs > max_pes {max_pes}"
        return out
    for member in members:
        res = pair_result({**member, **accel}, spec, hardware)
        out["evaluated"].append(res["arch"])
        out["n_evals"] += 1
        if meets(res, latency_max, energy_max) and res["accuracy"] > out["score"]:
            out.update(score=res["accuracy"], err=res["err"], best_arch=res["arch"], latency=res["latency"],
                       energy=res["energy"])
    return out


def members_trial(config: dict[str, Any], members: Sequence[Mapping[str, Any]] = (), spec: EvalSpec = EvalSpec(),
                  hardware: Any = None, latency_max: float = math.inf, energy_max: float = math.inf,
                  max_pes: int | None = None) -> None:
    """Tune trainable of semi-decoupled stage 2 (``config`` = an accelerator)."""
    from ray import tune

    out = evaluate_members(config, members, spec, latency_max, energy_max, max_pes, hardware)
    out["evaluated"] = ",".join(out["evaluated"])  # cell strings contain "|" but no ","
    tune.report(out)
