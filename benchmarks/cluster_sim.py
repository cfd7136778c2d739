"""A simulated cluster: ``python -m benchmarks cluster-sim``.

A discrete-event simulation of one Tune search over ``--workers`` trial slots, for every searcher of
the main job.  What is real and what is simulated:

* **Real**: the searchers (built by :func:`coflex_ray.registry.make_searcher` as the main job builds
  them, behind Tune's ``ConcurrencyLimiter``) and their compute time; the values and the exact
  reference front of ``--values``: ``nb201-pixel3`` (NAS-Bench-201 cifar10 test error x measured
  Pixel 3 latency, 15,625 cells, :func:`coflex_ray.reference_fronts.nb201_device_front`) or
  ``nb201-zz`` (the same error x the energy-delay product ZigZag computed for every cell on each of
  100 sampled accelerators, 1,562,500 pairs: :func:`nb201_zz_values`).
* **Simulated**: the clock, the workers and the evaluation times.  Each ``suggest`` and
  ``on_trial_complete`` runs for real and its wall time advances the virtual clock (Tune calls them
  on its driver loop, so a slow one holds every free slot), and the loop asks again as Ray Tune 2.60's
  does (:data:`STEP_S`, :data:`IDLE_POLL_S`).  CoflexSearch runs in background mode
  (``background=True``, what the README recommends for a cluster) with its thread replaced by
  :class:`VirtualAsker`: a batch job runs at once, for real, and its points are ready at the virtual
  time it started plus its real duration; results arriving in between wait for the next job, as in
  :class:`coflex_ray.searchers.background.BackgroundAsker`.  A trial occupies its slot for Tune's
  per-trial overhead (``--overhead``) plus its evaluation time, drawn from a measured
  distribution (``--tier``): ``zigzag-fixed``, ``zigzag`` (LOMA), ``scalesim`` (the 30 uncached SSS
  networks of ``benchmarks/results/evaluator_pairs_seed0.jsonl``), ``cached`` (the median cached
  zigzag-fixed network of ``benchmarks/results/timeouts.txt``), ``table`` (a lookup: 0 s) or
  ``sleep:S`` (a fixed ``S`` seconds).

Reported per (searcher, workers, seed): slot utilisation (time slots spend in evaluations / (slots x
time); Tune's per-trial overhead counts as idle, as in ``python -m benchmarks concurrency``), the
searcher's share of the clock (its real seconds in ``suggest``, ``on_trial_complete`` and background
jobs / elapsed virtual seconds), and at each of ``--minutes`` the evaluations done and the HV
fraction of the exact front reached by the completed evaluations.  With ``--trials N`` a run stops
after ``N`` completed trials instead and reports its virtual wall time: the set-up of the real check
(``python -m benchmarks concurrency``).  Searcher time is measured, so run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from coflex_ray.searchers.background import BackgroundAsker

from .common import RESULTS

PAIRS = RESULTS / "evaluator_pairs_seed0.jsonl"
TIMEOUTS = RESULTS / "timeouts.txt"
TIERS = ("zigzag-fixed", "zigzag", "scalesim", "cached", "table", "sleep:S")
# Ray Tune 2.60's TuneController: a step waits up to 0.1 s for one event (a trial's result) before it
# asks the searcher again; with no trial pending or running, a searcher that returns None is asked
# again every 1 s (_update_trial_queue(blocking=True) sleeps 1 s between calls)
STEP_S, IDLE_POLL_S = 0.1, 1.0
OVERHEAD_S = 0.16  # Tune's per-trial overhead: 0.5 s / 0.758 - 0.5 s, the no-fit run of benchmarks/results/concurrency.txt


class VirtualAsker(BackgroundAsker):
    """A :class:`BackgroundAsker` on a virtual clock: :meth:`start` runs the job at once, for real,
    and its points become ready when ``clock()`` reaches the start time plus the job's real duration.

    Args:
        runner: the searcher's background runner, replaced by this one (core and counters shared).
        clock: the virtual time in seconds.

    Attributes:
        release_at: virtual time the running job's points become ready (``None``: no job runs).
        job_s: real seconds spent in jobs.
        waited_s: virtual seconds callers waited for a job (:meth:`wait`).
    """

    def __init__(self, runner: BackgroundAsker, clock: Callable[[], float]) -> None:
        self.__dict__.update(runner.__dict__)
        self.clock, self.release_at, self._held = clock, None, []
        self.job_s = self.waited_s = 0.0

    def _poll(self, until: float | None = None) -> None:
        if self.release_at is not None and (self.clock() if until is None else until) >= self.release_at:
            self.ready.extend(self._held)
            self._held, self._running, self.release_at = [], False, None

    def start(self, pending: list[np.ndarray], early: bool = False) -> bool:
        self._poll()
        before = list(self.ready)
        pending = self._claim(pending, early)  # the rules of BackgroundAsker.start
        if pending is None:
            return False
        t = time.perf_counter()
        self._job(pending, self.batch_size())  # the real job: it appends to ready, then clears _running
        d = time.perf_counter() - t
        self.job_s += d
        self._held, self.ready = self.ready[len(before):], before
        self._running, self.release_at = True, self.clock() + d
        return True

    def wait(self, timeout: float | None = None) -> bool:
        if self.release_at is not None:
            until = self.clock() + (timeout if timeout is not None else np.inf)
            if until >= self.release_at:
                self.waited_s += self.release_at - self.clock()
                self._poll(self.release_at)
        return not self._running

    def flush(self) -> bool:
        self._poll()
        return False if self._running else super().flush()

    def take(self) -> np.ndarray | None:
        self._poll()
        return super().take()


def evaluate(config: dict[str, Any]) -> dict[str, float]:
    """The real values of one NB201 config: cifar10 test error (%) and Pixel 3 latency (ms)."""
    from coflex_ray.evaluators.device import device_latency_ms
    from coflex_ray.evaluators.nb201 import nb201_accuracy, nb201_index

    i = nb201_index(config)
    return {"err": 100.0 - nb201_accuracy(i), "latency_ms": device_latency_ms(i, "pixel3")}


@dataclass
class Values:
    """Where a simulated trial's values come from: the searchers' ``param_space``, the hardware
    objective (``hw``, minimised with ``err``, compared in log10), the lookup and the exact front."""

    name: str
    param_space: dict[str, Any]
    hw: str
    evaluate: Callable[[dict[str, Any]], dict[str, float]]
    front: Any  # coflex_ray.reference_fronts.ReferenceFront
    describe: str


def nb201_pixel3_values() -> Values:
    """NAS-Bench-201 cifar10 test error x measured Pixel 3 latency: 15,625 cells."""
    from coflex_ray.reference_fronts import nb201_device_front
    from coflex_ray.spaces import NB201_SPACE

    return Values("nb201-pixel3", NB201_SPACE.param_space(), "latency_ms", evaluate,
                  nb201_device_front("cifar10", "pixel3"), "NB201 cifar10 x Pixel 3 latency")


def nb201_zz_values(n_accelerators: int = 100, cache_dir: str | None = None) -> Values:
    """NAS-Bench-201 cifar10 test error x energy-delay product of the cell on one of ``n_accelerators``
    sampled accelerators, simulated by ZigZag (zigzag-fixed): with 100, 1,562,500 (cell, accelerator)
    pairs, every one computed (:func:`coflex_ray.codesign.groundtruth.build_ground_truth`, cached in
    ``cache_dir``; a few minutes of simulation on first use).  The accelerator is one categorical knob.

    Raises:
        ValueError: the ground truth has a pair that could not be simulated (infeasible).
    """
    from ray import tune

    from coflex_ray.codesign.groundtruth import accelerator_name, build_ground_truth
    from coflex_ray.evaluators.hardware import edp_uj_ms
    from coflex_ray.reference_fronts import ReferenceFront
    from coflex_ray.spaces import NB201_SPACE, nb201_arch_str

    gt = build_ground_truth(n_accelerators, cache_dir=cache_dir)
    names = [accelerator_name(a) for a in gt.accelerators]
    arch, acc = {a: i for i, a in enumerate(gt.archs)}, {n: i for i, n in enumerate(names)}
    edp = edp_uj_ms(gt.energy, gt.latency)  # as the hardware evaluators report it
    if not np.isfinite(edp).all():
        raise ValueError(f"{int((~np.isfinite(edp)).sum())} (cell, accelerator) pairs of the ground truth are "
                         "infeasible; the simulation needs a value for every pair")
    err = 100.0 - gt.accuracy

    def lookup(config: dict[str, Any]) -> dict[str, float]:
        j, k = arch[nb201_arch_str(config)], acc[config["accelerator"]]
        return {"err": float(err[j]), "edp": float(edp[k, j])}

    Y = np.column_stack([np.tile(err, len(names)), np.log10(edp).ravel()])
    front = ReferenceFront(Y, "edp", "exact",  # it keeps the non-dominated points
                           f"exact front of all {len(Y):,} (cell, accelerator) pairs", {"benchmark": "nb201-zz"})
    space = {**NB201_SPACE.param_space(), "accelerator": tune.choice(names)}
    return Values("nb201-zz", space, "edp", lookup, front,
                  f"NB201 cifar10 x EDP on {len(names)} sampled accelerators (ZigZag, zigzag-fixed), every pair simulated")


VALUES = {"nb201-pixel3": nb201_pixel3_values, "nb201-zz": nb201_zz_values}


def check_tier(tier: str) -> str:
    """``tier`` if it names an evaluation-time model of :data:`TIERS`.

    Raises:
        ValueError: naming ``tier`` and the allowed ones.
    """
    if tier in TIERS[:-1] or re.fullmatch(r"sleep:\d+(\.\d*)?", tier):
        return tier
    raise ValueError(f"--tier {tier!r} is not allowed; allowed: {', '.join(TIERS)} (S seconds, e.g. sleep:0.5)")


def eval_times(tier: str) -> np.ndarray:
    """The measured evaluation times (s) a trial's time is drawn from, for the model ``tier``."""
    check_tier(tier)
    if tier.startswith("sleep:"):
        return np.array([float(tier[6:])])
    if tier == "table":
        return np.array([0.0])
    if tier == "cached":
        m = re.search(r"^cached\s+no limit\s+per network: median ([\d.]+) ms", TIMEOUTS.read_text(), re.M)
        return np.array([float(m.group(1)) / 1e3])
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    return np.array([r[tier][3] for r in rows if tier in r], dtype=float)


