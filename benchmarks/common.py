"""Helpers shared by the benchmarks: where they write their results, and timing summaries.

The machine line every benchmark prints is :func:`coflex_ray.machine.machine` (studies write it too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"  # benchmarks/results in the checkout, whatever the cwd


def summary(times_s: list[float]) -> str:
    """``median / p90 / max`` of a list of durations, in ms."""
    t = np.asarray(times_s) * 1e3
    return f"median {np.median(t):.1f} ms, p90 {np.percentile(t, 90):.1f} ms, max {t.max():.1f} ms (n={len(t)})"
