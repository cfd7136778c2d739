"""A real Tune run with many trials in flight: ``python -m benchmarks concurrency``.

How long Tune's driver waits in CoflexSearch's ``suggest`` and how busy the trial slots stay, in a
real ``tune.Tuner`` run on this machine: NAS-Bench-201 cifar10 cells × measured Pixel 3 latency
(two objectives, ``err`` and ``latency_ms``), each trial a table lookup plus a fixed sleep
(``--sleep``), ``--concurrency`` trials at once (``ConcurrencyLimiter``, each trial
``2 / concurrency`` CPUs of the 2-CPU local Ray, ``reuse_actors=True``), CoflexSearch with
``background=True`` (``--sync``: the default synchronous mode, for comparison).

Printed: the machine line; ``suggest`` wall time in the driver (median, 99th percentile, maximum),
for the calls after the initial design and for all calls, and how many returned ``None`` (no point
ready yet); per trial, the time between the trainable's start and end; slot utilisation = the sum
of those times / (concurrency × the span from the first start to the last end), i.e. the time a
slot runs a trial body, Tune's own per-trial overhead counting as idle; the run's wall time; and
the searcher's ``stale_proposals`` and ``n_fallbacks``; the core's batches and the seconds spent making
them (background jobs, or ``suggest`` in synchronous mode).  Nothing is simulated: the searcher, Tune
and the sleeps are real, the evaluation is the table lookup.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from coflex_ray import CoflexSearch

REPO = Path(__file__).resolve().parent.parent


def trial(config: dict[str, Any], sleep_s: float) -> None:
    """One trial: the table lookup, then ``sleep_s`` seconds; reports both objectives and its span."""
    from ray import tune

    from coflex_ray.evaluators.device import device_latency_ms
    from coflex_ray.evaluators.nb201 import nb201_accuracy, nb201_index

    start = time.time()
    i = nb201_index(config)
    err, lat = 100.0 - nb201_accuracy(i), device_latency_ms(i, "pixel3")
    time.sleep(sleep_s)
    tune.report({"err": err, "latency_ms": lat, "t_start": start, "t_end": time.time()})


class TimedCoflexSearch(CoflexSearch):
    """CoflexSearch that records the wall time of every ``suggest`` call (and whether it gave a point)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[float, bool]] = []

    def suggest(self, trial_id: str) -> dict | None:
        t = time.perf_counter()
        out = super().suggest(trial_id)
        self.calls.append((time.perf_counter() - t, isinstance(out, dict)))
        return out


def _ms(values: list[float]) -> str:
    if not values:
        return "no calls"
    v = np.asarray(values) * 1e3
    return f"median {np.median(v):.2f} ms, p99 {np.percentile(v, 99):.1f} ms, max {v.max():.1f} ms ({len(v)} calls)"


def run(concurrency: int, trials: int, sleep_s: float, background: bool, seed: int, n_init: int) -> dict[str, Any]:
    """One Tuner run; returns the measurements printed by :func:`main`."""
    import ray
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    from coflex_ray.runner import init_ray
    from coflex_ray.spaces import NB201_SPACE

    # the trainable lives in this module: Ray's workers import it from the checkout
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    init_ray(num_cpus=2)
    searcher = TimedCoflexSearch(metric=["err", "latency_ms"], mode=["min", "min"], seed=seed, n_init=n_init,
                                 background=background, log_metrics=["latency_ms"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(trial, sleep_s=sleep_s), {"cpu": 2 / concurrency}),
            param_space=NB201_SPACE.param_space(),
            tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, max_concurrent=concurrency),
                                        num_samples=trials, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=tmp, name="concurrency", verbose=0))
        df = tuner.fit().get_dataframe()
        wall = time.time() - t0
    ray.shutdown()
    busy = (df["t_end"] - df["t_start"]).to_numpy(float)
    span = float(df["t_end"].max() - df["t_start"].min())
    after = searcher.calls[n_init:]
    return {"wall_s": wall, "n_trials": len(df), "utilisation": float(busy.sum() / (concurrency * span)),
            "suggest_after_init": [d for d, _ in after], "suggest_all": [d for d, _ in searcher.calls],
            "n_none": sum(not ok for _, ok in searcher.calls),
            "stale": getattr(searcher, "stale_proposals", None), "fallbacks": searcher.n_fallbacks,
            "batches": getattr(searcher.core, "n_batches", 0),
            "fit_s": runner.fit_time_s if (runner := getattr(searcher, "_runner", None)) else searcher.suggest_time_s}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks concurrency", description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", type=int, default=8, help="trials at once (default 8)")
    p.add_argument("--trials", type=int, default=200, help="trials in the run (default 200)")
    p.add_argument("--sleep", type=float, default=0.5, help="seconds each trial sleeps after its lookup (default 0.5)")
    p.add_argument("--sync", action="store_true", help="CoflexSearch's synchronous mode instead of background=True")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-init", type=int, default=10)
    args = p.parse_args(argv)
    if args.concurrency < 1 or args.trials <= args.n_init or args.sleep < 0 or args.n_init < 1:
        p.error(f"need concurrency >= 1, trials > n_init >= 1, sleep >= 0; got concurrency={args.concurrency} "
                f"trials={args.trials} n_init={args.n_init} sleep={args.sleep}")
    from coflex_ray.machine import machine

    print(machine(), flush=True)
    mode = "synchronous" if args.sync else "background"
    print(f"CoflexSearch ({mode}), NB201 cifar10 x pixel3 latency lookup + {args.sleep} s sleep, "
          f"{args.trials} trials, concurrency {args.concurrency}, seed {args.seed}, n_init {args.n_init}", flush=True)
    r = run(args.concurrency, args.trials, args.sleep, not args.sync, args.seed, args.n_init)
    print(f"suggest after the initial design: {_ms(r['suggest_after_init'])}")
    print(f"suggest, all calls:               {_ms(r['suggest_all'])}; {r['n_none']} returned None")
    print(f"slot utilisation {r['utilisation']:.1%} over {r['n_trials']} trials; wall {r['wall_s']:.1f} s; "
          f"stale proposals {r['stale']}; fallbacks {r['fallbacks']}")
    print(f"model batches {r['batches']}, {r['fit_s']:.1f} s in background jobs (synchronous: in suggest) in total")
