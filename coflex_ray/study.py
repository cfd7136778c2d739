"""A comparison study: every searcher x every seed as one ``tune.Tuner`` run, then one tidy table.

Shared by the experiment scripts (``experiments/sss.py``, ``experiments/nb201.py``), which only
choose the space, the evaluator and the defaults.

Searchers (``SEARCHERS``), all at the same budget, seeds and concurrency:

* ``coflex`` (ours), ``qnehvi``, ``qnparego`` (``qehvi`` on request) on exact BoTorch GPs, ``nsga2``
  (pymoo): multi-objective on ``err`` and the hardware objective ``hw`` (``edp``, or ``latency_ms``
  for measured device latencies; modelled in log space), with infeasible results flagged through
  the ``feasible`` column.
* Ray Tune's built-ins: ``random`` (``BasicVariantGenerator``), ``optuna-tpe`` and ``optuna-nsga2``
  (``OptunaSearch`` with a list of metrics: ``obj_err``, ``obj_log10_<hw>``), and ``hyperopt``
  (``HyperOptSearch``, single-objective, on the scalarisation ``scalar`` = mean of the two objectives
  normalised by the study's fixed bounds).  The built-ins see finite objectives: an infeasible
  trial reports :data:`coflex_ray.trial.PENALTY` for both.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .spaces import Space

OURS = ("coflex", "qnehvi", "qehvi", "qnparego", "nsga2")
BUILTIN = ("random", "optuna-tpe", "optuna-nsga2", "hyperopt")
SEARCHERS = OURS + BUILTIN
DEFAULT_SEARCHERS = ("coflex", "qnehvi", "qnparego", "nsga2", "random", "optuna-tpe", "optuna-nsga2", "hyperopt")


def check_searchers(names: list[str]) -> list[str]:
    if not names:
        raise ValueError(f"--searchers is empty; allowed: {', '.join(SEARCHERS)}")
    bad = [n for n in names if n not in SEARCHERS]
    if bad:
        raise ValueError(f"unknown searcher {bad[0]!r}; allowed: {', '.join(SEARCHERS)}")
    return list(dict.fromkeys(names))


def make_searcher(name: str, space: Space, seed: int, n_init: int, concurrency: int,
                  hw: str = "edp") -> tuple[Any, Any]:
    """(search_alg for the Tuner, our searcher object or None) for searcher ``name``; the objectives
    are ``err`` and the hardware column ``hw``."""
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    kw = dict(metric=["err", hw], mode=["min", "min"], seed=seed, log_metrics=[hw])
    # proposals per model fit: twice the trials running at once (at least 4), so one fit serves two
    # rounds of parallel trials; the pending ones are fantasised, so the batch still spreads out
    batch = max(2 * concurrency, 4)
    if name == "coflex":
        from .searchers.tune_searchers import CoflexSearch

        ours = CoflexSearch(space, n_init=n_init, batch_size=batch, **kw)
    elif name in ("qnehvi", "qehvi", "qnparego"):
        from .searchers.tune_searchers import BoTorchMOSearch

        ours = BoTorchMOSearch(space, acquisition=name, n_init=n_init, batch_size=batch, **kw)
    elif name == "nsga2":
        from .searchers.tune_searchers import NSGA2Search

        ours = NSGA2Search(space, pop_size=max(n_init, 4), **kw)
    elif name == "random":
        return BasicVariantGenerator(random_state=seed, max_concurrent=concurrency), None
    elif name in ("optuna-tpe", "optuna-nsga2"):
        from optuna.samplers import NSGAIISampler, TPESampler
        from ray.tune.search.optuna import OptunaSearch

        sampler = (TPESampler(seed=seed, n_startup_trials=n_init) if name == "optuna-tpe"
                   else NSGAIISampler(seed=seed, population_size=max(n_init, 4)))
        alg = OptunaSearch(metric=["obj_err", f"obj_log10_{hw}"], mode=["min", "min"], sampler=sampler)
        return ConcurrencyLimiter(alg, concurrency), None
    elif name == "hyperopt":
        from ray.tune.search.hyperopt import HyperOptSearch

        alg = HyperOptSearch(metric="scalar", mode="min", n_initial_points=n_init, random_state_seed=seed)
        return ConcurrencyLimiter(alg, concurrency), None
    else:
        raise ValueError(f"unknown searcher {name!r}; allowed: {', '.join(SEARCHERS)}")
    return ConcurrencyLimiter(ours, concurrency), ours


def run_study(trainable: Callable, space: Space, searchers: list[str], seeds: list[int], budget: int, n_init: int,
              concurrency: int, out: Path, resume: bool = False, hw: str = "edp") -> pd.DataFrame:
    """Run every (searcher, seed), print one line per finished run, return the concatenated table.

    Columns: Tune's ``get_dataframe()`` (metrics, ``config/*``, ``trial_id``, ...) plus ``searcher``,
    ``seed``, ``completed_at`` (seconds from the run's start to the trial's result), ``run_wall_s``
    and ``suggest_s`` (time spent inside our searchers' ``suggest``; NaN for built-ins).
    ``resume``: runs found in ``out/ray_results`` are continued (or just read, if complete).
    """
    from .runner import run_tuner

    frames = []
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for name in searchers:
        for seed in seeds:
            alg, ours = make_searcher(name, space, seed, n_init, concurrency, hw)
            start = time.time()
            try:
                df = run_tuner(trainable, space.param_space(), alg, budget, storage_path=out / "ray_results",
                               name=f"{name}_seed{seed}", label=f"{name}/seed{seed}",
                               progress_every=max(10, budget // 4), resume=resume)
            except Exception as e:  # one broken run must not cost the others: report it and go on
                print(f"[failed] {name:<13} seed {seed}: {type(e).__name__}: {str(e)[:300]}", flush=True)
                continue
            wall = time.time() - start
            df["searcher"], df["seed"], df["run_wall_s"] = name, seed, wall
            df["suggest_s"] = ours.suggest_time_s if ours is not None else float("nan")
            # seconds since the run started (a resumed run: since its first result)
            df["completed_at"] = (df["timestamp"] - min(start, df["timestamp"].min()) if "timestamp" in df
                                  else range(len(df)))
            df.to_parquet(out / "runs" / f"{name}_seed{seed}.parquet", index=False)  # kept even if a later run dies
            frames.append(df)
            feas = int(df["feasible"].sum()) if "feasible" in df else 0
            print(f"[done] {name:<13} seed {seed}: {len(df)} trials ({feas} feasible) in {wall:.0f}s"
                  + (f", suggest {ours.suggest_time_s:.1f}s" if ours is not None else "")
                  + (f", {ours.n_fallbacks} random fallback batches" if ours is not None and ours.n_fallbacks else ""),
                  flush=True)
    if not frames:
        raise RuntimeError("every (searcher, seed) run failed; see the [failed] lines above")
    return pd.concat(frames, ignore_index=True)


PROBE_SEED, PROBE_N = 20251122, 48


def probe_bounds(evaluate: Callable[[dict], dict], space: Space, n: int = PROBE_N,
                 hw: str = "edp") -> dict[str, list[float]]:
    """Fixed objective bounds of a benchmark: min/max of ``err`` and ``log10 hw`` over ``n`` configs drawn
    with a fixed seed (independent of the searchers' seeds), so every study of the same benchmark,
    dataset and fidelity gets the same bounds.  Better points found later normalise below 0."""
    import numpy as np

    from .analysis import bounds_from

    rng = np.random.default_rng(PROBE_SEED)
    rows = [evaluate(c) for c in space.sample(rng, n)]
    return bounds_from(pd.DataFrame(rows), hw)


def write_outputs(results: pd.DataFrame, bounds: dict, bounds_source: str, out: Path, err_label: str,
                  meta: dict) -> pd.DataFrame:
    """Tidy table (Parquet + CSV), per-run and summary tables, run info, plots; print the summary.

    (``bounds.json`` is written by the caller when the bounds are fixed, before any run.)"""
    import json
    import platform

    from .analysis import format_summary, hw_metric, per_run_table, summary_table
    from .plots import plot_all

    results.to_parquet(out / "results.parquet", index=False)
    results.to_csv(out / "results.csv", index=False)
    per_run = per_run_table(results, bounds)
    per_run.to_csv(out / "per_run.csv", index=False)
    summary = summary_table(per_run)
    summary.to_csv(out / "summary.csv")
    (out / "run_info.json").write_text(json.dumps({**meta, "python": platform.python_version(),
                                                   "versions": _versions()}, indent=2, default=str))
    figs = plot_all(results, bounds, out, err_label)
    print(f"\nsummary: median [IQR] over seeds; HV of (err, log10 {hw_metric(bounds)}) normalised by {bounds_source}, "
          f"reference point 1.1; IGD/IGD+ against the union front of all methods")
    print(format_summary(summary))
    print(f"\nwritten to {out}: results.parquet/csv, per_run.csv, summary.csv, bounds.json, run_info.json, "
          + ", ".join(p.name for p in figs))
    return summary


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("coflex-ray", "ray", "torch", "botorch", "gpytorch", "pymoo", "moocore", "optuna", "hyperopt",
                "zigzag-dse", "scalesim", "numpy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