@dataclass
class Run:
    """What one simulated run records."""

    ends: list[float] = field(default_factory=list)  # virtual completion time of each trial, in order
    Y: list[tuple[float, float]] = field(default_factory=list)  # (err, log10 hw) of each trial
    busy: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each evaluation
    searcher_s: float = 0.0
    clock: float = 0.0
    finished: bool = False


def build(name: str, workers: int, seed: int, n_init: int, values: Values) -> tuple[Any, Any]:
    """The searcher ``name`` for ``workers`` slots as the main job builds it, on ``values``' space and
    objectives with its exact front's bounds; ``(search_alg, inner)``, ``inner`` the CoflexSearch
    inside it (background mode) or ``None``."""
    from .mobo_drive import build_for

    alg = build_for(values.param_space, name, workers, seed, n_init, 10**9, values.front.bounds, hw=values.hw)
    inner = getattr(alg, "searcher", None) if name == "coflex" else None
    if inner is not None:  # background mode, as CoflexSearch(background=True) builds it
        inner.background, inner._runner = True, BackgroundAsker(inner.core)
        inner._runner.max_concurrency = inner.max_concurrency
    return alg, inner


def simulate(name: str, workers: int, seed: int, n_init: int, times: np.ndarray, overhead_s: float,
             horizon_s: float, trials: int | None = None, values: Values | None = None) -> Run:
    """One run: Tune's loop on a virtual clock until ``horizon_s`` (or ``trials`` completed trials).

    Each pass, as Tune's loop: complete the trials that have ended; ask for a trial per free slot
    until the searcher returns ``None``; then wait for the next trial's end, at most :data:`STEP_S`,
    or with no trial running :data:`IDLE_POLL_S`.  ``values``: default :func:`nb201_pixel3_values`.
    """
    import optuna
    from ray.tune.search import Searcher

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    values = values or nb201_pixel3_values()
    run, rng = Run(), np.random.default_rng(seed)
    alg, inner = build(name, workers, seed, n_init, values)
    asker = None
    if inner is not None:
        asker = inner._runner = VirtualAsker(inner._runner, lambda: run.clock)
    running: list[tuple[float, int, dict]] = []  # heap of (end, trial id, result)
    tid = 0

    def timed(f: Callable, *args: Any) -> Any:
        job, waited = (asker.job_s, asker.waited_s) if asker else (0.0, 0.0)
        t = time.perf_counter()
        out = f(*args)
        d = time.perf_counter() - t
        if asker:  # a background job is not the caller's time; a wait for one is
            d += (asker.waited_s - waited) - (asker.job_s - job)
        run.clock += d
        run.searcher_s += d
        return out

    while run.clock < horizon_s and (trials is None or len(run.ends) < trials):
        while running and running[0][0] <= run.clock:
            end, t, result = heapq.heappop(running)
            timed(alg.on_trial_complete, str(t), result)
            run.ends.append(end)
            run.Y.append((result["err"], float(np.log10(result[values.hw]))))
        started = False
        while len(running) < workers and not run.finished and (trials is None or tid < trials):
            cfg = timed(alg.suggest, str(tid))
            if cfg == Searcher.FINISHED:
                run.finished = True
            if not isinstance(cfg, dict):
                break
            body = float(rng.choice(times))
            start = run.clock + overhead_s
            heapq.heappush(running, (start + body, tid, values.evaluate(cfg)))
            run.busy.append((start, start + body))
            tid, started = tid + 1, True
        if started:
            continue
        if running:  # Tune handles one event per step, waiting up to 0.1 s for it, then asks again
            run.clock = max(run.clock, min(running[0][0], run.clock + STEP_S))
        elif asker is not None and asker.release_at is not None:  # nothing runs: Tune polls every 1 s
            run.clock += IDLE_POLL_S
        else:
            break  # nothing runs and nothing will be proposed: the space is exhausted or the searcher stalls
    if asker is not None:
        run.searcher_s += asker.job_s
    return run


