#!/usr/bin/env python3
"""Check every tagged number in docs/results.md against the study output it was read from.

Usage::

    python benchmarks/check_results.py                       # docs/results.md vs benchmarks/results/
    python benchmarks/check_results.py --results-dir DIR     # read benchmarks/results/<name>/ from DIR/<name>/
    python benchmarks/check_results.py --verbose FILE.md ... # other Markdown files; list unchecked columns

Exit code 0 when every checked number matches its CSV, 1 on any mismatch or missing file, row or
value, 2 on bad usage. Needs only the standard library and pandas.

Tag format
----------
A Markdown table is checked when the line above it (blank lines may sit between) is a tag::

    <!-- source: benchmarks/results/<name>/summary.csv -->
    <!-- source: per-row -->

With a path, every row is checked against that ``summary.csv`` and, for the columns that need
them, the ``rank_tests.csv`` and ``per_run.csv`` in the same folder. With ``per-row``, the table
has an ``output folder`` column whose cell names each row's folder (``benchmarks/results/<name>/``).

The **first column** holds the searcher's name exactly as in the CSV's ``searcher`` column
(``coflex``, ``qnehvi``, ``optuna-gp``, ...; Markdown bold is allowed). Other columns are checked
by their header (compared in lower case, ignoring ``*`` and backticks):

=====================  ===================  =====================================================
header                 cell                 checked against
=====================  ===================  =====================================================
``HV frac``            ``0.760 [0.100]``    summary.csv ``hv_frac_median`` [``hv_frac_iqr``]
``IGD+``               ``0.117 [0.052]``    summary.csv ``igd_plus_ref_median`` [``igd_plus_ref_iqr``]
``HV``                 ``1.05 [0.02]``      summary.csv ``hv_median`` [``hv_iqr``]
``p HV frac / IGD+``   ``0.36 / 0.45``      rank_tests.csv ``p_mannwhitney`` of the row ``ours`` vs
                                            ``other`` = this searcher, metric ``hv_frac`` /
                                            ``igd_plus_ref`` (the ``ours`` row itself: ``-``)
``seeds``              ``10``               summary.csv ``seeds``
``wall s``             ``36``               summary.csv ``wall_s_median``
``suggest s``          ``24.9``             summary.csv ``suggest_s_median``
``feasible trials``    ``280 / 300``        per_run.csv: sum of ``n_trials - n_infeasible`` /
                                            sum of ``n_trials`` over the searcher's runs
=====================  ===================  =====================================================

The bracketed IQR is optional. A cell that is empty or ``-`` is not checked. Columns with any
other header (benchmark names, options, notes) are not checked, so write numbers that come from
a CSV only under the headers above. Cells must not contain ``|``.

A written number ``x`` matches a CSV value ``v`` when ``x`` is ``v`` rounded: ``|v - x| <= 0.5 *
10**-d`` where ``d`` is the number of decimals written (``5.4e-06``: ``d = 1 + 6``; ``1,000``: 0).

Regenerating: a study writes ``summary.csv``, ``per_run.csv`` and ``rank_tests.csv`` to its
``--out`` folder; ``python -m benchmarks merge-studies`` writes them for joined studies. Re-run the
command a table names, copy the new numbers into docs/results.md, then run this script.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "benchmarks/results/"
TAG = re.compile(r"^\s*<!--\s*source:\s*(\S+)\s*-->\s*$")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

# header -> (file, what); see the module docstring
COLUMNS = {
    "hv frac": ("summary", ("hv_frac_median", "hv_frac_iqr")),
    "igd+": ("summary", ("igd_plus_ref_median", "igd_plus_ref_iqr")),
    "hv": ("summary", ("hv_median", "hv_iqr")),
    "p hv frac / igd+": ("rank_tests", ("hv_frac", "igd_plus_ref")),
    "seeds": ("summary", ("seeds",)),
    "wall s": ("summary", ("wall_s_median",)),
    "suggest s": ("summary", ("suggest_s_median",)),
    "feasible trials": ("per_run", ()),
}
FOLDER_HEADER = "output folder"


@dataclass
class Report:
    checked: int = 0
    tables: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # files already reported as unreadable


def norm(text: str) -> str:
    return " ".join(text.replace("*", "").replace("`", "").strip().lower().split())


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def numbers(text: str) -> list[str]:
    return NUMBER.findall(THOUSANDS.sub("", text.replace("`", "")))


def matches(written: str, value: float) -> bool:
    """``written`` (as in the document) is ``value`` rounded to the digits written."""
    x = float(written)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    mantissa, _, exponent = written.lower().partition("e")
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    decimals -= int(exponent) if exponent else 0
    return abs(float(value) - x) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9) + 1e-12


def local(path: str, results_dir: Path | None) -> Path:
    path = path.strip().strip("`")
    if results_dir is not None and path.startswith(PREFIX):
        return results_dir / path[len(PREFIX):]
    return ROOT / path


class Study:
    """The CSVs of one output folder, read on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder, self._frames = folder, {}

    def frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = pd.read_csv(self.folder / f"{name}.csv")
        return self._frames[name]


