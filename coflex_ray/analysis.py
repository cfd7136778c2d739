"""From Ray Tune result tables to multi-objective quality indicators, summaries and plots.

Shared by every experiment.  Conventions (all objectives minimised):

* **Objective space**: ``err`` as reported and ``log10`` of the hardware objective, ``edp`` (EDP
  spans several decades) or, for measured device latencies, ``latency_ms`` (:data:`HW_METRICS`).
* **Normalisation**: fixed bounds per study, ``{"err": [lo, hi], "log10_edp": [lo, hi]}`` (or
  ``log10_latency_ms``), written to ``bounds.json`` next to the results; a value maps to
  ``(v - lo) / (hi - lo)``.  The same bounds serve every method and seed, so indicators are
  comparable across them.  The bounds' keys also say which hardware objective a study used.
* **Hypervolume**: moocore's exact hypervolume of the feasible points in the normalised space with
  the fixed reference point ``REF = 1.1`` in every coordinate (1.1 x the nadir of the normalised
  box).  Points beyond the reference contribute nothing.
* **IGD / IGD+**: pymoo's indicators, in the normalised space, against a reference front that is
  the non-dominated union of every feasible point every method found in the study.
* **Against a benchmark's reference front** (:mod:`coflex_ray.reference_fronts`; exact where the
  tables allow): objectives normalised by that front's ideal and nadir, ``hv_frac`` = a run's HV as a
  fraction of the front's own HV (reference point 1.1), ``igd_plus_ref`` = IGD+ to that front, and
  the evaluations a run needed to reach 90 % / 95 % of the front's HV (NaN: never reached).
  :func:`rank_tests` compares one searcher with every other over seeds (Mann-Whitney U).
* **Multi-fidelity studies** (rows with ``fidelity_level``, one per rung of a multi-step trial):
  every indicator, front and plot counts only the rows at the top rung (:func:`final_rows`), so a
  low-fidelity result never enters HV, IGD+ or a front; :func:`fidelity_table` tells per run the
  evaluations spent at each rung and the simulator / (simulated) training time used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .searchers.pareto import REF, hypervolume, nondominated  # one home for Pareto helpers (re-exported here)

HW_METRICS = {"edp": "EDP (uJ*ms)", "latency_ms": "latency (ms)"}  # column -> axis label


def check_hw(hw: str) -> str:
    if hw not in HW_METRICS:
        raise ValueError(f"unknown hardware objective {hw!r}; allowed: {', '.join(HW_METRICS)}")
    return hw


def objectives(hw: str = "edp") -> tuple[str, str]:
    """Names of the two normalised objectives: ``("err", "log10_<hw>")``."""
    return ("err", f"log10_{check_hw(hw)}")


def hw_metric(bounds: dict) -> str:
    """The hardware objective a bounds dict is for (its ``log10_*`` key)."""
    keys = [k.removeprefix("log10_") for k in bounds if k.startswith("log10_")]
    if len(keys) != 1:
        raise ValueError(f"bounds need 'err' and exactly one of "
                         f"{', '.join('log10_' + h for h in HW_METRICS)}; got keys {sorted(bounds)}")
    return check_hw(keys[0])


def objective_matrix(df: pd.DataFrame, hw: str = "edp") -> np.ndarray:
    """``(err, log10 hw)`` of the feasible rows of a result table."""
    ok = df[df["feasible"].astype(bool)]
    return np.column_stack([ok["err"].to_numpy(float), np.log10(ok[check_hw(hw)].to_numpy(float))])


def bounds_from(df: pd.DataFrame, hw: str = "edp") -> dict[str, list[float]]:
    """Bounds spanning the feasible points of ``df`` (used when no fixed bounds are given)."""
    Y = objective_matrix(df, hw)
    if len(Y) == 0:
        raise ValueError("no feasible results to derive objective bounds from")
    return bounds_of(Y, hw)


def bounds_of(Y: np.ndarray, hw: str = "edp") -> dict[str, list[float]]:
    """Bounds spanning the points ``Y`` (objective space); a constant objective gets a unit range so
    the normalisation stays defined."""
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    return {k: [float(a), float(b)] for k, a, b in zip(objectives(hw), lo, hi)}


def normalise(Y: np.ndarray, bounds: dict[str, Sequence[float]]) -> np.ndarray:
    names = objectives(hw_metric(bounds))
    lo = np.array([bounds[k][0] for k in names])
    hi = np.array([bounds[k][1] for k in names])
    return (np.asarray(Y, dtype=float) - lo) / (hi - lo)


def save_bounds(path: Path, bounds: dict, source: str) -> None:
    Path(path).write_text(json.dumps({"bounds": bounds, "source": source, "reference_point": REF,
                                      "objectives": list(objectives(hw_metric(bounds)))}, indent=2))


def load_bounds(path: str | Path, hw: str | None = None) -> dict[str, list[float]]:
    """Read bounds from a ``bounds.json`` written by :func:`save_bounds` (or a bare bounds dict).

    Args:
        path: the file.
        hw: the study's hardware objective; the bounds must be for it.

    Returns:
        ``{"err": [lo, hi], "log10_<hw>": [lo, hi]}`` with finite ``lo < hi``.

    Raises:
        ValueError: an unreadable file, a JSON shape other than that, non-finite or unordered
            values, or bounds for another hardware objective; the message names the file.
    """
    import math

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read objective bounds from {path}: {e}") from e
    b = data.get("bounds", data) if isinstance(data, dict) else data
    if not isinstance(b, dict):
        raise ValueError(f"bounds file {path}: expected a JSON object like {{\"err\": [lo, hi], "
                         f"\"log10_edp\": [lo, hi]}}, got a JSON {type(b).__name__}")
    try:
        found = hw_metric(b)
    except ValueError as e:
        raise ValueError(f"bounds file {path}: {e}") from e
    if hw is not None and found != hw:
        raise ValueError(f"bounds file {path} is for log10_{found}, but this study's hardware objective is {hw}")
    for k in objectives(found):
        v = b.get(k)
        ok = (isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)
              and all(math.isfinite(x) for x in v) and v[0] < v[1])
        if not ok:
            raise ValueError(f"bounds file {path}: needs {k!r}: [lo, hi] with finite numbers lo < hi, got {v!r}")
    return {k: [float(b[k][0]), float(b[k][1])] for k in objectives(found)}


def check_bounds_plausible(bounds: dict[str, list[float]], probe: pd.DataFrame, hw: str, source: str) -> None:
    """Check that bounds from elsewhere fit this study: each objective's range over a few feasible
    probe evaluations must overlap ``[lo, hi]``.

    Raises:
        ValueError: an objective whose probe values all lie outside its bounds, naming both ranges.
    """
    good = probe[probe["feasible"].astype(bool)] if "feasible" in probe else probe
    if good.empty:
        return
    values = {"err": good["err"].astype(float), f"log10_{hw}": np.log10(good[hw].astype(float))}
    for k, v in values.items():
        lo, hi = bounds[k]
        if v.max() < lo or v.min() > hi:
            raise ValueError(f"{source}: {k} bounds [{lo:.4g}, {hi:.4g}] do not fit this study: {len(v)} "
                             f"evaluated configurations span [{v.min():.4g}, {v.max():.4g}]; give the bounds of a "
                             "study of this benchmark, dataset and hardware objective, or drop --bounds")


def meets_constraints(results: pd.DataFrame, constraints: Mapping[str, tuple[str, float]] | None) -> pd.Series:
    """Per row: feasible and meeting every outcome constraint ``{metric: (op, bound)}`` (``op``
    ``"<="`` or ``">="``); the ``feasible`` column itself without constraints.

    Raises:
        ValueError: a constrained metric is not a column of ``results``.
    """
    ok = results["feasible"].astype(bool)
    for metric, (op, bound) in (constraints or {}).items():
        if metric not in results:
            raise ValueError(f"constraint on {metric!r}: no such column; columns: {', '.join(results.columns)}")
        v = pd.to_numeric(results[metric], errors="coerce")
        ok &= (v <= bound) if op == "<=" else (v >= bound)
    return ok


def check_constraints_met(probe: pd.DataFrame, constraints: Mapping[str, tuple[str, float]] | None) -> None:
    """Check that each outcome constraint holds on at least one feasible probe configuration.

    Why: a bound that no configuration of a fixed-seed random sample meets is most often a typo or
    a unit mix-up (ms vs s, pJ vs mJ); the study stops before any run instead of searching blind.

    Raises:
        ValueError: naming the first constraint no probe result meets, with the probe's range of
            that metric.
    """
    ok = probe[probe["feasible"].astype(bool)] if "feasible" in probe else probe
    for metric, (op, bound) in (constraints or {}).items():
        v = pd.to_numeric(ok[metric], errors="coerce").dropna() if metric in ok else pd.Series(dtype=float)
        if not ((v <= bound) if op == "<=" else (v >= bound)).any():
            seen = f"from {v.min():.4g} to {v.max():.4g}" if len(v) else "no value"
            raise ValueError(f"--constraint {metric}{op}{bound:g}: none of the {len(probe)} probe configurations "
                             f"meets it ({metric} {seen} over the {len(ok)} feasible ones); allowed: a bound that "
                             "some configuration meets")


def constrained_view(results: pd.DataFrame, constraints: Mapping[str, tuple[str, float]] | None) -> pd.DataFrame:
    """``results`` as the indicators see them under outcome constraints: a row that violates one
    counts as not feasible (kept off fronts, HV and best values); unchanged without constraints."""
    if not constraints:
        return results
    return results.assign(feasible=meets_constraints(results, constraints))


def final_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows at the final fidelity: those with ``fidelity_level == fidelity_max_level`` in a
    multi-fidelity table; every row of a table without a ladder."""
    if "fidelity_level" not in results:
        return results
    return results[results["fidelity_level"] == results["fidelity_max_level"]]


