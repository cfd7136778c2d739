"""The co-design methods as Ray Tune runs, each returning one table of evaluations.

Every function runs one method for one seed and returns its trials (Tune's result table) with
``method``, ``seed``, ``constraint`` (index into the constraint list, or -1 for a run that serves
all constraints), ``phase`` and ``evals`` = the cumulative (network, accelerator) evaluations after
each trial, in completion order.  :func:`best_curve` turns such a table into best accuracy under a
constraint against evaluations.

* :func:`coupled`: per constraint, one CoflexSearch over network x accelerator that minimises
  ``err`` under the constraint's outcome constraints (latency, energy and PEs: a constrained
  search, :func:`.tuning.design_constraints`).
* :func:`coupled_mo`: one multi-objective CoflexSearch over network x accelerator on (err, latency,
  energy) for all constraints at once; the constrained best is read off its trials afterwards.
* :func:`semi_decoupled_tune`: stage 1 given (the members P, e.g. exhaustive from the ground-truth
  table with its evaluation count) or by a multi-objective CoflexSearch on the proxy accelerator;
  stage 2 one CoflexSearch over accelerators per constraint, each trial evaluating only P
  (:func:`.tuning.members_trial`).
* :func:`rl_coexplore`: :class:`.reinforce.ReinforceSearch` over network x accelerator, per constraint.
* :func:`hw_aware_nas`: the same controller over the network only, on a fixed accelerator.
* :func:`sequential`: hardware-aware NAS on the fixed accelerator, then the controller over the
  accelerator for the network it chose (the most accurate meeting the constraints there, else the
  most accurate).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..runner import run_tuner
from ..spaces import ACCEL_SPACE, Space, joint
from ..trial import EvalSpec
from .reinforce import ReinforceSearch
from .semidecoupled import Constraint, constraint_grid, optimal_set
from .tuning import design_constraints, make_coflex, meets, members_trial, pair_trial

OBJECTIVES = (["err", "latency", "energy"], ["min", "min", "min"], ["latency", "energy"])


def _run(trainable: Any, space: Space, alg: Any, budget: int, out: Path, name: str) -> pd.DataFrame:
    from ray.tune.search import ConcurrencyLimiter

    df = run_tuner(trainable, space.param_space(), ConcurrencyLimiter(alg, 2), budget, storage_path=out,
                   name=name, label=name, metric="err", quiet=True)
    order = "timestamp" if "timestamp" in df else "trial_id"
    return df.sort_values(order, kind="stable").reset_index(drop=True)


def _tag(df: pd.DataFrame, method: str, seed: int, constraint: int, phase: str, start: int = 0) -> pd.DataFrame:
    df = df.copy()
    df["method"], df["seed"], df["constraint"], df["phase"] = method, seed, constraint, phase
    df["evals"] = start + df["n_evals"].cumsum()
    return df


def coupled(net_space: Space, constraints: Sequence[Constraint], spec: EvalSpec, hardware: Any, budget: int,
            seed: int, out: Path, max_pes: int | None, n_init: int = 10) -> pd.DataFrame:
    """The fully coupled method as a constrained search: per constraint, ``budget`` trials of a
    CoflexSearch minimising ``err`` under latency, energy and PE outcome constraints."""
    space, frames = joint(net_space, ACCEL_SPACE), []
    for i, (lat_max, en_max) in enumerate(constraints):
        alg = make_coflex(space, ["err"], ["min"], ["latency", "energy"], seed=seed, n_init=n_init,
                          constraints=design_constraints(lat_max, en_max, max_pes))
        df = _run(partial(pair_trial, spec=spec, hardware=hardware), space, alg, budget, out, f"coupled_c{i}_s{seed}")
        frames.append(_tag(df, "coupled", seed, i, "joint"))
    return pd.concat(frames, ignore_index=True)


def coupled_mo(net_space: Space, spec: EvalSpec, hardware: Any, budget: int, seed: int, out: Path,
               n_init: int = 10) -> pd.DataFrame:
    """One unconstrained multi-objective CoflexSearch on (err, latency, energy) for every constraint."""
    space = joint(net_space, ACCEL_SPACE)
    metrics, modes, logs = OBJECTIVES
    alg = make_coflex(space, metrics, modes, logs, seed=seed, n_init=n_init)
    df = _run(partial(pair_trial, spec=spec, hardware=hardware), space, alg, budget, out, f"coupled_mo_s{seed}")
    return _tag(df, "coupled-mo", seed, -1, "joint")


def stage1_coflex(net_space: Space, proxy: Mapping[str, Any], spec: EvalSpec, hardware: Any, budget: int, seed: int,
                  out: Path, grid: int = 8, n_init: int = 10) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Stage 1 by a multi-objective CoflexSearch on the proxy: P = the grid-optimal evaluated networks."""
    metrics, modes, logs = OBJECTIVES
    alg = make_coflex(net_space, metrics, modes, logs, seed=seed, n_init=n_init)
    df = _run(partial(pair_trial, spec=spec, hardware=hardware, fixed=dict(proxy)), net_space, alg, budget, out,
              f"stage1_s{seed}")
    ok = df[df["feasible"].astype(bool)].reset_index(drop=True)
    lat, en, acc = (ok[c].to_numpy(float) for c in ("latency", "energy", "accuracy"))
    idx = optimal_set(acc, lat, en, constraint_grid(lat, en, grid))
    members = [{k: ok.at[i, f"config/{k}"] for k in net_space.keys} for i in idx]
    return members, df


