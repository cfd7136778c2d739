"""What both schedulers share: the rung ladder, its validation, and the rung records kept next to Tune's
experiment state so that ``Tuner.restore`` finds them again.

Ray Tune 2.60 does not checkpoint schedulers: ``Tuner.restore`` unpickles the scheduler as it was when
the ``Tuner`` was built (from ``tuner.pkl``) and re-adds the restored trials to it, so the rung records
of ASHA-style schedulers would be empty after a restore.  :class:`RungStore` therefore writes the
records to one JSON file beside Tune's experiment state after every decision, and a restored
scheduler takes back the records of exactly the trials Tune restores with results; a trial Tune
resumes from scratch then finds its earlier decisions and gets the same ones again.
"""

from __future__ import annotations

import json
import logging
import math
import os
from numbers import Real
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def check_ladder(time_attr: Any, max_t: Any, grace_period: Any, reduction_factor: Any) -> None:
    """Check the rung settings shared by both schedulers.

    Raises:
        ValueError: the first bad setting, named with what is allowed.
    """
    if not isinstance(time_attr, str) or not time_attr:
        raise ValueError(f"time_attr={time_attr!r} must be the name of a reported result column, e.g. 'fidelity_level'")
    for name, value in (("max_t", max_t), ("grace_period", grace_period), ("reduction_factor", reduction_factor)):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be a finite number")
    if reduction_factor <= 1:
        raise ValueError(f"reduction_factor={reduction_factor!r} must be > 1 (the fraction promoted is 1/reduction_factor)")
    if grace_period < 1:
        raise ValueError(f"grace_period={grace_period!r} must be >= 1 (the first rung's {time_attr})")
    if grace_period > max_t:
        raise ValueError(f"grace_period={grace_period!r} must be <= max_t={max_t!r}")


def rung_levels(grace_period: float, reduction_factor: float, max_t: float) -> list[float]:
    """The rungs: ``grace_period * reduction_factor**k`` below ``max_t`` (as in ASHA), lowest first."""
    levels, k = [], 0
    while grace_period * reduction_factor ** k < max_t:
        levels.append(grace_period * reduction_factor ** k)
        k += 1
    return levels


def level_of(result: dict, time_attr: str) -> float | None:
    """The result's ``time_attr`` as a number, or ``None`` if it has none (e.g. an error row)."""
    t = result.get(time_attr) if result else None
    if isinstance(t, bool) or not isinstance(t, Real) or not math.isfinite(t):
        return None
    return float(t)


class RungReport:
    """What both schedulers show Tune and the benchmark tables (a mixin before the Tune scheduler class)."""

    @property
    def metric(self) -> None:
        """``None`` for Tune: its result check takes one column name, and the objectives (:attr:`metrics`)
        are several raw columns, checked by the searcher."""
        return None

    def rung_counts(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def rungs_text(self, time_attr: str) -> str:
        """The rung counts in one line, for ``debug_string``."""
        *rungs, final = self.rung_counts()
        text = " | ".join(f"{time_attr}={c['level']:g}: {c['recorded']} recorded, {c['promoted']} promoted, "
                          f"{c['stopped']} stopped" for c in rungs)
        return f"{text or 'no rung below max_t'} | reached max_t={final['level']:g}: {final['recorded']}"


class RungStore:
    """A scheduler's rung records as one JSON file beside Tune's experiment state.

    The file lives in the driver's staging copy of the experiment directory, where Tune writes its
    own experiment state and the searcher's; Tune uploads that folder to the experiment directory at
    every experiment checkpoint and copies its ``.json`` files back before restoring a run.  So the
    records in the experiment directory are as recent as Tune's experiment state, or more recent.

    On restore, :meth:`claim` hands back the records of a trial only if Tune restored it with
    results.  Tune re-adds every restored trial before it creates a new one; a trial without results
    ends that phase, and the records not claimed by then are dropped: they belonged to trials that
    started after Tune's last checkpoint, which Tune lost (it even reuses their trial ids).

    Args:
        filename: the file's name inside the experiment directory.
        header: what the records depend on (metrics, levels, ...); a file with another header is ignored.
    """

    def __init__(self, filename: str, header: dict) -> None:
        self.filename, self.header = filename, header
        self.path: Path | None = None
        self.saved: dict[str, list[dict]] = {}  # trial id -> records read back, not yet claimed

    def claim(self, trial: Any) -> list[dict]:
        """Attach to ``trial``'s experiment (reading records a restored run left there) and return the
        saved records of ``trial`` if Tune restored it with results (else none)."""
        storage = getattr(trial, "storage", None)
        if storage is not None:
            path = Path(storage.experiment_driver_staging_path, self.filename)
            if path != self.path:
                self.path, self.saved = path, {}
                for rec in self._read():
                    self.saved.setdefault(rec["trial_id"], []).append(rec)
        if not getattr(trial, "has_reported_at_least_once", False):
            self.saved.clear()
            return []
        return self.saved.pop(trial.trial_id, [])

    def _read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError) as e:
            logger.warning(f"ignored the unreadable scheduler records {self.path}: {e}")
            return []
        if saved.get("header") != json.loads(json.dumps(self.header)):
            logger.warning(f"ignored the scheduler records {self.path}: written by another setup {saved.get('header')}")
            return []
        return list(saved.get("records", []))

    def write(self, records: list[dict]) -> None:
        """Replace the file with ``records`` plus the saved records not claimed yet (write a temporary
        file, then rename it over the old one)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        unclaimed = [rec for recs in self.saved.values() for rec in recs]
        tmp.write_text(json.dumps({"header": self.header, "records": records + unclaimed}))
        os.replace(tmp, self.path)
