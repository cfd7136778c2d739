"""A thread-safe memo of per-layer simulator results, with in-flight de-duplication and persistence.

Key: (layer shape, accelerator config, fidelity, lpf_limit).  The whole SSS space at 32x32 has only
about 410 distinct convolution shapes, so a search quickly reuses layers across trials.

* Concurrent requests for the same key simulate once: the first caller simulates, the others wait
  for its result.
* Only completed, well-formed results are stored: a deterministic "infeasible" verdict is stored as
  such (with its reason); an unexpected exception, or a result whose energy or latency is missing,
  NaN, infinite or negative, is raised to every waiter and nothing is stored.
* With a time limit (``get_many(..., timeout_s=...)``) each simulation runs in a child process
  (:mod:`.childproc`) that is killed when the limit passes: the core is free again at once, the
  owner and every waiter of that key get :class:`.childproc.SimulationTimeout`, nothing is stored.
  Without a limit the simulation runs in the calling thread.
* ``save(path)`` / ``LayerCostCache(path=...)`` persist to a pickle the user names (warm restart);
  the file is replaced atomically.  It records its format version, fidelity and ``lpf_limit``;
  :func:`read_cache_file` refuses (``ValueError``, naming the file and why) a truncated or unreadable
  file, a pickle of anything else, another fidelity's or ``lpf_limit``'s costs, and malformed
  entries, so a study never starts on costs it did not ask for.

The same class runs in-process (tests, benchmarks) or as a Ray actor (see ``coflex_ray.service``).
"""

from __future__ import annotations

import math
import os
import pickle
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Callable

from . import DEFAULT_LPF_LIMIT, check_fidelity, simulate_layer
from .accelerator import AccelConfig
from .childproc import ChildProcesses, SimulationTimeout


class BadSimulatorResult(RuntimeError):
    """A simulator returned a cost that cannot be right (NaN, infinite, negative or missing)."""


def _checked(result: dict[str, Any], shape: tuple, acc: AccelConfig) -> dict[str, Any]:
    if "infeasible" in result:
        return result
    for k in ("energy_pJ", "latency_cycles"):
        v = result.get(k)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise BadSimulatorResult(f"simulator returned {k}={v!r} for layer {tuple(shape)} on {acc.key()}; "
                                     "not cached")
    return result


FORMAT, FORMAT_VERSION = "coflex-ray layer-cost cache", 2


def write_cache_file(path: str | os.PathLike, entries: dict, fidelity: str, lpf_limit: int) -> Path:
    """Write ``entries`` with their header to ``path`` atomically (a temp file, then a rename)."""
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        pickle.dump({"format": FORMAT, "version": FORMAT_VERSION, "fidelity": fidelity, "lpf_limit": lpf_limit,
                     "entries": entries}, f)
    os.replace(tmp, target)
    return target


def read_cache_file(path: str | os.PathLike, fidelity: str, lpf_limit: int) -> dict[tuple, dict[str, Any]]:
    """The entries of a cache file written by :func:`write_cache_file`.

    Args:
        path: the file.
        fidelity: the fidelity the caller simulates.
        lpf_limit: the caller's LOMA ``lpf_limit``.

    Returns:
        The entries, ``{(shape, accelerator, fidelity, lpf_limit): cost}``.

    Raises:
        ValueError: the file is unreadable, holds something else, has another format version, holds
            another fidelity's or ``lpf_limit``'s costs, or has a malformed entry.
    """
    fix = "delete it to start cold, or give another file"
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except Exception as e:
        raise ValueError(f"cache file {str(path)!r} cannot be read ({type(e).__name__}: {str(e)[:80]}); {fix}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"cache file {str(path)!r} holds a {type(data).__name__}, not a {FORMAT}; {fix}")
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"cache file {str(path)!r} has format version {data.get('version')!r}; this coflex-ray "
                         f"reads version {FORMAT_VERSION}; {fix}")
    if (data.get("fidelity"), data.get("lpf_limit")) != (fidelity, lpf_limit):
        raise ValueError(f"cache file {str(path)!r} holds {data.get('fidelity')} costs (lpf_limit "
                         f"{data.get('lpf_limit')}); this study simulates {fidelity} (lpf_limit {lpf_limit}); "
                         "give that fidelity's own file")
    entries = data.get("entries")
    if not isinstance(entries, dict):
        raise ValueError(f"cache file {str(path)!r} has no entry table; {fix}")
    for key, value in entries.items():
        try:
            ok = (isinstance(key, tuple) and len(key) == 4 and key[2:] == (fidelity, lpf_limit)
                  and isinstance(value, dict) and _checked(value, key[0], AccelConfig(*key[1])) is value)
        except Exception:  # a key that is no accelerator, a cost that cannot be right
            ok = False
        if not ok:
            raise ValueError(f"cache file {str(path)!r} has a malformed entry {str(key)[:80]}: "
                             f"{str(value)[:80]}; {fix}")
    return entries


