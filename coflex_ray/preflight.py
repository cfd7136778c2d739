"""Checks of a study's command line that need the file system, run before Ray starts.

* :func:`check_writable` - a path the study will create (``--out``, ``--hw-cache``) can be created:
  its nearest existing ancestor is a folder in which a folder can really be made (tried and
  removed again, so nothing is left behind; permission bits alone do not tell, e.g. for ``/proc``).
* :func:`lock_out` - one study per ``--out`` folder: an exclusive ``flock`` on ``OUT/.study.lock``,
  held until the process exits.  The kernel drops it when the process dies in any way (SIGKILL
  too), so a stale lock file never blocks ``--resume``.
* :func:`explain_probe` - a probe without one feasible configuration, said in one line with the
  most common failure reason and what to change.

Every failure is a :class:`ValueError` whose message names the value and what is allowed; the
command line prints it as one ``error: ...`` line and exits with code 2.  The command lines raise
:class:`UsageError`, a ValueError, for a bad flag or combination of flags.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable


class UsageError(ValueError):
    """A bad flag: printed as one line, exit code 2."""


def check_writable(path: str | os.PathLike, flag: str, folder: bool) -> Path:
    """``path`` as a Path if the study can create it (a folder if ``folder``, else a file), else ValueError."""
    p = Path(path).expanduser()
    what = "a folder" if folder else "a file"
    if p.exists():
        if folder != p.is_dir():
            raise ValueError(f"{flag} {path} exists and is not {what}; give {what} path")
        if not os.access(p if folder else p.parent, os.W_OK):
            raise ValueError(f"{flag} {path} is not writable; give a path you can write to")
        if folder:
            return p
    ancestor = p.parent.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{flag} {path}: {ancestor} is not a folder; give a path under a writable folder")
    parts = p.absolute().relative_to(ancestor).parts  # the folders (and file) still to be made
    top = parts[0] if folder or len(parts) > 1 else None
    try:  # really make (and remove) what the study would make first: the top missing folder, or a file
        if top is not None:
            os.mkdir(ancestor / top)
            os.rmdir(ancestor / top)
        else:
            fd, tmp = tempfile.mkstemp(dir=ancestor, prefix=".coflex-check-")
            os.close(fd)
            os.unlink(tmp)
    except OSError as e:
        raise ValueError(f"{flag} {path} cannot be created ({e.strerror} in {ancestor}); "
                         "give a path under a writable folder") from None
    return p


LOCK_NAME = ".study.lock"
_held: list[int] = []  # descriptors of the locks this process holds (closing one would release it)


def lock_out(out: Path) -> None:
    """Lock the study folder ``out`` for this process, or ValueError naming the study that holds it."""
    fd = os.open(Path(out) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "holder unknown"
        os.close(fd)
        raise ValueError(f"--out {out} is in use by another study ({holder}); wait for it to end or give "
                         "another --out") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
    _held.append(fd)


def explain_probe(rows: Iterable[dict[str, Any]], timeout_s: float | None) -> str:
    """One line for a probe with no feasible configuration: the commonest reason and what to change."""
    rows = list(rows)
    reasons = Counter(_reason(r.get("error") or "feasible=False") for r in rows if not r.get("feasible"))
    top, n = reasons.most_common(1)[0] if reasons else ("no rows", 0)
    if "timeout" in top:
        hint = f"raise --trial-timeout (now {timeout_s:g} s; 0 = no limit)" if timeout_s else "check the simulator"
    elif "infeasible" in top:
        hint = "use another --fidelity or give --bounds from an earlier study"
    else:
        hint = "check the evaluator setup (--nats-sss, --fidelity) or give --bounds from an earlier study"
    return (f"the bounds probe found no feasible configuration among {len(rows)}; most common failure "
            f"({n}/{len(rows)}): {top}; {hint}")


def _reason(error: str) -> str:
    """An error message without its per-config details (first clause, at most 120 characters)."""
    return error.split(" for ")[0].split(" (")[0][:120]
