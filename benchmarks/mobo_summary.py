"""The summary of ``python -m benchmarks mobo``: log hypervolume gaps per problem and searcher, and rank tests.

Per batch size and checkpoint (50 evaluations and the budget): a table of problems x searchers,
each cell the median [25th, 75th percentile] over seeds of ``log10(max_hv - HV)`` (lower is better)
and, for every searcher but ``coflex``, the two-sided Mann-Whitney U test's p-value of ``coflex``
against it on the same problem (``scipy.stats.mannwhitneyu``; ``-`` with fewer than two seeds on a
side); then the median searcher seconds per run.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

REFERENCE = "coflex"


def _cell(x: list[float]) -> str:
    if not x:
        return "-"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return f"{med:.2f} [{q1:.2f}, {q3:.2f}]"


def _p(a: list[float], b: list[float]) -> str:
    from scipy.stats import mannwhitneyu

    if len(a) < 2 or len(b) < 2:
        return "-"
    return f"{mannwhitneyu(a, b, alternative='two-sided').pvalue:.2g}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def summary(records: list[dict[str, Any]], budget: int) -> str:
    """The markdown summary of the run records of :func:`benchmarks.mobo.run_all`."""
    from .mobo import checkpoints

    gaps: dict[tuple, list[float]] = defaultdict(list)  # (batch, n, problem, searcher) -> gaps over seeds
    secs: dict[tuple, list[float]] = defaultdict(list)  # (batch, problem, searcher) -> searcher seconds
    problems, searchers, batches = {}, {}, {}
    for r in records:
        problems[r["problem"]] = searchers[r["searcher"]] = batches[r["batch"]] = None
        for n, g in r["log10_gap"].items():
            gaps[r["batch"], int(n), r["problem"], r["searcher"]].append(g)
        secs[r["batch"], r["problem"], r["searcher"]].append((r["searcher_s"], r["searcher_cpu_s"]))
    above = sum(r["above_max_hv"] for r in records)
    fallbacks = sum(r["fallbacks"] or 0 for r in records)
    seeds = sorted({r["seed"] for r in records})
    lines = ["# Standard multi-objective problems: log10(max HV - HV)", "",
             f"{len(records)} runs, seeds {seeds}, budget {budget}; cells: median [25th, 75th percentile] over "
             f"seeds, lower is better; p: two-sided Mann-Whitney U, {REFERENCE} vs the column's searcher.  "
             + (f"The 50-evaluation values are the first 50 evaluations of the {budget}-evaluation runs.  "
                if budget > 50 else "")
             + f"Runs above a best-known max HV: {above}; model batches that fell back to random points: "
             f"{fallbacks}."]
    for b in batches:
        for n in checkpoints(budget):
            lines += ["", f"## batch {b}, {n} evaluations", ""]
            head = ["problem"] + [s if s == REFERENCE else f"{s} (p)" for s in searchers]
            rows = []
            for pr in problems:
                ref = gaps[b, n, pr, REFERENCE]
                rows.append([pr] + [_cell(gaps[b, n, pr, s]) + ("" if s == REFERENCE else f" ({_p(ref, gaps[b, n, pr, s])})")
                                    for s in searchers])
            lines += _table(head, rows)
        lines += ["", f"## batch {b}: searcher seconds per run, wall-clock / CPU (median over seeds)", ""]
        lines += _table(["problem"] + list(searchers),
                        [[pr] + [" / ".join(f"{np.median(v):.1f}" for v in zip(*secs[b, pr, s])) if secs[b, pr, s]
                                 else "-" for s in searchers] for pr in problems])
    return "\n".join(lines)
