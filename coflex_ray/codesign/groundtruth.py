"""Exhaustive ground truth: latency and energy of every NB201 cell on a sample of accelerators.

NB201 networks are built from 12 distinct layer shapes (CIFAR), so the cost of all 15,625 cells on
one accelerator is ``counts @ shape_costs``: a (cells x shapes) count matrix
(:func:`.layers.shape_counts`) times the (shapes x accelerators) cost matrix from the per-layer cost
cache (:class:`coflex_ray.evaluators.hardware.cache.LayerCostCache` in process, or a
:class:`coflex_ray.service.HardwarePool`).  A cell is infeasible on an accelerator when any of its
layer shapes is; such pairs are kept, marked ``feasible = False`` with NaN costs.

Accelerators are drawn uniformly from :data:`coflex_ray.spaces.ACCEL_SPACE` with a seed, the
dataflow cycling os / ws / is so all three are present.  The result is paired with the real
NAS-Bench-201 test accuracy (:mod:`coflex_ray.evaluators.nb201`) and cached on disk as one ``.npz``
per (dataset, fidelity, accelerators, seed, cells) under a cache directory the user names (default
``$COFLEX_RAY_CACHE`` or ``~/.cache/coflex_ray``; never inside the package).

Units: latency in cycles (1 GHz clock: 1e6 cycles = 1 ms), energy in pJ.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..evaluators.hardware import check_fidelity
from ..evaluators.hardware.accelerator import AccelConfig
from ..evaluators.hardware.cache import LayerCostCache
from ..evaluators.nb201 import NB201_DATASETS, nb201_table
from ..spaces import ACCEL_SPACE, DATAFLOWS
from .layers import nb201_flops_m, shape_counts

LayerCosts = Callable[[list[tuple], AccelConfig], list[dict[str, Any]]]
DEFAULT_N_ACCELERATORS = 100


def default_cache_dir() -> Path:
    """``$COFLEX_RAY_CACHE`` or ``~/.cache/coflex_ray`` (outside the package)."""
    return Path(os.environ.get("COFLEX_RAY_CACHE") or Path.home() / ".cache" / "coflex_ray")


def check_cache_dir(path: str | os.PathLike | None) -> Path:
    """The cache directory to use: ``path``, or :func:`default_cache_dir` when ``None``.

    Raises:
        ValueError: the directory lies inside the installed package.
    """
    target = Path(path).expanduser().resolve() if path else default_cache_dir().resolve()
    package = Path(__file__).resolve().parents[1]
    if target == package or package in target.parents:
        raise ValueError(f"cache dir {str(target)!r} is inside the coflex_ray package; choose a directory outside "
                         f"{str(package)!r}")
    return target


def sample_accelerators(n: int, seed: int = 0) -> list[AccelConfig]:
    """``n`` accelerators drawn uniformly from the accelerator space, dataflows cycling os/ws/is."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n_accelerators={n!r} must be a positive integer")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(n)):
        cfg = ACCEL_SPACE.sample(rng)[0]
        cfg["dataflow"] = DATAFLOWS[i % len(DATAFLOWS)]
        out.append(AccelConfig.from_config(cfg))
    return out


def accelerator_name(acc: AccelConfig) -> str:
    """Short readable id, e.g. ``'os 12x40 rf 96/200/312 bw 64'``."""
    return f"{acc.dataflow} {acc.X1}x{acc.X2} rf {acc.X3}/{acc.X4}/{acc.X5} bw {acc.X6}"


