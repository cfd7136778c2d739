"""Command line of ``experiments/codesign.py``: the three co-design methods and two references, compared.

Validates every flag before Ray starts (one ``error: ...`` line, exit code 2, nothing written).
On NB201 it builds (or loads) the exhaustive ground truth, analyses monotonicity on it, runs the
exhaustive semi-decoupled study with every accelerator as the proxy, then runs the Tune methods for
each seed and compares them with the true constrained optimum.  On SSS the exhaustive parts are
skipped (constraints come from a fixed-seed probe of random network x accelerator pairs, and
monotonicity is measured on a sample of networks and accelerators).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..preflight import UsageError

METHODS = ("coupled", "coupled-mo", "semi-exhaustive", "semi-coflex", "rl", "hw-nas", "sequential")
DEFAULT_QUANTILES = ["0.05,0.05", "0.1,0.25", "0.25,0.1"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Co-design methods compared: fully coupled CoflexSearch, semi-decoupled, "
                                            "RL co-exploration, HW-aware NAS on a fixed accelerator, sequential.")
    p.add_argument("--benchmark", default="nb201", help="nb201 (with the exhaustive ground truth) or sss")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--methods", nargs="+", default=list(METHODS), help=f"subset of {', '.join(METHODS)}")
    p.add_argument("--budget", type=int, default=48, help="trials per run of coupled / rl / hw-nas / sequential")
    p.add_argument("--stage1-budget", type=int, default=32, help="trials of semi-coflex stage 1 on the proxy")
    p.add_argument("--stage2-budget", type=int, default=10, help="accelerator trials per constraint in stage 2")
    p.add_argument("--grid", type=int, default=16, help="stage-1 constraint grid (grid x grid quantile pairs)")
    p.add_argument("--constraints", nargs="+", default=DEFAULT_QUANTILES, metavar="QLAT,QEN",
                   help="constraint pairs as quantiles of latency and energy over the ground truth (nb201) or a "
                        "probe of random pairs (sss)")
    p.add_argument("--max-pes", type=int, default=1024, help="accelerator resource limit X1*X2 (0: none)")
    p.add_argument("--n-accelerators", type=int, default=100, help="accelerators in the nb201 ground truth")
    p.add_argument("--gt-seed", type=int, default=0, help="seed of the ground truth's accelerator sample")
    p.add_argument("--cache-dir", default=None, help="ground-truth cache (default $COFLEX_RAY_CACHE or ~/.cache/coflex_ray)")
    p.add_argument("--out", default="results/codesign")
    return p.parse_args(argv)


def validate(args: argparse.Namespace) -> None:
    from ..evaluators.accuracy import BENCHMARKS
    from ..evaluators.nb201 import NB201_DATASETS
    from .groundtruth import check_cache_dir

    if args.benchmark not in BENCHMARKS:
        raise UsageError(f"--benchmark {args.benchmark!r} is not allowed; allowed: {', '.join(BENCHMARKS)}")
    if args.dataset not in NB201_DATASETS:
        raise UsageError(f"--dataset {args.dataset!r} is not allowed; allowed: {', '.join(NB201_DATASETS)}")
    bad = [m for m in args.methods if m not in METHODS]
    if bad:
        raise UsageError(f"--methods {bad[0]!r} is not allowed; allowed: {', '.join(METHODS)}")
    if args.benchmark == "sss" and "semi-exhaustive" in args.methods:
        args.methods = [m for m in args.methods if m != "semi-exhaustive"]  # no ground truth for sss
    for flag in ("budget", "stage1_budget", "stage2_budget", "grid", "n_accelerators"):
        if getattr(args, flag) < 1:
            raise UsageError(f"--{flag.replace('_', '-')} {getattr(args, flag)} must be at least 1")
    if args.budget < 4:
        raise UsageError(f"--budget {args.budget} must be at least 4 (sequential splits it in two)")
    if args.max_pes < 0:
        raise UsageError(f"--max-pes {args.max_pes} must be >= 0 (0: no limit)")
    if len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds {args.seeds} repeats a seed")
    from ..study.config import MAX_SEED

    for flag, values in (("--seeds", args.seeds), ("--gt-seed", [args.gt_seed])):
        bad = next((x for x in values if not 0 <= x <= MAX_SEED), None)
        if bad is not None:
            raise UsageError(f"{flag} {bad} is not allowed; allowed: integers 0 to {MAX_SEED}")
    pairs = []
    for text in args.constraints:
        try:
            ql, qe = (float(x) for x in text.split(","))
        except ValueError:
            raise UsageError(f"--constraints {text!r} must be two quantiles 'QLAT,QEN', e.g. 0.1,0.25") from None
        if not (0 < ql <= 1 and 0 < qe <= 1):
            raise UsageError(f"--constraints {text!r}: quantiles must be in (0, 1]")
        pairs.append((ql, qe))
    args.quantiles = pairs
    args.max_pes = args.max_pes or None
    try:
        args.cache_dir = check_cache_dir(args.cache_dir)
    except ValueError as e:
        raise UsageError(f"--cache-dir: {e}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        validate(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from .report import run

    return run(args)
