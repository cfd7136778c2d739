"""Asking a core on a worker thread, so that a model fit never holds up the caller (Tune's driver loop).

:class:`BackgroundAsker` owns the calls into one core (:mod:`.core`) of a searcher in background
mode (``AskTellSearcher(background=True)``, :mod:`.adapter`):

* **Jobs.**  :meth:`BackgroundAsker.start` runs one job on a daemon thread: tell the core the
  results received so far, then ``core.ask(q, pending)``; the points it returns wait in
  :attr:`BackgroundAsker.ready` until :meth:`BackgroundAsker.take` hands them out.  One job at a
  time: when nothing is ready, or, so that the next batch is being made while the last one is
  handed out, when fewer than half a batch is ready and results have arrived since the last job
  started (the ready points are then pending for the new batch).  A job that returned nothing (the
  core waits for results) is not started again before a new result arrives.
* **Why a thread.**  A fit spends its time in torch and numpy kernels, which release the GIL, and
  Python switches threads every few milliseconds (``sys.getswitchinterval``) in between, so the
  driver keeps running during a fit; a thread shares the core without copying it, where a process
  would pickle it both ways on every batch and import torch once more.
* **One writer.**  A lock guards the core; a job holds it from start to end.  :meth:`tell` queues a
  result in :attr:`BackgroundAsker.inbox` and tells the core at once when no job runs; a result
  that arrives during a fit waits for the next job (or :meth:`settle`).
* **Batch size.**  A job asks ``q = min(max(batch_size, max_concurrency), max(batch_size,
  BATCH_CAP))`` points, ``batch_size`` being the core's own (``max_concurrency``: what Tune's
  ``ConcurrencyLimiter`` allows, :meth:`.adapter.AskTellSearcher.set_max_concurrency`); a core with
  a ``batch_size`` (the model-based ones) makes its next batch that size.  A batch as large as the
  number of trials that can run at once keeps every worker busy after one fit; ``BATCH_CAP``
  keeps a batch within what one fit of ``CoflexCore`` is measured to deliver.
* **Filling the slots.**  While a model core waits for the results of its initial design
  (``n_init`` points) a job also hands out random untaken points for the slots left free
  (``max_concurrency`` minus the points in flight), so that a cluster with more slots than
  ``n_init`` does not idle until the first fit.
* **Stale proposals.**  A point made by a model batch after the first batch and handed out once the
  searcher has received results the model did not see is still handed out, and counted in
  :attr:`BackgroundAsker.stale_proposals`.
* **Failures.**  A model that cannot be fitted falls back inside the core (``n_fallbacks``); an
  error escaping ``ask`` is logged, counted in :attr:`BackgroundAsker.n_errors` and in the core's
  ``n_fallbacks``, and the job hands out random untaken points instead.
* **Checkpoints.**  Each job pickles the core before it asks; a copy taken while a job runs
  (:meth:`frozen`, used by pickling) holds that snapshot, the queued results and the points left
  from earlier jobs (reserved in the snapshot), so it never waits for a fit and is consistent.  Locks and threads are not pickled; an unpickled
  asker runs no job.

Background mode is not deterministic: which results a batch sees depends on timing.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from typing import Any

import numpy as np

from .candidates import random_untaken, to_cube, to_index
from .core import Core, ModelCore

logger = logging.getLogger(__name__)

# The largest batch sized up to the concurrency: one CoflexCore fit proposes the whole batch (its pool
# grows with it) and a 512-point batch costs about what an 8-point one does (one fit; candidate
# scoring and the fusion are a small part: benchmarks/results/batch_cost.txt)
BATCH_CAP = 512
QUICK_S = 0.005  # how long a caller waits for a job it has just started (a cheap batch is then ready)
_RUNTIME = ("_lock", "_io", "_thread", "_snapshot", "_snapped", "_running")


def tell_once(core: Core, x: np.ndarray, y: np.ndarray | None, c: np.ndarray | None = None) -> None:
    """Tell ``core`` the result of ``x`` unless it has one already (a point run twice keeps its first).

    Args:
        core: the core.
        x: a cube point.
        y: its minimised objective vector; ``None`` for a failed evaluation.
        c: its constraint values (model scale) with outcome constraints, else ``None``.

    Raises:
        ValueError: from :meth:`.core.Core.tell` (malformed ``y`` or ``c``).
    """
    if to_index(core.space, np.asarray(x)) in core.results:
        return
    if y is None:
        core.tell(x, failed=True)
    else:
        core.tell(x, y, c=c)


class BackgroundAsker:
    """Runs one core's asks on a worker thread (the module docstring gives the rules).

    Args:
        core: the core; from now on only this object calls into it.

    Attributes:
        ready: ``(point, tag)`` pairs asked and not yet handed out; ``tag`` is the number of results
            the model had seen, or ``None`` for points of the first batch.
        inbox: ``(x, y, c)`` results not yet told to the core.
        n_results: results received (told or queued).
        stale_proposals: points handed out after results their model did not see.
        n_errors: jobs whose ask raised (random points were handed out instead).
        fit_time_s: seconds spent in jobs.
        max_concurrency: trials that may run at once (``None``: not known).
        base_batch_size: the core's ``batch_size`` as built (1 for a core without one).
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self.base_batch_size = int(getattr(core, "batch_size", 1))  # the core's own, before any sizing
        self.ready: list[tuple[np.ndarray, int | None]] = []
        self.inbox: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []
        self.n_results = self.stale_proposals = self.n_errors = 0
        self.fit_time_s = 0.0
        self.max_concurrency: int | None = None
        self._dry_at: int | None = None  # n_results when a job last came back empty
        self._started_at: int | None = None  # n_results when the last job started
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()  # the core's: held by a job, or by tell while no job runs
        self._io = threading.Lock()  # ready, inbox, counters and the job's state
        self._thread: threading.Thread | None = None
        self._snapshot: bytes | None = None  # the pickled core at the start of the running job
        self._snapped = threading.Event()  # set unless a job is starting and has no snapshot yet
        self._snapped.set()
        self._running = False

    # ------------------------------------------------------------------ the caller's side
    @property
    def busy(self) -> bool:
        """A job is running."""
        return self._running

    def batch_size(self) -> int:
        """Points per job: the core's ``batch_size`` (1 without one) raised to ``max_concurrency``,
        at most ``max(batch_size, BATCH_CAP)``."""
        base = self.base_batch_size
        return min(max(base, self.max_concurrency or 0), max(base, BATCH_CAP))

    def tell(self, x: np.ndarray, y: np.ndarray | None, c: np.ndarray | None = None) -> None:
        """Queue the result of ``x`` (as :func:`tell_once`); told at once unless a job runs."""
        with self._io:
            self.inbox.append((np.asarray(x), y, c))
            self.n_results += 1
        self.flush()

    def flush(self) -> bool:
        """Tell the core the queued results if no job runs; ``False`` (nothing done) while one does."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._apply()
        finally:
            self._lock.release()
        return True

    def take(self) -> np.ndarray | None:
        """The next ready point (counted in :attr:`stale_proposals` when stale), or ``None``."""
        with self._io:
            if not self.ready:
                return None
            x, tag = self.ready.pop(0)
            if tag is not None and self.n_results > tag:
                self.stale_proposals += 1
            return x

    def start(self, pending: list[np.ndarray], early: bool = False) -> bool:
        """Start a job asking :meth:`batch_size` points, ``pending`` being the points under evaluation.

        Args:
            pending: the points handed out and not yet told.
            early: start while points are still ready (fewer than half a batch, and results have
                arrived since the last job started), so that the next batch is made meanwhile.

        Returns:
            ``False`` (nothing started) while a job runs, while points are ready (``early``: the
            rule above), or when the last job came back empty and no result has arrived since.
        """
        pending = self._claim(pending, early)
        if pending is None:
            return False
        self._thread = threading.Thread(target=self._job, args=(pending, self.batch_size()),
                                        name="coflex-ray-ask", daemon=True)
        self._thread.start()
        return True

    def _claim(self, pending: list[np.ndarray], early: bool) -> list[np.ndarray] | None:
        """Mark a job as running if the rules of :meth:`start` allow one; the points pending for it
        (``pending`` and the ready points), or ``None`` when none may start."""
        with self._io:
            if early:
                allowed = 2 * len(self.ready) < self.batch_size() and \
                    self.n_results != getattr(self, "_started_at", None)
            else:
                allowed = not self.ready
            if self._running or self._dry_at == self.n_results or not allowed:
                return None
            self._running, self._started_at = True, self.n_results
            self._snapped.clear()
            return list(pending) + [p for p, _ in self.ready]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: as long as it takes) for the running job;
        ``True`` when none runs any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self._running

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for the running job (as :meth:`wait`), then tell the core every queued result;
        ``True`` when that was done."""
        return self.wait(timeout) and self.flush()

    # ------------------------------------------------------------------ the worker's side
    def _apply(self) -> None:
        """Tell the core the queued results (the caller holds the core's lock)."""
        with self._io:
            items, self.inbox = self.inbox, []
        for x, y, c in items:
            try:
                tell_once(self.core, x, y, c)
            except Exception:  # one bad result must not cost the others
                logger.exception(f"{type(self.core).__name__}: dropped a result the core refused")

    def _job(self, pending: list[np.ndarray], q: int) -> None:
        start, points, tag, dry, seen = time.perf_counter(), [], None, None, None
        try:
            with self._lock:
                try:
                    self._apply()
                    with self._io:
                        seen = self.n_results - len(self.inbox)
                    self._snapshot = pickle.dumps(self.core, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # checkpoints then wait for this job (frozen)
                    logger.exception(f"{type(self.core).__name__}: could not snapshot the core")
                finally:
                    self._snapped.set()
                points = self._ask(pending, q)
                tag = seen if getattr(self.core, "n_batches", 0) > 1 else None
                dry = None if points else seen
        except Exception:  # anything _ask does not catch: logged, and the next suggest tries again
            logger.exception(f"{type(self.core).__name__}: a background batch failed")
        finally:
            with self._io:
                self.ready.extend((p, tag) for p in points)
                self._dry_at = dry
                self.fit_time_s += time.perf_counter() - start
                self._snapshot, self._running = None, False

    def _ask(self, pending: list[np.ndarray], q: int) -> list[np.ndarray]:
        """``core.ask(q)`` with the pending points not told yet; random untaken points if it raises."""
        core = self.core
        if hasattr(core, "batch_size"):
            core.batch_size = q
        running = [p for p in pending if to_index(core.space, p) not in core.results]
        try:
            points = core.ask(q, pending=running)
            return points + self._fill(len(running) + len(points))
        except Exception as e:
            self.n_errors += 1
            if hasattr(core, "n_fallbacks"):
                core.n_fallbacks += 1
            logger.warning(f"{type(core).__name__}: a background batch fell back to random points after "
                           f"{type(e).__name__}: {e}", exc_info=True)
            return self._random_points(q)

    def _fill(self, in_flight: int) -> list[np.ndarray]:
        """Random untaken points (reserved) for the slots a model core's initial design leaves idle:
        up to ``max_concurrency - in_flight`` while the core waits for its first ``n_init`` results
        (the random points it would give once they are in and too few are good to model)."""
        free = (self.max_concurrency or 0) - in_flight
        if not isinstance(self.core, ModelCore) or free <= 0 or self.core.can_model:
            return []
        return self._random_points(free)

    def _random_points(self, n: int) -> list[np.ndarray]:
        """Up to ``n`` random untaken points, reserved in the core."""
        core = self.core
        points = [to_cube(core.space, i) for i in random_untaken(core.space, n, core.rng, core.is_taken)]
        for p in points:
            core.reserve(p)
        return points

    # ------------------------------------------------------------------ checkpoints
    def frozen(self) -> BackgroundAsker:
        """A copy that runs no job, consistent with the results received: while a job runs, its core is
        the core as the job found it (the job's points are not in it, and are asked again)."""
        self._snapped.wait()
        if self._running and self._snapshot is None:  # the job could not snapshot the core
            self.wait()
        with self._io:
            data = {k: v for k, v in self.__dict__.items() if k not in _RUNTIME}
            data.update(inbox=list(self.inbox), ready=list(self.ready))  # reserved in the snapshot too
            snapshot = self._snapshot if self._running else None
        if snapshot is not None:
            data["core"] = pickle.loads(snapshot)
        out = BackgroundAsker.__new__(BackgroundAsker)
        out.__setstate__(data)
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.frozen().__dict__.items() if k not in _RUNTIME}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()