class LayerCostCache:
    """Memoised :func:`simulate_layer` for one fidelity.

    ``simulate``: a module-level function with :func:`simulate_layer`'s signature to call instead
    (fault injection in tests); it must be importable, as it may run in a child process."""

    def __init__(self, fidelity: str = "zigzag-fixed", lpf_limit: int = DEFAULT_LPF_LIMIT,
                 path: str | os.PathLike | None = None, simulate: Callable | None = None) -> None:
        self.fidelity, self.lpf_limit = check_fidelity(fidelity), lpf_limit
        self._simulate = simulate
        self._children = ChildProcesses()
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._done: dict[tuple, dict[str, Any]] = {}
        self._inflight: dict[tuple, Future] = {}
        self.hits = self.misses = 0
        if self.path and self.path.is_file():
            self.load(self.path)

    def _key(self, shape: tuple, acc: AccelConfig) -> tuple:
        return (tuple(shape), acc.key(), self.fidelity, self.lpf_limit)

    def get(self, shape: tuple, acc: AccelConfig, deadline: float | None = None) -> dict[str, Any]:
        """Cost of one layer; ``deadline`` (``time.monotonic()`` value): kill the simulation then."""
        key = self._key(shape, acc)
        with self._lock:
            if key in self._done:
                self.hits += 1
                return self._done[key]
            fut = self._inflight.get(key)
            owner = fut is None
            if owner:
                fut = self._inflight[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            try:
                return fut.result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                raise SimulationTimeout("time limit passed while waiting for another call's simulation") from None
        try:
            result = _checked(self._run(tuple(shape), acc, deadline), shape, acc)
        except BaseException as e:
            with self._lock:
                del self._inflight[key]
            fut.set_exception(e)
            raise
        with self._lock:
            self._done[key] = result
            del self._inflight[key]
        fut.set_result(result)
        return result

    def _run(self, shape: tuple, acc: AccelConfig, deadline: float | None) -> dict[str, Any]:
        fn = self._simulate or simulate_layer
        args = (shape, acc, self.fidelity, self.lpf_limit)
        if deadline is None:
            return fn(*args)
        if deadline <= time.monotonic():
            raise SimulationTimeout("time limit passed before the simulation could start")
        return self._children.call(fn, args, deadline - time.monotonic())

    def get_many(self, shapes: list[tuple], acc: AccelConfig, timeout_s: float | None = None,
                 sent_at: float | None = None) -> list[dict[str, Any]]:
        """Costs of several layer shapes on one accelerator, each simulated at most once.

        Args:
            shapes: layer shapes.
            acc: the accelerator.
            timeout_s: time limit in seconds for the whole call; ``None``: no limit.
            sent_at: the caller's ``time.time()`` when it sent the call, so that the time a remote
                call took to get here counts against ``timeout_s``; ``None``: count from now.

        Returns:
            One cost dict per shape, in the order of ``shapes``.

        Raises:
            SimulationTimeout: the time limit passed (the simulation was killed).
        """
        if timeout_s is not None and sent_at is not None:
            timeout_s -= min(max(0.0, time.time() - sent_at), timeout_s)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        return [self.get(s, acc, deadline) for s in shapes]

    def child_pids(self) -> dict[str, list[int]]:
        """Pids of this cache's simulator child processes (``busy`` and ``idle``)."""
        return self._children.pids()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._done), "hits": self.hits, "misses": self.misses,
                    "killed": self._children.killed}

    def dump(self) -> dict[tuple, dict[str, Any]]:
        with self._lock:
            return dict(self._done)

    def update(self, entries: dict[tuple, dict[str, Any]]) -> int:
        """Add finished entries (e.g. from a file); returns how many were new."""
        with self._lock:
            new = {k: v for k, v in entries.items() if k not in self._done and k[2] == self.fidelity}
            self._done.update(new)
            return len(new)

    def save(self, path: str | os.PathLike | None = None) -> Path:
        target = path or self.path
        if not target:
            raise ValueError("no cache file given: pass path= here or to the constructor")
        return write_cache_file(target, self.dump(), self.fidelity, self.lpf_limit)

    def load(self, path: str | os.PathLike) -> int:
        """Add the entries of a cache file written by :meth:`save`.

        Returns:
            How many entries were new.

        Raises:
            ValueError: the file is unreadable or not this fidelity's (:func:`read_cache_file`).
        """
        return self.update(read_cache_file(path, self.fidelity, self.lpf_limit))
