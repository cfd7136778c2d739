"""Run one search as a ``tune.Tuner`` and return Ray's result table as a pandas DataFrame.

Shared by every experiment script: Ray start-up (local or an existing cluster), the Tuner with the
settings measured to matter on Ray 2.60 (``reuse_actors=True``, strict metric keys, quiet output),
one progress line per finished trial, and the tidy result table.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from .saved_state import mend_saved_state, restore_failures_raise

# Tune retries a trial this many times when it dies with its worker (a lost node, an OOM kill).
# Evaluator failures never reach Tune: the trial catches them and reports an infeasible result, so
# a deterministic failure is not re-run.
MAX_FAILURES = 3
ERRORED_RERUNS = 2  # rounds of re-running trials that Tune errored anyway (see _rerun_errored)
WALL_EVERY_S = 5.0  # how often wall_clock() records a run's span (a kill loses at most this much)


def _quiet_tune() -> None:
    """Tune's classic console output and no TensorBoard inf warnings; idempotent, called before Ray or
    Tune starts (not at import: importing this module changes nothing)."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # An infeasible or failed trial reports its hardware objective as inf by design; Tune's TensorBoard
    # logger warns "NaN or Inf found in input tensor." for each such row, which only hides the progress lines.
    logging.getLogger("tensorboardX.x2num").setLevel(logging.ERROR)


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to a cluster at ``address`` or start a local Ray (no dashboard, no usage stats)."""
    import ray

    _quiet_tune()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray 2.59+ turns on token auth once ~/.ray/auth_token exists, which breaks joining extra nodes
    # started without the same token; a local or trusted-network cluster does not need it.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


def _minutes(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class StudyClock:
    """Where a run sits in its study, for progress lines: trials the study finished before this run,
    the study's total trials and its start time (``time.time()``)."""

    def __init__(self, done_before: int, total: int, start: float) -> None:
        self.done_before, self.total, self.start = done_before, total, start

    def text(self, done_in_run: int) -> str:
        done = self.done_before + done_in_run
        elapsed = time.time() - self.start
        eta = elapsed / done * (self.total - done) if done else float("nan")
        return (f"study {done}/{self.total} trials, {_minutes(elapsed)} elapsed"
                + (f", ETA {_minutes(eta)}" if eta == eta else ""))


class _Progress:
    """A Tune callback printing a short progress line as trials finish: at most one per
    ``every_s`` seconds, and always for the run's first and last trial."""

    def __new__(cls, *args: Any, **kwargs: Any):  # build the subclass lazily so importing needs no Ray
        from ray.tune import Callback

        class Progress(Callback):
            def __init__(self, label: str, budget: int, metric: str, every_s: float = 10.0,
                         sink: Callable[[str], None] | None = None, clock: StudyClock | None = None) -> None:
                self.label, self.budget, self.metric, self.done = label, budget, metric, 0
                self.every_s, self.start, self.last, self.clock = every_s, time.time(), 0.0, clock
                self.sink = sink or (lambda line: print(line, flush=True))

            def setup(self, **info: Any) -> None:
                # Tune restores this callback from its pickle on resume: time the lines from the restart
                self.start = time.time()

            def _line(self, what: str) -> None:
                now = time.time()
                if self.done not in (1, self.budget) and now - self.last < self.every_s:
                    return
                self.last = now
                study = f"; {self.clock.text(self.done)}" if self.clock is not None else ""
                self.sink(f"[{self.label}] trial {self.done}/{self.budget} {what} "
                          f"({_minutes(now - self.start)}{study})")

            def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
                self.done += 1
                val = (trial.last_result or {}).get(self.metric, float("nan"))
                self._line(f"{self.metric}={val:.4g}")

            def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
                self.done += 1
                self.last = 0.0  # an error is always shown
                self._line(f"ERROR {trial.trial_id}")

        return Progress(*args, **kwargs)


