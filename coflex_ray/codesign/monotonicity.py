"""Performance monotonicity: do accelerators rank architectures the same way?

The semi-decoupled method (Lu et al., tinyML 2022) rests on it: if every accelerator ranks networks
by latency and energy like the proxy does, the networks optimal on the proxy are the only ones worth
trying elsewhere.  :func:`monotonicity` measures it on any long-format table (``arch``,
``accelerator``, ``latency``, ``energy``; ours or anyone's): the Spearman rank correlation (SRCC) of
the architectures' latency, and of their energy, between every pair of accelerators, over all
architectures and within cost bands, because a whole-space SRCC is dominated by network size.

Bands: quantile bins of ``band_column`` (e.g. ``flops_M`` or a MAC count) when given, else quantile
bins of latency on the ``proxy`` accelerator (default: the first one).  SRCC between two
accelerators uses the architectures both have costs for; a pair with fewer than 3 in common, or a
constant column, gives NaN (left out of the summaries).

:func:`plot_monotonicity` draws Fig. 2 of the paper for our data: SRCC heatmaps and their CDF.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable

import numpy as np
import pandas as pd

REQUIRED = ("arch", "accelerator", "latency", "energy")
METRICS = ("latency", "energy")
THRESHOLD = 0.97  # the paper's "highly monotonic" level


def check_table(table: Any) -> pd.DataFrame:
    """The cost table as a DataFrame (columns ``arch``, ``accelerator``, ``latency``, ``energy``).

    Raises:
        ValueError: what is wrong with the table, in one message.
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame with columns {list(REQUIRED)}, got {type(table).__name__}")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; required: {list(REQUIRED)} (has {list(table.columns)})")
    n_acc = table["accelerator"].nunique()
    if n_acc < 2:
        raise ValueError(f"table has {n_acc} accelerator(s); monotonicity compares at least 2")
    for m in METRICS:
        v = pd.to_numeric(table[m], errors="coerce")
        bad = ~np.isfinite(v.to_numpy(dtype=float))
        if bad.any():
            row = table[bad].iloc[0]
            raise ValueError(f"column {m!r} has {int(bad.sum())} NaN/infinite/non-numeric value(s) (first: arch "
                             f"{row['arch']} on accelerator {row['accelerator']}); drop infeasible rows first, "
                             "e.g. table[table.feasible]")
    dup = table.duplicated(["arch", "accelerator"])
    if dup.any():
        row = table[dup].iloc[0]
        raise ValueError(f"table has {int(dup.sum())} repeated (arch, accelerator) row(s), e.g. arch {row['arch']} "
                         f"on accelerator {row['accelerator']}; give one row per pair")
    return table


def srcc_matrix(wide: pd.DataFrame) -> pd.DataFrame:
    """Accelerator x accelerator SRCC of a (arch x accelerator) cost table (pairwise complete)."""
    return wide.corr(method="spearman", min_periods=3)


@dataclass
class Monotonicity:
    """Result of :func:`monotonicity`: ``pairs`` is long (metric, band, acc_a, acc_b, srcc, n_archs)."""

    pairs: pd.DataFrame
    matrices: dict[tuple[str, str], pd.DataFrame]  # (metric, band) -> SRCC matrix
    bands: pd.Series  # arch -> band label
    band_by: str

    def matrix(self, metric: str = "latency", band: str = "all") -> pd.DataFrame:
        return self.matrices[(metric, band)]

    def summary(self) -> pd.DataFrame:
        """min / median / mean SRCC and share above 0.97 per (metric, band)."""
        g = self.pairs.dropna(subset=["srcc"]).groupby(["metric", "band"], sort=False)["srcc"]
        return pd.DataFrame({"pairs": g.size(), "min": g.min(), "median": g.median(), "mean": g.mean(),
                             f"share>{THRESHOLD}": g.apply(lambda s: float((s > THRESHOLD).mean()))}).reset_index()

    def proxy_srcc(self, proxy: Hashable, metric: str = "latency", band: str = "all") -> pd.Series:
        """SRCC of every other accelerator with ``proxy`` (in one band)."""
        m = self.matrix(metric, band)
        return m[proxy].drop(index=proxy)


