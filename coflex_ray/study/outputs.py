"""What a study leaves behind: the tables, rank tests, plots and run info of its finished runs, and
the ``[failed]`` line of a run that did not finish."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from ..registry import library_version


def failed_line(name: str, seed: int, e: BaseException) -> str:
    """Print and return the ``[failed]`` line of a run: the searcher's library and version, and the
    library the exception was raised in when that is another one."""
    where = raised_in(e)
    lib = library_version(name)
    line = (f"[failed] {name:<13} seed {seed} ({lib}" + (f"; raised in {where}" if where and where != lib else "")
            + f"): {type(e).__name__}: {str(e)[:300]}")
    print(line, flush=True)
    return line


def raised_in(e: BaseException) -> str | None:
    """``"<distribution> <version>"`` of the installed library whose code raised ``e`` (the innermost
    traceback frame outside the standard library and this package), or None."""
    import sysconfig
    import traceback
    from importlib.metadata import packages_distributions, version

    site = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        root = next((r for r in site if frame.filename.startswith(r)), None)
        if root is None:
            continue
        top = frame.filename[len(root):].lstrip("/").split("/")[0].removesuffix(".py")
        dists = packages_distributions().get(top)
        if dists and dists[0] != "coflex-ray":
            try:
                return f"{dists[0]} {version(dists[0])}"
            except Exception:  # noqa: BLE001 - a message helper must never raise
                return dists[0]
    return None


def write_outputs(results: pd.DataFrame, bounds: dict, bounds_source: str, out: Path, err_label: str,
                  meta: dict, reference=None, constraints: dict | None = None) -> pd.DataFrame:
    """Tidy table (Parquet + CSV), per-run and summary tables, rank tests, run info, plots; print them.

    ``reference``: the benchmark's reference front (:mod:`coflex_ray.reference_fronts`), or None
    where none exists yet (then only the study-relative indicators are reported, and the output
    says so).  ``constraints``: the study's outcome constraints ``{metric: (op, bound)}``; the tidy
    table gains a ``meets_constraints`` column, and every indicator, front and plot counts only the
    rows that meet them (per run, ``n_violating`` counts the feasible rows that do not).
    (``bounds.json`` is written by the caller when the bounds are fixed, before any run.)"""
    import json
    import platform

    from ..analysis import (constrained_view, final_rows, fidelity_table, format_rank_tests, format_summary,
                            hw_metric, meets_constraints, per_run_table, rank_tests, summary_table)
    from ..plots import plot_all

    if constraints:
        results = results.assign(meets_constraints=meets_constraints(results, constraints))
    results.to_parquet(out / "results.parquet", index=False)
    results.to_csv(out / "results.csv", index=False)
    raw, results = results, constrained_view(results, constraints)
    per_run = per_run_table(results, bounds, reference)
    if constraints:
        top = final_rows(raw)
        violating = (top["feasible"].astype(bool) & ~top["meets_constraints"]).groupby(
            [top["searcher"], top["seed"]], sort=False).sum().rename("n_violating").reset_index()
        per_run = per_run.merge(violating, on=["searcher", "seed"], how="left")
    per_run.to_csv(out / "per_run.csv", index=False)
    summary = summary_table(per_run)
    summary.to_csv(out / "summary.csv")
    tests = rank_tests(per_run) if reference is not None else None
    if tests is not None and tests.empty:  # no CoflexSearch runs in this report: nothing to test
        tests = None
    if tests is not None:
        tests.to_csv(out / "rank_tests.csv", index=False)
    else:  # a table from an earlier report of this folder must not outlive it
        (out / "rank_tests.csv").unlink(missing_ok=True)
    ref_text = (f"{reference.kind} reference front: {reference.source}" if reference is not None else
                "no reference front for this benchmark yet: HV fraction / IGD+ against it not computed")
    (out / "run_info.json").write_text(json.dumps({**meta, "reference_front": ref_text,
                                                   "python": platform.python_version(),
                                                   "versions": _versions()}, indent=2, default=str))
    figs = plot_all(final_rows(results), bounds, out, err_label)  # multi-fidelity: the top rung only
    fid = fidelity_table(results) if "fidelity_level" in results else None
    if fid is not None:
        fid.to_csv(out / "fidelity.csv", index=False)
    cons = ("; only results meeting " + ", ".join(f"{m} {op} {b:g}" for m, (op, b) in constraints.items())
            + " count (fronts, HV, best values)") if constraints else ""
    print(f"\nsummary: median [IQR] over seeds; HV of (err, log10 {hw_metric(bounds)}) normalised by {bounds_source}, "
          f"reference point 1.1; IGD/IGD+ against the union front of all methods; {ref_text}{cons}")
    print(format_summary(summary))
    if tests is not None:
        print("\n" + format_rank_tests(tests))
    if fid is not None:
        print("\nmulti-fidelity: HV, IGD+ and fronts above count the top rung only; evaluations per rung and "
              "time used per run (sim_time_s: every rung's evaluation time; train_time_s: simulated training):")
        print(fid.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"\nwritten to {out}: results.parquet/csv, per_run.csv, summary.csv, "
          + ("fidelity.csv, " if fid is not None else "") + ("rank_tests.csv, " if tests is not None else "") + "bounds.json, run_info.json, "
          + ", ".join(p.name for p in figs))
    return summary


# every library whose version can change a study's numbers (run_info.json records them)
RESULT_LIBRARIES = ("coflex-ray", "ray", "torch", "botorch", "gpytorch", "linear_operator", "pymoo", "moocore",
                    "optuna", "hyperopt", "greenlet", "zigzag-dse", "scalesim", "numpy", "scipy", "pandas", "pyarrow",
                    "scikit-learn", "scikit-image", "networkx", "onnx", "cloudpickle")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in RESULT_LIBRARIES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
