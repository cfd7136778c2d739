"""Ctrl-C and SIGTERM stop a study, not a run.

The first SIGINT or SIGTERM (what ``timeout``, SLURM and cluster managers send) asks the study to
stop: a Tune run in progress ends through Tune's own graceful stop (its experiment state is saved,
so ``--resume`` continues it), nothing new starts, and the study raises :class:`StudyInterrupted`.
A second signal exits at once (code 130).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator


STOP_GRACE_S = 20.0  # seconds a Tune run gets to stop gracefully after the first signal


class StudyInterrupted(BaseException):
    """The study was stopped by a signal; what finished is saved and ``--resume`` continues it.

    A ``BaseException`` (like ``KeyboardInterrupt``), so that code catching a failed run's
    ``Exception`` does not swallow it.
    """

    def __init__(self, signame: str) -> None:
        super().__init__(f"stopped by {signame}")
        self.signame = signame


class StopSignals:
    """Signal handlers of a study (SIGINT, SIGTERM), installed by :meth:`install` in the main thread.

    Attributes:
        requested: the name of the first signal received, or None.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self.hint = ""  # printed if the stop cannot finish cleanly (how to resume)
        self._in_tune = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (a no-op outside the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return
        # Tune's own SIGINT handler would end the run as if it were finished; ours stops the study
        # and ends a Tune run through SIGUSR1, which Tune always handles as a graceful stop.
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        if hasattr(signal, "SIGUSR1"):  # until a Tune run installs its handler, SIGUSR1 must not kill us
            self._previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda *_: None)

    def uninstall(self) -> None:
        """Restore the handlers :meth:`install` replaced and forget a requested stop."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        self.requested = None

    @contextmanager
    def tuning(self) -> Iterator[None]:
        """While the body runs a ``Tuner.fit()``, a signal ends it gracefully instead of raising."""
        self._in_tune = True
        try:
            yield
        finally:
            self._in_tune = False

    def check(self) -> None:
        """Raise :class:`StudyInterrupted` if a stop was requested."""
        if self.requested:
            raise StudyInterrupted(self.requested)

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            print(f"\n{name} again: exiting now; the last saved state is kept. {self.hint}", file=sys.stderr,
                  flush=True)
            os._exit(130)
        self.requested = name
        print(f"\n{name}: stopping the study (runs that finished are saved; the run in progress is "
              "checkpointed for --resume); press Ctrl-C again to quit at once", file=sys.stderr, flush=True)
        if self._in_tune and hasattr(signal, "SIGUSR1"):
            # A signal sent to the whole process group (timeout, SLURM) also stops the local Ray's own
            # processes, and Tune's graceful stop then waits for them: exit on a watchdog instead,
            # keeping Tune's last saved experiment state (written every few seconds) for --resume.
            threading.Thread(target=self._watchdog, args=(name,), daemon=True).start()
            os.kill(os.getpid(), signal.SIGUSR1)  # Tune's graceful stop of the run in progress
        else:
            raise StudyInterrupted(name)

    def _watchdog(self, name: str) -> None:
        time.sleep(STOP_GRACE_S)
        print(f"\ninterrupted by {name}: the run in progress did not stop within {STOP_GRACE_S:g} s (Ray's own "
              "processes may have received the signal too); its last saved state is kept. " + self.hint,
              file=sys.stderr, flush=True)
        os._exit(130)


STOP = StopSignals()