@dataclass
class GroundTruth:
    """Costs of ``archs`` (NB201 cell strings) on ``accelerators``; rows of the matrices = accelerators."""

    dataset: str
    fidelity: str
    archs: tuple[str, ...]
    arch_index: np.ndarray  # official NB201 index of every arch
    accuracy: np.ndarray  # test accuracy (%), per arch
    flops_m: np.ndarray  # per arch
    accelerators: list[AccelConfig]
    latency: np.ndarray  # (n_acc, n_arch) cycles, NaN where infeasible
    energy: np.ndarray  # (n_acc, n_arch) pJ, NaN where infeasible
    build_s: float = 0.0
    simulations: int = 0
    source: str = ""
    _pes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pes = np.array([a.X1 * a.X2 for a in self.accelerators])

    @property
    def feasible(self) -> np.ndarray:
        return np.isfinite(self.latency) & np.isfinite(self.energy)

    @property
    def shape(self) -> tuple[int, int]:
        return self.latency.shape

    def long(self) -> pd.DataFrame:
        """Long format: one row per (arch, accelerator) with ``arch, accelerator, latency, energy, feasible,
        accuracy, flops_M`` (``arch`` = official index, ``accelerator`` = position in ``accelerators``)."""
        n_acc, n_arch = self.shape
        return pd.DataFrame({
            "arch": np.tile(self.arch_index, n_acc), "accelerator": np.repeat(np.arange(n_acc), n_arch),
            "latency": self.latency.ravel(), "energy": self.energy.ravel(), "feasible": self.feasible.ravel(),
            "accuracy": np.tile(self.accuracy, n_acc), "flops_M": np.tile(self.flops_m, n_acc)})

    def ok_mask(self, latency_max: float, energy_max: float, max_pes: int | None = None) -> np.ndarray:
        """(n_acc, n_arch) mask of pairs meeting the constraints (and ``X1 * X2 <= max_pes``)."""
        with np.errstate(invalid="ignore"):
            ok = self.feasible & (self.latency <= latency_max) & (self.energy <= energy_max)
        if max_pes is not None:
            ok &= (self._pes <= max_pes)[:, None]
        return ok

    def optimum(self, latency_max: float, energy_max: float, accelerator: int | None = None,
                max_pes: int | None = None) -> dict[str, Any]:
        """The true constrained optimum: the most accurate feasible (arch, accelerator) pair meeting
        the constraints.

        Args:
            latency_max: latency limit in cycles.
            energy_max: energy limit in pJ.
            accelerator: search only the accelerator at this position; ``None``: all of them.
            max_pes: at most this many PEs (``X1 * X2``); ``None``: no limit.

        Returns:
            ``{"accuracy", "arch", "accelerator", "latency", "energy"}``; ``accuracy`` is NaN (and
            ``arch`` -1) when no pair meets the constraints.

        Raises:
            ValueError: ``accelerator`` is not a position in :attr:`accelerators`.
        """
        ok = self.ok_mask(latency_max, energy_max, max_pes)
        rows = range(len(self.accelerators)) if accelerator is None else [self._acc_pos(accelerator)]
        best = {"accuracy": float("nan"), "arch": -1, "accelerator": -1, "latency": float("nan"),
                "energy": float("nan")}
        for r in rows:
            if not ok[r].any():
                continue
            j = int(np.argmax(np.where(ok[r], self.accuracy, -np.inf)))
            if not self.accuracy[j] <= best["accuracy"]:  # NaN-safe "greater than"
                best = {"accuracy": float(self.accuracy[j]), "arch": int(self.arch_index[j]), "accelerator": r,
                        "latency": float(self.latency[r, j]), "energy": float(self.energy[r, j])}
        return best

    def quantile_constraints(self, quantiles: Sequence[tuple[float, float]], max_pes: int | None = None
                             ) -> list[tuple[float, float]]:
        """Constraint pairs ``(latency_max, energy_max)`` at the given quantiles of the feasible pairs'
        latency and energy (over accelerators with at most ``max_pes`` PEs when given).

        Args:
            quantiles: ``(q_latency, q_energy)`` per pair, each in ``[0, 1]``.
            max_pes: the PE limit the constraints go with; ``None``: every accelerator.

        Returns:
            One ``(latency cycles, energy pJ)`` pair per entry of ``quantiles``.
        """
        within = self.feasible & ((self._pes <= max_pes)[:, None] if max_pes else True)
        return [(float(np.quantile(self.latency[within], ql)), float(np.quantile(self.energy[within], qe)))
                for ql, qe in quantiles]

    @property
    def pes(self) -> np.ndarray:
        """PEs (``X1 * X2``) of every accelerator, in :attr:`accelerators` order."""
        return self._pes

    def _acc_pos(self, accelerator: int) -> int:
        if not 0 <= int(accelerator) < len(self.accelerators):
            raise ValueError(f"accelerator={accelerator!r} is not allowed; allowed: 0..{len(self.accelerators) - 1}")
        return int(accelerator)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, dataset=self.dataset, fidelity=self.fidelity, archs=np.array(self.archs),
                            arch_index=self.arch_index, accuracy=self.accuracy, flops_m=self.flops_m,
                            acc_knobs=np.array([a.key()[:6] for a in self.accelerators]),
                            acc_dataflow=np.array([a.dataflow for a in self.accelerators]),
                            latency=self.latency, energy=self.energy, build_s=self.build_s,
                            simulations=self.simulations)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GroundTruth":
        with np.load(path, allow_pickle=False) as z:
            accs = [AccelConfig(*(int(v) for v in k), str(d)) for k, d in zip(z["acc_knobs"], z["acc_dataflow"])]
            return cls(str(z["dataset"]), str(z["fidelity"]), tuple(str(a) for a in z["archs"]), z["arch_index"],
                       z["accuracy"], z["flops_m"], accs, z["latency"], z["energy"], float(z["build_s"]),
                       int(z["simulations"]), source=f"cache {path}")


