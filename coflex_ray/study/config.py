"""The command line of the comparison experiments (``experiments/sss.py``, ``experiments/nb201.py``).

:func:`parse_args` reads the flags as given (``None``: not given); :meth:`StudyConfig.from_args`
checks every flag and fills in the defaults once, into one frozen :class:`StudyConfig`.  An explicit
flag always wins over the ``--smoke`` defaults.  Every bad flag is a :class:`~coflex_ray.preflight.UsageError`
(one ``error: ...`` line, exit code 2); the cheap checks (searcher names and their libraries) come
before any heavy import.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..preflight import UsageError, check_writable
from ..registry import DEFAULT_SEARCHERS, SEARCHERS, check_installed, check_searchers
from ..schedulers import SCHEDULERS as SCHEDULER_CHOICES  # light: the scheduler classes load Ray on first use
from .bounds import PROBE_N

if TYPE_CHECKING:
    from ..fidelity import Ladder

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
DEFAULT_DATASET = {"sss": "ImageNet16-120", "nb201": "cifar10"}  # sss: the Coflex paper's Fig. 4 dataset
DEFAULTS = {"budget": 30, "n_init": 10, "seeds": [0, 1], "concurrency": 2}
SMOKE = {"budget": 6, "n_init": 3, "seeds": [0], "probe": 12}
# multi-fidelity (see coflex_ray.fidelity): schedulers, and what --smoke fills in for a scheduler
MF_DEFAULTS = {"grace": 1, "reduction_factor": 3.0}
SMOKE_LADDER, SMOKE_LPF_LIMIT = "zigzag-fixed,zigzag", 2  # LOMA at lpf 2: ~6-25 s per network, not ~1 min
MAX_SEED = 2**32 - 1
MAX_TRIAL_TIMEOUT_S = 30 * 24 * 3600.0  # beyond this the OS timers overflow; 0 (or inf) means no limit
MIN_MINUTES_PER_RUN = 1.0
# options only one benchmark's command line has; the config holds them for both (None: not given)
_BENCHMARK_OPTIONS = ("nats_sss", "device", "network_evaluator")


def parse_args(benchmark: str, doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The flags as given; ``None`` for one not given whose default depends on others (``--smoke``)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0], epilog=f"searchers: {', '.join(SEARCHERS)}")
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
    p.add_argument("--constraint", action="append", default=None, metavar="METRIC<=VALUE",
                   help="outcome constraint on a reported column (METRIC<=VALUE or METRIC>=VALUE, e.g. "
                        "params_M<=1.5); repeatable; every searcher but random and hyperopt searches with it, "
                        "hyperopt refuses it")
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
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for --address to answer before giving up (default 30)")
    p.add_argument("--out", default=f"results/{benchmark}", help="output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted study in --out (completed trials kept, searchers restored)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny study (coflex + random, 6 trials) for tests; explicit flags override its values")
    return p.parse_args(argv)


@dataclass(frozen=True)
class StudyConfig:
    """A study's command line, checked and with every default filled in (see :meth:`from_args`).

    One attribute per flag (``--n-init`` is ``n_init``); ``nats_sss`` and ``network_evaluator``
    (SSS) and ``device`` (NB201) are ``None`` where the benchmark has no such flag.  Paths are as
    given (``out`` with ``~`` expanded); ``bounds`` is the file the bounds come from (with
    ``--resume`` and no ``--bounds``: the interrupted study's own ``bounds.json``, if there).
    """

    benchmark: str  # "sss" or "nb201"
    budget: int
    minutes_per_run: float | None
    n_init: int
    seeds: tuple[int, ...]
    searchers: tuple[str, ...]  # without repeats
    dataset: str
    fidelity: str  # the simulator tier (with a hardware ladder: --fidelity as given, else zigzag-fixed)
    nats_sss: str | None
    network_evaluator: str | None
    device: str | None
    fidelity_ladder: str | None  # as given, or the smoke study's ladder for a scheduler
    ladder: Ladder | None  # fidelity_ladder parsed
    scheduler: str
    grace: int
    reduction_factor: float
    lpf_limit: int
    constraint: tuple[tuple[str, str, float], ...]  # --constraint parsed: (metric, op, bound), sorted
    bounds: str | None
    hw_cache: str | None
    trial_timeout: float  # seconds; 0: no limit
    concurrency: int
    parallel_runs: int
    address: str | None
    connect_timeout: float
    out: Path
    resume: bool
    smoke: bool
    # the command line's option names, in its order (run_info.json records the flags in that order;
    # empty: the order of the fields above)
    options: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def time_budget_s(self) -> float | None:
        """``--minutes-per-run`` in seconds (Tune's ``time_budget_s``), or None."""
        return None if self.minutes_per_run is None else 60 * self.minutes_per_run

    @property
    def constraints(self) -> dict[str, tuple[str, float]] | None:
        """``--constraint`` as the searchers take it, ``{metric: (op, bound)}``, or None."""
        return {m: (op, b) for m, op, b in self.constraint} or None

    @property
    def probe_n(self) -> int:
        """Configurations the bounds probe evaluates (fewer for ``--smoke``)."""
        return SMOKE["probe"] if self.smoke else PROBE_N

    def record(self) -> dict[str, Any]:
        """The flags as ``run_info.json`` records them (``args``; merge-studies compares them): every
        option's final value in the command line's order, then the benchmark's missing options,
        ``benchmark`` and ``ladder``; lists and strings as the command line gives them."""
        options = self.options or tuple(f.name for f in fields(self)
                                        if f.name not in ("benchmark", "ladder", "options"))
        names = [*options, *(n for n in _BENCHMARK_OPTIONS if n not in options), "benchmark", "ladder"]
        plain = {"seeds": list(self.seeds), "searchers": list(self.searchers), "out": str(self.out),
                 "constraint": [f"{m}{op}{b!r}" for m, op, b in self.constraint] or None}
        return {n: plain.get(n, getattr(self, n)) for n in names}

    @classmethod
    def from_args(cls, benchmark: str, args: argparse.Namespace) -> StudyConfig:
        """Check the flags of :func:`parse_args` in order and fill in their defaults (with ``--smoke``,
        the smoke study's); ``args`` is left as it is.

        Raises:
            UsageError: a bad flag or combination, naming it and what is allowed.
            SearcherBuildError: a library a requested searcher needs is not installed.
            ValueError: an unknown ``--device`` (the message lists the devices).
        """
        defaults = {**DEFAULTS, "searchers": list(DEFAULT_SEARCHERS)}
        if args.smoke:
            defaults.update(SMOKE, searchers=["coflex", "random"])
        budget, n_init, seeds, given = (defaults[k] if getattr(args, k) is None else getattr(args, k)
                                        for k in ("budget", "n_init", "seeds", "searchers"))
        nats_sss, device, network_evaluator = (getattr(args, k, None) for k in _BENCHMARK_OPTIONS)
        fidelity_ladder = args.fidelity_ladder
        if args.smoke and args.scheduler != "none" and fidelity_ladder is None:
            fidelity_ladder = SMOKE_LADDER  # a scheduler needs a ladder; the smoke study brings one
        if getattr(args, "constraint", None) and args.searchers is None and "hyperopt" in given:
            given = [n for n in given if n != "hyperopt"]  # the one default searcher that takes no constraints
            print("note: --constraint: hyperopt takes no constraints; running the other default searchers")
        try:
            searchers = check_searchers(given)
        except ValueError as e:
            raise UsageError(str(e)) from e
        check_installed(searchers)  # a missing library fails now, before torch/ZigZag/Ray load
        if len(given) != len(searchers):
            print(f"note: --searchers {' '.join(given)} names a searcher more than once; running each once: "
                  f"{' '.join(searchers)}")
        from ..evaluators.accuracy import NETWORK_EVALUATORS
        from ..evaluators.hardware import DEFAULT_LPF_LIMIT, FIDELITIES
        from ..trial import DEFAULT_TIMEOUT_S

        trial_timeout = DEFAULT_TIMEOUT_S if args.trial_timeout is None else args.trial_timeout
        if trial_timeout == math.inf:
            trial_timeout = 0.0  # no limit, as 0 says
        if args.dataset not in DATASETS:
            raise UsageError(f"unknown dataset {args.dataset!r}; allowed: {', '.join(DATASETS)}")
        if network_evaluator is not None and network_evaluator not in NETWORK_EVALUATORS:
            raise UsageError(f"unknown --network-evaluator {network_evaluator!r}; allowed: "
                             f"{', '.join(NETWORK_EVALUATORS)}")
        if device is not None:
            from ..evaluators.device import check_device

            check_device(device)  # ValueError names the allowed devices
            for flag, value in (("--fidelity", args.fidelity), ("--hw-cache", args.hw_cache)):
                if value is not None:
                    raise UsageError(f"{flag} {value} has no effect with --device {device} (no accelerator "
                                     "is simulated); drop one of them")
        ladder, grace, reduction_factor = _check_multifidelity(
            benchmark, args, fidelity_ladder, nats_sss=nats_sss, device=device, network_evaluator=network_evaluator)
        if args.lpf_limit is not None:
            lpf_limit = args.lpf_limit
        else:
            lpf_limit = SMOKE_LPF_LIMIT if (args.smoke and ladder is not None) else DEFAULT_LPF_LIMIT
        fidelity = args.fidelity or "zigzag-fixed"
        if fidelity not in FIDELITIES:
            raise UsageError(f"unknown fidelity {fidelity!r}; allowed: {', '.join(FIDELITIES)}")
        try:
            out = check_writable(args.out, "--out", folder=True)
            hw_cache = args.hw_cache and str(check_writable(args.hw_cache, "--hw-cache", folder=False))
        except ValueError as e:
            raise UsageError(str(e)) from e
        if hw_cache and Path(hw_cache).is_file():  # a corrupt or foreign cache stops here, not mid-study
            from ..evaluators.hardware.cache import read_cache_file

            try:
                read_cache_file(hw_cache, fidelity, lpf_limit or DEFAULT_LPF_LIMIT)
            except ValueError as e:
                raise UsageError(f"--hw-cache: {e}") from e
        if n_init < 1:
            raise UsageError(f"--n-init {n_init} must be at least 1")
        if args.minutes_per_run is not None and not args.minutes_per_run > 0:
            raise UsageError(f"--minutes-per-run {args.minutes_per_run} is not allowed; allowed: a number of "
                             "minutes > 0")
        if args.minutes_per_run is not None and args.minutes_per_run < MIN_MINUTES_PER_RUN:
            raise UsageError(f"--minutes-per-run {args.minutes_per_run:g} is too short for one trial (Ray starts "
                             f"the trial workers within it); allowed: at least {MIN_MINUTES_PER_RUN:g} minute")
        if budget < n_init:
            raise UsageError(f"--budget {budget} is smaller than --n-init {n_init}; the budget must cover "
                             "the initial design")
        if not 0 <= trial_timeout <= MAX_TRIAL_TIMEOUT_S:
            raise UsageError(f"--trial-timeout {trial_timeout:g} is not allowed; allowed: 0 to "
                             f"{MAX_TRIAL_TIMEOUT_S:g} seconds (0 or inf: no limit)")
        if args.concurrency < 1:
            raise UsageError(f"--concurrency {args.concurrency} must be at least 1")
        if args.parallel_runs < 1:
            raise UsageError(f"--parallel-runs {args.parallel_runs} must be at least 1")
        if args.resume and not (out / "ray_results").is_dir():
            raise UsageError(f"--resume: no interrupted study in --out {out} (no ray_results folder there)")
        if len(set(seeds)) != len(seeds):
            raise UsageError(f"--seeds {seeds} repeats a seed")
        bad_seed = next((x for x in seeds if not 0 <= x <= MAX_SEED), None)
        if bad_seed is not None:
            raise UsageError(f"--seeds {bad_seed} is not allowed; allowed: integers 0 to {MAX_SEED} "
                             "(the seeds of numpy, torch and the searchers' libraries)")
        if not args.connect_timeout > 0:
            raise UsageError(f"--connect-timeout {args.connect_timeout:g} must be > 0 seconds")
        if args.address:
            check_address(args.address, args.connect_timeout)
        constraint = _check_constraints(getattr(args, "constraint", None), device, searchers)
        bounds = args.bounds
        if not bounds and args.resume and (out / "bounds.json").is_file():
            bounds = str(out / "bounds.json")  # the interrupted study's own bounds
        return cls(benchmark=benchmark, budget=budget, minutes_per_run=args.minutes_per_run, n_init=n_init,
                   seeds=tuple(seeds), searchers=tuple(searchers), dataset=args.dataset, fidelity=fidelity,
                   nats_sss=nats_sss, network_evaluator=network_evaluator, device=device,
                   fidelity_ladder=fidelity_ladder, ladder=ladder, scheduler=args.scheduler, grace=grace,
                   reduction_factor=reduction_factor, lpf_limit=lpf_limit, constraint=constraint, bounds=bounds, hw_cache=hw_cache,
                   trial_timeout=trial_timeout, concurrency=args.concurrency, parallel_runs=args.parallel_runs,
                   address=args.address, connect_timeout=args.connect_timeout, out=out, resume=args.resume, smoke=args.smoke, options=tuple(vars(args)))


def _check_constraints(given: list[str] | None, device: str | None,
                       searchers: list[str]) -> tuple[tuple[str, str, float], ...]:
    """``--constraint`` flags (``METRIC<=VALUE`` / ``METRIC>=VALUE``) as sorted ``(metric, op, bound)``."""
    import re

    from ..trial import reported_metrics

    allowed = reported_metrics(device)
    hw = "latency_ms" if device else "edp"  # the hardware objective, modelled in log space
    out: dict[str, tuple[str, str, float]] = {}
    for text in given or ():
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*(\S+)\s*", text)
        if not m:
            raise UsageError(f"--constraint {text!r} is not allowed; allowed: METRIC<=VALUE or METRIC>=VALUE "
                             f"with METRIC one of {', '.join(allowed)}")
        metric, op, value = m.groups()
        if metric not in allowed:
            raise UsageError(f"--constraint {text!r}: unknown metric {metric!r}; allowed: {', '.join(allowed)} "
                             "(the columns the study's trials report)")
        try:
            bound = float(value)
        except ValueError:
            bound = math.nan
        if not math.isfinite(bound):
            raise UsageError(f"--constraint {text!r}: the bound {value!r} is not allowed; allowed: a finite number")
        if metric == hw and bound <= 0:
            raise UsageError(f"--constraint {text!r}: the bound must be > 0 ({hw} is positive and modelled in "
                             "log space)")
        if metric in out:
            raise UsageError(f"--constraint {text!r}: {metric} is constrained twice; allowed: one --constraint "
                             "per metric")
        out[metric] = (metric, op, bound)
    if out and "hyperopt" in searchers:
        raise UsageError("--constraint: hyperopt takes no constraints; drop it from --searchers")
    return tuple(sorted(out.values()))


def check_address(address: str, timeout_s: float) -> None:
    """Check that the Ray cluster at ``address`` (``host:port`` of its GCS) answers within ``timeout_s``.

    ``auto`` and ``ray://`` client addresses are left to Ray.

    Raises:
        UsageError: nothing answers at ``address`` within the timeout, or it is not ``host:port``.
    """
    import socket

    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address!r} is not allowed; allowed: HOST:PORT of a Ray head (e.g. "
                         "10.0.0.1:6379), auto, or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UsageError(f"--address {address}: no Ray cluster answers there within {timeout_s:g} s "
                         f"({type(e).__name__}: {e}); start it (ray start --head --port={port}) or fix the "
                         "address; --connect-timeout sets the wait") from None


def _check_multifidelity(benchmark: str, args: argparse.Namespace, fidelity_ladder: str | None, *,
                         nats_sss: str | None, device: str | None,
                         network_evaluator: str | None) -> tuple[Ladder | None, int, float]:
    """The ``--fidelity-ladder`` / ``--scheduler`` / ``--grace`` / ``--reduction-factor`` / ``--lpf-limit``
    checks: (the ladder, ``None`` without one; the grace rung; the reduction factor), defaults filled in."""
    from ..evaluators.accuracy import sss_source_name
    from ..fidelity import parse_ladder

    if args.scheduler not in SCHEDULER_CHOICES:
        raise UsageError(f"unknown --scheduler {args.scheduler!r}; allowed: {', '.join(SCHEDULER_CHOICES)}")
    if args.lpf_limit is not None and args.lpf_limit < 1:
        raise UsageError(f"--lpf-limit {args.lpf_limit} must be at least 1")
    ladder = None
    if fidelity_ladder is not None:
        if device is not None:
            raise UsageError(f"--fidelity-ladder {fidelity_ladder} has no effect with --device {device} "
                             "(no accelerator is simulated and the device table has no learning curves); drop one")
        try:
            table = (benchmark == "sss"
                     and sss_source_name(args.dataset, nats_sss, network_evaluator) == "nats-sss-table")
        except ValueError as e:  # e.g. --network-evaluator with --nats-sss
            raise UsageError(str(e)) from e
        try:
            ladder = parse_ladder(fidelity_ladder, nats_sss=table)
        except ValueError as e:
            raise UsageError(str(e)) from e
        if ladder.kind == "hardware":
            for flag, value in (("--fidelity", args.fidelity), ("--hw-cache", args.hw_cache)):
                if value is not None:
                    raise UsageError(f"{flag} {value} conflicts with the hardware --fidelity-ladder "
                                     f"{fidelity_ladder} (the ladder names the tiers and each tier has its own "
                                     f"cache); drop {flag}")
    if args.scheduler != "none" and ladder is None:
        raise UsageError(f"--scheduler {args.scheduler} needs a --fidelity-ladder (e.g. zigzag-fixed,zigzag): "
                         "a scheduler stops trials between rungs")
    for flag, value in (("--grace", args.grace), ("--reduction-factor", args.reduction_factor)):
        if value is not None and args.scheduler == "none":
            raise UsageError(f"{flag} {value:g} has no effect without a scheduler; add --scheduler "
                             f"{' or '.join(SCHEDULER_CHOICES[1:])} or drop {flag}")
    grace = MF_DEFAULTS["grace"] if args.grace is None else args.grace
    reduction_factor = MF_DEFAULTS["reduction_factor"] if args.reduction_factor is None else args.reduction_factor
    if not reduction_factor > 1:
        raise UsageError(f"--reduction-factor {reduction_factor:g} must be greater than 1")
    if ladder is not None and args.scheduler != "none" and not 1 <= grace < ladder.levels:
        raise UsageError(f"--grace {grace} is beyond the {ladder.levels}-rung ladder {ladder.text()}; allowed: "
                         f"1..{ladder.levels - 1} (a rung below the last, where trials can still be stopped)")
    return ladder, grace, reduction_factor
