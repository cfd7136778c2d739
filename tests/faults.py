"""Deliberate evaluator faults, for testing that a search survives them (a test double: never used by the
experiments, not part of the package; the tests import it as ``tests.faults``).

:class:`FaultyHardware` stands in for the ``hardware`` argument of :func:`coflex_ray.trial.evaluate_config`
(normally a :class:`coflex_ray.service.HardwarePool`): it passes every request to the real
simulator, except for accelerator configs picked by a stable hash, on which it

* ``raise``: raises ``RuntimeError("injected simulator crash ...")``;
* ``nan``: returns the real per-layer costs with the energy replaced by NaN (a silently broken result);
* ``hang``: simulates with :func:`spin_then_simulate`, which keeps a core busy for ``hang_s`` seconds
  before answering (a simulator stuck past the trial timeout); like any simulation with a time limit
  it runs in a child process, which is killed at the limit.

The choice depends only on the accelerator config, so a test knows which trials must fail and why.
"""

from __future__ import annotations

import time
import zlib
from functools import lru_cache, partial
from typing import Any

from coflex_ray.evaluators.hardware import simulate_layer
from coflex_ray.evaluators.hardware.accelerator import AccelConfig
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.trial import local_cache

MODES = ("raise", "nan", "hang")


def fault_for(acc: AccelConfig, every: int) -> str | None:
    """The fault injected for ``acc``: ``MODES[h % every]`` for a stable hash ``h``, if that exists."""
    h = zlib.crc32(repr(acc.key()).encode()) % every
    return MODES[h] if h < len(MODES) else None


def spin_then_simulate(shape: tuple, acc: AccelConfig, fidelity: str, lpf_limit: int, hang_s: float) -> dict:
    """:func:`simulate_layer` after ``hang_s`` seconds of busy loop (a hung simulator burning a core)."""
    end = time.monotonic() + hang_s
    while time.monotonic() < end:
        pass
    return simulate_layer(shape, acc, fidelity, lpf_limit)


@lru_cache(maxsize=4)
def hanging_cache(fidelity: str, hang_s: float) -> LayerCostCache:
    """The process's layer-cost cache for ``fidelity`` whose every simulation first spins ``hang_s`` seconds."""
    return LayerCostCache(fidelity, simulate=partial(spin_then_simulate, hang_s=hang_s))


class FaultyHardware:
    """Real layer costs with faults injected on a fixed share (``3 / every``) of accelerator configs."""

    def __init__(self, fidelity: str = "zigzag-fixed", every: int = 6, hang_s: float = 30.0,
                 inner: Any = None) -> None:
        if every < len(MODES):
            raise ValueError(f"every={every} must be at least {len(MODES)} (one slot per fault mode)")
        self.fidelity, self.every, self.hang_s, self.inner = fidelity, every, hang_s, inner

    def _real(self, shapes: list[tuple], acc: AccelConfig, timeout_s: float | None) -> list[dict[str, Any]]:
        """The wrapped pool's costs, or the process's own cache (as a trial without a pool uses)."""
        if self.inner is not None:
            return self.inner.layer_costs(shapes, acc, timeout_s)
        return local_cache(self.fidelity).get_many(shapes, acc, timeout_s)

    def layer_costs(self, shapes: list[tuple], acc: AccelConfig, timeout_s: float | None = None) -> list[dict[str, Any]]:
        mode = fault_for(acc, self.every)
        if mode == "raise":
            raise RuntimeError(f"injected simulator crash for {acc.key()}")
        if mode == "hang":
            return hanging_cache(self.fidelity, self.hang_s).get_many(shapes, acc, timeout_s)
        costs = self._real(shapes, acc, timeout_s)
        if mode == "nan":
            costs = [{**c, "energy_pJ": float("nan")} if "infeasible" not in c else c for c in costs]
        return costs
