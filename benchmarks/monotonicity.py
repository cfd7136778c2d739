"""Performance monotonicity: do accelerators rank networks the same way?

The semi-decoupled co-design method rests on it (its paper reports Spearman > 0.97 for most
accelerator pairs on MAESTRO).  We evaluate ``-n`` random SSS networks on ``-m`` random feasible
accelerators with zigzag-fixed and report, over all accelerator pairs, the Spearman rank correlation
of the networks' latency and of their energy (min / median / mean), once for networks drawn from the
whole space and once for networks in a narrow FLOPs band (``--band``), where MAC count no longer
explains the ranking.

    python -m benchmarks monotonicity -n 30 -m 6
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from scipy.stats import spearmanr

from coflex_ray.evaluators.hardware import network_cost
from coflex_ray.evaluators.hardware.accelerator import AccelConfig
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.evaluators.networks import count_flops, layer_list, sss_network
from coflex_ray.machine import machine
from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, sss_channels


def _srcc_table(nets: list, accs: list[AccelConfig], cache: LayerCostCache) -> tuple[list[float], list[float]]:
    lat = np.zeros((len(accs), len(nets)))
    en = np.zeros_like(lat)
    for i, acc in enumerate(accs):
        for j, layers in enumerate(nets):
            r = network_cost(layers, acc, cache.get_many)
            lat[i, j], en[i, j] = r["latency_cycles"], r["energy_pJ"]
    pairs = list(itertools.combinations(range(len(accs)), 2))
    return ([spearmanr(lat[a], lat[b]).statistic for a, b in pairs],
            [spearmanr(en[a], en[b]).statistic for a, b in pairs])


def _line(name: str, values: list[float]) -> str:
    v = np.asarray(values)
    return f"{name}: min {v.min():.3f}, median {np.median(v):.3f}, mean {v.mean():.3f}, share > 0.97: {np.mean(v > 0.97):.0%}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks monotonicity", description=__doc__)
    p.add_argument("-n", type=int, default=30, help="networks (default 30)")
    p.add_argument("-m", type=int, default=6, help="accelerators (default 6)")
    p.add_argument("--band", type=float, nargs=2, default=[40.0, 60.0], metavar=("LO", "HI"),
                   help="FLOPs band in M for the narrow set (default 40 60)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(machine())
    rng = np.random.default_rng(args.seed)
    cache = LayerCostCache("zigzag-fixed")
    probe = layer_list(sss_network((8,) * 5), 32)
    accs: list[AccelConfig] = []
    while len(accs) < args.m:
        acc = AccelConfig.from_config(ACCEL_SPACE.sample(rng)[0])
        if network_cost(probe, acc, cache.get_many)["hw_feasible"]:
            accs.append(acc)
    print("accelerators: " + "; ".join(f"{a.X1}x{a.X2} {a.dataflow} RF {a.X3}/{a.X4}/{a.X5} b, {a.X6} b/cyc" for a in accs))
    wide, narrow = [], []
    while len(wide) < args.n or len(narrow) < args.n:
        layers = layer_list(sss_network(sss_channels(SSS_SPACE.sample(rng)[0])), 32)
        flops = count_flops(layers)
        if len(wide) < args.n:
            wide.append(layers)
        if args.band[0] <= flops <= args.band[1] and len(narrow) < args.n:
            narrow.append(layers)
    start = time.time()
    for label, nets in [("whole space", wide), (f"FLOPs {args.band[0]:g}-{args.band[1]:g} M", narrow)]:
        lat, en = _srcc_table(nets, accs, cache)
        print(f"\n{len(nets)} networks ({label}) x {len(accs)} accelerators, {len(lat)} accelerator pairs, zigzag-fixed")
        print("  " + _line("latency SRCC", lat))
        print("  " + _line("energy SRCC", en))
    print(f"\n({time.time() - start:.0f}s, {cache.stats()['misses']} layer simulations)")