def run_tuner(trainable: Any, param_space: dict[str, Any], search_alg: Any, budget: int, *,
              storage_path: str | Path, name: str, label: str, metric: str = "err",
              cpus_per_trial: float = 1.0, quiet: bool = False, progress_every_s: float = 10.0,
              resume: bool = False, sink: Callable[[str], None] | None = None, scheduler: Any = None,
              all_rows: bool = False, time_budget_s: float | None = None,
              clock: StudyClock | None = None) -> pd.DataFrame:
    """Run ``budget`` trials of ``trainable`` with ``search_alg`` and return ``get_dataframe()``.

    ``scheduler``: a Tune ``TrialScheduler`` (default FIFO).  ``all_rows``: return every reported
    row of every trial (:func:`all_rows_frame`; multi-step trials report once per rung), not only
    each trial's last one.  ``time_budget_s``: stop the run after that many seconds (Tune's
    ``time_budget_s``; ``budget`` is then an upper bound).

    ``resume``: if ``storage_path/name`` holds an earlier, interrupted run of the same experiment,
    continue it with ``Tuner.restore`` (completed trials kept, the searcher's saved state restored,
    errored and unfinished trials re-run) instead of starting over.  A state file left unreadable by
    the interruption is first mended from Tune's staging copy (:func:`~coflex_ray.saved_state.mend_saved_state`;
    raises :class:`~coflex_ray.saved_state.UnreadableRunState` if there is none, or if Tune's restore
    fails for another reason: :func:`~coflex_ray.saved_state.restore_failures_raise`).

    ``progress_every_s``: print a progress line at most that often (and for the first and last trial),
    or hand it to ``sink`` (a run inside a Ray task sends its lines to the driver that way); ``clock``
    adds the study's trials done and ETA to each line.
    The table gets the columns of every reported metric plus ``config/<key>`` columns, as Tune
    writes them.
    """
    from ray import tune

    _quiet_tune()
    trainable = tune.with_resources(trainable, {"cpu": cpus_per_trial})
    callbacks = [] if quiet else [_Progress(label, budget, metric, progress_every_s, sink, clock)]
    path = Path(storage_path).resolve() / name
    if resume and tune.Tuner.can_restore(str(path)):
        mend_saved_state(path, sink or print)
        grid = _restore(path, trainable, param_space).get_results()
        if _finished(grid, budget, metric):
            (sink or print)(f"[{label}] reading back the finished run in {path}")
        else:
            (sink or print)(f"[{label}] resuming the interrupted run in {path}")
            _rerun_errored(_fit_restored(path, trainable, param_space), path, trainable, param_space, label,
                           sink)
            # Read the finished run back from its folder: the grid a restored fit() returns can point at
            # the folder the run was first started in (measured, Ray 2.60: a study folder copied elsewhere
            # and resumed twice returned 59 of its 100 trials, the other 41 "not found" at the old path).
            grid = _restore(path, trainable, param_space).get_results()
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(search_alg=search_alg, num_samples=budget, reuse_actors=True,
                                        scheduler=scheduler, time_budget_s=time_budget_s),
            run_config=tune.RunConfig(storage_path=str(Path(storage_path).resolve()), name=name, verbose=0,
                                      callbacks=callbacks,
                                      failure_config=tune.FailureConfig(max_failures=MAX_FAILURES)),
        )
        grid = _rerun_errored(tuner.fit(), path, trainable, param_space, label, sink)
    return all_rows_frame(grid) if all_rows else grid.get_dataframe()


def _finished(grid: Any, budget: int, metric: str) -> bool:
    """Whether a saved run is complete: ``budget`` trials, none errored, each with a result."""
    return len(grid) >= budget and not grid.errors and all(metric in (grid[i].metrics or {})
                                                           for i in range(len(grid)))


