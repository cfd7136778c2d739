"""A Tune run's saved state checked, and mended from Tune's own staging copy, before the run resumes.

Tune (2.60) writes a run's state (``experiment_state-*.json``, ``search_gen_state-*.json``,
``searcher-state-*.pkl``, ``callback-states-*.pkl``, scheduler records) atomically into a driver
staging folder under Ray's temp folder, then *copies* the files into the run's folder
(``pyarrow.fs.copy_files``, not atomic).  A driver killed during that copy leaves a truncated file in
the run's folder.  ``Tuner.restore`` then fails half-way (the search wrapper's live trials restored,
the searcher not), logs "Restarting experiment" and waits forever for trials that no longer exist.
So a resume first checks every state file and mends an unreadable one from the killed driver's
staging copy, or stops with one clear error; and a restore Tune fails for any other reason (a
searcher whose saved state no longer fits it) raises instead of restarting
(:func:`restore_failures_raise`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["UnreadableRunState", "mend_saved_state", "restore_failures_raise", "unreadable_state_files"]


class UnreadableRunState(RuntimeError):
    """A run's saved state cannot be restored: a file is unreadable and no complete copy of it was
    found (:func:`mend_saved_state`), or Tune's restore failed on it (:func:`restore_failures_raise`)."""


def _readable(path: Path) -> bool:
    """Whether ``path`` holds a whole JSON document or a whole pickle (Tune writes both kinds,
    some pickles under a ``.json`` name)."""
    from ray import cloudpickle

    data = path.read_bytes()
    try:
        json.loads(data)
        return True
    except ValueError:
        pass
    try:
        cloudpickle.loads(data)
        return True
    except Exception:  # a truncated pickle raises EOFError, UnpicklingError, ValueError, ...
        return False


def _state_files(folder: Path) -> list[Path]:
    """The files of ``folder`` Tune reads back on restore: its top-level ``.json`` and ``.pkl``."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix in (".json", ".pkl"))


def unreadable_state_files(run: Path) -> list[Path]:
    """The state files of the Tune run folder ``run`` that are not a whole JSON document or pickle."""
    return [p for p in _state_files(run) if not _readable(p)]


def _temp_roots() -> list[Path]:
    """Where Ray keeps its sessions on this node: ``RAY_TMPDIR`` or the system temp folder, ``/ray``."""
    roots = [Path(os.environ["RAY_TMPDIR"]) / "ray"] if os.environ.get("RAY_TMPDIR") else []
    return roots + [Path(tempfile.gettempdir()) / "ray"]


def _staging_copy(run: Path, names: list[str], roots: list[Path]) -> Path | None:
    """The newest driver staging folder of ``run`` (any Ray session under ``roots``) that holds a
    readable copy of every file in ``names``, or ``None``."""
    found = [d for root in roots for d in root.glob(f"session_*/artifacts/*/{run.name}/driver_artifacts")]
    whole = [d for d in found if all((d / n).is_file() and _readable(d / n) for n in names)]
    return max(whole, key=lambda d: max((d / n).stat().st_mtime for n in names), default=None)


def mend_saved_state(run: Path, say: Callable[[str], None] = print,
                     temp_roots: list[Path] | None = None) -> list[str]:
    """Make every state file of the interrupted Tune run in ``run`` readable before it is restored.

    Args:
        run: the run's folder (``storage_path/name``, holding ``tuner.pkl``).
        say: where the one line about a mend goes.
        temp_roots: Ray temp folders to look for staging copies in (default: ``RAY_TMPDIR`` and the
            system temp folder, each with ``/ray``).

    Returns:
        The names of the files copied back from the staging folder (empty if all were readable).
        The staging folder's whole set of state files is copied, so the run resumes from one save.

    Raises:
        UnreadableRunState: a state file is unreadable and no staging folder on this node holds a
            readable copy of it; names the file, nothing is changed.
    """
    bad = unreadable_state_files(run)
    if not bad:
        return []
    roots = temp_roots if temp_roots is not None else _temp_roots()
    staging = _staging_copy(run, [p.name for p in bad], roots)
    if staging is None:
        raise UnreadableRunState(
            f"cannot resume the run in {run}: its saved state {', '.join(p.name for p in bad)} is unreadable "
            f"(the run was most likely killed while Tune copied it) and no Ray staging folder under "
            f"{', '.join(map(str, roots))} holds a readable copy; its finished trials stay in {run}, "
            "start the run afresh in another folder (or remove this one)")
    copied = []
    for src in _state_files(staging):
        if _readable(src):
            tmp = run / f".{src.name}.mending"
            shutil.copyfile(src, tmp)
            os.replace(tmp, run / src.name)
            copied.append(src.name)
    say(f"mended the unreadable saved state {', '.join(p.name for p in bad)} of {run} from Tune's staging "
        f"copy in {staging}")
    return copied


# Ray 2.60's TuneController logs this (with the exception) when its restore fails, then starts the
# experiment afresh over the same folder.
_TUNE_CONTROLLER_LOGGER = "ray.tune.execution.tune_controller"
_FAILED_RESTORE = "Failed to restore the run state"


class _RaiseOnFailedRestore(logging.Handler):
    def __init__(self, run: Path) -> None:
        super().__init__(logging.ERROR)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(_FAILED_RESTORE):
            cause = record.exc_info[1] if record.exc_info else None
            raise UnreadableRunState(
                f"Tune could not restore the run in {self.run} ({type(cause).__name__}: {cause}); stopped "
                "before it started the run afresh over the saved one, which is left as it was") from cause


@contextmanager
def restore_failures_raise(run: Path) -> Iterator[None]:
    """Within the block, a ``Tuner.restore(...).fit()`` whose restore fails raises
    :class:`UnreadableRunState` at once, before anything is written.

    Tune 2.60 logs the failure and restarts the experiment in the same folder (with
    ``FailureConfig(fail_fast=False)``, which a study needs so that one lost trial does not end its
    run); the restarted run overwrites the saved state, and a search wrapper restored half-way waits
    forever.  The handler raises from inside that log call, so the controller never starts.
    """
    handler = _RaiseOnFailedRestore(run)
    logger = logging.getLogger(_TUNE_CONTROLLER_LOGGER)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
