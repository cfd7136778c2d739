"""Reliability: a timed-out simulation is killed (its process gone, no CPU burnt after the limit), the
in-flight de-duplication stays correct when it is, bad command lines fail before Ray with one line,
two studies cannot share one --out, and a corrupt or foreign --hw-cache file is refused."""

from __future__ import annotations

import os
import threading
import time
from functools import partial

import numpy as np
import pytest

from coflex_ray.evaluators.hardware.accelerator import AccelConfig
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.evaluators.hardware.childproc import SimulationTimeout
from coflex_ray.faults import FaultyHardware, _hanging_cache, fault_for, spin_then_simulate
from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint
from coflex_ray.trial import EvalSpec, evaluate_config

SPACE = joint(SSS_SPACE, ACCEL_SPACE)
SHAPE, ACC = (8, 8, 3, 1, 1, 8, 8, 8, 8), AccelConfig(4, 4, 64, 64, 64, 64, "ws")


def _hang_config() -> dict:
    rng = np.random.default_rng(0)
    return next(c for c in SPACE.sample(rng, 500) if fault_for(AccelConfig.from_config(c), 6) == "hang")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a live process from /proc; FileNotFoundError once it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        raise FileNotFoundError(pid)  # a zombie has stopped running
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Watch:
    """Polls the busy simulator child of ``busy_pids()`` and samples its CPU time until it is gone."""

    def __init__(self, busy_pids) -> None:
        self.busy_pids, self.samples, self.gone_at, self.pid = busy_pids, [], None, None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.pid is None:
                busy = self.busy_pids()
                self.pid = busy[0] if busy else None
            else:
                try:
                    self.samples.append((time.monotonic(), _cpu_s(self.pid)))
                except FileNotFoundError:
                    self.gone_at = time.monotonic()
                    return
            time.sleep(0.02)

    def result(self, limit_at: float) -> tuple[float, float]:
        """(seconds from the limit until the process was gone, CPU seconds it used after the limit)."""
        self.thread.join(timeout=5)
        self._stop.set()
        assert self.pid is not None and self.samples, "the simulator child was never seen"
        assert self.gone_at is not None, f"simulator process {self.pid} still exists"
        before = [c for t, c in self.samples if t <= limit_at]
        assert before, "the child was first seen after the limit"
        return self.gone_at - limit_at, self.samples[-1][1] - before[-1]


def _check_killed(run, busy_pids, limit_s: float) -> tuple[float, float]:
    watch = _Watch(busy_pids)
    start = time.monotonic()
    out = run()
    gone_s, cpu_after = watch.result(start + limit_s)
    print(f"killed {gone_s:.3f} s after the limit, {cpu_after:.3f} CPU s after the limit")
    assert gone_s < 1.0 and cpu_after < 0.25
    return out


def test_timed_out_trial_kills_its_simulation():
    """No pool: the trial's own hanging simulation (busy loop) is killed at the limit."""
    cfg, limit = _hang_config(), 6.0
    evaluate_config(cfg, EvalSpec(timeout_s=None), FaultyHardware(hang_s=0.0))  # network side warm (imports)
    cache = _hanging_cache("zigzag-fixed", 600.0)
    out = _check_killed(lambda: evaluate_config(cfg, EvalSpec(timeout_s=limit), FaultyHardware(hang_s=600.0)),
                        lambda: cache.child_pids()["busy"], limit)
    assert out["feasible"] is False and "exceeded the per-trial timeout of 6 s" in out["error"], out["error"]
    assert "simulation killed" in out["error"] and out["eval_time_s"] < limit + 1.0
    assert cache.stats()["entries"] == 0 and cache.stats()["killed"] >= 1


def test_waiters_of_a_killed_simulation_get_the_error_and_nothing_is_cached():
    cache = LayerCostCache(simulate=partial(spin_then_simulate, hang_s=600.0))
    errors: list[BaseException] = []

    def waiter() -> None:
        time.sleep(0.5)  # the owner's simulation is in flight by now
        try:
            cache.get_many([SHAPE], ACC, timeout_s=120.0)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    start = time.monotonic()
    with pytest.raises(SimulationTimeout, match="killed"):
        cache.get_many([SHAPE], ACC, timeout_s=4.0)
    t.join(timeout=10)
    assert time.monotonic() - start < 10 and not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], SimulationTimeout), errors
    assert cache.stats()["entries"] == 0 and cache.child_pids() == {"busy": [], "idle": []}


def test_simulation_in_a_child_matches_in_process():
    cache = LayerCostCache()
    assert cache.get_many([SHAPE], ACC, timeout_s=120.0) == LayerCostCache().get_many([SHAPE], ACC)
    assert len(cache.child_pids()["idle"]) == 1  # kept for the next call


@pytest.mark.slow
def test_pool_shard_kills_its_hung_simulation():
    """With a HardwarePool the simulation runs in the shard actor's child process: that child is killed."""
    import ray

    from coflex_ray.runner import init_ray
    from coflex_ray.service import HardwarePool

    init_ray(num_cpus=2)
    try:
        pool = HardwarePool("zigzag-fixed", n_shards=1, simulate=partial(spin_then_simulate, hang_s=600.0))
        shard, limit = pool.shards[0], 8.0
        evaluate_config(_hang_config(), EvalSpec(timeout_s=None))  # network side warm (imports)
        out = _check_killed(lambda: evaluate_config(_hang_config(), EvalSpec(timeout_s=limit), pool),
                            lambda: ray.get(shard.child_pids.remote())["busy"], limit)
        assert out["feasible"] is False and "exceeded the per-trial timeout of 8 s" in out["error"], out["error"]
        assert "simulation killed" in out["error"]
        assert pool.stats()["entries"] == 0 and pool.stats()["killed"] >= 1
    finally:
        ray.shutdown()