def report(run: Run, workers: int, minutes: list[float], front: Any, trials: int | None = None) -> dict[str, Any]:
    """Utilisation, searcher share, and per checkpoint the evaluations done and the HV fraction.

    Utilisation is over the run's clock, or with ``trials`` over the span from the first evaluation's
    start to the last one's end (as ``python -m benchmarks concurrency`` measures it)."""
    from coflex_ray.analysis import normalise
    from coflex_ray.searchers.pareto import REF, hypervolume, nondominated

    if trials is not None and run.busy:
        lo, hi = min(s for s, _ in run.busy), max(e for _, e in run.busy)
    else:
        lo, hi = 0.0, run.clock
    span = max(hi - lo, 1e-9)
    busy = sum(max(0.0, min(e, hi) - s) for s, e in run.busy)
    out: dict[str, Any] = {"utilisation": busy / (workers * span), "searcher_share": run.searcher_s / max(run.clock, 1e-9),
                           "clock_s": run.clock, "n_done": len(run.ends), "finished": run.finished}
    ends, Y = np.asarray(run.ends), np.asarray(run.Y).reshape(-1, 2)
    for m in minutes:
        done = Y[ends <= 60.0 * m]
        pts = normalise(done[nondominated(done)], front.bounds) if len(done) else done
        out[f"hv@{m:g}"] = hypervolume(pts, [REF] * 2) / front.hv if len(done) else 0.0
        out[f"n@{m:g}"] = int(len(done))
    return out


