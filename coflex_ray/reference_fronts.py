"""Reference fronts: the yardstick that search quality is measured against, one per benchmark.

A search result means little against itself (each run's "95 % of its own final HV") or against a
random probe (every good method normalises below the probe's minimum).  It is measured here against a
reference front of the benchmark, in the objective space of :mod:`coflex_ray.analysis`
(``err``, ``log10`` of the hardware objective), normalised by that front's ideal and nadir, with the
reference point 1.1 in every coordinate:

* ``kind="exact"``: the true Pareto front of a benchmark whose every configuration is tabulated.
  NAS-Bench-201 x measured device latency: all 15,625 cells' real test error (200 epochs) and
  measured latency (HELP / HW-NAS-Bench), both shipped, so the front is exact
  (:func:`nb201_device_front`).
* ``kind="best-known"``: the non-dominated union of every feasible point of documented long runs
  (SSS x accelerator, NB201 x accelerator, where 7.9e14 accelerators rule out enumeration), written
  by :func:`write_best_known` with the command that made it and shipped under
  ``coflex_ray/data/fronts/``.  Shipped: SSS (ImageNet16-120, surrogate error) x zigzag-fixed.  For
  a benchmark without one, :func:`reference_front_for` returns None and the study says that it falls
  back to the union of its own runs.

HV fractions above 1 are possible only against a best-known front (a run found better points).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import REF, bounds_of, check_hw, hypervolume, nondominated, objective_matrix, objectives
from .spaces import NB201_EDGES, nb201_config

FRONTS_DIR = "fronts"  # inside coflex_ray/data


@dataclass(frozen=True)
class ReferenceFront:
    """A non-dominated set in the objective space ``(err, log10 hw)`` plus where it came from."""

    points: np.ndarray
    hw: str
    kind: str  # "exact" | "best-known"
    source: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_hw(self.hw)
        if self.kind not in ("exact", "best-known"):
            raise ValueError(f"kind={self.kind!r} is not allowed; allowed: 'exact', 'best-known'")
        pts = np.asarray(self.points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0 or not np.isfinite(pts).all():
            raise ValueError(f"a reference front needs finite (n >= 1, 2) points; got shape {pts.shape}")
        object.__setattr__(self, "points", np.unique(pts[nondominated(pts)], axis=0))

    @property
    def bounds(self) -> dict[str, list[float]]:
        """Ideal and nadir of the front as a bounds dict (see :func:`coflex_ray.analysis.normalise`).
        A front of one point gets a unit range, so the normalisation stays defined."""
        return bounds_of(self.points, self.hw)

    @property
    def hv(self) -> float:
        """Hypervolume of the front itself, normalised by its own ideal/nadir, reference point 1.1."""
        from .analysis import normalise

        return hypervolume(normalise(self.points, self.bounds), [REF] * 2)


def nb201_device_front(dataset: str, device: str) -> ReferenceFront:
    """The exact Pareto front of NAS-Bench-201 on ``dataset`` x measured latency on ``device``."""
    from .evaluators.device import check_device, latency_table
    from .evaluators.nb201 import NB201_DATASETS, nb201_table

    check_device(device)
    if dataset not in NB201_DATASETS:
        raise ValueError(f"dataset={dataset!r} is not allowed for nb201; allowed: {list(NB201_DATASETS)}")
    table = nb201_table()
    acc = _nb201_accuracies(table, dataset)
    lat = latency_table()[device].to_numpy(float)
    live = np.array([output_connected(a) for a in table["arch_str"]])
    Y = np.column_stack([100.0 - acc, np.log10(lat)])[live]
    mask = nondominated(Y)
    return ReferenceFront(Y[mask], "latency_ms", "exact",
                          f"exact front of the {len(Y):,} NAS-Bench-201 cells whose output is connected to their "
                          f"input ({len(live) - len(Y)} cut-off cells left out): {dataset} test error (200 "
                          f"epochs) x measured latency on {device} (HELP / HW-NAS-Bench), {int(mask.sum())} points",
                          {"benchmark": "nb201", "dataset": dataset, "device": device})


def output_connected(arch: str) -> bool:
    """Whether a NB201 cell's output node is reachable from its input through non-``none`` edges.

    Cells where it is not compute nothing (constant output, chance accuracy) at a near-zero measured
    latency (0.003 ms on pixel3).  They are Pareto-optimal only by doing nothing and would stretch the
    normalisation over the whole error range, so the reference front leaves them out; a searcher's
    point among them lies beyond the reference point and adds no hypervolume."""
    cfg = nb201_config(arch)
    reach = {0}
    for node, src in NB201_EDGES:  # node 1's edges first, then node 2's, then node 3's
        if cfg[f"edge_{node}_{src}"] != "none" and src in reach:
            reach.add(node)
    return 3 in reach


def _nb201_accuracies(table: pd.DataFrame, dataset: str) -> np.ndarray:
    """Test accuracy of every cell in official index order (the shipped table, indexed by arch index)."""
    if not np.array_equal(table.index.to_numpy(), np.arange(len(table))):
        raise ValueError("the NB201 table is not in official index order")
    return table[dataset].to_numpy(float)


def front_name(benchmark: str, dataset: str, hw_source: str, accuracy_source: str) -> str:
    """File stem of a shipped best-known front, e.g. ``sss_ImageNet16-120_sss-surrogate_zigzag-fixed``.

    The accuracy source is part of the name: the same network scored by the SSS surrogate, the official
    table or the proxy has a different error, so their fronts are not interchangeable."""
    return f"{benchmark}_{dataset}_{accuracy_source}_{hw_source}"


def reference_front_for(benchmark: str, dataset: str, fidelity: str | None = None,
                        device: str | None = None, accuracy_source: str | None = None) -> ReferenceFront | None:
    """The benchmark's reference front: exact where the tables allow, else a shipped best-known
    front, else None (no reference exists yet for this benchmark, dataset, accuracy source (default:
    the benchmark's table) and fidelity)."""
    if device is not None:
        if benchmark != "nb201":
            raise ValueError(f"device={device!r}: measured device latencies exist for nb201 only")
        return nb201_device_front(dataset, device)
    default_source = "nb201-table" if benchmark == "nb201" else "nats-sss-table"
    name = front_name(benchmark, dataset, fidelity or "zigzag-fixed", accuracy_source or default_source)
    path = resources.files("coflex_ray") / "data" / FRONTS_DIR / f"{name}.json"
    return read_front(Path(str(path))) if path.is_file() else None


def read_front(path: Path) -> ReferenceFront:
    """A front written by :func:`write_best_known`."""
    try:
        data = json.loads(Path(path).read_text())
        return ReferenceFront(np.array(data["points"], dtype=float), data["hw"], data["kind"], data["source"],
                              data.get("meta", {}))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"cannot read a reference front from {path}: {e}") from e


def write_best_known(results: pd.DataFrame, hw: str, path: Path, source: str, meta: dict | None = None,
                     previous: ReferenceFront | None = None) -> ReferenceFront:
    """Write the non-dominated union of the feasible rows of ``results`` (and of ``previous``, so a
    front only improves) as a best-known front with its provenance."""
    Y = objective_matrix(results, hw)
    if previous is not None:
        Y = np.vstack([Y, previous.points])
    front = ReferenceFront(Y, hw, "best-known", source, meta or {})
    Path(path).write_text(json.dumps({"kind": front.kind, "hw": hw, "source": source, "meta": front.meta,
                                      "objectives": list(objectives(hw)), "points": front.points.tolist()},
                                     indent=1))
    return front
