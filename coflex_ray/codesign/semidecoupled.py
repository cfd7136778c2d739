"""Semi-decoupled co-design (Lu, Yan, Shi, Ren, tinyML 2022), on the exhaustive ground truth.

The method, as the paper states it:

1. **Stage 1.** On a proxy accelerator, find the set P of architectures that are optimal (most
   accurate) under a grid of latency/energy constraints.  Here the grid is ``grid x grid`` pairs of
   quantiles (1/grid, 2/grid, ..., 1) of the proxy's feasible latencies and energies; P is the union
   of each grid pair's best architecture, so ``K = |P| <= grid**2``.  ``grid=None`` is the limit of
   an infinitely fine grid: P = the proxy's Pareto set of (accuracy, latency, energy)
   (:func:`pareto_set`), every architecture that is optimal under some constraint pair.
2. **Stage 2.** Search the accelerators, pairing each only with the members of P: on an accelerator,
   the answer for a user constraint is the most accurate member of P that meets it (and the
   accelerator's own resource limit, ``max_pes`` = X1 * X2).  No architecture outside P is evaluated.

If performance is monotonic (every accelerator ranks architectures like the proxy), the true
constrained optimum on any accelerator is in P.  Variants from the paper's discussion:

* several proxies: P is the union of the proxies' sets (stage 1 costs one sweep per proxy);
* P enlarged with near-optimal architectures (``near`` runners-up per grid pair); with
  ``auto_enlarge`` this happens when the SRCC measured in the proxy's cost bands is low: ``probe_archs``
  random architectures are evaluated on ``probe_accelerators`` other accelerators (counted as
  evaluations), :func:`.monotonicity.monotonicity` is taken with bands of proxy latency, and if the
  lowest in-band latency or energy SRCC with the proxy is below ``srcc_threshold``, ``near_when_low``
  runners-up are added per grid pair.

Evaluations are (architecture, accelerator) cost evaluations: stage 1 = all architectures on each
proxy; stage 2 = |P| on every accelerator within the PE limit; the fully coupled exhaustive search
= all architectures on every accelerator within the PE limit.  A Tune-driven version of both stages
is in :mod:`.methods`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .groundtruth import GroundTruth
from .monotonicity import monotonicity

Constraint = tuple[float, float]  # (latency_max cycles, energy_max pJ)


def constraint_grid(latency: np.ndarray, energy: np.ndarray, grid: int = 8) -> list[Constraint]:
    """``grid x grid`` (latency, energy) pairs at quantiles 1/grid .. 1 of the finite values."""
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
        raise ValueError(f"grid={grid!r} must be a positive integer")
    ok = np.isfinite(latency) & np.isfinite(energy)
    if not ok.any():
        raise ValueError("no feasible architecture on the proxy: cannot build a constraint grid")
    q = np.arange(1, grid + 1) / grid
    return [(float(l), float(e)) for l in np.quantile(latency[ok], q) for e in np.quantile(energy[ok], q)]


def optimal_set(accuracy: np.ndarray, latency: np.ndarray, energy: np.ndarray, grid: Sequence[Constraint],
                near: int = 0) -> np.ndarray:
    """Indices of the most accurate architecture (plus ``near`` runners-up) under each grid constraint."""
    members: set[int] = set()
    order = np.argsort(-np.nan_to_num(accuracy, nan=-np.inf), kind="stable")
    with np.errstate(invalid="ignore"):
        for lat_max, en_max in grid:
            ok = (latency <= lat_max) & (energy <= en_max)
            members.update(int(i) for i in order[ok[order]][: 1 + near])
    return np.array(sorted(members), dtype=int)


def pareto_set(accuracy: np.ndarray, latency: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Indices of the feasible architectures not dominated in (max accuracy, min latency, min energy)."""
    from ..analysis import nondominated

    ok = np.flatnonzero(np.isfinite(latency) & np.isfinite(energy) & np.isfinite(accuracy))
    return ok[nondominated(np.stack([-accuracy[ok], latency[ok], energy[ok]], axis=1))]


def proxy_set(accuracy: np.ndarray, latency: np.ndarray, energy: np.ndarray, grid: int | None, near: int = 0) -> np.ndarray:
    """Stage 1's set P on one proxy: grid-optimal (plus ``near`` runners-up), or the Pareto set if ``grid`` is None."""
    if grid is None:
        return pareto_set(accuracy, latency, energy)
    return optimal_set(accuracy, latency, energy, constraint_grid(latency, energy, grid), near)


@dataclass
class SemiDecoupledResult:
    """One run on the ground truth: the set P, the evaluations used, and per user constraint the answer."""

    proxies: list[int]
    members: np.ndarray  # positions in gt.archs
    enlarged: bool
    min_band_srcc: float
    evaluations: dict[str, int]
    rows: pd.DataFrame = field(repr=False)  # one row per user constraint


