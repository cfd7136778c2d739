"""A study's identity: the settings that change what a run sees, so runs that differ in them are
never resumed into, merged with or ranked against each other.

``--out/study.json`` records them when a study starts; ``--resume`` checks them before Ray starts.
Seeds and searchers may differ (a resumed study can add or leave out some).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..preflight import UsageError

# flags (run_info.json "args" keys) that must agree; seeds, searchers, paths and cluster settings may differ
IDENTITY_ARGS = ("budget", "n_init", "dataset", "fidelity", "device", "network_evaluator", "nats_sss", "scheduler",
                 "fidelity_ladder", "grace", "reduction_factor", "lpf_limit", "concurrency", "minutes_per_run",
                 "constraint")
IDENTITY_KEYS = ("benchmark", "accuracy_source")
FILE = "study.json"


def identity(record: dict[str, Any], benchmark: str, accuracy_source: str) -> dict[str, Any]:
    """The identity of a study from its recorded flags (``StudyConfig.record()``)."""
    return {"benchmark": benchmark, "accuracy_source": accuracy_source,
            "args": {k: record.get(k) for k in IDENTITY_ARGS}}


def saved_identity(out: Path) -> dict[str, Any] | None:
    """The identity a study in ``out`` started with (``study.json``, else a finished study's
    ``run_info.json``), or None if neither is there."""
    for name in (FILE, "run_info.json"):
        path = Path(out) / name
        if path.is_file():
            info = json.loads(path.read_text())
            return {"benchmark": info.get("benchmark"), "accuracy_source": info.get("accuracy_source"),
                    "args": {k: info.get("args", {}).get(k) for k in IDENTITY_ARGS}}
    return None


def check_resume(out: Path, new: dict[str, Any]) -> None:
    """Check that a study resumed in ``out`` is the one that was started there.

    Raises:
        UsageError: naming the first setting that differs, both values, and the way out.
    """
    old = saved_identity(out)
    if old is None:
        return
    for key in IDENTITY_KEYS:
        if old.get(key) is not None and old[key] != new[key]:
            raise UsageError(f"--resume: the study in {out} has {key} {old[key]!r}, this command {new[key]!r}; "
                             "resume it with its own settings, or give a new --out")
    for key in IDENTITY_ARGS:
        was, now = old["args"].get(key), new["args"].get(key)
        if key in old["args"] and was != now:
            raise UsageError(f"--resume: the study in {out} ran with --{key.replace('_', '-')} {was!r}, this "
                             f"command has {now!r}; resume it with --{key.replace('_', '-')} {was!r}, or give "
                             "a new --out")


def write(out: Path, ident: dict[str, Any]) -> None:
    """Record ``ident`` in ``out/study.json`` unless a study there already did."""
    path = Path(out) / FILE
    if not path.exists():
        path.write_text(json.dumps(ident, indent=2, default=str))