def expected(study: Study, kind: str, keys: tuple[str, ...], searcher: str) -> list[tuple[str, float | None]]:
    """(label, value) pairs a cell of this column holds, in order."""
    if kind == "summary":
        df = study.frame("summary")
        row = df[df["searcher"] == searcher]
        if row.empty:
            raise LookupError(f"no searcher {searcher!r} in {study.folder / 'summary.csv'}")
        return [(k, row.iloc[0][k] if k in df else None) for k in keys]
    if kind == "rank_tests":
        df = study.frame("rank_tests")
        if (df["ours"] == searcher).any():
            return []  # the searcher the others are tested against: "-"
        out = []
        for metric in keys:
            hit = df[(df["other"] == searcher) & (df["metric"] == metric)]
            if hit.empty:
                raise LookupError(f"no rank test of {searcher!r} on {metric} in {study.folder / 'rank_tests.csv'}")
            out.append((f"p {metric}", float(hit.iloc[0]["p_mannwhitney"])))
        return out
    df = study.frame("per_run")
    runs = df[df["searcher"] == searcher]
    if runs.empty:
        raise LookupError(f"no runs of {searcher!r} in {study.folder / 'per_run.csv'}")
    total = int(runs["n_trials"].sum())
    return [("feasible", total - int(runs["n_infeasible"].sum())), ("trials", total)]


def check_table(doc: Path, lineno: int, source: str, lines: list[str], results_dir: Path | None,
                report: Report, verbose: bool) -> None:
    where = f"{doc.name}:{lineno}"
    header = [norm(c) for c in cells(lines[0])]
    body = [cells(line) for line in lines[2:]]
    checked_cols = [i for i, h in enumerate(header) if i > 0 and h in COLUMNS]
    if not checked_cols:
        report.errors.append(f"{where}: tagged table has no checkable column (headers: {header})")
        return
    if verbose:
        skipped = [h for i, h in enumerate(header) if i > 0 and i not in checked_cols]
        if skipped:
            report.notes.append(f"{where}: not checked: {', '.join(skipped)}")
    per_row = source == "per-row"
    if per_row and FOLDER_HEADER not in header:
        report.errors.append(f"{where}: 'source: per-row' needs an '{FOLDER_HEADER}' column")
        return
    studies: dict[Path, Study] = {}
    report.tables += 1
    for row in body:
        if len(row) != len(header):
            report.errors.append(f"{where}: row {row[:1]} has {len(row)} cells, header {len(header)}")
            continue
        searcher = norm(row[0])
        if per_row:
            folder = local(row[header.index(FOLDER_HEADER)], results_dir)
        else:
            folder = local(source, results_dir).parent
        study = studies.setdefault(folder, Study(folder))
        for i in checked_cols:
            text = row[i].replace("*", "").strip()
            if text in ("", "-"):
                continue
            kind, keys = COLUMNS[header[i]]
            try:
                want = expected(study, kind, keys, searcher)
            except OSError as err:
                if str(err) not in report.missing:
                    report.missing.add(str(err))
                    report.errors.append(f"{where}: {err}")
                continue
            except (LookupError, KeyError) as err:
                report.errors.append(f"{where}: {searcher} / {header[i]}: {err}")
                continue
            got = numbers(text)
            if not got or len(got) > len(want):
                report.errors.append(f"{where}: {searcher} / {header[i]}: cell {text!r} does not fit "
                                     f"{[k for k, _ in want] or ['-']}")
                continue
            for written, (label, value) in zip(got, want):
                report.checked += 1
                if not matches(written, value):
                    shown = "missing" if value is None else repr(float(value))
                    report.errors.append(f"{where}: {searcher} / {header[i]}: wrote {written}, "
                                         f"{folder.name}: {label} = {shown}")


def check_doc(doc: Path, results_dir: Path | None, report: Report, verbose: bool) -> None:
    lines = doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        tag = TAG.match(lines[i])
        i += 1
        if not tag:
            continue
        start = i
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].lstrip().startswith("|"):
            report.errors.append(f"{doc.name}:{start}: tag not followed by a table")
            continue
        first = i
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            i += 1
        check_table(doc, first + 1, tag.group(1), lines[first:i], results_dir, report, verbose)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("docs", nargs="*", type=Path, default=[ROOT / "docs" / "results.md"],
                   help="Markdown files to check (default: docs/results.md)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help=f"read '{PREFIX}<name>/' from DIR/<name>/ (default: the repository's {PREFIX})")
    p.add_argument("--verbose", action="store_true", help="also list the columns that are not checked")
    args = p.parse_args(argv)
    report = Report()
    for doc in args.docs:
        if not doc.is_file():
            print(f"error: no such file: {doc}", file=sys.stderr)
            return 2
        check_doc(doc, args.results_dir, report, args.verbose)
    for note in report.notes:
        print(f"note: {note}")
    for err in report.errors:
        print(f"MISMATCH {err}")
    verdict = "FAILED" if report.errors else "ok"
    print(f"{verdict}: {report.checked} numbers in {report.tables} tables checked, {len(report.errors)} problems")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