def _probe_srcc(gt: GroundTruth, proxy: int, probe_accelerators: int, probe_archs: int,
                rng: np.random.Generator) -> tuple[float, int]:
    """Lowest in-band SRCC (latency or energy) between the proxy and a few other accelerators, on a
    random probe of architectures; and the evaluations the probe cost."""
    others = [a for a in range(len(gt.accelerators)) if a != proxy and gt.feasible[a].any()]
    others = list(rng.choice(others, min(probe_accelerators, len(others)), replace=False))
    archs = rng.choice(np.flatnonzero(gt.feasible[proxy]), min(probe_archs, int(gt.feasible[proxy].sum())),
                       replace=False)
    rows = [(j, a, gt.latency[a, j], gt.energy[a, j]) for a in [proxy] + others for j in archs]
    table = pd.DataFrame(rows, columns=["arch", "accelerator", "latency", "energy"]).dropna()
    res = monotonicity(table, proxy=proxy, n_bands=4)
    p = res.pairs[(res.pairs["band"] != "all") & ((res.pairs["acc_a"] == proxy) | (res.pairs["acc_b"] == proxy))]
    return float(p["srcc"].min()) if p["srcc"].notna().any() else float("nan"), len(archs) * len(others)


def semi_decoupled(gt: GroundTruth, constraints: Sequence[Constraint], proxies: int | Sequence[int] = 0,
                   grid: int | None = 8, max_pes: int | None = None, near: int = 0, auto_enlarge: bool = False,
                   srcc_threshold: float = 0.9, near_when_low: int = 2, probe_accelerators: int = 2,
                   probe_archs: int = 64, seed: int = 0) -> SemiDecoupledResult:
    """Run both stages exhaustively on ``gt`` and compare every answer with the true optimum."""
    proxies = [int(proxies)] if np.isscalar(proxies) else [int(p) for p in proxies]
    for p in proxies:
        gt._acc_pos(p)
    rng = np.random.default_rng(seed)
    evals = {"stage1": 0, "probe": 0, "stage2": 0}
    min_srcc, enlarged = float("nan"), near > 0
    if auto_enlarge:
        min_srcc, evals["probe"] = _probe_srcc(gt, proxies[0], probe_accelerators, probe_archs, rng)
        if not min_srcc >= srcc_threshold:
            near, enlarged = max(near, near_when_low), True
    members = set()
    for p in proxies:
        evals["stage1"] += gt.shape[1]
        members.update(proxy_set(gt.accuracy, gt.latency[p], gt.energy[p], grid, near).tolist())
    P = np.array(sorted(members), dtype=int)
    pes = np.array([a.X1 * a.X2 for a in gt.accelerators])
    allowed = np.ones(len(pes), bool) if max_pes is None else pes <= max_pes
    evals["stage2"] = len(P) * int(allowed.sum())
    rows = []
    for lat_max, en_max in constraints:
        ok = gt.ok_mask(lat_max, en_max, max_pes)[:, P]
        best = {"accuracy": float("nan"), "arch": -1, "accelerator": -1}
        if ok.any():
            acc = np.where(ok, gt.accuracy[P][None, :], -np.inf)
            a, j = np.unravel_index(int(np.argmax(acc)), acc.shape)
            best = {"accuracy": float(gt.accuracy[P[j]]), "arch": int(gt.arch_index[P[j]]), "accelerator": int(a)}
        true = gt.optimum(lat_max, en_max, max_pes=max_pes)
        gap = true["accuracy"] - best["accuracy"] if np.isfinite(true["accuracy"]) else float("nan")
        if np.isfinite(true["accuracy"]) and not np.isfinite(best["accuracy"]):
            gap = float("inf")  # an optimum exists but P has no member meeting the constraint anywhere
        rows.append({"latency_max": lat_max, "energy_max": en_max, "found_accuracy": best["accuracy"],
                     "found_arch": best["arch"], "found_accelerator": best["accelerator"],
                     "true_accuracy": true["accuracy"], "true_arch": true["arch"],
                     "true_accelerator": true["accelerator"], "gap": gap})
    return SemiDecoupledResult(proxies, P, enlarged, min_srcc, evals, pd.DataFrame(rows))


def every_proxy(gt: GroundTruth, constraints: Sequence[Constraint], n_proxies: int = 1, **kw) -> pd.DataFrame:
    """:func:`semi_decoupled` with every accelerator (that runs at least one cell) taken in turn as the
    proxy: one row per (proxy, constraint) with K, evaluations and the gap to the true optimum.
    ``n_proxies > 1``: each proxy is joined by ``n_proxies - 1`` others drawn at random (seeded by it)."""
    pes = np.array([a.X1 * a.X2 for a in gt.accelerators])
    max_pes = kw.get("max_pes")
    coupled = gt.shape[1] * int((pes <= max_pes).sum() if max_pes is not None else len(pes))
    frames = []
    usable = [p for p in range(len(gt.accelerators)) if gt.feasible[p].any()]
    for p in usable:
        extra = np.random.default_rng(p).choice([q for q in usable if q != p], n_proxies - 1, replace=False)
        r = semi_decoupled(gt, constraints, proxies=[p, *extra.tolist()], **kw)
        df = r.rows.copy()
        df.insert(0, "proxy", p)
        df.insert(1, "constraint", range(len(df)))
        df["K"], df["enlarged"], df["min_band_srcc"] = len(r.members), r.enlarged, r.min_band_srcc
        df["evaluations"] = sum(r.evaluations.values())
        df["coupled_evaluations"] = coupled
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