def fidelity_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per (searcher, seed) of a multi-fidelity table: ``trials``, ``evals_<fidelity>`` (rows reported
    at each rung, in ladder order), ``failed_rows``, ``sim_time_s`` (sum of every row's
    ``eval_time_s``: simulator plus lookup time actually spent, cache hits included) and, for epoch
    ladders, ``train_time_s`` (the simulated training time the trials used: per trial the time up to
    the last epoch it reached, summed)."""
    labels = (results.drop_duplicates("fidelity_level").sort_values("fidelity_level")["fidelity"].tolist())
    rows = []
    for (s, seed), run in results.groupby(["searcher", "seed"], sort=False):
        row = {"searcher": s, "seed": seed, "trials": int(run["trial_id"].nunique())}
        for level, label in enumerate(labels, start=1):
            row[f"evals_{label}"] = int((run["fidelity_level"] == level).sum())
        row["failed_rows"] = int((~run["feasible"].astype(bool)).sum())
        row["sim_time_s"] = float(run["eval_time_s"].sum())
        if "train_time_s" in run:
            row["train_time_s"] = float(run.groupby("trial_id")["train_time_s"].max().sum())
        rows.append(row)
    return pd.DataFrame(rows)


def reference_front(results: pd.DataFrame, bounds: dict) -> np.ndarray:
    """Normalised non-dominated union of everything every method found (IGD reference)."""
    Y = normalise(objective_matrix(results, hw_metric(bounds)), bounds)
    return np.unique(Y[nondominated(Y)], axis=0)


def hv_curve(run: pd.DataFrame, bounds: dict) -> np.ndarray:
    """Hypervolume after each evaluation of one run (rows in completion order)."""
    run = run.sort_values("completed_at")
    Y = iter(normalise(objective_matrix(run, hw_metric(bounds)), bounds))  # the feasible rows, in the same order
    out, pts, ref = [], np.zeros((0, 2)), [REF] * 2
    for feasible in run["feasible"].astype(bool):
        if feasible:
            pts = np.vstack([pts, next(Y)])
            pts = pts[nondominated(pts)]
        out.append(hypervolume(pts, ref))
    return np.array(out)


def run_metrics(run: pd.DataFrame, bounds: dict, front: np.ndarray) -> dict[str, float]:
    """Final indicators of one (searcher, seed) run."""
    from pymoo.indicators.igd import IGD
    from pymoo.indicators.igd_plus import IGDPlus

    hw = hw_metric(bounds)
    Y = normalise(objective_matrix(run, hw), bounds)
    curve = hv_curve(run, bounds)
    final = float(curve[-1]) if len(curve) else 0.0
    reach = int(np.argmax(curve >= 0.95 * final)) + 1 if final > 0 else len(curve)
    ok = run[run["feasible"].astype(bool)]
    return {
        "hv": final,
        "igd": float(IGD(front)(Y[nondominated(Y)])) if len(Y) else float("nan"),
        "igd_plus": float(IGDPlus(front)(Y[nondominated(Y)])) if len(Y) else float("nan"),
        "best_err": float(ok["err"].min()) if len(ok) else float("nan"),
        f"best_{hw}": float(ok[hw].min()) if len(ok) else float("nan"),
        "evals_to_95pct_hv": reach,
        "n_trials": len(run),
        "n_infeasible": int((~run["feasible"].astype(bool)).sum()),
        "wall_s": float(run["run_wall_s"].iloc[0]) if "run_wall_s" in run else float("nan"),
        "suggest_s": float(run["suggest_s"].iloc[0]) if "suggest_s" in run else float("nan"),
    }


def reference_metrics(run: pd.DataFrame, reference) -> dict[str, float]:
    """Indicators of one run against a benchmark's reference front (a
    :class:`coflex_ray.reference_fronts.ReferenceFront`), in its ideal/nadir normalisation."""
    from pymoo.indicators.igd_plus import IGDPlus

    bounds, front_hv = reference.bounds, reference.hv
    Y = normalise(objective_matrix(run, reference.hw), bounds)
    curve = hv_curve(run, bounds)
    out = {"hv_frac": float(curve[-1]) / front_hv if len(curve) else 0.0,
           "igd_plus_ref": float(IGDPlus(normalise(reference.points, bounds))(Y[nondominated(Y)])) if len(Y)
           else float("nan")}
    for pct in (90, 95):
        hit = np.flatnonzero(curve >= pct / 100 * front_hv)
        out[f"evals_to_{pct}pct_ref_hv"] = float(hit[0] + 1) if len(hit) else float("nan")
    return out


REFERENCE_COLUMNS = ("hv_frac", "igd_plus_ref", "evals_to_90pct_ref_hv", "evals_to_95pct_ref_hv")


def per_run_table(results: pd.DataFrame, bounds: dict, reference=None) -> pd.DataFrame:
    """One row per (searcher, seed): indicators in the study's ``bounds`` and, with a ``reference``
    front, against it (:data:`REFERENCE_COLUMNS`)."""
    final = final_rows(results)
    front = reference_front(final, bounds)
    rows = [{"searcher": s, "seed": seed, **run_metrics(run, bounds, front),
             **(reference_metrics(run, reference) if reference is not None else {}),
             **({"cut_short": str(run["cut_short"].iat[0])} if "cut_short" in run else {})}
            for (s, seed), run in final.groupby(["searcher", "seed"], sort=False)]
    out = pd.DataFrame(rows)
    if "fidelity_level" in results:  # trials, evaluations per rung, time used: from every row
        out = out.rename(columns={"n_trials": "n_final"}).merge(fidelity_table(results), on=["searcher", "seed"],
                                                                how="right")
    return out


def rank_tests(per_run: pd.DataFrame, ours: str = "coflex",
               metrics: Sequence[tuple[str, str]] = (("hv_frac", "greater"), ("igd_plus_ref", "less"))
               ) -> pd.DataFrame:
    """``ours`` against every other searcher, per indicator: medians, their difference and the
    one-sided Mann-Whitney U p-value that ``ours`` is better (``greater`` for HV-like, ``less`` for
    distance-like indicators) over the runs' seeds.  Unpaired: built-in searchers under concurrency
    are not fixed by their seed, so seeds do not pair runs."""
    from scipy.stats import mannwhitneyu

    rows = []
    if ours not in set(per_run["searcher"]):
        return pd.DataFrame(rows)
    a_all = per_run[per_run["searcher"] == ours]
    for other, b_all in per_run[per_run["searcher"] != ours].groupby("searcher", sort=False):
        for col, better in metrics:
            if col not in per_run:
                continue
            a, b = a_all[col].dropna().to_numpy(), b_all[col].dropna().to_numpy()
            both = np.concatenate([a, b])
            # exact distribution for the few seeds studies have; the normal approximation only with ties
            method = "asymptotic" if len(np.unique(both)) < len(both) else "exact"
            p = (float(mannwhitneyu(a, b, alternative=better, method=method).pvalue) if len(a) and len(b)
                 else float("nan"))
            rows.append({"ours": ours, "other": other, "metric": col, "ours_median": float(np.median(a)) if len(a)
                         else float("nan"), "other_median": float(np.median(b)) if len(b) else float("nan"),
                         "n_ours": len(a), "n_other": len(b), "p_mannwhitney": p, "better_if": better})
    out = pd.DataFrame(rows)
    if len(out):
        out["difference"] = out["ours_median"] - out["other_median"]
    return out


def format_rank_tests(tests: pd.DataFrame) -> str:
    """One line per (other searcher, indicator); says when there are too few seeds for a claim."""
    if tests.empty:
        return "rank tests: not run (no runs of the searcher to compare)"
    lines = []
    for r in tests.itertuples():
        note = "" if min(r.n_ours, r.n_other) >= 10 else f"  (only {min(r.n_ours, r.n_other)} seeds: no claim)"
        lines.append(f"{r.ours} vs {r.other:<13} {r.metric:<13} {r.ours_median:.4f} vs {r.other_median:.4f} "
                     f"(diff {r.difference:+.4f}), one-sided Mann-Whitney p = {r.p_mannwhitney:.3g}{note}")
    return "\n".join(lines)


def summary_table(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per searcher: median and IQR over seeds of every indicator."""
    cols = ["hv", "igd", "igd_plus", "best_err", f"best_{_hw_of_table(per_run)}", "evals_to_95pct_hv", "wall_s",
            "suggest_s"] + [c for c in REFERENCE_COLUMNS + ("sim_time_s", "train_time_s", "n_violating")
                            if c in per_run]
    g = per_run.groupby("searcher", sort=False)[cols]
    med, q1, q3 = g.median(), g.quantile(0.25), g.quantile(0.75)
    out = pd.DataFrame(index=med.index)
    for c in cols:
        out[f"{c}_median"] = med[c]
        out[f"{c}_iqr"] = q3[c] - q1[c]
    out["seeds"] = g.size()
    if "cut_short" in per_run:  # runs that a time limit ended before their budget
        out["cut_short"] = per_run.groupby("searcher", sort=False)["cut_short"].apply(
            lambda c: int((c.fillna("").astype(str) != "").sum()))
    return out.sort_values("hv_frac_median" if "hv_frac" in per_run else "hv_median", ascending=False)


