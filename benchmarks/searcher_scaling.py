"""How one ``suggest()`` batch scales with the number of observations: CoflexSearch vs exact-GP qNEHVI.

``python -m benchmarks searcher-scaling [--n 100 500 ...] [--limit 120]``

Synthetic problem: 11 integer dimensions with 64 levels each (the size of the SSS x accelerator
space) and pymoo's DTLZ2 with 2 objectives over the unit-cube coordinates.  For every ``n`` a fresh
searcher receives ``n`` random evaluated points through ``add_evaluated_point`` and we time the
``suggest()`` call that builds a batch (``batch_size`` 4: model fitting, candidate scoring, batch
selection; the other three ``suggest()`` calls of the batch only hand out queued points): the
process's first batch ("cold": lazy imports and first-call set-up included) and, after those 4
trials complete, the next batch ("batch s": what every further batch of a running search costs;
hyperparameters are refitted from their defaults in every batch).  "per sugg. s" is the batch time
divided by the batch size, the amortised cost of one suggestion.  Each measurement runs in its own
spawned process; the peak resident memory reported is that whole process's.  A method is
stopped for larger ``n`` once one batch exceeds ``--limit`` seconds (the process is killed at the
limit) and the table says so.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np

from coflex_ray.machine import machine

DIMS, LEVELS = 11, 64
BATCH = 4  # suggestions per model-based batch
METHODS = ("coflex", "qnehvi")


def _space():
    from coflex_ray.spaces import Dim, Space

    return Space("synthetic11", tuple(Dim(f"v{i}", tuple(range(LEVELS)), "integer") for i in range(DIMS)))


MEM_LIMIT_GIB = 16  # per measurement process (address space), so an exact GP cannot take the machine down


def _one(method: str, n: int, seed: int, queue: mp.Queue) -> None:
    """Child process: build the searcher with ``n`` observations, time one batch, report peak RSS."""
    limit = MEM_LIMIT_GIB * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        _measure(method, n, seed, queue)
    except MemoryError:
        queue.put("oom")
    except RuntimeError as e:  # torch's allocator reports running out of memory this way
        if "alloc" not in str(e):
            raise
        queue.put("oom")


def _measure(method: str, n: int, seed: int, queue: mp.Queue) -> None:
    from pymoo.problems import get_problem

    from coflex_ray.searchers.tune_searchers import BoTorchMOSearch, CoflexSearch

    space = _space()
    prob = get_problem("dtlz2", n_var=DIMS, n_obj=2)
    kw = dict(metric=["f1", "f2"], mode=["min", "min"], n_init=10, batch_size=BATCH, seed=seed)
    s = CoflexSearch(space, **kw) if method == "coflex" else BoTorchMOSearch(space, acquisition="qnehvi", **kw)
    rng = np.random.default_rng(seed)
    idx = np.unique(rng.integers(LEVELS, size=(int(n * 1.1) + 10, DIMS)), axis=0)[:n]
    F = prob.evaluate((idx + 0.5) / LEVELS)
    for i, f in zip(idx, F):
        s.add_evaluated_point(space.from_indices(i), {"f1": float(f[0]), "f2": float(f[1])})
    s.core.n_batches = 1  # past the initial design: the next suggest() makes a model-based batch
    start = time.perf_counter()
    first = [s.suggest("a0")]
    cold = time.perf_counter() - start
    first += [s.suggest(f"a{k}") for k in range(1, 1 + len(s.core.queue))]  # hand out the rest of the batch
    for k, cfg in enumerate(first):
        x = (space.to_indices(cfg) + 0.5) / LEVELS
        f = prob.evaluate(x[None])[0]
        s.on_trial_complete(f"a{k}", {"f1": float(f[0]), "f2": float(f[1])})
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    cfg = s.suggest("b0")  # the next batch, as in a running search (warm hyperparameters)
    warm = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert cfg is not None
    queue.put((warm, peak / 1024, cold))


def _within(out: tuple | str, limit: float) -> tuple | str | None:
    """The child's report, or ``None`` when one of its batches took longer than ``limit``."""
    return out if out == "oom" or max(out[0], out[2]) <= limit else None


def measure(method: str, n: int, seed: int, limit: float) -> tuple[float, float, float] | str | None:
    """(seconds of a running search's batch, peak RSS MiB, seconds of the process's first batch), or
    ``None`` when a batch exceeded ``limit``, or ``"oom"`` when it ran out of its memory limit."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_one, args=(method, n, seed, queue))
    proc.start()
    # the child also spends time importing and adding points; allow that on top of the limit
    deadline = time.time() + 2 * limit + 60 + n / 200
    while proc.is_alive() and time.time() < deadline:
        try:
            out = queue.get(timeout=1.0)
            proc.join()
            return _within(out, limit)
        except Exception:
            continue
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    if not queue.empty():
        return _within(queue.get(), limit)
    return "oom" if proc.exitcode and proc.exitcode < 0 else None  # killed (e.g. by the OOM killer)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks searcher-scaling", description=__doc__)
    p.add_argument("--n", type=int, nargs="+", default=[100, 500, 1000, 2000, 5000, 10000])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--limit", type=float, default=120.0, help="stop a method once one batch takes longer (s)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(machine())
    print(f"one suggest() batch of {BATCH}, {DIMS} integer dims x {LEVELS} levels, DTLZ2 (2 objectives); "
          f"limit {args.limit:.0f} s per batch")
    print(f"{'n':>6} | " + " | ".join(f"{m + ' batch s':>16} {'per sugg. s':>11} {'cold s':>7} {'peak MiB':>9}"
                                      for m in args.methods)
          + " | speed-up")
    stopped: dict[str, int] = {}
    oom: set[str] = set()
    for n in args.n:
        cells, secs = [], {}
        for m in args.methods:
            if m in stopped:
                cells.append(f"{'stopped':>16} {'':>11} {'':>7} {'':>9}")
                continue
            out = measure(m, n, args.seed, args.limit)
            if out is None or out == "oom":
                stopped[m] = n
                why = f">{args.limit:.0f} s" if out is None else f"OOM>{MEM_LIMIT_GIB}GiB"
                if out == "oom":
                    oom.add(m)
                cells.append(f"{why:>16} {'':>11} {'':>7} {'':>9}")
                continue
            secs[m] = out[0]
            cells.append(f"{out[0]:>16.2f} {out[0] / BATCH:>11.2f} {out[2]:>7.2f} {out[1]:>9.0f}")
        timed_out = stopped.get("qnehvi") is not None and "qnehvi" not in oom
        ratio = (f"{secs['qnehvi'] / secs['coflex']:.1f}x" if len(secs) == 2 else
                 (f">{args.limit / secs['coflex']:.0f}x" if "coflex" in secs and timed_out else "-"))
        print(f"{n:>6} | " + " | ".join(cells) + f" | {ratio}", flush=True)
    for m, n in stopped.items():
        why = f"over the {MEM_LIMIT_GIB} GiB memory limit" if m in oom else f"one batch over {args.limit:.0f} s"
        print(f"{m}: stopped at n={n} ({why}); larger n not run")