def _cache_file(cache_dir: Path, dataset: str, fidelity: str, n: int, seed: int, archs: Sequence[str]) -> Path:
    tag = "all" if len(archs) == len(nb201_table()) else hashlib.sha1("\n".join(archs).encode()).hexdigest()[:10]
    return cache_dir / f"nb201_groundtruth_{dataset}_{fidelity}_acc{n}_seed{seed}_cells-{tag}.npz"


def cost_matrices(archs: Sequence[str], accelerators: Sequence[AccelConfig], dataset: str,
                  layer_costs: LayerCosts) -> tuple[np.ndarray, np.ndarray]:
    """(latency, energy), each (n_acc, n_arch), NaN where a cell has an infeasible layer."""
    counts, shapes = shape_counts(tuple(archs), dataset)
    lat_s = np.full((len(shapes), len(accelerators)), np.nan)
    en_s = np.full_like(lat_s, np.nan)
    for a, acc in enumerate(accelerators):
        for j, c in enumerate(layer_costs(list(shapes), acc)):
            if "infeasible" not in c:
                lat_s[j, a], en_s[j, a] = c["latency_cycles"], c["energy_pJ"]
    used = counts > 0
    bad = used.astype(float) @ (~np.isfinite(lat_s)).astype(float) > 0  # (n_arch, n_acc)
    lat = counts @ np.nan_to_num(lat_s)
    en = counts @ np.nan_to_num(en_s)
    lat[bad], en[bad] = np.nan, np.nan
    return lat.T.copy(), en.T.copy()


def build_ground_truth(n_accelerators: int = DEFAULT_N_ACCELERATORS, seed: int = 0, dataset: str = "cifar10",
                       fidelity: str = "zigzag-fixed", cache_dir: str | os.PathLike | None = None,
                       layer_costs: LayerCosts | None = None, archs: Sequence[str] | None = None,
                       accelerators: Sequence[AccelConfig] | None = None, use_cache: bool = True) -> GroundTruth:
    """Latency and energy of every NB201 cell (or of ``archs``) on ``n_accelerators`` sampled accelerators.

    Args:
        n_accelerators: accelerators drawn by :func:`sample_accelerators`.
        seed: seeds the sample.
        dataset: an NB201 dataset (input size and accuracy column).
        fidelity: the simulator tier.
        cache_dir: where the ``.npz`` is cached (:func:`check_cache_dir`).
        layer_costs: ``cache.get_many`` of a :class:`LayerCostCache` or ``pool.layer_costs`` of a
            HardwarePool; ``None``: a fresh in-process cache.
        archs: NB201 cell strings; ``None``: all 15,625.
        accelerators: use these instead of the sample (nothing is cached then).
        use_cache: load the cached file when it exists (it is written either way).

    Returns:
        The :class:`GroundTruth`.

    Raises:
        ValueError: an unknown dataset, fidelity or cell string, ``n_accelerators < 1``, or a cache
            directory inside the package.
    """
    if dataset not in NB201_DATASETS:
        raise ValueError(f"dataset={dataset!r} is not allowed for NAS-Bench-201; allowed: {list(NB201_DATASETS)}")
    check_fidelity(fidelity)
    table = nb201_table()
    if archs is None:
        archs = tuple(table["arch_str"])
    index = {s: i for i, s in table["arch_str"].items()}
    unknown = [a for a in archs if a not in index]
    if unknown:
        raise ValueError(f"arch {unknown[0]!r} is not an NB201 cell string")
    archs = tuple(archs)
    accs = list(accelerators) if accelerators is not None else sample_accelerators(n_accelerators, seed)
    path = None
    if accelerators is None:
        path = _cache_file(check_cache_dir(cache_dir), dataset, fidelity, len(accs), seed, archs)
        if use_cache and path.is_file():
            return GroundTruth.load(path)
    if layer_costs is None:
        layer_costs = LayerCostCache(fidelity).get_many
    calls = [0]

    def counted(shapes: list[tuple], acc: AccelConfig) -> list[dict[str, Any]]:
        calls[0] += len(shapes)
        return layer_costs(shapes, acc)

    start = time.perf_counter()
    lat, en = cost_matrices(archs, accs, dataset, counted)
    idx = np.array([index[a] for a in archs])
    gt = GroundTruth(dataset, fidelity, archs, idx, table[dataset].to_numpy()[idx].astype(float),
                     np.array([nb201_flops_m(a, dataset) for a in archs]), accs, lat, en,
                     build_s=time.perf_counter() - start, simulations=calls[0], source="computed")
    if path is not None:
        gt.save(path)
        gt.source = f"computed, cached to {path}"
    return gt
