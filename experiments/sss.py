"""Joint search over NATS-Bench SSS networks x the Coflex accelerator space with Ray Tune.

Current state: Ray Tune's random search (``BasicVariantGenerator``) over the joint space, reporting
the network objective (error, or the training-free proxy when no official SSS data is given), exact
params and FLOPs, and the hardware objective (energy, latency, EDP) from the chosen simulator
fidelity, shared through Ray actors.  The searcher comparison arrives with the searcher work.

    python experiments/sss.py                       # default: 30 trials, random search
    python experiments/sss.py --nats-sss /data/NATS-sss-v1_0-50262-simple --budget 200
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

from coflex_ray.evaluators.accuracy import make_accuracy_evaluator
from coflex_ray.evaluators.hardware import FIDELITIES
from coflex_ray.evaluators.nats_sss import NatsDataError
from coflex_ray.runner import init_ray, run_tuner
from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint
from coflex_ray.trial import EvalSpec, cosearch_trial


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=30, help="trials per (searcher, seed) (default 30)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="random seeds (default 0)")
    p.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100", "ImageNet16-120"])
    p.add_argument("--nats-sss", default=None, metavar="PATH",
                   help="official NATS-sss-v1_0-50262-simple folder (or $NATS_SSS_PATH); "
                        "without it the training-free RBF proxy scores networks")
    p.add_argument("--fidelity", default="zigzag-fixed", choices=FIDELITIES,
                   help="hardware simulator tier (default zigzag-fixed)")
    p.add_argument("--hw-cache", default=None, metavar="FILE",
                   help="persist the layer-cost cache to FILE and warm-start from it")
    p.add_argument("--concurrency", type=int, default=2, help="trials running at once (default 2)")
    p.add_argument("--address", default=None, help="existing Ray cluster address (default: start a local Ray)")
    p.add_argument("--out", default="results/sss", help="output folder (default results/sss)")
    p.add_argument("--smoke", action="store_true", help="tiny budget (6 trials) for tests")
    args = p.parse_args(argv)
    if args.smoke:
        args.budget = 6
    if args.budget < 1:
        p.error(f"--budget {args.budget} must be at least 1")
    if args.concurrency < 1:
        p.error(f"--concurrency {args.concurrency} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:  # fail fast on bad data paths, before Ray starts
        evaluator = make_accuracy_evaluator("sss", args.dataset, args.nats_sss)
    except (NatsDataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"network evaluator: {evaluator.description}")
    print(f"hardware evaluator: {args.fidelity} (EDP in uJ*ms at 1 GHz)")
    import pandas as pd
    from ray.tune.search import BasicVariantGenerator

    from coflex_ray.service import HardwarePool

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space = joint(SSS_SPACE, ACCEL_SPACE)
    init_ray(args.address, num_cpus=None if args.address else args.concurrency)
    pool = HardwarePool(args.fidelity, path=args.hw_cache)
    if pool.loaded:
        print(f"warm start: {pool.loaded} layer costs from {args.hw_cache}")
    spec = EvalSpec("sss", args.dataset, args.nats_sss, fidelity=args.fidelity)
    trainable = partial(cosearch_trial, spec=spec, hardware=pool)
    frames = []
    for seed in args.seeds:
        start = time.time()
        df = run_tuner(trainable, space.param_space(), BasicVariantGenerator(random_state=seed, max_concurrent=args.concurrency),
                       args.budget, storage_path=out / "ray_results", name=f"random_seed{seed}",
                       label=f"random/seed{seed}")
        df["searcher"], df["seed"] = "random", seed
        frames.append(df)
        print(f"finished random seed {seed}: {len(df)} trials in {time.time() - start:.1f}s", flush=True)
        if args.hw_cache:
            pool.save()
    st = pool.stats()
    print(f"layer-cost cache: {st['entries']} entries, {st['hits']} hits, {st['misses']} simulations")
    results = pd.concat(frames, ignore_index=True)
    results.to_csv(out / "results.csv", index=False)
    results.to_parquet(out / "results.parquet", index=False)
    ok = results[results["feasible"]]
    print(f"\n{len(results)} trials, {len(ok)} feasible; err kind: {evaluator.err_kind}")
    cols = ["searcher", "seed", "arch", "config/X1", "config/X2", "config/dataflow", "err", "edp", "flops_M"]
    print(ok.sort_values("err")[cols].head(10).to_string(index=False))
    bad = results[~results["feasible"]]
    if len(bad):
        print(f"\ninfeasible or failed: {len(bad)}; reasons: " + "; ".join(bad["error"].str.slice(0, 100).unique()[:3]))
    print(f"\nresults: {out / 'results.csv'} and {out / 'results.parquet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
