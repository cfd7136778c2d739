"""Every searcher of the main job on standard multi-objective test problems: ``python -m benchmarks mobo``.

``python -m benchmarks mobo [--problems ...] [--searchers ...] [--seeds 0 .. 9] [--budget 100]
[--batch 1 4] [--out benchmarks/results/mobo] [--n-init 10]``; ``--max-hv`` recomputes the stored
best-known maximum hypervolumes instead.

Problems: :mod:`benchmarks.mobo_problems` (its docstring tabulates each reference point and maximum
hypervolume with its provenance).  Searchers: each built by :func:`coflex_ray.registry.make_searcher`
exactly as the main job builds it (``n_init`` initial points, the study's batch rule, a
``ConcurrencyLimiter`` of ``--batch``), on the objectives ``f0 .. f{m-1}``, every one given the
problem's fixed objective bounds as a study without a reference front fixes them
(:func:`.mobo_problems.probe_bounds`, :func:`coflex_ray.study.set_study_bounds`).  Each is driven
through the Tune Searcher API without a Tuner (:mod:`.mobo_drive`): batch 1 asks one config and
completes it; batch 4 asks 4 (fewer when the searcher must wait) and then completes them in order.
Searcher seconds: wall-clock and CPU time spent inside ``suggest`` and ``on_trial_complete`` per
run (the libraries imported beforehand).

Metric: ``log10(max_hv - HV)`` of the run's evaluated points (exact hypervolume, moocore), after
each checkpoint of evaluations (50 and ``--budget``: the budget-50 value is the first 50 evaluations
of the longer run, not a separate run).  A gap below ``GAP_FLOOR * max_hv`` (a best-known
``max_hv`` exceeded, or rounding) counts as that floor.

Output: one JSON line per (problem, searcher, batch, seed) appended to ``OUT/runs.jsonl`` once the
run has finished (a rerun skips finished lines; an interrupted run left no line and is redone);
progress lines with an ETA; ``OUT/summary.md`` (:mod:`.mobo_summary`), printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from .common import RESULTS
from .mobo_problems import PROBLEMS, Problem, get_problem

OUT = RESULTS / "mobo"
GAP_FLOOR = 1e-12  # relative to max_hv
CURVE_EVERY = 10  # the hypervolume is recorded after every this many evaluations


def log_gap(hv: float, max_hv: float) -> float:
    """``log10(max_hv - hv)``, the gap floored at ``GAP_FLOOR * max_hv``."""
    return math.log10(max(max_hv - hv, GAP_FLOOR * max_hv))


def checkpoints(budget: int) -> list[int]:
    """The evaluation counts the summary reports: 50 (when below the budget) and the budget."""
    return sorted({min(50, budget), budget})


def run_key(problem: str, searcher: str, batch: int, seed: int, budget: int, n_init: int) -> tuple:
    """What identifies a run for resuming."""
    return (problem, searcher, int(batch), int(seed), int(budget), int(n_init))


def finished(path: Path) -> dict[tuple, dict]:
    """The runs recorded in ``path`` by key (a line cut short by an interruption is ignored)."""
    out: dict[tuple, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
                out[run_key(r["problem"], r["searcher"], r["batch"], r["seed"], r["budget"], r["n_init"])] = r
            except (ValueError, KeyError, TypeError):
                continue
    return out


def run_one(p: Problem, searcher: str, batch: int, seed: int, budget: int, n_init: int,
            bounds: dict[str, list[float]]) -> dict[str, Any]:
    """One run: its JSON record (hypervolume after every ``CURVE_EVERY`` evaluations and at each
    checkpoint, the gaps, searcher and evaluation seconds)."""
    from coflex_ray.registry import library_version
    from coflex_ray.searchers.pareto import hypervolume

    from .mobo_drive import drive

    start = time.perf_counter()
    Y, seconds, fallbacks = drive(p, searcher, batch, seed, budget, n_init, bounds)
    wall = time.perf_counter() - start
    marks = sorted(set(range(CURVE_EVERY, len(Y) + 1, CURVE_EVERY)) | {n for n in checkpoints(budget) if n <= len(Y)})
    curve = {str(n): hypervolume(Y[:n], p.ref) for n in marks}
    return {"problem": p.name, "searcher": searcher, "batch": batch, "seed": seed, "budget": budget,
            "n_init": n_init, "evaluations": len(Y), "max_hv": p.max_hv, "hv": curve,
            "log10_gap": {n: log_gap(curve[n], p.max_hv) for n in map(str, checkpoints(budget)) if n in curve},
            "above_max_hv": any(v > p.max_hv for v in curve.values()),
            **{k: round(v, 3) for k, v in seconds.items()}, "wall_s": round(wall, 3), "fallbacks": fallbacks,
            "library": library_version(searcher)}


def run_all(problems: Iterable[str], searchers: list[str], seeds: list[int], batches: list[int], budget: int,
            out: Path, n_init: int = 10, log: Any = print) -> list[dict]:
    """Every missing run of the grid, appended to ``out/runs.jsonl`` as it finishes; returns every
    record of the grid (finished before or now)."""
    from .mobo_drive import preload
    from .mobo_problems import probe_bounds

    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.jsonl"
    done = finished(path)
    if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
        with path.open("a") as f:  # a line cut short by an interruption: the next record starts a new line
            f.write("\n")
    grid = [(pr, s, b, sd) for pr in problems for s in searchers for b in batches for sd in seeds]
    todo = [g for g in grid if run_key(*g, budget, n_init) not in done]
    log(f"{len(grid)} runs, {len(grid) - len(todo)} finished before, {len(todo)} to run -> {path}")
    cache: dict[str, tuple[Problem, dict]] = {}
    if todo:
        preload(searchers)
    start = time.time()
    for k, (pr, s, b, sd) in enumerate(todo, 1):
        if pr not in cache:
            prob = get_problem(pr)
            cache[pr] = (prob, probe_bounds(prob))
        prob, bounds = cache[pr]
        rec = run_one(prob, s, b, sd, budget, n_init, bounds)
        with path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        done[run_key(pr, s, b, sd, budget, n_init)] = rec
        eta = (time.time() - start) / k * (len(todo) - k)
        gaps = " ".join(f"gap@{n} {v:.3f}" for n, v in rec["log10_gap"].items())
        log(f"[{k}/{len(todo)}] {pr} {s} batch {b} seed {sd}: {gaps}, searcher {rec['searcher_s']:.1f}s, "
            f"wall {rec['wall_s']:.1f}s; ETA {eta / 60:.1f} min", flush=True)
    return [done[run_key(*g, budget, n_init)] for g in grid]


def main(argv: list[str] | None = None) -> None:
    from coflex_ray.machine import machine
    from coflex_ray.registry import DEFAULT_SEARCHERS, SEARCHERS

    from .mobo_summary import summary

    p = argparse.ArgumentParser(prog="python -m benchmarks mobo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    p.add_argument("--searchers", nargs="+", default=list(DEFAULT_SEARCHERS), choices=list(SEARCHERS))
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="suggestions outstanding at once")
    p.add_argument("--n-init", type=int, default=10, help="initial design size per searcher (the study's default)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--max-hv", action="store_true", help="recompute the stored best-known maximum hypervolumes")
    a = p.parse_args(argv)
    if a.budget < 1 or a.n_init < 1 or any(b < 1 for b in a.batch):
        p.error("--budget, --n-init and --batch must be positive")
    print(machine())
    if a.max_hv:
        from .mobo_problems import BEST_KNOWN, best_known_hv

        for name, stored in BEST_KNOWN.items():
            print(f"{name}: stored {stored!r}, recomputed {best_known_hv(name)!r}", flush=True)
        return
    records = run_all(a.problems, list(dict.fromkeys(a.searchers)), a.seeds, a.batch, a.budget, a.out, a.n_init)
    command = "python -m benchmarks mobo " + " ".join(sys.argv[1:] if argv is None else argv)
    text = f"{machine()}\ncommand: {command}\n\n{summary(records, a.budget)}"
    (a.out / "summary.md").write_text(text + "\n")
    print(text)