def _hw_of_table(table: pd.DataFrame) -> str:
    """The hardware objective of a per-run or summary table (its ``best_<hw>`` column)."""
    for hw in HW_METRICS:
        if f"best_{hw}" in table or f"best_{hw}_median" in table:
            return hw
    raise ValueError(f"table has no best_<hw> column for any of {', '.join(HW_METRICS)}")


def format_summary(summary: pd.DataFrame) -> str:
    """The printed table: median [IQR] per searcher."""
    def cell(r, c, fmt):
        return f"{format(r[c + '_median'], fmt)} [{format(r[c + '_iqr'], fmt)}]"

    hw = _hw_of_table(summary)
    head = (f"{'searcher':<14} {'HV':>15} {'IGD':>15} {'IGD+':>15} {'best err':>15} {'best ' + hw:>19} "
            f"{'evals->95%HV':>13} {'wall s':>13} {'suggest s':>13}")
    ref = "hv_frac_median" in summary
    if ref:
        head += f" {'HV frac (ref)':>15} {'IGD+ (ref)':>15} {'evals->90%ref':>13} {'evals->95%ref':>13}"
    lines = [head]
    for name, r in summary.iterrows():
        lines.append(f"{name:<14} {cell(r, 'hv', '.4f'):>15} {cell(r, 'igd', '.4f'):>15} {cell(r, 'igd_plus', '.4f'):>15} "
                     f"{cell(r, 'best_err', '.3f'):>15} {cell(r, 'best_' + hw, '.3g'):>19} "
                     f"{cell(r, 'evals_to_95pct_hv', '.0f'):>13} {cell(r, 'wall_s', '.0f'):>13} "
                     f"{cell(r, 'suggest_s', '.1f'):>13}"
                     + (f" {cell(r, 'hv_frac', '.4f'):>15} {cell(r, 'igd_plus_ref', '.4f'):>15} "
                        f"{cell(r, 'evals_to_90pct_ref_hv', '.0f'):>13} {cell(r, 'evals_to_95pct_ref_hv', '.0f'):>13}"
                        if ref else ""))
    return "\n".join(lines)
