"""Effect of ZigZag's LOMA ``lpf_limit`` on the accurate tier: network EDP and wall time per setting.

    python -m benchmarks lpf [--pairs 3] [--lpf 2 4 6] [--workers 2] [--seed 0]

``lpf_limit`` caps how many loop prime factors LOMA permutes per temporal mapping: larger values
search more mappings (lower or equal EDP) at a factorially growing cost.  For ``--pairs`` random
feasible (SSS network, accelerator) pairs, whole networks at 32x32, uncached, every ``--lpf`` value
plus the fixed-mapping tier (zigzag-fixed) for reference; each (pair, setting) runs in its own
process.  Printed per pair: EDP (uJ*ms) and seconds per setting, and EDP relative to the best
setting of that pair.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from coflex_ray.evaluators.hardware import network_cost
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.machine import machine

from .evaluators import random_pairs, sss_layers


def _run(task: tuple) -> tuple:
    channels, acc, setting = task
    fid, lpf = ("zigzag-fixed", 6) if setting == "fixed" else ("zigzag", int(setting))
    t0 = time.perf_counter()
    r = network_cost(sss_layers(channels), acc, LayerCostCache(fid, lpf).get_many)
    return r["edp"], time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks lpf", description=__doc__)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--lpf", type=int, nargs="+", default=[2, 4, 6])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    bad = [v for v in args.lpf if v < 1]
    if bad:
        p.error(f"--lpf {bad[0]} is not allowed; allowed: integers >= 1")
    if args.pairs < 1:
        p.error(f"--pairs {args.pairs} is not allowed; allowed: integers >= 1")
    print(machine())
    rng = np.random.default_rng(args.seed + 7)
    pairs = []
    while len(pairs) < args.pairs:
        ch, acc = random_pairs(rng, 1)[0]
        if network_cost(sss_layers(ch), acc, LayerCostCache().get_many)["hw_feasible"]:
            pairs.append((ch, acc))
    settings = ["fixed"] + [str(v) for v in args.lpf]
    tasks = [(ch, acc, s) for ch, acc in pairs for s in settings]
    start = time.time()
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as ex:
        results = list(ex.map(_run, tasks))
    print(f"{len(pairs)} pairs x settings {settings}, {args.workers} worker processes, {time.time() - start:.0f}s")
    print(f"{'network':<16} {'accelerator':<26} | " + " | ".join(f"{s if s == 'fixed' else 'lpf ' + s:>22}"
                                                              for s in settings))
    for i, (ch, acc) in enumerate(pairs):
        row = results[i * len(settings):(i + 1) * len(settings)]
        best = min(e for e, _ in row)
        cells = [f"{e:9.3g} ({e / best:4.2f}x) {t:5.0f}s" for e, t in row]
        name = f"{acc.X1}x{acc.X2} {acc.dataflow} rf {acc.X3}/{acc.X4}/{acc.X5}"
        print(f"{':'.join(map(str, ch)):<16} {name:<26} | " + " | ".join(f"{c:>22}" for c in cells))
    print("cells: EDP uJ*ms (relative to the pair's best setting) and wall seconds of the uncached network")
