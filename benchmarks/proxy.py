"""Time per network of the training-free SSS evaluator (uncached), on random SSS networks."""

from __future__ import annotations

import argparse
import time

import numpy as np

from coflex_ray.evaluators.networks import network_costs, sss_network
from coflex_ray.evaluators.proxy import RBFProxy, probe_images
from coflex_ray.machine import machine
from coflex_ray.spaces import SSS_SPACE, sss_channels

from .common import summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks proxy", description=__doc__)
    p.add_argument("-n", type=int, default=50, help="random networks (default 50)")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(machine())
    t0 = time.perf_counter()
    probe_images(args.dataset)
    print(f"probe images (one-off): {1e3 * (time.perf_counter() - t0):.0f} ms")
    proxy = RBFProxy(args.dataset)
    configs = SSS_SPACE.sample(np.random.default_rng(args.seed), args.n)
    score_t, cost_t = [], []
    for cfg in configs:
        ch = sss_channels(cfg)
        t0 = time.perf_counter()
        proxy.score(ch)
        score_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        network_costs(sss_network(ch, args.dataset), args.dataset)
        cost_t.append(time.perf_counter() - t0)
    print(f"RBF proxy score per network ({args.dataset}, batch {proxy.batch}): {summary(score_t)}")
    print(f"params+FLOPs per network: {summary(cost_t)}")
