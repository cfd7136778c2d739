"""Hardware evaluator benchmark: time per evaluation per fidelity, cache behaviour, fidelity agreement.

    python -m benchmarks evaluators                 # everything (about 30-60 min on 2 cores)
    python -m benchmarks evaluators --pairs 0       # only the fast-tier timing and cache part

Part 1 (zigzag-fixed, in-process and through the Ray actor pool): ``--trials`` random SSS x
accelerator configs, cold (a fresh cache per network) and then again all cached; the layer-level
cache hit rate over the run.

Part 2 (all fidelities): ``--pairs`` random (network, accelerator) pairs evaluated cold with
zigzag-fixed, zigzag (LOMA, ``--lpf-limit``) and scalesim in ``--workers`` processes; per fidelity the
median and p90 wall time of a whole network, and the Spearman rank correlation of latency and energy
between tiers.  Pairs whose accelerator is infeasible under zigzag-fixed are redrawn.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
from scipy.stats import spearmanr

from coflex_ray.evaluators.hardware import FIDELITIES, network_cost
from coflex_ray.evaluators.hardware.accelerator import AccelConfig
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.evaluators.networks import layer_list, sss_network
from coflex_ray.machine import machine
from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, sss_channels

from .common import summary


def random_pairs(rng: np.random.Generator, n: int) -> list[tuple[tuple[int, ...], AccelConfig]]:
    return [(sss_channels(SSS_SPACE.sample(rng)[0]), AccelConfig.from_config(ACCEL_SPACE.sample(rng)[0]))
            for _ in range(n)]


def sss_layers(channels: tuple[int, ...]):
    return layer_list(sss_network(channels, "cifar10"), 32)


def part1(trials: int, seed: int, use_ray: bool) -> None:
    rng = np.random.default_rng(seed)
    pairs = random_pairs(rng, trials)
    layer_sets = [sss_layers(ch) for ch, _ in pairs]
    network_cost(layer_sets[0], pairs[0][1], LayerCostCache().get_many)  # import / warm-up
    cold = []
    for layers, (_, acc) in zip(layer_sets, pairs):
        t0 = time.perf_counter()
        network_cost(layers, acc, LayerCostCache().get_many)
        cold.append(time.perf_counter() - t0)
    shared = LayerCostCache()
    infeasible = 0
    for layers, (_, acc) in zip(layer_sets, pairs):
        infeasible += not network_cost(layers, acc, shared.get_many)["hw_feasible"]
    st = shared.stats()
    hot = _timed_costs(layer_sets, pairs, shared.get_many)
    print(f"\n[zigzag-fixed, in-process] {trials} random SSS x accelerator configs (cifar10, 32x32)")
    print(f"  uncached whole network: {summary(cold)}")
    print(f"  cached hit (whole network, all layers cached): {summary(hot)}")
    rate = st["hits"] / max(1, st["hits"] + st["misses"])
    print(f"  layer cache over the {trials} trials: {st['misses']} simulations, {st['hits']} hits, "
          f"hit rate {100 * rate:.1f}% (random accelerators: hits come from layers repeated within and across "
          f"networks on the same accelerator); infeasible configs: {infeasible}")
    if use_ray:
        import ray

        from coflex_ray.service import HardwarePool

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        pool = HardwarePool("zigzag-fixed")
        for layers, (_, acc) in zip(layer_sets, pairs):
            network_cost(layers, acc, pool.layer_costs)
        hot_ray = _timed_costs(layer_sets, pairs, pool.layer_costs)
        print(f"  cached hit through the Ray actor pool ({len(pool.shards)} shards): {summary(hot_ray)}")
        ray.shutdown()


def _timed_costs(layer_sets: list, pairs: list, layer_costs) -> list[float]:
    """Seconds of one ``network_cost`` per (network, accelerator) pair, with ``layer_costs`` as the cache."""
    out = []
    for layers, (_, acc) in zip(layer_sets, pairs):
        t0 = time.perf_counter()
        network_cost(layers, acc, layer_costs)
        out.append(time.perf_counter() - t0)
    return out


def _all_fidelities(args: tuple) -> dict:
    channels, acc, lpf_limit = args
    layers = sss_layers(channels)
    out = {"channels": channels, "acc": acc}
    for fid in FIDELITIES:
        t0 = time.perf_counter()
        r = network_cost(layers, acc, LayerCostCache(fid, lpf_limit).get_many)
        out[fid] = (r["latency_cycles"], r["energy_pJ"], r["hw_feasible"], time.perf_counter() - t0)
    return out


def _key(channels: tuple[int, ...], acc: AccelConfig) -> str:
    return f"{':'.join(map(str, channels))}|{acc}"


def _load_log(path: str | None) -> dict[str, dict]:
    """Rows already measured by an earlier (interrupted) run, keyed by pair."""
    if not path or not os.path.exists(path):
        return {}
    done = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            done[rec["key"]] = {fid: tuple(rec[fid]) for fid in FIDELITIES}
    return done


def part2(pairs: int, seed: int, workers: int, lpf_limit: int, log: str | None = None) -> None:
    rng = np.random.default_rng(seed + 1)
    chosen = []
    while len(chosen) < pairs:  # feasible under the fast tier
        ch, acc = random_pairs(rng, 1)[0]
        if network_cost(sss_layers(ch), acc, LayerCostCache().get_many)["hw_feasible"]:
            chosen.append((ch, acc))
    print(f"\n[all fidelities] {pairs} random feasible (network, accelerator) pairs, uncached, {workers} worker "
          f"processes on the machine above, LOMA lpf_limit={lpf_limit}")
    start = time.time()
    done = _load_log(log)
    rows = [dict(channels=c, acc=a, **done[_key(c, a)]) for c, a in chosen if _key(c, a) in done]
    todo = [(c, a, lpf_limit) for c, a in chosen if _key(c, a) not in done]
    if rows:
        print(f"  {len(rows)} pairs taken from {log} (measured by an earlier run)")
    # spawn, not fork: forking a process that already runs torch/Ray threads can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex:
        futures = [ex.submit(_all_fidelities, t) for t in todo]
        for fut in as_completed(futures):  # log each pair as soon as it is done
            row = fut.result()
            rows.append(row)
            i = len(rows) - 1
            if log:
                with open(log, "a") as f:
                    f.write(json.dumps({"key": _key(row["channels"], row["acc"]),
                                        **{fid: list(row[fid]) for fid in FIDELITIES}}) + "\n")
            print(f"  pair {i + 1}/{pairs} {':'.join(map(str, row['channels']))} {row['acc'].X1}x{row['acc'].X2} "
                  f"{row['acc'].dataflow}: " + ", ".join(f"{f} {row[f][3]:.1f}s" for f in FIDELITIES)
                  + f" ({time.time() - start:.0f}s)", flush=True)
    for fid in FIDELITIES:
        print(f"  {fid:>12} uncached whole network: {summary([r[fid][3] for r in rows])}")
    ok = [r for r in rows if all(r[f][2] for f in FIDELITIES)]
    print(f"  pairs feasible in every tier: {len(ok)}/{len(rows)}")
    for a, b in [("zigzag-fixed", "zigzag"), ("zigzag-fixed", "scalesim"), ("zigzag", "scalesim")]:
        lat = spearmanr([r[a][0] for r in ok], [r[b][0] for r in ok]).statistic
        en = spearmanr([r[a][1] for r in ok], [r[b][1] for r in ok]).statistic
        print(f"  Spearman {a} vs {b}: latency {lat:.3f}, energy {en:.3f}")
    ratio_l = [r["zigzag-fixed"][0] / r["zigzag"][0] for r in ok]
    ratio_e = [r["zigzag-fixed"][1] / r["zigzag"][1] for r in ok]
    print(f"  zigzag-fixed / zigzag: latency ratio median {np.median(ratio_l):.3f} (range {min(ratio_l):.3f}-"
          f"{max(ratio_l):.3f}), energy ratio median {np.median(ratio_e):.3f} (range {min(ratio_e):.3f}-{max(ratio_e):.3f})")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks evaluators", description=__doc__)
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--pairs", type=int, default=30)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--lpf-limit", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ray", action="store_true", help="skip the Ray actor-pool timing")
    p.add_argument("--log", default=None, help="JSON-lines file: each measured pair is appended; pairs already "
                   "in it are reused, so an interrupted run resumes")
    args = p.parse_args(argv)
    print(machine())
    if args.trials:
        part1(args.trials, args.seed, not args.no_ray)
    if args.pairs:
        part2(args.pairs, args.seed, args.workers, args.lpf_limit, args.log)
