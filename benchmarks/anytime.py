"""Quality against wall clock and evaluations: ``python -m benchmarks anytime STUDY``.

The sparsity benchmark ("where sparsity pays"): a study run with a wall-clock limit per
run, e.g.::

    python experiments/sss.py --searchers coflex qnehvi qnparego --seeds 0 --budget 2000 \\
        --minutes-per-run 30 --concurrency 1 --out runs/sparsity

lets every searcher go as far as it gets in the same time; this command reads the finished study
(``results.parquet`` + ``run_info.json``) and prints, per searcher (median over seeds), the
hypervolume as a fraction of the benchmark's reference front (the shipped best-known or exact front,
in its ideal/nadir normalisation, reference point 1.1) at given wall-clock times and evaluation
counts, how many evaluations the run reached, and the seconds per evaluation over stretches of the
run (how the searcher's cost grows with n).  Without a reference front for the study's benchmark
the fraction cannot be formed: the command says so and reports the raw hypervolume in the study's
bounds instead.  Nothing is re-evaluated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

SECONDS = (60, 300, 600, 1200, 1800, 3600)
EVALS = (30, 100, 300, 1000, 2000)


def reference_of(info: dict):
    """The reference front the study's own analysis used (None where the benchmark has none)."""
    from coflex_ray.reference_fronts import reference_front_for

    from .best_known import final_tier

    args = info["args"]
    return reference_front_for(info["benchmark"], args["dataset"], final_tier(args), args.get("device"),
                               info.get("accuracy_source"))


def run_curves(results: pd.DataFrame, bounds: dict, scale: float
               ) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """``(completion times, HV / scale after each evaluation)`` of every (searcher, seed) run, in the
    study's order: computed once for the table and the plot."""
    from coflex_ray.analysis import final_rows, hv_curve

    out = {}
    for key, run in final_rows(results).groupby(["searcher", "seed"], sort=False):
        run = run.sort_values("completed_at")
        out[key] = run["completed_at"].to_numpy(float), hv_curve(run, bounds) / scale
    return out


def at_times(curve: np.ndarray, t: np.ndarray, seconds: tuple[float, ...], limit: float | None) -> list[float]:
    """The curve's value at each of ``seconds``: the HV of everything found by then (a run that had
    reached its budget keeps its final value); NaN before the first result and beyond the study's
    time ``limit`` per run (no claim about times no run was given)."""
    out = []
    for s in seconds:
        k = int(np.searchsorted(t, s, side="right"))
        out.append(float(curve[k - 1]) if k and (limit is None or s <= limit) else float("nan"))
    return out


def table(curves: dict, seconds: tuple, evals: tuple, limit: float | None = None) -> pd.DataFrame:
    """One row per searcher of :func:`run_curves`: median over seeds of the scaled HV at ``seconds``
    and ``evals``, the evaluations reached, and the mean seconds per evaluation over the first and the
    last 100 evaluations."""
    per_searcher: dict[str, list] = {}
    for (name, _), (t, curve) in curves.items():
        n = len(curve)
        gaps = np.diff(np.concatenate([[0.0], t]))
        per_searcher.setdefault(name, []).append(
            [*at_times(curve, t, seconds, limit), *[float(curve[e - 1]) if e <= n else float("nan") for e in evals],
             n, float(t[-1]), float(np.mean(gaps[:100])), float(np.mean(gaps[-100:]))])
    cols = ([f"t{s}s" for s in seconds] + [f"n{e}" for e in evals]
            + ["evaluations", "run_s", "s_per_eval_first100", "s_per_eval_last100"])
    return pd.DataFrame([{"searcher": name, "seeds": len(rows), **pd.DataFrame(rows, columns=cols).median().to_dict()}
                         for name, rows in per_searcher.items()])