def semi_decoupled_tune(members: Sequence[Mapping[str, Any]], stage1_evals: int, constraints: Sequence[Constraint],
                        spec: EvalSpec, hardware: Any, budget: int, seed: int, out: Path, max_pes: int | None,
                        method: str, stage1: pd.DataFrame | None = None, n_init: int = 5) -> pd.DataFrame:
    """Stage 2 per constraint (a CoflexSearch over accelerators, each trial evaluating only ``members``)."""
    frames = []
    if stage1 is not None:
        frames.append(_tag(stage1, method, seed, -1, "stage1"))
    for c, (lat_max, en_max) in enumerate(constraints):
        alg = make_coflex(ACCEL_SPACE, ["err"], ["min"], seed=seed, n_init=n_init)
        trial = partial(members_trial, members=[dict(m) for m in members], spec=spec, hardware=hardware,
                        latency_max=lat_max, energy_max=en_max, max_pes=max_pes)
        df = _run(trial, ACCEL_SPACE, alg, budget, out, f"{method}_stage2_c{c}_s{seed}")
        df = _tag(df, method, seed, c, "stage2", start=stage1_evals)
        df["accuracy"] = df["score"].where(df["score"] >= 0)  # the stage-2 answer meets the constraints
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _controller(space: Space, c: Constraint, max_pes: int | None, seed: int, err_scale: float) -> ReinforceSearch:
    return ReinforceSearch(space, c[0], c[1], max_pes=max_pes, seed=seed, err_scale=err_scale)


def rl_coexplore(net_space: Space, constraints: Sequence[Constraint], spec: EvalSpec, hardware: Any, budget: int,
                 seed: int, out: Path, max_pes: int | None, err_scale: float = 100.0) -> pd.DataFrame:
    space, frames = joint(net_space, ACCEL_SPACE), []
    for i, c in enumerate(constraints):
        alg = _controller(space, c, max_pes, seed, err_scale)
        df = _run(partial(pair_trial, spec=spec, hardware=hardware), space, alg, budget, out, f"rl_c{i}_s{seed}")
        frames.append(_tag(df, "rl-coexplore", seed, i, "joint"))
    return pd.concat(frames, ignore_index=True)


def hw_aware_nas(net_space: Space, accel: Mapping[str, Any], constraints: Sequence[Constraint], spec: EvalSpec,
                 hardware: Any, budget: int, seed: int, out: Path, max_pes: int | None, err_scale: float = 100.0,
                 method: str = "hw-nas-fixed") -> pd.DataFrame:
    frames = []
    for i, c in enumerate(constraints):
        alg = _controller(net_space, c, max_pes, seed, err_scale)
        df = _run(partial(pair_trial, spec=spec, hardware=hardware, fixed=dict(accel)), net_space, alg, budget, out,
                  f"{method}_c{i}_s{seed}")
        frames.append(_tag(df, method, seed, i, "nas"))
    return pd.concat(frames, ignore_index=True)


def sequential(net_space: Space, accel: Mapping[str, Any], constraints: Sequence[Constraint], spec: EvalSpec,
               hardware: Any, budget: int, seed: int, out: Path, max_pes: int | None,
               err_scale: float = 100.0) -> pd.DataFrame:
    """Half the budget for hardware-aware NAS on ``accel``, half for the accelerator search of its choice."""
    nas_budget = budget // 2
    frames = []
    nas = hw_aware_nas(net_space, accel, constraints, spec, hardware, nas_budget, seed, out, max_pes, err_scale,
                       method="sequential")
    for i, c in enumerate(constraints):
        step1 = nas[nas["constraint"] == i]
        good = step1[[meets(r, c[0], c[1], max_pes) for r in step1.to_dict("records")]]
        pick = (good if len(good) else step1[step1["feasible"].astype(bool)]).sort_values("accuracy").iloc[-1]
        arch = {k: pick[f"config/{k}"] for k in net_space.keys}
        alg = _controller(ACCEL_SPACE, c, max_pes, seed, err_scale)
        df = _run(partial(pair_trial, spec=spec, hardware=hardware, fixed=arch), ACCEL_SPACE, alg,
                  budget - nas_budget, out, f"sequential_hw_c{i}_s{seed}")
        frames += [step1, _tag(df, "sequential", seed, i, "accelerator", start=int(step1["evals"].max()))]
    return pd.concat(frames, ignore_index=True)


def best_curve(df: pd.DataFrame, constraint: int, c: Constraint, max_pes: int | None) -> pd.DataFrame:
    """Best accuracy meeting constraint ``c`` against evaluations, for one method and seed's trials.

    Trials of runs made for another constraint are ignored; a stage-2 trial counts through its
    reported answer (already checked against ``c``); other trials count when they meet ``c``."""
    part = df[df["constraint"].isin([constraint, -1])].sort_values(["evals"], kind="stable")
    best, rows = -math.inf, []
    for r in part.to_dict("records"):
        if r["phase"] == "stage2":
            ok = r["score"] >= 0 and (max_pes is None or r["pes"] <= max_pes)
        else:
            ok = meets(r, c[0], c[1], max_pes)
        if ok and r["accuracy"] > best:
            best = float(r["accuracy"])
        rows.append((r["evals"], best if np.isfinite(best) else math.nan))
    return pd.DataFrame(rows, columns=["evals", "best_accuracy"])
