"""Command line of the comparison experiments (``experiments/sss.py``, ``experiments/nb201.py``).

Validates every flag before Ray starts (one ``error: ...`` line, exit code 2, nothing written),
builds the evaluators (accuracy lookup + hardware actors), fixes the objective bounds, runs the
study (:mod:`coflex_ray.study`) and writes tables and plots.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from .evaluators.accuracy import NETWORK_EVALUATORS
from .evaluators.hardware import FIDELITIES
from .study import DEFAULT_SEARCHERS, PROBE_N, SEARCHERS, check_searchers
from .trial import DEFAULT_TIMEOUT_S, EvalSpec

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
DEFAULT_DATASET = {"sss": "ImageNet16-120", "nb201": "cifar10"}  # sss: the Coflex paper's Fig. 4 dataset
DEFAULTS = {"budget": 30, "n_init": 10, "seeds": [0, 1], "concurrency": 2}
SMOKE = {"budget": 6, "n_init": 3, "seeds": [0], "probe": 12}


class UsageError(ValueError):
    """A bad flag: printed as one line, exit code 2."""


def parse_args(benchmark: str, doc: str, argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=doc.splitlines()[0], epilog=f"searchers: {', '.join(SEARCHERS)}")
    p.add_argument("--budget", type=int, default=DEFAULTS["budget"], help="trials per (searcher, seed)")
    p.add_argument("--n-init", type=int, default=DEFAULTS["n_init"], help="initial design size per searcher")
    p.add_argument("--seeds", type=int, nargs="+", default=DEFAULTS["seeds"])
    p.add_argument("--searchers", nargs="*", default=list(DEFAULT_SEARCHERS))
    p.add_argument("--dataset", default=DEFAULT_DATASET[benchmark], help=f"one of {', '.join(DATASETS)} "
                   f"(default {DEFAULT_DATASET[benchmark]})")
    p.add_argument("--fidelity", default=None,
                   help=f"accelerator simulator tier, one of {', '.join(FIDELITIES)} (default zigzag-fixed)")
    if benchmark == "sss":
        p.add_argument("--nats-sss", default=None, metavar="PATH",
                       help="official NATS-sss-v1_0-50262-simple folder (or $NATS_SSS_PATH): exact errors")
        p.add_argument("--network-evaluator", default=None, metavar="NAME",
                       help=f"without the official table: one of {', '.join(NETWORK_EVALUATORS)} (default: "
                            "surrogate on ImageNet16-120, i.e. predicted error from real records; proxy elsewhere)")
    else:
        p.add_argument("--device", default=None,
                       help="hardware objective = measured latency (ms) of the cell on this device instead of "
                            "an accelerator's EDP (no accelerator dimensions); e.g. pixel3, raspi4, eyeriss, "
                            "1080ti_1 (the error message lists all)")
    p.add_argument("--bounds", default=None, metavar="FILE",
                   help=f"bounds.json of an earlier study (default: probe {PROBE_N} fixed-seed configs)")
    p.add_argument("--hw-cache", default=None, metavar="FILE", help="persist the layer-cost cache to FILE")
    p.add_argument("--trial-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help="seconds one evaluation may take before its trial is recorded as failed (0: no limit)")
    p.add_argument("--concurrency", type=int, default=DEFAULTS["concurrency"], help="trials running at once")
    p.add_argument("--address", default=None, help="existing Ray cluster (default: start a local Ray)")
    p.add_argument("--out", default=f"results/{benchmark}", help="output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted study in --out (completed trials kept, searchers restored)")
    p.add_argument("--smoke", action="store_true", help="tiny study (coflex + random, 6 trials) for tests")
    args = p.parse_args(argv)
    if args.smoke:
        args.budget, args.n_init, args.seeds = SMOKE["budget"], SMOKE["n_init"], SMOKE["seeds"]
        if args.searchers == list(DEFAULT_SEARCHERS):
            args.searchers = ["coflex", "random"]
    args.nats_sss = getattr(args, "nats_sss", None)
    args.device = getattr(args, "device", None)
    args.network_evaluator = getattr(args, "network_evaluator", None)
    return args


def validate(args: argparse.Namespace) -> None:
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; allowed: {', '.join(DATASETS)}")
    if args.network_evaluator is not None and args.network_evaluator not in NETWORK_EVALUATORS:
        raise UsageError(f"unknown --network-evaluator {args.network_evaluator!r}; allowed: "
                         f"{', '.join(NETWORK_EVALUATORS)}")
    if args.device is not None:
        from .evaluators.device import check_device

        check_device(args.device)  # ValueError names the allowed devices
        for flag, value in (("--fidelity", args.fidelity), ("--hw-cache", args.hw_cache)):
            if value is not None:
                raise UsageError(f"{flag} {value} has no effect with --device {args.device} (no accelerator "
                                 "is simulated); drop one of them")
    args.fidelity = args.fidelity or "zigzag-fixed"
    if args.fidelity not in FIDELITIES:
        raise UsageError(f"unknown fidelity {args.fidelity!r}; allowed: {', '.join(FIDELITIES)}")
    try:
        args.searchers = check_searchers(args.searchers)
    except ValueError as e:
        raise UsageError(str(e)) from e
    if args.n_init < 1:
        raise UsageError(f"--n-init {args.n_init} must be at least 1")
    if args.budget < args.n_init:
        raise UsageError(f"--budget {args.budget} is smaller than --n-init {args.n_init}; the budget must cover "
                         "the initial design")
    if not args.trial_timeout >= 0:
        raise UsageError(f"--trial-timeout {args.trial_timeout} must be >= 0 seconds (0: no limit)")
    if args.concurrency < 1:
        raise UsageError(f"--concurrency {args.concurrency} must be at least 1")
    if args.resume and not (Path(args.out) / "ray_results").is_dir():
        raise UsageError(f"--resume: no interrupted study in --out {args.out} (no ray_results folder there)")
    if len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds {args.seeds} repeats a seed")


def main(benchmark: str, doc: str, argv: list[str] | None = None) -> int:
    args = parse_args(benchmark, doc, argv)
    from .analysis import load_bounds
    from .evaluators.accuracy import make_accuracy_evaluator
    from .evaluators.nats_sss import NatsDataError
    from .spaces import ACCEL_SPACE, NB201_SPACE, SSS_SPACE, joint

    try:  # everything a user can get wrong fails here, before Ray starts or anything is written
        validate(args)
        evaluator = make_accuracy_evaluator(benchmark, args.dataset, args.nats_sss,
                                            network_evaluator=args.network_evaluator)
        if not args.bounds and args.resume and (Path(args.out) / "bounds.json").is_file():
            args.bounds = str(Path(args.out) / "bounds.json")  # the interrupted study's own bounds
        spec = EvalSpec(benchmark, args.dataset, args.nats_sss, fidelity=args.fidelity, device=args.device,
                        timeout_s=args.trial_timeout or None, network_evaluator=args.network_evaluator)
        hw = spec.hw_metric
        bounds = load_bounds(args.bounds, hw) if args.bounds else None
    except (UsageError, NatsDataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from .runner import init_ray
    from .service import HardwarePool
    from .analysis import save_bounds
    from .study import probe_bounds, run_study, write_outputs
    from .trial import cosearch_trial, evaluate_config

    print(f"network evaluator: {evaluator.description}")
    print(f"hardware evaluator: " + (f"measured latency (ms) on {args.device} (HELP / HW-NAS-Bench table)"
                                     if args.device else f"{args.fidelity} (EDP in uJ*ms at 1 GHz)"))
    print(f"study: {', '.join(args.searchers)} x seeds {args.seeds}, budget {args.budget}, n_init {args.n_init}, "
          f"concurrency {args.concurrency}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net_space = SSS_SPACE if benchmark == "sss" else NB201_SPACE
    space = net_space if args.device else joint(net_space, ACCEL_SPACE)
    init_ray(args.address, num_cpus=None if args.address else args.concurrency)
    pool = None if args.device else HardwarePool(args.fidelity, path=args.hw_cache)
    if bounds is None:
        start = time.time()
        n_probe = SMOKE["probe"] if args.smoke else PROBE_N
        bounds = probe_bounds(partial(evaluate_config, spec=spec, hardware=pool), space, n_probe, hw)
        source = f"a fixed-seed probe of {n_probe} random configs ({time.time() - start:.0f}s)"
    else:
        source = f"--bounds {args.bounds}"
    print(f"objective bounds ({source}): err {bounds['err']}, log10 {hw} {bounds['log10_' + hw]}")
    if args.bounds != str(out / "bounds.json"):
        save_bounds(out / "bounds.json", bounds, source)  # now, so a resumed study reuses them
    spec = replace(spec, bounds=(tuple(bounds["err"]), tuple(bounds["log10_" + hw])))
    trainable = partial(cosearch_trial, spec=spec, hardware=pool)
    start = time.time()
    results = run_study(trainable, space, args.searchers, args.seeds, args.budget, args.n_init,
                        args.concurrency, out, resume=args.resume, hw=hw)
    if pool is not None and args.hw_cache:
        pool.save()
    cache = ""
    if pool is not None:
        st = pool.stats()
        cache = f"; layer-cost cache: {st['entries']} entries, {st['hits']} hits, {st['misses']} simulations"
    print(f"\n{len(results)} trials in {time.time() - start:.0f}s{cache}")
    bad = results[~results["feasible"].astype(bool)]
    if len(bad):
        print(f"infeasible or failed: {len(bad)}; reasons: " + "; ".join(bad["error"].str.slice(0, 100).unique()[:3]))
    write_outputs(results, bounds, source, out, evaluator.err_label,
                  meta={"benchmark": benchmark, "args": vars(args), "network_evaluator": evaluator.description,
                        "err_kind": evaluator.err_kind, "machine": _machine()})
    return 0


def _machine() -> str:
    from .bench.common import machine

    return machine()
