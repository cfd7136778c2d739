"""The cost of one ``CoflexCore.ask(q)`` against the batch size ``q`` and the number of observations ``n``.

``python -m benchmarks batch-cost [--n 1000 10000] [--q 8 32 64 256] [--limit 300]``

What a background searcher (``CoflexSearch(background=True)``) pays per model batch when its batch
follows the cluster's concurrency.  Space: the real SSS x accelerator codec (12 knobs, ``sss+accel``);
objectives: pymoo's DTLZ2 with 2 objectives over the unit-cube coordinates (synthetic values:
timing only).  For every ``n`` a core is told ``n`` distinct random points once; every ``q`` then
starts from an unpickled copy of that core with ``batch_size = q`` and times one ``ask(q)``: model
fits, candidate scoring, the greedy batch, and another model batch while the points are fewer than
``q`` (one batch proposes at most the fusion's pool of distinct candidates, of which there are
at most ``2 * pool_size(proposals_per_objective, m, q) * m + max(n_directions, q)``, :func:`coflex_ray.searchers.coflex.pool_size`).  Reported: wall and process CPU seconds, the points returned, the size
of each model batch made (``42+22``: two batches, two model fits), and the seconds to pickle the
core (what a background searcher spends per batch on its checkpoint snapshot).  A case is
abandoned at ``--limit`` seconds (``SIGALRM``; the larger ``q`` of that ``n`` are then skipped).  A
warm-up ask at n = 50 pays the lazy imports first.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shlex
import signal
import time
from pathlib import Path

import numpy as np

from coflex_ray.machine import machine

from .common import RESULTS

OUT = RESULTS / "batch_cost.txt"
SPACE = "sss+accel"


class Abandoned(BaseException):
    """A case ran past ``--limit`` (a BaseException: the core's fallback for a failed model catches Exception)."""


def told_core(n: int, seed: int, batch_size: int = 4):
    """A ``CoflexCore`` on the SSS x accelerator space told ``n`` distinct random points (DTLZ2 values)."""
    from pymoo.problems import get_problem

    from coflex_ray.searchers.candidates import to_cube
    from coflex_ray.searchers.coflex import CoflexCore
    from coflex_ray.spaces import get_space

    space = get_space(SPACE)
    rng = np.random.default_rng(seed)
    sizes = np.array([d.n for d in space.dims])
    idx = np.unique(rng.integers(sizes, size=(int(n * 1.1) + 10, space.ndim)), axis=0)[:n]
    X = np.array([to_cube(space, tuple(int(v) for v in i)) for i in rng.permutation(idx)])
    F = get_problem("dtlz2", n_var=space.ndim, n_obj=2).evaluate(X)
    core = CoflexCore(space, 2, seed, batch_size=batch_size)
    for x, f in zip(X, F):
        core.tell(x, f)
    return core


def one_ask(core, q: int, limit: float) -> dict:
    """Time ``core.ask(q)`` with ``batch_size = q``; raises :class:`Abandoned` past ``limit`` seconds."""
    def stop(signum, frame):
        raise Abandoned

    sizes: list[int] = []
    make_batch = core.next_batch

    def counted(running):
        batch = make_batch(running)
        sizes.append(len(batch or []))
        return batch

    core.batch_size, core.next_batch = q, counted  # an instance attribute: this core is not pickled again
    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        points = core.ask(q)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return {"wall": wall, "cpu": cpu, "points": len(points), "batches": "+".join(map(str, sizes))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks batch-cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[1000, 10_000], help="observations told before the ask")
    p.add_argument("--q", type=int, nargs="+", default=[8, 32, 64, 256], help="batch sizes")
    p.add_argument("--limit", type=float, default=300.0, help="abandon a case after this many seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="what else ran on the machine (written into the output)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    lines = [f"# command: python -m benchmarks batch-cost {shlex.join(argv or [])}".rstrip(),
             machine(), f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
             f"one CoflexCore.ask(q) on {SPACE} (12 knobs), DTLZ2 with 2 objectives, default CoflexOptions but "
             f"batch_size = q; limit {args.limit:.0f} s per case",
             f"{'n':>6} {'q':>4} | {'wall s':>7} {'cpu s':>7} {'points':>6} {'batches':>15} | {'pickle s':>8}"]
    print("\n".join(lines), flush=True)
    one_ask(told_core(50, args.seed), 2, args.limit)  # warm-up: imports and first-call set-up
    for n in args.n:
        t0 = time.perf_counter()
        base = told_core(n, args.seed)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        blob = pickle.dumps(base)
        pickled = time.perf_counter() - t0
        for q in args.q:
            try:
                r = one_ask(pickle.loads(blob), q, args.limit)
            except Abandoned:
                lines.append(f"{n:>6} {q:>4} | abandoned after {args.limit:.0f} s; larger q not run")
                print(lines[-1], flush=True)
                break
            lines.append(f"{n:>6} {q:>4} | {r['wall']:>7.2f} {r['cpu']:>7.2f} {r['points']:>6} {r['batches']:>15} | "
                         f"{pickled:>8.3f}")
            print(lines[-1], flush=True)
        lines.append(f"       (n={n}: telling the points took {setup:.1f} s)")
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write("\n".join(lines) + "\n\n")