def all_rows_frame(grid: Any) -> pd.DataFrame:
    """Every reported row of every trial of a ``ResultGrid``, with ``config/*`` columns as in
    ``get_dataframe()``.  A trial Tune re-ran from its start (after a lost worker, or on resume)
    reports its rungs again: rows are keyed by (trial id, ``fidelity_level``) and the last one of
    each key is kept, so no rung is counted twice."""
    from ray.tune.utils.util import flatten_dict

    frames = []
    for i in range(len(grid)):  # ResultGrid has __len__/__getitem__ but no __iter__ (Ray 2.60)
        r = grid[i]
        df = r.metrics_dataframe
        if df is None or df.empty:
            df = pd.DataFrame([r.metrics or {}])
        df = df.copy()
        for k, v in flatten_dict(dict(r.config or {}), delimiter="/").items():
            df[f"config/{k}"] = [v] * len(df)
        frames.append(df)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    if {"trial_id", "fidelity_level"} <= set(out.columns):
        out = out.drop_duplicates(["trial_id", "fidelity_level"], keep="last").reset_index(drop=True)
    return out


def _restore(path: Path, trainable: Any, param_space: dict[str, Any]) -> Any:
    """The run in ``path`` restored: completed trials kept, unfinished and errored ones run again."""
    from ray import tune

    return tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True, resume_errored=False,
                              restart_errored=True, param_space=param_space)


def _fit_restored(path: Path, trainable: Any, param_space: dict[str, Any]) -> Any:
    """``fit()`` of the restored run in ``path``; raises if Tune cannot restore it (never starts it afresh)."""
    with restore_failures_raise(path):
        return _restore(path, trainable, param_space).fit()


def _rerun_errored(grid: Any, path: Path, trainable: Any, param_space: dict[str, Any], label: str,
                   sink: Callable[[str], None] | None = None) -> Any:
    """Re-run trials Tune gave up on (up to :data:`ERRORED_RERUNS` rounds).

    Evaluator failures never error a trial (they are reported rows), so an errored trial was lost to
    its worker: Tune 2.60 errors a trial without retrying it when one worker death fails two of its
    calls at once (the second failure finds the trial already pending its retry), whatever
    ``max_failures`` says.  Restoring the run with ``restart_errored`` runs exactly those again."""
    from .interrupt import STOP

    for _ in range(ERRORED_RERUNS):
        if not grid.errors or STOP.requested:  # a study being stopped runs nothing new
            break
        (sink or print)(f"[{label}] {len(grid.errors)} trial(s) lost to dead workers; running them again")
        grid = _fit_restored(path, trainable, param_space)
    return grid


@contextmanager
def wall_clock(file: Path, resumed: bool) -> Iterator[float | None]:
    """Record the wall-clock span of this (re)start of a run in ``file`` while the body runs.

    Yields the wall seconds of the run's earlier (re)starts logged in ``file``, 0 for a new run
    (``resumed`` False: the log starts afresh), ``None`` for a resumed run without a log (started
    before this log existed; the caller estimates that part otherwise).  The span is written every
    :data:`WALL_EVERY_S` seconds by a daemon thread, so a killed run keeps all but the last few
    seconds.  Why a log: a run interrupted twice cannot be timed from its trials' timestamps, whose
    span would include the hours it lay dead between the two interruptions.
    """
    file = Path(file)
    segments: list[list[float]] = []
    previous: float | None = 0.0
    if resumed:
        try:
            segments = [list(map(float, s)) for s in json.loads(file.read_text())]
            previous = sum(b - a for a, b in segments)
        except (OSError, ValueError, TypeError):
            segments, previous = [], None
    segments.append([time.time(), time.time()])
    stop = threading.Event()

    def write() -> None:
        segments[-1][1] = time.time()
        tmp = file.with_name(file.name + ".tmp")
        tmp.write_text(json.dumps(segments))
        os.replace(tmp, file)

    def loop() -> None:
        while not stop.wait(WALL_EVERY_S):
            write()

    file.parent.mkdir(parents=True, exist_ok=True)
    write()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield previous
    finally:
        stop.set()
        thread.join()
        write()