def format_table(t: pd.DataFrame, seconds: tuple, evals: tuple, what: str) -> str:
    def cell(v: float, fmt: str) -> str:
        return "-" if v != v else format(v, fmt)

    head = (f"{'searcher':<12} {'seeds':>5} {'evals':>6} {'run s':>6} {'s/eval 1st/last 100':>20} | "
            + " ".join(f"{f'{s:g}s':>6}" for s in seconds) + " | " + " ".join(f"{f'n={e}':>7}" for e in evals))
    lines = [f"{what} at wall-clock seconds since the run started | after n evaluations "
             f"(median over seeds; '-': beyond the time limit per run, or not reached)", head]
    for _, r in t.iterrows():
        lines.append(f"{r['searcher']:<12} {int(r['seeds']):>5} {r['evaluations']:>6.0f} {r['run_s']:>6.0f} "
                     f"{cell(r['s_per_eval_first100'], '.2f'):>9} / {cell(r['s_per_eval_last100'], '.2f'):<8} | "
                     + " ".join(f"{cell(r[f't{s}s'], '.3f'):>6}" for s in seconds) + " | "
                     + " ".join(f"{cell(r[f'n{e}'], '.3f'):>7}" for e in evals))
    return "\n".join(lines)


def plot(curves: dict, path: Path, what: str) -> Path:
    """HV (fraction) of :func:`run_curves` against wall clock and evaluations, log axes, one line per run."""
    from coflex_ray.plots import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colours: dict[str, str] = {}
    for (name, _), (t, curve) in curves.items():
        t = np.maximum(t, 1.0)  # Ray's timestamps are whole seconds
        kw = {"color": colours.get(name), "label": None if name in colours else name, "drawstyle": "steps-post"}
        line, = axes[0].plot(t, curve, **kw)
        colours.setdefault(name, line.get_color())
        axes[1].plot(np.arange(1, len(curve) + 1), curve, color=colours[name], drawstyle="steps-post")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("wall clock since the run started (s, log; whole seconds)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("evaluations (log)")
    for ax in axes:
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return save_figure(fig, "Quality against wall clock and evaluations (one line per run)", path)


def main(argv: list[str] | None = None) -> None:
    from coflex_ray.analysis import load_bounds
    from coflex_ray.machine import machine

    p = argparse.ArgumentParser(prog="python -m benchmarks anytime", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", help="a finished study folder (--out of sss.py / nb201.py)")
    p.add_argument("--seconds", type=float, nargs="+", default=list(SECONDS), help="wall-clock checkpoints")
    p.add_argument("--evals", type=int, nargs="+", default=list(EVALS), help="evaluation-count checkpoints")
    p.add_argument("--plot", default=None, help="PNG path (default: STUDY/hv_anytime.png)")
    a = p.parse_args(argv)
    d = Path(a.study)
    try:
        info = json.loads((d / "run_info.json").read_text())
        results = pd.read_parquet(d / "results.parquet")
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {d} is not a finished study ({e})")
    if bad := [s for s in a.seconds if s <= 0] + [e for e in a.evals if e < 1]:
        raise SystemExit(f"error: checkpoints {bad} must be positive")
    reference = reference_of(info)
    if reference is not None:
        bounds, scale = reference.bounds, reference.hv
        what = f"HV fraction of the {reference.kind} reference front"
    else:
        bounds, scale = load_bounds(d / "bounds.json"), 1.0
        what = "HV in the study's bounds (NO reference front for this benchmark: not a fraction)"
    print(machine())
    print(f"study {d}: {info['benchmark']} {info['args']['dataset']}, searchers {info['args']['searchers']}, "
          f"seeds {info['args']['seeds']}, budget {info['args']['budget']}, "
          f"minutes per run {info['args'].get('minutes_per_run')}, concurrency {info['args']['concurrency']}")
    seconds, evals = tuple(a.seconds), tuple(a.evals)
    minutes = info["args"].get("minutes_per_run")
    limit = 60.0 * minutes if minutes else None
    curves = run_curves(results, bounds, scale)
    print(format_table(table(curves, seconds, evals, limit), seconds, evals, what))
    path = plot(curves, Path(a.plot) if a.plot else d / "hv_anytime.png", what)
    print(f"plot: {path}")