def _key(r: dict[str, Any]) -> tuple:
    return r["searcher"], r["workers"], r["seed"], r["tier"], r["overhead_s"], r["n_init"], r.get("trials"), \
        tuple(r["minutes"]), r.get("values", "nb201-pixel3")


def _iqr(v: list[float], fmt: str) -> str:
    q = np.percentile(v, [25, 50, 75])
    return f"{q[1]:{fmt}} [{q[0]:{fmt}}, {q[2]:{fmt}}]"


def summarise(runs: list[dict[str, Any]], minutes: list[float], trials: int | None) -> str:
    """Per workers and searcher: median [IQR] of each measure over the seeds; one-sided Mann-Whitney
    p of each searcher's HV fraction above random's at every checkpoint."""
    from scipy.stats import mannwhitneyu

    lines = []
    for w in sorted({r["workers"] for r in runs}):
        at_w = [r for r in runs if r["workers"] == w]
        names = list(dict.fromkeys(r["searcher"] for r in at_w))
        cols = (["wall s", "searcher s"] if trials else []) + ["util %", "searcher %"] + \
            ([] if trials else [c for m in minutes for c in (f"evals {m:g}m", f"HV {m:g}m")])
        lines.append(f"{w} workers: median [IQR] over seeds; p: one-sided Mann-Whitney, HV fraction above random's")
        lines.append("  " + " | ".join(["searcher (seeds)"] + cols))
        for n in names:
            rs = [r for r in at_w if r["searcher"] == n]
            cells = [f"{n} ({len(rs)})"]
            if trials:
                cells += [_iqr([r["clock_s"] for r in rs], ".1f"),
                          _iqr([r["clock_s"] * r["searcher_share"] for r in rs], ".1f")]
            cells += [_iqr([100 * r["utilisation"] for r in rs], ".1f"), _iqr([100 * r["searcher_share"] for r in rs], ".1f")]
            rnd = [r for r in at_w if r["searcher"] == "random"]
            for m in ([] if trials else minutes):
                cells.append(_iqr([r[f"n@{m:g}"] for r in rs], ".0f"))
                hv = [r[f"hv@{m:g}"] for r in rs]
                cell = _iqr(hv, ".3f")
                if rnd and n != "random":
                    base = [r[f"hv@{m:g}"] for r in rnd]
                    cell += f" p={mannwhitneyu(hv, base, alternative='greater').pvalue:.3f}" if hv != base else ""
                cells.append(cell)
            lines.append("  " + " | ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from coflex_ray.registry import DEFAULT_SEARCHERS, check_searchers

    p = argparse.ArgumentParser(prog="python -m benchmarks cluster-sim", description=__doc__.splitlines()[0])
    p.add_argument("--searchers", nargs="+", default=list(DEFAULT_SEARCHERS), help="default: the main job's")
    p.add_argument("--workers", nargs="+", type=int, default=[8, 64, 256], help="trial slots (default 8 64 256)")
    p.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    p.add_argument("--minutes", nargs="+", type=float, default=[1, 5, 15, 60],
                   help="virtual minutes at which HV and evaluations are reported; the run ends at the last")
    p.add_argument("--values", default="nb201-pixel3", help=f"where the values come from, one of {', '.join(VALUES)}")
    p.add_argument("--tier", default="zigzag-fixed", help=f"evaluation-time model, one of {', '.join(TIERS)}")
    p.add_argument("--overhead", type=float, default=OVERHEAD_S,
                   help=f"Tune's per-trial overhead in seconds (default {OVERHEAD_S}, measured by benchmarks concurrency)")
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--trials", type=int, default=None,
                   help="stop each run after this many trials and report its virtual wall time instead")
    p.add_argument("--out", type=Path, default=RESULTS / "cluster_sim" / "runs.jsonl", help="results, one line per run; "
                   "runs already there are not run again")
    p.add_argument("--summary-only", action="store_true", help="print the summary of --out and run nothing")
    args = p.parse_args(argv)
    try:
        searchers = check_searchers(args.searchers)
        check_tier(args.tier)
        if args.values not in VALUES:
            raise ValueError(f"--values {args.values!r} is not allowed; allowed: {', '.join(VALUES)}")
    except ValueError as e:
        p.error(str(e))
    bad = [f"{k}={v}" for k, v, ok in [("--workers", args.workers, all(w >= 1 for w in args.workers)),
                                       ("--minutes", args.minutes, all(m > 0 for m in args.minutes)),
                                       ("--overhead", args.overhead, args.overhead >= 0),
                                       ("--n-init", args.n_init, args.n_init >= 1),
                                       ("--trials", args.trials, args.trials is None or args.trials > args.n_init)]
           if not ok]
    if bad:
        p.error(f"{bad[0]} is not allowed: workers and n-init >= 1, minutes > 0, overhead >= 0, trials > n-init")
    from coflex_ray.machine import machine
    from .mobo_drive import preload

    minutes = sorted(args.minutes)
    base = {"values": args.values, "tier": args.tier, "overhead_s": args.overhead, "n_init": args.n_init, "trials": args.trials,
            "minutes": minutes}
    done = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            done[_key(r)] = r
    todo = [(w, n, s) for w in args.workers for s in args.seeds for n in searchers
            if _key({**base, "searcher": n, "workers": w, "seed": s}) not in done]
    values = VALUES[args.values]() if todo and not args.summary_only else None  # nb201-zz may build its ground truth
    print(machine(), flush=True)
    print(f"simulated: clock, {args.workers} workers, evaluation times ({args.tier}; Tune overhead {args.overhead} s "
          f"per trial); real: searchers and their time, values ({values.describe if values else args.values}), "
          "exact front", flush=True)
    times = eval_times(args.tier)
    horizon = 60.0 * minutes[-1] if args.trials is None else np.inf
    if not args.summary_only:
        print(f"{len(todo)} runs to do ({len(done)} already in {args.out})", flush=True)
        preload(searchers)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        for i, (w, n, s) in enumerate(todo, 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = simulate(n, w, s, args.n_init, times, args.overhead, horizon, args.trials, values)
            r = {**base, "searcher": n, "workers": w, "seed": s, **report(run, w, minutes, values.front, args.trials)}
            with args.out.open("a") as f:
                f.write(json.dumps(r) + "\n")
            done[_key(r)] = r
            el = time.time() - t0
            print(f"[{i}/{len(todo)}] {n} W={w} seed {s}: util {r['utilisation']:.1%}, searcher {r['searcher_share']:.1%}, "
                  f"{r['n_done']} evals, HV {r[f'hv@{minutes[-1]:g}']:.3f} ({el / 60:.1f} min elapsed, "
                  f"ETA {el / i * (len(todo) - i) / 60:.0f} min)", flush=True)
    runs = [r for k, r in done.items() if r["searcher"] in searchers and r["workers"] in args.workers
            and r["seed"] in args.seeds and _key(r)[3:] == _key({**base, "searcher": "", "workers": 0, "seed": 0})[3:]]
    print(summarise(runs, minutes, args.trials))
