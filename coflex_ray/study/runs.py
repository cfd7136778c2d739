"""The runs of a study: every (searcher, seed) as one ``tune.Tuner`` run, one after another or K at once.

The searchers and how each is built live in :mod:`coflex_ray.registry`; trials report raw metrics
only, and the registry's wrappers derive what each built-in searcher needs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:  # pandas and the spaces load lazily: the command line checks flags before heavy imports
    import pandas as pd

    from ..fidelity import Ladder
    from ..runner import StudyClock
    from ..spaces import Space

from ..registry import SearcherBuildError, check_installed, make_searcher
from .outputs import failed_line


@dataclass(frozen=True)
class RunSpec:
    """What every (searcher, seed) run of a study shares.

    Module-level and plain, so it pickles: with ``--parallel-runs`` each run executes inside a Ray task.

    Attributes:
        trainable: the Tune trainable of every trial.
        space: the search space (the Tuner's ``param_space`` is ``space.param_space()``).
        budget: trials per run (an upper bound when ``time_budget_s`` is set).
        out: the study folder: Tune writes ``out/ray_results/<searcher>_seed<seed>``, each finished
            run's table goes to ``out/runs``.
        resume: runs found in ``out/ray_results`` are continued (or just read, if complete).
        schedulers: a Tune scheduler per (searcher, seed) (:func:`build_schedulers`); a run without
            one is FIFO.
        all_rows: keep every reported row (multi-step trials: one per rung, each with its
            ``fidelity_level``), not only each trial's last.
        time_budget_s: each run stops after that many seconds (a resumed run gets the whole time again).
    """

    trainable: Callable
    space: Space
    budget: int
    out: Path
    resume: bool = False
    schedulers: Mapping[tuple[str, int], Any] = field(default_factory=dict)
    all_rows: bool = False
    time_budget_s: float | None = None


def build_searchers(names: list[str], space: Space, seeds: list[int], n_init: int, concurrency: int,
                    hw: str = "edp", constraints: Mapping[str, Any] | None = None) -> dict[tuple[str, int], Any]:
    """Every (searcher, seed) of a study, built up front: ``{(name, seed): search_alg}``, each with the
    outcome ``constraints`` (see :func:`coflex_ray.registry.make_searcher`).

    Called before Ray starts and before anything is written, so a missing library (Optuna, HyperOpt),
    a bad option or a bad combination fails the study in its first seconds with one
    :class:`SearcherBuildError` naming the searcher, instead of after minutes of other runs.
    """
    check_installed(names)
    built = {}
    for name in names:
        for seed in seeds:
            try:
                built[name, seed] = make_searcher(name, space, seed, n_init, concurrency, hw, constraints=constraints)
            except SearcherBuildError:
                raise
            except ImportError as e:
                raise SearcherBuildError(
                    f"searcher {name!r} cannot be built: {type(e).__name__}: {e}; install coflex-ray with its "
                    f"dependencies (pip install -e .) or drop {name!r} from --searchers") from e
            except Exception as e:  # a bad option or combination: name the searcher and the reason
                raise SearcherBuildError(f"searcher {name!r} (seed {seed}) cannot be built: "
                                         f"{type(e).__name__}: {e}") from e
    return built


def build_schedulers(name: str, keys: Any, ladder: Ladder, hw: str, grace: int, reduction_factor: float
                     ) -> dict[tuple[str, int], Any]:
    """One Tune scheduler per (searcher, seed) run (a scheduler holds its run's rung state), or ``{}``
    for ``name == "none"``.  ``time_attr`` is the trials' ``fidelity_level``, ``max_t`` the ladder's
    length, the metrics the study's objectives (``err`` and ``hw``, the latter in log space)."""
    if name == "none":
        return {}
    from ..schedulers import make_scheduler

    return {key: make_scheduler(name, ["err", hw], ["min", "min"], time_attr="fidelity_level",
                                max_t=ladder.levels, grace_period=grace, reduction_factor=reduction_factor,
                                log_metrics=(hw,))
            for key in keys}


def run_study(spec: RunSpec, built: dict[tuple[str, int], Any],
              parallel_runs: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """Run every (searcher, seed) of ``built`` (see :func:`build_searchers`), print one line per run.

    Returns the concatenated table of the runs that finished and the ``[failed]`` lines of those that
    did not: a run that raises is reported and the study goes on, so the others' results, tables and
    plots are still written.  Columns: Tune's ``get_dataframe()`` (metrics, ``config/*``,
    ``trial_id``, ...; with ``spec.all_rows`` every reported row) plus ``searcher``, ``seed``,
    ``completed_at`` (seconds from the run's start to the trial's result), ``run_wall_s`` and
    ``suggest_s`` (time spent inside our searchers' ``suggest``; NaN for built-ins).

    ``parallel_runs`` > 1 runs that many Tuner runs at once, each as its own Tune driver inside a Ray
    task (``num_cpus=0``, pinned to this node so ``spec.out`` is where the driver writes it; its
    trials go anywhere in the cluster), so a study of many (searcher, seed) runs fills a cluster.
    Tune's driver is not thread-safe (measured: two ``Tuner.fit()`` in threads of one process break
    its registry), hence tasks.  Progress lines travel back through a Ray queue.
    """
    from ..interrupt import STOP

    (spec.out / "runs").mkdir(parents=True, exist_ok=True)
    frames, failed = [], []
    if parallel_runs <= 1:
        from ..runner import StudyClock

        start, n = time.time(), len(built)
        for k, ((name, seed), alg) in enumerate(built.items()):
            STOP.check()  # a stop requested between runs: start nothing new
            try:
                with STOP.tuning():
                    df, stats = _execute(spec, name, seed, alg, label=f"run {k + 1}/{n} {name} seed {seed}",
                                         clock=StudyClock(k * spec.budget, n * spec.budget, start))
                STOP.check()  # the run was stopped part-way: keep it out of every table; --resume continues it
                frames.append(finish_run(df, stats, name, seed, spec.out, spec.budget))
            except Exception as e:  # one broken run must not cost the others: report it and go on
                STOP.check()
                failed.append(failed_line(name, seed, e))
    else:
        frames, failed = _run_parallel(spec, built, parallel_runs)
    if not frames:
        raise RuntimeError("every (searcher, seed) run failed; see the [failed] lines above")
    import pandas as pd

    order = {key: i for i, key in enumerate(built)}  # the study's order, whatever order runs finished in
    frames.sort(key=lambda f: order[f["searcher"].iat[0], int(f["seed"].iat[0])])
    return pd.concat(frames, ignore_index=True), failed


def _execute(spec: RunSpec, name: str, seed: int, alg: Any, sink: Callable[[str], None] | None = None,
             label: str | None = None, clock: StudyClock | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """One (searcher, seed) Tuner run: (Ray's result table, our searcher's ``suggest_s``/``n_fallbacks``);
    with ``spec.all_rows`` the table has every reported row (one per rung of a multi-step trial)."""
    from ray import tune

    from ..runner import run_tuner, wall_clock

    path = spec.out / "ray_results" / f"{name}_seed{seed}"
    resumed = spec.resume and tune.Tuner.can_restore(str(path.resolve()))
    start = time.time()
    with wall_clock(path.parent / f"{path.name}.wall.json", resumed) as earlier_s:
        df = run_tuner(spec.trainable, spec.space.param_space(), alg, spec.budget,
                       storage_path=spec.out / "ray_results", name=f"{name}_seed{seed}",
                       label=label or f"{name} seed {seed}", resume=spec.resume, sink=sink,
                       scheduler=spec.schedulers.get((name, seed)), all_rows=spec.all_rows,
                       time_budget_s=spec.time_budget_s, clock=clock)
    if df.empty or "err" not in df:
        if spec.time_budget_s is not None:
            raise RuntimeError(f"no trial finished within the run's time limit ({spec.time_budget_s / 60:g} min, "
                               "--minutes-per-run); give each run more time")
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


def finish_run(df: pd.DataFrame, stats: dict[str, float], name: str, seed: int, out: Path,
               budget: int | None = None) -> pd.DataFrame:
    """Add the study columns, save the run's table at once (kept if a later run dies), print ``[done]``.

    A run that ``--resume`` only read back (the same trials as its saved table) is returned as saved
    and its file is not rewritten: the table, its trial order and ``completed_at`` stay as they were.
    A run with fewer trials than ``budget`` (ended by ``--minutes-per-run``) gets ``cut_short`` =
    ``"time limit"`` (else ``""``), which the tables carry."""
    import pandas as pd

    saved = out / "runs" / f"{name}_seed{seed}.parquet"
    if saved.exists() and "trial_id" in df:
        old = pd.read_parquet(saved)
        if "trial_id" in old and set(df["trial_id"]) == set(old["trial_id"]) and "searcher" in old:
            _print_done(old, name, seed, {**stats, "wall_s": float(old["run_wall_s"].iloc[0]),
                                          "suggest_s": float(old["suggest_s"].iloc[0]), "n_fallbacks": 0},
                        " (read back)")
            return old
    df["searcher"], df["seed"], df["run_wall_s"], df["suggest_s"] = name, seed, stats["wall_s"], stats["suggest_s"]
    # seconds since the run started (a resumed run: since its first result)
    df["completed_at"] = (df["timestamp"] - min(stats["start"], df["timestamp"].min()) if "timestamp" in df
                          else range(len(df)))
    n_trials = df["trial_id"].nunique() if "trial_id" in df else len(df)
    df["cut_short"] = "time limit" if budget is not None and n_trials < budget else ""
    tmp = saved.with_name(saved.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, saved)  # a run's table is whole or absent, whenever the study is stopped
    _print_done(df, name, seed, stats)
    return df


def _print_done(df: pd.DataFrame, name: str, seed: int, stats: dict[str, float], note: str = "") -> None:
    if "fidelity_level" in df:  # multi-step trials: one row per rung; count trials and final rows
        final = df[df["fidelity_level"] == df["fidelity_max_level"]]
        feas = int(final["feasible"].sum())
        what = f"{df['trial_id'].nunique()} trials, {len(df)} rung results, {len(final)} at the top rung"
    else:
        feas, what = (int(df["feasible"].sum()) if "feasible" in df else 0), f"{len(df)} trials"
    cut = str(df["cut_short"].iat[0]) if "cut_short" in df and len(df) else ""
    print(f"[done] {name:<13} seed {seed}: {what} ({feas} feasible) in {stats['wall_s']:.0f}s"
          + (f", suggest {stats['suggest_s']:.1f}s" if stats["suggest_s"] == stats["suggest_s"] else "")
          + (f", {stats['n_fallbacks']} random fallback batches" if stats.get("n_fallbacks") else "")
          + (f", cut short by the {cut}" if cut else "") + note, flush=True)


def _run_parallel(spec: RunSpec, built: dict[tuple[str, int], Any], k: int) -> tuple[list[pd.DataFrame], list[str]]:
    """Every run of ``built``, ``k`` at once as Ray tasks on this node (see :func:`run_study`)."""
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
    from ..interrupt import STOP

    while todo or running:
        STOP.check()
        while todo and len(running) < k:
            (name, seed), alg = todo.pop(0)
            label = f"run {n - len(todo)}/{n} {name} seed {seed}"
            running[remote.remote(spec, name, seed, alg, queue.put, label)] = (name, seed)
        done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
        drain()
        for ref in done:
            name, seed = running.pop(ref)
            try:
                frames.append(finish_run(*ray.get(ref), name, seed, spec.out, spec.budget))
            except Exception as e:  # a run that raised (or whose task died): report it and go on
                failed.append(failed_line(name, seed, e))
    drain()
    return frames, failed