def _bands(table: pd.DataFrame, band_column: str | None, proxy: Hashable | None, n_bands: int) -> tuple[pd.Series, str]:
    if band_column is not None:
        if band_column not in table.columns:
            raise ValueError(f"band_column {band_column!r} is not a column of the table ({list(table.columns)})")
        key = table.groupby("arch")[band_column].first()
        by = band_column
    else:
        accs = list(pd.unique(table["accelerator"]))
        proxy = accs[0] if proxy is None else proxy
        if proxy not in accs:
            raise ValueError(f"proxy accelerator {proxy!r} is not in the table; allowed: {accs[:10]}...")
        key = table[table["accelerator"] == proxy].set_index("arch")["latency"]
        by = f"latency on accelerator {proxy!r}"
    labels = pd.qcut(key.rank(method="first"), n_bands, labels=[f"band {i + 1}/{n_bands}" for i in range(n_bands)])
    return labels.astype(str), by


def monotonicity(table: pd.DataFrame, band_column: str | None = None, proxy: Hashable | None = None,
                 n_bands: int = 4) -> Monotonicity:
    """SRCC of architectures' latency and energy between every pair of accelerators, globally and per band.

    Args:
        table: long format, one row per (arch, accelerator) (:func:`check_table`).
        band_column: a per-arch cost column (e.g. ``flops_M``) to band by; ``None``: latency on
            ``proxy``.
        proxy: the accelerator whose latency defines the bands; ``None``: the first one.
        n_bands: number of quantile bins (>= 1).

    Returns:
        A :class:`Monotonicity` with the pairwise SRCC table and matrices.

    Raises:
        ValueError: a malformed table or a bad ``n_bands``.
    """
    table = check_table(table)
    if isinstance(n_bands, bool) or not isinstance(n_bands, (int, np.integer)) or n_bands < 1:
        raise ValueError(f"n_bands={n_bands!r} must be a positive integer")
    bands, by = _bands(table, band_column, proxy, int(n_bands))
    rows, mats = [], {}
    for metric in METRICS:
        wide = table.pivot(index="arch", columns="accelerator", values=metric).astype(float)
        groups = [("all", wide)] + [(b, wide.loc[wide.index.intersection(bands.index[bands == b])])
                                    for b in sorted(bands.unique())]
        for band, part in groups:
            mat = srcc_matrix(part)
            mats[(metric, band)] = mat
            for a, b in itertools.combinations(mat.columns, 2):
                n = int((part[a].notna() & part[b].notna()).sum())
                rows.append((metric, band, a, b, float(mat.at[a, b]), n))
    pairs = pd.DataFrame(rows, columns=["metric", "band", "acc_a", "acc_b", "srcc", "n_archs"])
    return Monotonicity(pairs, mats, bands, by)


def plot_monotonicity(result: Monotonicity, path: str | Path, title: str = "") -> Path:
    """PNG like Fig. 2 of Lu et al. (tinyML 2022): SRCC heatmaps over accelerator pairs (latency and
    energy over the whole space, latency in the band with the lowest median) and the CDF of pairwise
    SRCC, whole space and within bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(21, 4.8))
    med = result.pairs[(result.pairs["metric"] == "latency") & (result.pairs["band"] != "all")].groupby("band")["srcc"]
    worst = med.median().idxmin() if len(med) else "all"
    for ax, (metric, band) in zip(axes[:3], [("latency", "all"), ("energy", "all"), ("latency", worst)]):
        mat = result.matrix(metric, band).to_numpy()
        im = ax.imshow(mat, vmin=np.nanmin(mat), vmax=1.0, cmap="viridis")  # colour scale = the data's range
        ax.set_title(f"{metric} SRCC, {'whole space' if band == 'all' else band + ' (lowest median)'}", fontsize=9)
        ax.set_xlabel("accelerator")
        ax.set_ylabel("accelerator")
        fig.colorbar(im, ax=ax, fraction=0.046)
    ax = axes[3]
    for metric, style in zip(METRICS, ("-", "--")):
        p = result.pairs[result.pairs["metric"] == metric].dropna(subset=["srcc"])
        for scope, sub in (("whole space", p[p["band"] == "all"]), ("within bands", p[p["band"] != "all"])):
            v = np.sort(sub["srcc"].to_numpy())
            if len(v):
                ax.step(v, np.arange(1, len(v) + 1) / len(v), style, where="post", label=f"{metric}, {scope}")
    ax.axvline(THRESHOLD, color="grey", lw=0.8)
    ax.set_xlabel("SRCC of an accelerator pair")
    ax.set_ylabel("CDF")
    ax.set_title(f"CDF (bands by {result.band_by})", fontsize=9)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
