"""Cost of killable simulations: a network's hardware cost through a HardwarePool with a time limit
(each simulation in a shard's child process) against no limit (in the shard's own thread).

    python -m benchmarks timeouts [--networks 12]

Uncached: a fresh pool per mode, so every layer is simulated; cached: the same networks again.
Modes alternate network by network, so load changes on a shared machine hit both alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from coflex_ray.machine import machine

from .common import summary


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks timeouts")
    p.add_argument("--networks", type=int, default=12)
    args = p.parse_args(argv)
    import ray

    from coflex_ray.evaluators.accuracy import make_accuracy_evaluator
    from coflex_ray.evaluators.hardware import network_cost
    from coflex_ray.evaluators.hardware.accelerator import AccelConfig
    from coflex_ray.runner import init_ray
    from coflex_ray.service import HardwarePool
    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint

    print(machine())
    init_ray(num_cpus=2)
    ev = make_accuracy_evaluator("sss", "cifar10", None, "90", "test")
    cfgs = joint(SSS_SPACE, ACCEL_SPACE).sample(np.random.default_rng(7), args.networks + 1)
    jobs = [(ev.layers(c), AccelConfig.from_config(c)) for c in cfgs]
    pools = {"no limit": HardwarePool(n_shards=2), "limit 900 s": HardwarePool(n_shards=2)}
    for name, pool in pools.items():  # warm: actors up, simulator imported (and children started)
        network_cost(*jobs[0], lambda s, a, pool=pool, name=name: pool.layer_costs(s, a, None if name == "no limit" else 900))
    times: dict[str, dict[str, list[float]]] = {k: {"uncached": [], "cached": []} for k in pools}
    for phase in ("uncached", "cached"):
        for layers, acc in jobs[1:]:
            for name, pool in pools.items():
                limit = None if name == "no limit" else 900.0
                t = time.perf_counter()
                network_cost(layers, acc, lambda s, a: pool.layer_costs(s, a, limit))
                times[name][phase].append(time.perf_counter() - t)
    for phase in ("uncached", "cached"):
        for name in pools:
            print(f"{phase:<9} {name:<12} per network: {summary(times[name][phase])}")
        d = np.median(np.array(times["limit 900 s"][phase]) - np.array(times["no limit"][phase]))
        print(f"{phase:<9} median paired difference (limit - no limit): {d * 1e3:+.1f} ms per network")
    ray.shutdown()
