"""The body of ``experiments/codesign.py`` once its flags are valid (see :mod:`.experiment`)."""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..evaluators.hardware.accelerator import AccelConfig
from ..spaces import ACCEL_SPACE, NB201_SPACE, SSS_SPACE, joint
from ..trial import EvalSpec
from . import methods as M
from .groundtruth import accelerator_name, build_ground_truth
from .monotonicity import monotonicity, plot_monotonicity
from .semidecoupled import every_proxy
from .tuning import pair_result

PROBE_SEED, PROBE_N = 20251122, 48


def _accel_dict(acc: AccelConfig) -> dict[str, Any]:
    return dict(zip(ACCEL_SPACE.keys, acc.key()))


def _exhaustive_part(args: argparse.Namespace, out: Path) -> tuple[Any, list, list]:
    """Ground truth, monotonicity and the every-proxy semi-decoupled study (NB201)."""
    t = time.time()
    gt = build_ground_truth(args.n_accelerators, args.gt_seed, args.dataset, cache_dir=args.cache_dir)
    print(f"ground truth: {gt.shape[1]} cells x {gt.shape[0]} accelerators, zigzag-fixed; {gt.source}; "
          f"built in {gt.build_s:.0f}s ({gt.simulations} layer simulations), loaded in {time.time() - t:.1f}s; "
          f"feasible pairs {gt.feasible.mean():.1%}")
    constraints = gt.quantile_constraints(args.quantiles, args.max_pes)
    truth = [gt.optimum(l, e, max_pes=args.max_pes)["accuracy"] for l, e in constraints]
    t = time.time()
    long = gt.long()
    mono = monotonicity(long[long["feasible"]], band_column="flops_M", n_bands=4)
    print(f"\nmonotonicity over {gt.shape[0]} accelerators ({len(mono.pairs) // 10} pairs; bands = FLOPs quartiles; "
          f"{time.time() - t:.0f}s):")
    summ = mono.summary()
    print(summ.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    summ.to_csv(out / "monotonicity_summary.csv", index=False)
    plot_monotonicity(mono, out / "monotonicity.png", f"NB201 {args.dataset} x {gt.shape[0]} accelerators, zigzag-fixed")
    rows = []
    for label, kw in ((f"1 proxy, grid {args.grid}", {}), ("1 proxy, grid 8", {"grid": 8}), ("1 proxy, auto-enlarged P", {"auto_enlarge": True}),
                      ("P enlarged (2 runners-up)", {"near": 2}), ("P = proxy Pareto set", {"grid": None}),
                      ("3 proxies", {"n_proxies": 3})):
        t = time.time()
        df = every_proxy(gt, constraints, max_pes=args.max_pes, **{"grid": args.grid, **kw})
        df.to_csv(out / f"semi_exhaustive_{len(rows) // len(constraints)}.csv", index=False)
        for c, g in df.groupby("constraint"):
            miss = g["gap"] > 1e-9
            rows.append({"variant": label, "constraint": c, "proxies": len(g), "K_median": g["K"].median(),
                         "evals_median": g["evaluations"].median(), "coupled_evals": g["coupled_evaluations"].iloc[0],
                         "missed": int(miss.sum()), "gap_max": g["gap"].max(),
                         "gap_mean_when_missed": g.loc[miss, "gap"].mean() if miss.any() else 0.0,
                         "enlarged": int(g["enlarged"].sum()), "s": round(time.time() - t, 1)})
    table = pd.DataFrame(rows)
    print("\nsemi-decoupled on the exhaustive ground truth, every accelerator as the proxy:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    table.to_csv(out / "semi_exhaustive_summary.csv", index=False)
    return gt, constraints, truth


def _probe_part(args: argparse.Namespace, spec: EvalSpec, pool: Any, out: Path) -> tuple[list, list, float]:
    """SSS: constraints from a fixed-seed probe; monotonicity on a sample of networks x accelerators."""
    rng = np.random.default_rng(PROBE_SEED)
    space = joint(SSS_SPACE, ACCEL_SPACE)
    t = time.time()
    probe = pd.DataFrame([pair_result(c, spec, pool) for c in space.sample(rng, PROBE_N)])
    ok = probe[probe["feasible"].astype(bool)]
    constraints = [(float(ok["latency"].quantile(ql)), float(ok["energy"].quantile(qe))) for ql, qe in args.quantiles]
    print(f"probe: {PROBE_N} random pairs ({len(ok)} feasible, {time.time() - t:.0f}s) -> constraints {constraints}")
    t = time.time()
    nets = SSS_SPACE.sample(rng, 20)
    accs = []
    while len(accs) < 5:
        acc = ACCEL_SPACE.sample(rng)[0]
        if pair_result({**nets[0], **acc}, spec, pool)["feasible"]:
            accs.append(acc)
    rows = [{"arch": i, "accelerator": j, **pair_result({**n, **a}, spec, pool)}
            for i, n in enumerate(nets) for j, a in enumerate(accs)]
    table = pd.DataFrame(rows)
    table = table[table["feasible"].astype(bool)][["arch", "accelerator", "latency", "energy", "flops_M"]]
    mono = monotonicity(table, band_column="flops_M", n_bands=2)
    print(f"\nmonotonicity, 20 random SSS networks x 5 accelerators ({time.time() - t:.0f}s):")
    print(mono.summary().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    mono.summary().to_csv(out / "monotonicity_summary.csv", index=False)
    plot_monotonicity(mono, out / "monotonicity.png", "SSS x accelerators, zigzag-fixed")
    err_scale = float(ok["err"].max() - ok["err"].min()) or 1.0
    return constraints, [float("nan")] * len(constraints), err_scale


def _proxy(gt: Any, seed: int, max_pes: int | None, spec: EvalSpec, pool: Any) -> tuple[dict, int | None]:
    rng = np.random.default_rng(1000 + seed)
    if gt is not None:
        ok = [i for i, a in enumerate(gt.accelerators) if gt.feasible[i].all() and (not max_pes or a.X1 * a.X2 <= max_pes)]
        i = int(rng.choice(ok))
        return _accel_dict(gt.accelerators[i]), i
    while True:
        acc = ACCEL_SPACE.sample(rng)[0]
        if (not max_pes or acc["X1"] * acc["X2"] <= max_pes) and pair_result(
                {**SSS_SPACE.sample(rng)[0], **acc}, spec, pool)["feasible"]:
            return acc, None


def _methods(args, seed, net_space, spec, pool, constraints, gt, err_scale, ray_dir) -> list[tuple[str, pd.DataFrame, float]]:
    proxy, pos = _proxy(gt, seed, args.max_pes, spec, pool)
    print(f"\nseed {seed}: proxy / fixed accelerator {accelerator_name(AccelConfig(**proxy))}", flush=True)
    runs = []

    def timed(name, fn):
        t = time.time()
        df = fn()
        runs.append((name, df, time.time() - t))
        print(f"  {name:<16} {len(df)} trials, {df['evals'].max():.0f} evaluations, {time.time() - t:.0f}s", flush=True)

    mp, b = args.max_pes, args.budget
    if "coupled" in args.methods:
        timed("coupled", lambda: M.coupled(net_space, constraints, spec, pool, b, seed, ray_dir, mp))
    if "coupled-mo" in args.methods:
        timed("coupled-mo", lambda: M.coupled_mo(net_space, spec, pool, b, seed, ray_dir))
    if "semi-exhaustive" in args.methods:
        from .semidecoupled import proxy_set

        from ..spaces import nb201_config

        idx = proxy_set(gt.accuracy, gt.latency[pos], gt.energy[pos], args.grid)
        members = [nb201_config(gt.archs[i]) for i in idx]
        timed("semi-exhaustive", lambda: M.semi_decoupled_tune(members, gt.shape[1], constraints, spec, pool,
                                                               args.stage2_budget, seed, ray_dir, mp, "semi-exhaustive"))
    if "semi-coflex" in args.methods:
        def semi_coflex():
            members, s1 = M.stage1_coflex(net_space, proxy, spec, pool, args.stage1_budget, seed, ray_dir, args.grid)
            return M.semi_decoupled_tune(members, int(s1["n_evals"].sum()), constraints, spec, pool,
                                         args.stage2_budget, seed, ray_dir, mp, "semi-coflex", stage1=s1)
        timed("semi-coflex", semi_coflex)
    if "rl" in args.methods:
        timed("rl", lambda: M.rl_coexplore(net_space, constraints, spec, pool, b, seed, ray_dir, mp, err_scale))
    if "hw-nas" in args.methods:
        timed("hw-nas", lambda: M.hw_aware_nas(net_space, proxy, constraints, spec, pool, b, seed, ray_dir, mp, err_scale))
    if "sequential" in args.methods:
        timed("sequential", lambda: M.sequential(net_space, proxy, constraints, spec, pool, b, seed, ray_dir, mp, err_scale))
    return runs


def _summarise(runs, constraints, truth, max_pes, out: Path) -> pd.DataFrame:
    rows, curves = [], []
    for seed, name, df, wall in runs:
        for c, con in enumerate(constraints):
            cur = M.best_curve(df, c, con, max_pes)
            best = cur["best_accuracy"].iloc[-1] if len(cur) else float("nan")
            rows.append({"method": name, "seed": seed, "constraint": c, "evaluations": int(cur["evals"].max()),
                         "best_accuracy": best, "gap": truth[c] - best, "wall_s": wall})
            curves.append(cur.assign(method=name, seed=seed, constraint=c))
    per = pd.DataFrame(rows)
    per.to_csv(out / "per_run.csv", index=False)
    pd.concat(curves).to_csv(out / "curves.csv", index=False)
    summary = per.groupby(["constraint", "method"], sort=False).agg(
        evaluations=("evaluations", "median"), best_accuracy=("best_accuracy", "mean"),
        best_min=("best_accuracy", "min"), gap=("gap", "mean"), gap_max=("gap", "max"),
        wall_s=("wall_s", "mean")).reset_index()
    summary.to_csv(out / "summary.csv", index=False)
    _plot_curves(pd.concat(curves), constraints, truth, out / "accuracy_vs_evaluations.png")
    return summary


def _plot_curves(curves: pd.DataFrame, constraints, truth, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(constraints), figsize=(5.5 * len(constraints), 4.2), squeeze=False)
    for c, ax in enumerate(axes[0]):
        for name, g in curves[curves["constraint"] == c].groupby("method", sort=False):
            for i, (_, s) in enumerate(g.groupby("seed")):
                ax.step(s["evals"], s["best_accuracy"], where="post", alpha=0.8, lw=1.2,
                        color=f"C{list(curves['method'].unique()).index(name)}", label=name if i == 0 else None)
        if np.isfinite(truth[c]):
            ax.axhline(truth[c], color="k", ls=":", lw=1, label="exhaustive optimum")
        ax.set_xscale("log")
        ax.set_xlabel("evaluations (network x accelerator)")
        ax.set_ylabel("best accuracy meeting the constraints (%)")
        ax.set_title(f"constraint {c}: latency <= {constraints[c][0]:.3g} cyc, energy <= {constraints[c][1]:.3g} pJ",
                     fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from ..machine import machine
    from ..runner import init_ray
    from ..service import HardwarePool

    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(machine())
    net_space = NB201_SPACE if args.benchmark == "nb201" else SSS_SPACE
    spec = EvalSpec(args.benchmark, args.dataset, fidelity="zigzag-fixed")
    print(f"constraints: quantiles {args.quantiles}; max PEs {args.max_pes}; methods {args.methods}; seeds {args.seeds}")
    gt, err_scale = None, 100.0
    init_ray(num_cpus=2)
    pool = HardwarePool("zigzag-fixed")
    if args.benchmark == "nb201":
        gt, constraints, truth = _exhaustive_part(args, out)
        print(f"({time.time() - start:.0f}s so far)", flush=True)
    else:
        constraints, truth, err_scale = _probe_part(args, spec, pool, out)
    print("\nconstraints (latency cycles, energy pJ)" + (" and exhaustive optimum accuracy: " if gt else ": ")
          + "; ".join(f"({l:.4g}, {e:.4g})" + (f" -> {t:.2f}" if gt else "") for (l, e), t in zip(constraints, truth)))
    runs = []
    for seed in args.seeds:
        for name, df, wall in _methods(args, seed, net_space, spec, pool, constraints, gt, err_scale,
                                       out / "ray_results"):
            runs.append((seed, name, df, wall))
        # written after every seed, so an interrupted study keeps the seeds it finished
        pd.concat([df.assign(method_name=n) for _, n, df, _ in runs], ignore_index=True).drop(
            columns=["evaluated"], errors="ignore").to_parquet(out / "trials.parquet", index=False)
        summary = _summarise(runs, constraints, truth, args.max_pes, out)
    print("\nper constraint and method (mean over seeds; evaluations = median; gap = exhaustive optimum - best):")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\ntotal {time.time() - start:.0f}s; outputs in {out}")
    return 0
