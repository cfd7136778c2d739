"""A comparison study: every searcher x every seed as one ``tune.Tuner`` run, then one tidy table.

Shared by the experiment scripts (``experiments/sss.py``, ``experiments/nb201.py``), which only
choose the space, the evaluator and the defaults.

The searchers and how each is built live in :mod:`coflex_ray.registry`; trials report raw
metrics only, and the registry's wrappers derive what each built-in searcher needs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pandas and the spaces load lazily: the command line checks flags before heavy imports
    import pandas as pd

    from .spaces import Space

from .registry import (DEFAULT_SEARCHERS, OURS, SEARCHERS, SearcherBuildError, check_installed,  # noqa: F401
                       check_searchers, library_version, make_searcher, optuna_sampler)


def build_searchers(names: list[str], space: Space, seeds: list[int], n_init: int, concurrency: int,
                    hw: str = "edp") -> dict[tuple[str, int], Any]:
    """Every (searcher, seed) of a study, built up front: ``{(name, seed): search_alg}``.

    Called before Ray starts and before anything is written, so a missing library (Optuna, HyperOpt),
    a bad option or a bad combination fails the study in its first seconds with one
    :class:`SearcherBuildError` naming the searcher, instead of after minutes of other runs.
    """
    check_installed(names)
    built = {}
    for name in names:
        for seed in seeds:
            try:
                built[name, seed] = make_searcher(name, space, seed, n_init, concurrency, hw)
            except ImportError as e:
                raise SearcherBuildError(
                    f"searcher {name!r} cannot be built: {type(e).__name__}: {e}; install coflex-ray with its "
                    f"dependencies (pip install -e .) or drop {name!r} from --searchers") from e
            except Exception as e:  # a bad option or combination: name the searcher and the reason
                raise SearcherBuildError(f"searcher {name!r} (seed {seed}) cannot be built: "
                                         f"{type(e).__name__}: {e}") from e
    return built


def _execute(trainable: Callable, space: Space, alg: Any, name: str, seed: int, budget: int, out: Path,
             resume: bool, sink: Callable[[str], None] | None = None, scheduler: Any = None,
             all_rows: bool = False, time_budget_s: float | None = None, label: str | None = None,
             clock: Any = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """One (searcher, seed) Tuner run: (Ray's result table, our searcher's ``suggest_s``/``n_fallbacks``);
    with ``all_rows`` the table has every reported row (one per rung of a multi-step trial)."""
    from ray import tune

    from .runner import run_tuner, wall_clock

    path = out / "ray_results" / f"{name}_seed{seed}"
    resumed = resume and tune.Tuner.can_restore(str(path.resolve()))
    start = time.time()
    with wall_clock(path.parent / f"{path.name}.wall.json", resumed) as earlier_s:
        df = run_tuner(trainable, space.param_space(), alg, budget, storage_path=out / "ray_results",
                       name=f"{name}_seed{seed}", label=label or f"{name} seed {seed}", resume=resume, sink=sink,
                       scheduler=scheduler, all_rows=all_rows, time_budget_s=time_budget_s, clock=clock)
    if df.empty or "err" not in df:
        raise RuntimeError(f"the run returned no results ({len(df)} rows)")
    inner = getattr(alg, "searcher", alg)  # ConcurrencyLimiter -> the searcher it wraps
    wall = time.time() - start
    if resumed:
        # Tuner.restore searched with its own unpickled copy of the searcher, not ``alg``: load that
        # copy's final saved state (Tune saves it when the run ends) so its suggest seconds, which
        # include the interrupted part's, are the ones reported.
        if hasattr(inner, "suggest_time_s"):
            alg.restore_from_dir(str(path.resolve()))
            inner = getattr(alg, "searcher", alg)
        # the earlier (re)starts' logged wall seconds; a run begun before the log: its trials' span
        wall += earlier_s if earlier_s is not None else interrupted_wall_s(df, start)
    return df, {"wall_s": wall, "start": start,
                "suggest_s": float(getattr(inner, "suggest_time_s", float("nan"))),
                "n_fallbacks": int(getattr(inner, "n_fallbacks", 0))}


def interrupted_wall_s(df: pd.DataFrame, resumed_at: float) -> float:
    """Wall seconds the interrupted part of a resumed run had searched: from the first of its trials'
    start to the last of its results (rows reported before ``resumed_at``; Tune's ``timestamp`` is
    the result's time and ``time_total_s`` the trial's running time).  Work lost to the interruption
    (trials running at the kill) is not counted; 0 when no row predates the resume."""
    if not {"timestamp", "time_total_s"} <= set(df):
        return 0.0
    before = df[df["timestamp"] < resumed_at]
    if before.empty:
        return 0.0
    return float(before["timestamp"].max() - (before["timestamp"] - before["time_total_s"]).min())


def finish_run(df: pd.DataFrame, stats: dict[str, float], name: str, seed: int, out: Path) -> pd.DataFrame:
    """Add the study columns, save the run's table at once (kept if a later run dies), print ``[done]``.

    A run that ``--resume`` only read back (every trial already in its saved table) keeps the saved
    ``run_wall_s``/``suggest_s``: reading it took no search time, so the new figures would be ~0."""
    saved = out / "runs" / f"{name}_seed{seed}.parquet"
    if saved.exists() and "trial_id" in df:
        import pandas as pd

        old = pd.read_parquet(saved)
        if {"trial_id", "run_wall_s", "suggest_s"} <= set(old) and set(df["trial_id"]) <= set(old["trial_id"]):
            stats = {**stats, "wall_s": float(old["run_wall_s"].iloc[0]), "suggest_s": float(old["suggest_s"].iloc[0])}
    df["searcher"], df["seed"], df["run_wall_s"], df["suggest_s"] = name, seed, stats["wall_s"], stats["suggest_s"]
    # seconds since the run started (a resumed run: since its first result)
    df["completed_at"] = (df["timestamp"] - min(stats["start"], df["timestamp"].min()) if "timestamp" in df
                          else range(len(df)))
    df.to_parquet(out / "runs" / f"{name}_seed{seed}.parquet", index=False)
    if "fidelity_level" in df:  # multi-step trials: one row per rung; count trials and final rows
        final = df[df["fidelity_level"] == df["fidelity_max_level"]]
        feas = int(final["feasible"].sum())
        what = f"{df['trial_id'].nunique()} trials, {len(df)} rung results, {len(final)} at the top rung"
    else:
        feas, what = (int(df["feasible"].sum()) if "feasible" in df else 0), f"{len(df)} trials"
    print(f"[done] {name:<13} seed {seed}: {what} ({feas} feasible) in {stats['wall_s']:.0f}s"
          + (f", suggest {stats['suggest_s']:.1f}s" if stats["suggest_s"] == stats["suggest_s"] else "")
          + (f", {stats['n_fallbacks']} random fallback batches" if stats["n_fallbacks"] else ""), flush=True)
    return df


def _failed(name: str, seed: int, e: BaseException) -> str:
    """Print and return the ``[failed]`` line of a run: the searcher's library and version, and the
    library the exception was raised in when that is another one."""
    where = raised_in(e)
    lib = library_version(name)
    line = (f"[failed] {name:<13} seed {seed} ({lib}" + (f"; raised in {where}" if where and where != lib else "")
            + f"): {type(e).__name__}: {str(e)[:300]}")
    print(line, flush=True)
    return line


def raised_in(e: BaseException) -> str | None:
    """``"<distribution> <version>"`` of the installed library whose code raised ``e`` (the innermost
    traceback frame outside the standard library and this package), or None."""
    import sysconfig
    import traceback
    from importlib.metadata import packages_distributions, version

    site = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        root = next((r for r in site if frame.filename.startswith(r)), None)
        if root is None:
            continue
        top = frame.filename[len(root):].lstrip("/").split("/")[0].removesuffix(".py")
        dists = packages_distributions().get(top)
        if dists and dists[0] != "coflex-ray":
            try:
                return f"{dists[0]} {version(dists[0])}"
            except Exception:  # noqa: BLE001 - a message helper must never raise
                return dists[0]
    return None


def set_study_bounds(built: dict[tuple[str, int], Any], bounds: dict,
                     schedulers: dict[tuple[str, int], Any] | None = None) -> None:
    """Hand the study's fixed objective bounds to every searcher and scheduler that can use them, so
    every searcher gets the same information: HyperOpt's scalarisation
    (:class:`.searchers.scalarize.ScalarizedSearch`), our searchers (``set_objective_bounds``: the
    BoTorch baselines and CoflexSearch's fusion normalise by them and put their reference point at
    1.1), and every scheduler with a ``set_bounds``
    (the scalarised ASHA).  Optuna's samplers, NSGA-II and random search are scale-free.  Called once
    the bounds are known, before any run."""
    from .searchers.adapter import AskTellSearcher
    from .searchers.scalarize import FiniteObjectivesSearch, ScalarizedSearch

    raw = {k[len("log10_"):] if k.startswith("log10_") else k:
           [10.0 ** v[0], 10.0 ** v[1]] if k.startswith("log10_") else list(v) for k, v in bounds.items()}
    for alg in built.values():
        inner = getattr(alg, "searcher", None)  # ConcurrencyLimiter -> the wrapper
        if isinstance(inner, ScalarizedSearch) and not isinstance(inner, FiniteObjectivesSearch):
            inner.set_bounds(bounds)
        elif isinstance(inner, AskTellSearcher):
            inner.set_objective_bounds(raw)
    for sched in (schedulers or {}).values():
        if hasattr(sched, "set_bounds"):
            sched.set_bounds(bounds)


def build_schedulers(name: str, keys: Any, ladder: Any, hw: str, grace: int, reduction_factor: float
                     ) -> dict[tuple[str, int], Any]:
    """One Tune scheduler per (searcher, seed) run (a scheduler holds its run's rung state), or ``{}``
    for ``name == "none"``.  ``time_attr`` is the trials' ``fidelity_level``, ``max_t`` the ladder's
    length, the metrics the study's objectives (``err`` and ``hw``, the latter in log space)."""
    if name == "none":
        return {}
    from .schedulers import make_scheduler

    return {key: make_scheduler(name, ["err", hw], ["min", "min"], time_attr="fidelity_level",
                                max_t=ladder.levels, grace_period=grace, reduction_factor=reduction_factor,
                                log_metrics=(hw,))
            for key in keys}


def run_study(trainable: Callable, space: Space, built: dict[tuple[str, int], Any], budget: int,
              out: Path, resume: bool = False, parallel_runs: int = 1,
              schedulers: dict[tuple[str, int], Any] | None = None,
              all_rows: bool = False, time_budget_s: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Run every (searcher, seed) of ``built`` (see :func:`build_searchers`), print one line per run.

    Returns the concatenated table of the runs that finished and the ``[failed]`` lines of those that
    did not: a run that raises is reported and the study goes on, so the others' results, tables and
    plots are still written.  Columns: Tune's ``get_dataframe()`` (metrics, ``config/*``,
    ``trial_id``, ...) plus ``searcher``, ``seed``, ``completed_at`` (seconds from the run's start to
    the trial's result), ``run_wall_s`` and ``suggest_s`` (time spent inside our searchers'
    ``suggest``; NaN for built-ins).  ``resume``: runs found in ``out/ray_results`` are continued (or
    just read, if complete).

    ``parallel_runs`` > 1 runs that many Tuner runs at once, each as its own Tune driver inside a Ray
    task (``num_cpus=0``, pinned to this node so ``out`` is where the driver writes it; its trials
    go anywhere in the cluster), so a study of many (searcher, seed) runs fills a cluster.  Tune's
    driver is not thread-safe (measured: two ``Tuner.fit()`` in threads of one process break its
    registry), hence tasks.  Progress lines travel back through a Ray queue.

    ``schedulers``: a Tune scheduler per (searcher, seed) (:func:`build_schedulers`; default FIFO).
    ``all_rows``: keep every reported row (multi-step trials: one per rung, each with its
    ``fidelity_level``), not only each trial's last.  ``time_budget_s``: each run stops after that
    many seconds (``budget`` is then an upper bound; a resumed run gets the whole time again).
    """
    schedulers = schedulers or {}
    (out / "runs").mkdir(parents=True, exist_ok=True)
    frames, failed = [], []
    if parallel_runs <= 1:
        from .runner import StudyClock

        start, n = time.time(), len(built)
        for k, ((name, seed), alg) in enumerate(built.items()):
            try:
                frames.append(finish_run(*_execute(trainable, space, alg, name, seed, budget, out, resume,
                                                   scheduler=schedulers.get((name, seed)), all_rows=all_rows,
                                                   time_budget_s=time_budget_s,
                                                   label=f"run {k + 1}/{n} {name} seed {seed}",
                                                   clock=StudyClock(k * budget, n * budget, start)),
                                         name, seed, out))
            except Exception as e:  # one broken run must not cost the others: report it and go on
                failed.append(_failed(name, seed, e))
    else:
        frames, failed = _run_parallel(trainable, space, built, budget, out, resume, parallel_runs, schedulers,
                                       all_rows, time_budget_s)
    if not frames:
        raise RuntimeError("every (searcher, seed) run failed; see the [failed] lines above")
    import pandas as pd

    order = {key: i for i, key in enumerate(built)}  # the study's order, whatever order runs finished in
    frames.sort(key=lambda f: order[f["searcher"].iat[0], int(f["seed"].iat[0])])
    return pd.concat(frames, ignore_index=True), failed


def _run_parallel(trainable: Callable, space: Space, built: dict[tuple[str, int], Any], budget: int,
                  out: Path, resume: bool, k: int, schedulers: dict | None = None,
                  all_rows: bool = False, time_budget_s: float | None = None) -> tuple[list[pd.DataFrame], list[str]]:
    import ray
    from ray.util.queue import Empty, Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    queue = Queue(actor_options={"num_cpus": 0})
    remote = ray.remote(num_cpus=0, max_retries=0, scheduling_strategy=here)(_execute)
    todo, running, frames, failed = list(built.items()), {}, [], []

    def drain() -> None:
        while True:
            try:
                print(queue.get_nowait(), flush=True)
            except Empty:
                return

    n = len(todo)
    while todo or running:
        while todo and len(running) < k:
            (name, seed), alg = todo.pop(0)
            label = f"run {n - len(todo)}/{n} {name} seed {seed}"
            running[remote.remote(trainable, space, alg, name, seed, budget, out, resume, queue.put,
                                  (schedulers or {}).get((name, seed)), all_rows, time_budget_s, label)] = (name, seed)
        done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
        drain()
        for ref in done:
            name, seed = running.pop(ref)
            try:
                frames.append(finish_run(*ray.get(ref), name, seed, out))
            except Exception as e:  # a run that raised (or whose task died): report it and go on
                failed.append(_failed(name, seed, e))
    drain()
    return frames, failed


PROBE_SEED, PROBE_N = 20251122, 48


def probe_bounds(evaluate: Callable[[dict], dict], space: Space, n: int = PROBE_N,
                 hw: str = "edp") -> dict[str, list[float]]:
    """Fixed objective bounds of a benchmark: min/max of ``err`` and ``log10 hw`` over ``n`` configs drawn
    with a fixed seed (independent of the searchers' seeds), so every study of the same benchmark,
    dataset and fidelity gets the same bounds.  Better points found later normalise below 0."""
    import numpy as np

    from .analysis import bounds_from

    import pandas as pd

    rng = np.random.default_rng(PROBE_SEED)
    rows = [evaluate(c) for c in space.sample(rng, n)]
    return bounds_from(pd.DataFrame(rows), hw)


def write_outputs(results: pd.DataFrame, bounds: dict, bounds_source: str, out: Path, err_label: str,
                  meta: dict, reference=None) -> pd.DataFrame:
    """Tidy table (Parquet + CSV), per-run and summary tables, rank tests, run info, plots; print them.

    ``reference``: the benchmark's reference front (:mod:`.reference_fronts`), or None where none
    exists yet (then only the study-relative indicators are reported, and the output says so).
    (``bounds.json`` is written by the caller when the bounds are fixed, before any run.)"""
    import json
    import platform

    from .analysis import (final_rows, fidelity_table, format_rank_tests, format_summary, hw_metric, per_run_table,
                           rank_tests, summary_table)
    from .plots import plot_all

    results.to_parquet(out / "results.parquet", index=False)
    results.to_csv(out / "results.csv", index=False)
    per_run = per_run_table(results, bounds, reference)
    per_run.to_csv(out / "per_run.csv", index=False)
    summary = summary_table(per_run)
    summary.to_csv(out / "summary.csv")
    tests = rank_tests(per_run) if reference is not None else None
    if tests is not None:
        tests.to_csv(out / "rank_tests.csv", index=False)
    ref_text = (f"{reference.kind} reference front: {reference.source}" if reference is not None else
                "no reference front for this benchmark yet: HV fraction / IGD+ against it not computed")
    (out / "run_info.json").write_text(json.dumps({**meta, "reference_front": ref_text,
                                                   "python": platform.python_version(),
                                                   "versions": _versions()}, indent=2, default=str))
    figs = plot_all(final_rows(results), bounds, out, err_label)  # multi-fidelity: the top rung only
    fid = fidelity_table(results) if "fidelity_level" in results else None
    if fid is not None:
        fid.to_csv(out / "fidelity.csv", index=False)
    print(f"\nsummary: median [IQR] over seeds; HV of (err, log10 {hw_metric(bounds)}) normalised by {bounds_source}, "
          f"reference point 1.1; IGD/IGD+ against the union front of all methods; {ref_text}")
    print(format_summary(summary))
    if tests is not None:
        print("\n" + format_rank_tests(tests))
    if fid is not None:
        print("\nmulti-fidelity: HV, IGD+ and fronts above count the top rung only; evaluations per rung and "
              "time used per run (sim_time_s: every rung's evaluation time; train_time_s: simulated training):")
        print(fid.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"\nwritten to {out}: results.parquet/csv, per_run.csv, summary.csv, "
          + ("fidelity.csv, " if fid is not None else "") + ("rank_tests.csv, " if tests is not None else "") + "bounds.json, run_info.json, "
          + ", ".join(p.name for p in figs))
    return summary


# every library whose version can change a study's numbers (run_info.json records them)
RESULT_LIBRARIES = ("coflex-ray", "ray", "torch", "botorch", "gpytorch", "linear_operator", "pymoo", "moocore",
                    "optuna", "hyperopt", "greenlet", "zigzag-dse", "scalesim", "numpy", "scipy", "pandas", "pyarrow",
                    "scikit-learn", "scikit-image", "networkx", "onnx", "cloudpickle")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in RESULT_LIBRARIES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
