"""Command line of the comparison experiments (``experiments/sss.py``, ``experiments/nb201.py``).

:func:`main` runs these steps, each its own function:

1. :func:`parse_args`: the flags; an explicit flag always wins over the ``--smoke`` defaults.
2. :func:`prepare`: every check and everything that can fail on bad input, before Ray starts or
   anything is written: flag values, usable ``--out``/``--hw-cache`` paths and cache file, the
   network evaluator, the reference front, ``--bounds``, and every (searcher, seed) built (a missing
   library fails here in about half a second, before torch, ZigZag or Ray load).  Bad input: one
   ``error: ...`` line, exit code 2, nothing written.
3. :func:`claim_out`: create ``--out`` and lock it (a second study on the same folder is refused).
4. :func:`start_services`: Ray (local or ``--address``) and the shared layer-cost cache actors.
5. :func:`fix_bounds`: the objective bounds (``--bounds``, the benchmark's reference front, or a
   fixed-seed probe); a probe with no feasible configuration stops the study with one line and
   removes what it created.
6. :func:`run`: the study (:func:`coflex_ray.study.runs.run_study`); a run that fails is ``[failed]``.
7. :func:`report`: tables, rank tests and plots of the runs that finished; exit code 1 if any failed.

Multi-fidelity (``--fidelity-ladder``, ``--scheduler``, ``--grace``, ``--reduction-factor``; see
:mod:`coflex_ray.fidelity`): checked in step 2 like every flag; step 4 starts one layer-cost pool per
hardware tier, step 5 probes at the cheapest tier, step 6 gives every (searcher, seed) run its own
scheduler and keeps every rung's row, step 7 counts the top rung only.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

# Light imports only: the heavy ones (torch, ZigZag, Ray) load once the flags are known to be good.
from .evaluators.nats_sss import NatsDataError
from .preflight import LOCK_NAME, check_writable, explain_probe, lock_out
from .schedulers import SCHEDULERS as SCHEDULER_CHOICES  # light: the scheduler classes load Ray on first use
from .registry import DEFAULT_SEARCHERS, SEARCHERS, check_installed, check_searchers
from .study.bounds import PROBE_N
from .study.runs import build_searchers

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
DEFAULT_DATASET = {"sss": "ImageNet16-120", "nb201": "cifar10"}  # sss: the Coflex paper's Fig. 4 dataset
DEFAULTS = {"budget": 30, "n_init": 10, "seeds": [0, 1], "concurrency": 2}
SMOKE = {"budget": 6, "n_init": 3, "seeds": [0], "probe": 12}
# multi-fidelity (see coflex_ray.fidelity): schedulers, and what --smoke fills in for a scheduler
MF_DEFAULTS = {"grace": 1, "reduction_factor": 3.0}
SMOKE_LADDER, SMOKE_LPF_LIMIT = "zigzag-fixed,zigzag", 2  # LOMA at lpf 2: ~6-25 s per network, not ~1 min


class UsageError(ValueError):
    """A bad flag: printed as one line, exit code 2."""


@dataclass
class Plan:
    """Everything a study needs, built and checked before Ray starts."""

    benchmark: str
    args: argparse.Namespace
    evaluator: Any  # coflex_ray.evaluators.accuracy.AccuracyEvaluator
    spec: Any  # coflex_ray.trial.EvalSpec
    space: Any  # coflex_ray.spaces.Space
    reference: Any  # coflex_ray.reference_fronts.ReferenceFront | None
    bounds: dict | None  # from --bounds (or the resumed study's bounds.json), else fixed later
    built: dict  # (searcher, seed) -> the Tuner's search_alg
    ladder: Any = None  # coflex_ray.fidelity.Ladder | None (one evaluation per trial)
    schedulers: dict | None = None  # (searcher, seed) -> a Tune scheduler; {} = FIFO

    @property
    def hw(self) -> str:
        return self.spec.hw_metric


def parse_args(benchmark: str, doc: str, argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=doc.splitlines()[0], epilog=f"searchers: {', '.join(SEARCHERS)}")
    # None = not given: the defaults (or, with --smoke, the smoke defaults) are filled in below
    p.add_argument("--budget", type=int, default=None, help=f"trials per (searcher, seed) (default {DEFAULTS['budget']})")
    p.add_argument("--minutes-per-run", type=float, default=None, metavar="M",
                   help="stop each (searcher, seed) run after M minutes of wall clock (Tune's time_budget_s; "
                        "--budget is then an upper bound): quality against time, e.g. sparse vs exact GPs")
    p.add_argument("--n-init", type=int, default=None,
                   help=f"initial design size per searcher (default {DEFAULTS['n_init']})")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 0 1")
    p.add_argument("--searchers", nargs="*", default=None,
                   help=f"default: {' '.join(DEFAULT_SEARCHERS)} (with --smoke: coflex random)")
    p.add_argument("--dataset", default=DEFAULT_DATASET[benchmark],
                   help=f"one of {', '.join(DATASETS)} (default {DEFAULT_DATASET[benchmark]})")
    p.add_argument("--fidelity", default=None,
                   help="accelerator simulator tier: zigzag-fixed (default), zigzag or scalesim")
    if benchmark == "sss":
        p.add_argument("--nats-sss", default=None, metavar="PATH",
                       help="official NATS-sss-v1_0-50262-simple folder (or $NATS_SSS_PATH): exact errors")
        p.add_argument("--network-evaluator", default=None, metavar="NAME",
                       help="without the official table: surrogate, proxy or params (default: surrogate on "
                            "ImageNet16-120, i.e. error predicted from real records; proxy elsewhere)")
    else:
        p.add_argument("--device", default=None,
                       help="hardware objective = measured latency (ms) of the cell on this device instead of "
                            "an accelerator's EDP (no accelerator dimensions); e.g. pixel3, raspi4, eyeriss, "
                            "1080ti_1 (the error message lists all)")
    p.add_argument("--fidelity-ladder", default=None, metavar="RUNGS",
                   help="multi-step trials, one report per rung, cheap first: hardware tiers such as "
                        "zigzag-fixed,zigzag (optionally ,scalesim), or with --nats-sss epochs:E1,...,90 "
                        "(learning-curve epochs); analysis counts the last rung only")
    p.add_argument("--scheduler", default="none", metavar="NAME",
                   help=f"trial scheduler over the ladder: {', '.join(SCHEDULER_CHOICES)} (default none; mo-asha: "
                        "multi-objective ASHA by Pareto rank; asha: Tune's ASHA on the scalarised objectives)")
    p.add_argument("--grace", type=int, default=None, metavar="LEVEL",
                   help=f"first rung at which the scheduler may stop trials (1..L-1; default {MF_DEFAULTS['grace']})")
    p.add_argument("--reduction-factor", type=float, default=None, metavar="ETA",
                   help=f"the scheduler keeps about 1/ETA of the trials at each rung (> 1; default "
                        f"{MF_DEFAULTS['reduction_factor']:g})")
    p.add_argument("--lpf-limit", type=int, default=None, metavar="N",
                   help="LOMA loop-permutation limit of the zigzag tier (default 6; with --smoke and a ladder 2)")
    p.add_argument("--bounds", default=None, metavar="FILE",
                   help=f"bounds.json of an earlier study (default: the benchmark's reference front where one "
                        f"exists, else a probe of {PROBE_N} fixed-seed configs)")
    p.add_argument("--hw-cache", default=None, metavar="FILE", help="persist the layer-cost cache to FILE")
    p.add_argument("--trial-timeout", type=float, default=None, metavar="S",
                   help="seconds one evaluation may take before it is killed and its trial recorded as failed "
                        "(0: no limit; default 900)")
    p.add_argument("--concurrency", type=int, default=DEFAULTS["concurrency"], help="trials running at once per run")
    p.add_argument("--parallel-runs", type=int, default=1, metavar="K",
                   help="(searcher, seed) runs at once, each with its own --concurrency (fill a cluster: "
                        "K x concurrency <= its CPUs); default 1")
    p.add_argument("--address", default=None, help="existing Ray cluster (default: start a local Ray)")
    p.add_argument("--out", default=f"results/{benchmark}", help="output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted study in --out (completed trials kept, searchers restored)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny study (coflex + random, 6 trials) for tests; explicit flags override its values")
    args = p.parse_args(argv)
    defaults = {**DEFAULTS, "searchers": list(DEFAULT_SEARCHERS)}
    if args.smoke:
        defaults.update(SMOKE, searchers=["coflex", "random"])
    for key in ("budget", "n_init", "seeds", "searchers"):  # an explicit flag wins over any default
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    args.nats_sss = getattr(args, "nats_sss", None)
    args.device = getattr(args, "device", None)
    args.network_evaluator = getattr(args, "network_evaluator", None)
    if args.smoke and args.scheduler != "none" and args.fidelity_ladder is None:
        args.fidelity_ladder = SMOKE_LADDER  # a scheduler needs a ladder; the smoke study brings one
    return args


def validate(args: argparse.Namespace) -> None:
    """Check every flag; cheap checks (searcher names and their libraries) come before heavy imports."""
    try:
        given, args.searchers = args.searchers, check_searchers(args.searchers)
    except ValueError as e:
        raise UsageError(str(e)) from e
    check_installed(args.searchers)  # a missing library fails now, before torch/ZigZag/Ray load
    if len(given) != len(args.searchers):
        print(f"note: --searchers {' '.join(given)} names a searcher more than once; running each once: "
              f"{' '.join(args.searchers)}")
    from .evaluators.accuracy import NETWORK_EVALUATORS
    from .evaluators.hardware import FIDELITIES
    from .trial import DEFAULT_TIMEOUT_S

    if args.trial_timeout is None:
        args.trial_timeout = DEFAULT_TIMEOUT_S
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
    args.ladder = _check_multifidelity(args)
    args.fidelity = args.fidelity or "zigzag-fixed"
    if args.fidelity not in FIDELITIES:
        raise UsageError(f"unknown fidelity {args.fidelity!r}; allowed: {', '.join(FIDELITIES)}")
    try:
        args.out = str(check_writable(args.out, "--out", folder=True))
        if args.hw_cache:
            args.hw_cache = str(check_writable(args.hw_cache, "--hw-cache", folder=False))
    except ValueError as e:
        raise UsageError(str(e)) from e
    if args.hw_cache and Path(args.hw_cache).is_file():  # a corrupt or foreign cache stops here, not mid-study
        from .evaluators.hardware import DEFAULT_LPF_LIMIT
        from .evaluators.hardware.cache import read_cache_file

        try:
            read_cache_file(args.hw_cache, args.fidelity, args.lpf_limit or DEFAULT_LPF_LIMIT)
        except ValueError as e:
            raise UsageError(f"--hw-cache: {e}") from e
    if args.n_init < 1:
        raise UsageError(f"--n-init {args.n_init} must be at least 1")
    if args.minutes_per_run is not None and not args.minutes_per_run > 0:
        raise UsageError(f"--minutes-per-run {args.minutes_per_run} is not allowed; allowed: a number of minutes > 0")
    if args.budget < args.n_init:
        raise UsageError(f"--budget {args.budget} is smaller than --n-init {args.n_init}; the budget must cover "
                         "the initial design")
    if not args.trial_timeout >= 0:
        raise UsageError(f"--trial-timeout {args.trial_timeout} must be >= 0 seconds (0: no limit)")
    if args.concurrency < 1:
        raise UsageError(f"--concurrency {args.concurrency} must be at least 1")
    if args.parallel_runs < 1:
        raise UsageError(f"--parallel-runs {args.parallel_runs} must be at least 1")
    if args.resume and not (Path(args.out) / "ray_results").is_dir():
        raise UsageError(f"--resume: no interrupted study in --out {args.out} (no ray_results folder there)")
    if len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds {args.seeds} repeats a seed")


def _check_multifidelity(args: argparse.Namespace) -> Any:
    """The ``--fidelity-ladder`` / ``--scheduler`` / ``--grace`` / ``--reduction-factor`` / ``--lpf-limit``
    checks; returns the ladder (``None`` without one) and fills in the defaults."""
    from .evaluators.accuracy import sss_source_name
    from .fidelity import parse_ladder

    if args.scheduler not in SCHEDULER_CHOICES:
        raise UsageError(f"unknown --scheduler {args.scheduler!r}; allowed: {', '.join(SCHEDULER_CHOICES)}")
    if args.lpf_limit is not None and args.lpf_limit < 1:
        raise UsageError(f"--lpf-limit {args.lpf_limit} must be at least 1")
    ladder = None
    if args.fidelity_ladder is not None:
        if args.device is not None:
            raise UsageError(f"--fidelity-ladder {args.fidelity_ladder} has no effect with --device {args.device} "
                             "(no accelerator is simulated and the device table has no learning curves); drop one")
        try:
            table = (getattr(args, "benchmark", "sss") == "sss"
                     and sss_source_name(args.dataset, args.nats_sss, args.network_evaluator) == "nats-sss-table")
        except ValueError as e:  # e.g. --network-evaluator with --nats-sss
            raise UsageError(str(e)) from e
        try:
            ladder = parse_ladder(args.fidelity_ladder, nats_sss=table)
        except ValueError as e:
            raise UsageError(str(e)) from e
        if ladder.kind == "hardware":
            for flag, value in (("--fidelity", args.fidelity), ("--hw-cache", args.hw_cache)):
                if value is not None:
                    raise UsageError(f"{flag} {value} conflicts with the hardware --fidelity-ladder "
                                     f"{args.fidelity_ladder} (the ladder names the tiers and each tier has its own "
                                     f"cache); drop {flag}")
    if args.scheduler != "none" and ladder is None:
        raise UsageError(f"--scheduler {args.scheduler} needs a --fidelity-ladder (e.g. zigzag-fixed,zigzag): "
                         "a scheduler stops trials between rungs")
    for flag, value in (("--grace", args.grace), ("--reduction-factor", args.reduction_factor)):
        if value is not None and args.scheduler == "none":
            raise UsageError(f"{flag} {value:g} has no effect without a scheduler; add --scheduler "
                             f"{' or '.join(SCHEDULER_CHOICES[1:])} or drop {flag}")
    args.grace = MF_DEFAULTS["grace"] if args.grace is None else args.grace
    args.reduction_factor = MF_DEFAULTS["reduction_factor"] if args.reduction_factor is None else args.reduction_factor
    if not args.reduction_factor > 1:
        raise UsageError(f"--reduction-factor {args.reduction_factor:g} must be greater than 1")
    if ladder is not None and args.scheduler != "none" and not 1 <= args.grace < ladder.levels:
        raise UsageError(f"--grace {args.grace} is beyond the {ladder.levels}-rung ladder {ladder.text()}; allowed: "
                         f"1..{ladder.levels - 1} (a rung below the last, where trials can still be stopped)")
    if args.lpf_limit is None:
        from .evaluators.hardware import DEFAULT_LPF_LIMIT

        args.lpf_limit = SMOKE_LPF_LIMIT if (args.smoke and ladder is not None) else DEFAULT_LPF_LIMIT
    return ladder


def prepare(benchmark: str, args: argparse.Namespace) -> Plan:
    """Step 2: validate, build the evaluator, spec, space, reference front and every searcher (no Ray)."""
    args.benchmark = benchmark
    validate(args)
    from .analysis import load_bounds
    from .evaluators.accuracy import make_accuracy_evaluator
    from .reference_fronts import reference_front_for
    from .spaces import ACCEL_SPACE, NB201_SPACE, SSS_SPACE, joint
    from .trial import EvalSpec

    evaluator = make_accuracy_evaluator(benchmark, args.dataset, args.nats_sss,
                                        network_evaluator=args.network_evaluator)
    if not args.bounds and args.resume and (Path(args.out) / "bounds.json").is_file():
        args.bounds = str(Path(args.out) / "bounds.json")  # the interrupted study's own bounds
    ladder = args.ladder
    # a hardware ladder: the spec's fidelity is its cheapest tier (the bounds probe runs there); the
    # trials climb the ladder
    first = ladder.rungs[0] if ladder is not None and ladder.kind == "hardware" else args.fidelity
    spec = EvalSpec(benchmark, args.dataset, args.nats_sss, fidelity=first, device=args.device,
                    timeout_s=args.trial_timeout or None, network_evaluator=args.network_evaluator)
    bounds = load_bounds(args.bounds, spec.hw_metric) if args.bounds else None
    final_tier = ladder.top_tier if ladder is not None and ladder.kind == "hardware" else args.fidelity
    reference = reference_front_for(benchmark, args.dataset, final_tier, args.device, evaluator.source.name)
    net_space = SSS_SPACE if benchmark == "sss" else NB201_SPACE
    space = net_space if args.device else joint(net_space, ACCEL_SPACE)
    built = build_searchers(args.searchers, space, args.seeds, args.n_init, args.concurrency, spec.hw_metric)
    schedulers = {}
    if ladder is not None:
        from .study.runs import build_schedulers

        schedulers = build_schedulers(args.scheduler, list(built), ladder, spec.hw_metric, args.grace,
                                      args.reduction_factor)
    return Plan(benchmark, args, evaluator, spec, space, reference, bounds, built, ladder, schedulers)


def claim_out(out: Path) -> Path | None:
    """Step 3: create and lock ``out``; returns what this run created (the top new folder, or the lock
    file in an existing folder), so a study that ends before it starts can remove exactly that."""
    created = next((p for p in reversed([out, *out.absolute().parents]) if not p.exists()), None)
    created = created or (out / LOCK_NAME if not (out / LOCK_NAME).exists() else None)
    out.mkdir(parents=True, exist_ok=True)
    lock_out(out)  # before Ray starts: a second study on the same (existing) --out stops here
    return created


def start_services(plan: Plan) -> Any:
    """Step 4: Ray (local, sized for the runs at once, or ``--address``) and the hardware cache actors."""
    from .runner import init_ray
    from .service import HardwarePool

    args = plan.args
    init_ray(args.address, num_cpus=None if args.address else args.concurrency * args.parallel_runs)
    if args.device:
        return None
    if plan.ladder is not None and plan.ladder.kind == "hardware":  # one pool (cache) per tier
        return {tier: HardwarePool(tier, lpf_limit=args.lpf_limit) for tier in plan.ladder.rungs}
    return HardwarePool(args.fidelity, lpf_limit=args.lpf_limit, path=args.hw_cache)


def fix_bounds(plan: Plan, pool: Any, out: Path) -> tuple[dict, str]:
    """Step 5: the study's objective bounds and where they came from; ValueError (with the probe's
    most common failure and what to change) if a probe finds no feasible configuration."""
    from .analysis import save_bounds
    from .study.bounds import probe_bounds, set_study_bounds
    from .trial import evaluate_config

    args, hw = plan.args, plan.hw
    if plan.bounds is not None:
        bounds, source = plan.bounds, f"--bounds {args.bounds}"
    elif plan.reference is not None:  # normalise by the reference front's ideal and nadir
        bounds, source = plan.reference.bounds, f"the {plan.reference.kind} reference front's ideal and nadir"
    else:
        start, rows = time.time(), []
        n_probe = SMOKE["probe"] if args.smoke else PROBE_N
        probe_pool = pool[plan.spec.fidelity] if isinstance(pool, dict) else pool  # a ladder: its cheapest tier
        try:
            bounds = probe_bounds(lambda c: rows.append(evaluate_config(c, plan.spec, probe_pool)) or rows[-1],
                                  plan.space, n_probe, hw)
        except ValueError:
            raise ValueError(explain_probe(rows, plan.spec.timeout_s)) from None
        source = f"a fixed-seed probe of {n_probe} random configs ({time.time() - start:.0f}s)"
    print(f"objective bounds ({source}): err {bounds['err']}, log10 {hw} {bounds['log10_' + hw]}")
    if args.bounds != str(out / "bounds.json"):
        save_bounds(out / "bounds.json", bounds, source)  # now, so a resumed study reuses them
    set_study_bounds(plan.built, bounds, plan.schedulers)  # HyperOpt's (and scalarised ASHA's) scalarisation
    return bounds, source


def run(plan: Plan, pool: Any, out: Path) -> tuple[Any, list[str]]:
    """Step 6: every (searcher, seed) run; RuntimeError if none finished."""
    from .study.runs import RunSpec, run_study
    from .trial import cosearch_trial

    mf = {} if plan.ladder is None else {"ladder": plan.ladder}  # no ladder: the trainable exactly as before
    trainable = partial(cosearch_trial, spec=plan.spec, hardware=pool, **mf)
    start = time.time()
    minutes = plan.args.minutes_per_run
    spec = RunSpec(trainable, plan.space, plan.args.budget, out, resume=plan.args.resume,
                   schedulers=plan.schedulers or {}, all_rows=plan.ladder is not None,
                   time_budget_s=None if minutes is None else 60 * minutes)
    results, failed = run_study(spec, plan.built, parallel_runs=plan.args.parallel_runs)
    cache = ""
    if isinstance(pool, dict):
        cache = "; layer-cost caches: " + ", ".join(
            f"{tier} {st['entries']} entries, {st['hits']} hits, {st['misses']} simulations"
            for tier, st in ((tier, p.stats()) for tier, p in pool.items()))
    elif pool is not None:
        if plan.args.hw_cache:
            pool.save()
        st = pool.stats()
        cache = f"; layer-cost cache: {st['entries']} entries, {st['hits']} hits, {st['misses']} simulations"
    n = results["trial_id"].nunique() if plan.ladder is not None else len(results)
    print(f"\n{n} trials in {time.time() - start:.0f}s{cache}")
    bad = results[~results["feasible"].astype(bool)]
    if len(bad):
        print(f"infeasible or failed: {len(bad)}; reasons: " + "; ".join(bad["error"].str.slice(0, 100).unique()[:3]))
    return results, failed


def report(plan: Plan, results: Any, failed: list[str], bounds: dict, source: str, out: Path) -> int:
    """Step 7: tables, rank tests, plots and run info of the finished runs; 1 if any run failed."""
    from .machine import machine
    from .study.outputs import write_outputs

    args = plan.args
    write_outputs(results, bounds, source, out, plan.evaluator.err_label,
                  meta={"benchmark": plan.benchmark, "args": vars(args),
                        "network_evaluator": plan.evaluator.description,
                        "accuracy_source": plan.evaluator.source.name, "err_kind": plan.evaluator.err_kind,
                        "machine": machine(), "failed_runs": failed},
                  reference=plan.reference)
    if failed:  # the finished runs are written above; the exit code still says that some did not finish
        print(f"\n{len(failed)} of {len(plan.built)} runs failed:\n" + "\n".join(failed), file=sys.stderr)
        return 1
    return 0


def main(benchmark: str, doc: str, argv: list[str] | None = None) -> int:
    args = parse_args(benchmark, doc, argv)
    try:
        plan = prepare(benchmark, args)
        out = Path(args.out)
        created = claim_out(out)
    except (ValueError, NatsDataError) as e:  # UsageError, SearcherBuildError and the library's own checks
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(textwrap.fill(f"network evaluator: {plan.evaluator.description}", width=100, subsequent_indent="    "))
    print("hardware evaluator: " + (f"measured latency (ms) on {args.device} (HELP / HW-NAS-Bench table)"
                                    if args.device else f"{args.fidelity} (EDP in uJ*ms at 1 GHz)"
                                    if plan.ladder is None or plan.ladder.kind == "epochs"
                                    else f"tiers {plan.ladder.text()} (EDP in uJ*ms at 1 GHz)"))
    if plan.ladder is not None:
        print(f"multi-fidelity: ladder {plan.ladder.text()} (final rung {plan.ladder.label(plan.ladder.levels)}), "
              f"scheduler {args.scheduler}" + (f" (grace {args.grace}, reduction factor {args.reduction_factor:g})"
                                               if args.scheduler != "none" else "")
              + (f", LOMA lpf_limit {args.lpf_limit}" if "zigzag" in plan.ladder.rungs else ""))
    print(f"study: {', '.join(args.searchers)} x seeds {args.seeds}, budget {args.budget}, n_init {args.n_init}, "
          f"concurrency {args.concurrency}" + (f", {args.parallel_runs} runs at once" if args.parallel_runs > 1 else "")
          + (f", at most {args.minutes_per_run:g} min per run" if args.minutes_per_run else ""))
    pool = start_services(plan)
    try:
        bounds, source = fix_bounds(plan, pool, out)
    except ValueError as e:  # not one feasible configuration: say why, leave nothing behind
        _abandon(created)
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        results, failed = run(plan, pool, out)
    except RuntimeError as e:  # every run failed: nothing to tabulate
        print(f"error: {e}", file=sys.stderr)
        return 1
    return report(plan, results, failed, bounds, source, out)


def _abandon(created: Path | None) -> None:
    """Stop Ray and remove the folder or lock file this run created (nothing of a failed start stays)."""
    import ray

    ray.shutdown()
    _remove(created)


def _remove(created: Path | None) -> None:
    import shutil

    if created is not None and created.is_dir():
        shutil.rmtree(created, ignore_errors=True)
    elif created is not None:
        created.unlink(missing_ok=True)
