"""Simulator calls in child processes that are killed when their time limit passes.

A thread cannot be stopped in Python, so a simulation that must be stoppable runs in a child
process: :class:`ChildProcesses` keeps a few idle children (each ``python -m`` this module, talking
pickles over its stdin/stdout), hands one to each call, and SIGKILLs (and reaps) the child whose call
outlives its limit, raising :class:`SimulationTimeout`.  The killed child's core is free at once;
the next call starts a new child.  A child exits by itself when its parent dies (it watches its
parent pid), so a lost Ray worker leaves no simulator behind.

Cost per call: pickling the arguments and the result over a pipe, well under a millisecond against
10-30 ms for one ZigZag layer; starting a child (imports) takes about a second, once per child.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

_HEADER = struct.Struct("!Q")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])  # the folder holding ``coflex_ray``


class SimulationTimeout(TimeoutError):
    """A simulator call passed its time limit; its child process was killed."""


class ChildDied(RuntimeError):
    """A simulator child process exited in the middle of a call (crash, OOM kill, signal)."""


class _Child:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([_PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, close_fds=True)
        self.pid = self.proc.pid

    def call(self, fn: Callable, args: tuple, deadline: float | None) -> Any:
        data = pickle.dumps((fn, args))
        try:
            self.proc.stdin.write(_HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise ChildDied(f"simulator process {self.pid} exited (code {self.proc.wait()})") from None
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        status, value = pickle.loads(self._read(size, deadline))
        if status == "ok":
            return value
        raise value

    def _read(self, n: int, deadline: float | None) -> bytes:
        fd, buf = self.proc.stdout.fileno(), b""
        while len(buf) < n:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                raise SimulationTimeout("time limit passed")
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise ChildDied(f"simulator process {self.pid} exited mid-call (code {self.proc.wait()})")
            buf += chunk
        return buf

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()  # reaped: the pid is gone, not a zombie
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class ChildProcesses:
    """Run picklable module-level functions in reusable child processes, each call with a time limit."""

    def __init__(self, max_idle: int = 2) -> None:
        self.max_idle = max_idle
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._lock = threading.Lock()
        self.started = self.killed = 0

    def call(self, fn: Callable, args: tuple, timeout_s: float | None) -> Any:
        """``fn(*args)`` in a child; :class:`SimulationTimeout` (child killed) after ``timeout_s`` seconds."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            child = self._idle.pop() if self._idle else None
            if child is None:
                self.started += 1
        child = child or _Child()
        with self._lock:
            self._busy.add(child)
        try:
            result = child.call(fn, args, deadline)
        except (SimulationTimeout, ChildDied) as e:
            child.kill()
            with self._lock:
                self._busy.discard(child)
                self.killed += isinstance(e, SimulationTimeout)
            if isinstance(e, SimulationTimeout):
                raise SimulationTimeout(f"simulation killed at its time limit of {timeout_s:g} s "
                                        f"(process {child.pid})") from None
            raise
        except BaseException:  # the call itself raised in the child: the child is fine, keep it
            self._release(child)
            raise
        self._release(child)
        return result

    def _release(self, child: _Child) -> None:
        with self._lock:
            self._busy.discard(child)
            if len(self._idle) < self.max_idle:
                self._idle.append(child)
                return
        child.kill()

    def pids(self) -> dict[str, list[int]]:
        """Pids of the children: ``busy`` (running a call) and ``idle``."""
        with self._lock:
            return {"busy": [c.pid for c in self._busy], "idle": [c.pid for c in self._idle]}

    def close(self) -> None:
        with self._lock:
            children, self._idle = self._idle + list(self._busy), []
        for c in children:
            c.kill()


def _serve() -> None:
    """Child main loop: read ``(fn, args)`` frames from stdin, answer ``("ok", result)`` or ``("err", exc)``."""
    proto_in, proto_out = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the simulator prints goes to stderr, never into the protocol
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    while header := proto_in.read(_HEADER.size):
        (size,) = _HEADER.unpack(header)
        fn, args = pickle.loads(proto_in.read(size))
        try:
            reply = pickle.dumps(("ok", fn(*args)))
        except Exception as e:  # sent back and raised in the parent
            try:
                reply = pickle.dumps(("err", e))
            except Exception:
                reply = pickle.dumps(("err", RuntimeError(f"{type(e).__name__}: {e}")))
        proto_out.write(_HEADER.pack(len(reply)) + reply)
        proto_out.flush()


if __name__ == "__main__":
    _serve()
