"""PNG figures of a study (matplotlib, Agg backend): fronts, HV vs evaluations / wall time, running minima.

The Coflex paper's Fig. 4 views, made on the tidy result table with fixed bounds and reference point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import HW_METRICS, hv_curve, hw_metric, nondominated, objective_matrix


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures are only saved to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_all(results: pd.DataFrame, bounds: dict, out: Path, err_label: str) -> list[Path]:
    """Write every figure into ``out``; return their paths."""
    hw = hw_metric(bounds)
    return [pareto_fronts(results, out / "pareto_fronts.png", err_label, hw),
            hv_traces(results, bounds, out / "hv_vs_evaluations.png", x="evaluations"),
            hv_traces(results, bounds, out / "hv_vs_wall_time.png", x="wall"),
            running_minima(results, out / "running_minima.png", err_label, hw)]


def pareto_fronts(results: pd.DataFrame, path: Path, err_label: str, hw: str = "edp") -> Path:
    """Every method's non-dominated points over all its seeds, log hardware-objective axis."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, df in results.groupby("searcher", sort=False):
        Y = objective_matrix(df, hw)
        if not len(Y):
            continue
        F = Y[nondominated(Y)]
        F = F[np.argsort(F[:, 0])]
        ax.step(F[:, 0], 10 ** F[:, 1], where="post", marker="o", ms=3, label=name)
    ax.set_yscale("log")
    return _finish(fig, ax, path, err_label, f"{HW_METRICS[hw]}, log scale", "Pareto fronts (union over seeds)")


def _finish(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Label, legend, save and close one single-axes figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def hv_traces(results: pd.DataFrame, bounds: dict, path: Path, x: str) -> Path:
    """Median hypervolume over seeds with a min-max band, against evaluations or wall time."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, df in results.groupby("searcher", sort=False):
        curves, times = [], []
        for _, run in df.groupby("seed"):
            run = run.sort_values("completed_at")
            curves.append(hv_curve(run, bounds))
            times.append(run["completed_at"].to_numpy(float))
        n = min(len(c) for c in curves)
        C = np.array([c[:n] for c in curves])
        xs = np.arange(1, n + 1) if x == "evaluations" else np.median(np.array([t[:n] for t in times]), axis=0)
        line, = ax.plot(xs, np.median(C, axis=0), label=name)
        ax.fill_between(xs, C.min(axis=0), C.max(axis=0), color=line.get_color(), alpha=0.15)
    return _finish(fig, ax, path,
                   "evaluations" if x == "evaluations" else "wall time since run start (s, median over seeds)",
                   "hypervolume (normalised objectives, ref 1.1)", "Hypervolume: median over seeds, band = min..max")


def running_minima(results: pd.DataFrame, path: Path, err_label: str, hw: str = "edp") -> Path:
    """Best err and best hardware objective found so far, median over seeds, per method."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, df in results.groupby("searcher", sort=False):
        for ax, col in zip(axes, ("err", hw)):
            runs = []
            for _, run in df.groupby("seed"):
                run = run.sort_values("completed_at")
                v = np.where(run["feasible"].astype(bool), run[col].to_numpy(float), np.inf)
                runs.append(np.minimum.accumulate(v))
            n = min(len(r) for r in runs)
            ax.plot(np.arange(1, n + 1), np.median(np.array([r[:n] for r in runs]), axis=0), label=name)
    axes[0].set_ylabel(f"best {err_label} so far")
    axes[1].set_ylabel(f"best {HW_METRICS[hw]} so far")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("evaluations")
    axes[0].legend(fontsize=8)
    return save_figure(fig, "Per-objective running minima (median over seeds)", path)


def save_figure(fig, title: str, path: Path) -> Path:
    """Title, lay out, save (120 dpi) and close a multi-axes figure."""
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path
