"""Held-out accuracy and cost of the sparse GP (and the exact GP) on DTLZ2.

DTLZ2 (pymoo) with 11 variables, each on 64 levels (bin centres, as the searchers' cube encodes
them), 2 objectives; ``n`` uniformly random training points and 1000 held-out random points.  Each
objective is standardised with the training mean and SD and modelled on its own; reported per
objective: Spearman rank correlation of the posterior mean with the truth, coverage of the central
95% posterior interval, RMSE and mean log predictive density (standardised units), fit and predict
seconds (wall clock and process CPU time, the latter less distorted on a shared machine; predict = 1000 held-out points plus ``--candidates`` more, as a CoflexSearch
batch scores about 2000-3000 candidates).

Models: ``sparse`` (:func:`coflex_ray.searchers.models.fit_sparse_gp`, ``NUM_INDUCING`` inducing points),
``additive`` (the same with the kernel's first-order additive part at every n; CoflexSearch uses it
only up to ``models.ADDITIVE_MAX_N`` observations, and this model shows why),
``exact`` (:func:`coflex_ray.searchers.models.fit_exact_gp`, only at n <= ``--exact-max-n``, first seed).

    python -m benchmarks sparse-gp                       # n = 500 2000 10000, seeds 0 1 2
    python -m benchmarks sparse-gp --n 2000 --seeds 0 --models sparse
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm, spearmanr

from coflex_ray.machine import machine

from .common import RESULTS

OUT = RESULTS / "sparse_gp.txt"
D, LEVELS, HELD_OUT = 11, 64, 1000
MODELS = ("sparse", "additive", "exact")


def dtlz2(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 64-level points of the 11-dim cube and their two DTLZ2 objectives."""
    from pymoo.problems import get_problem

    rng = np.random.default_rng(seed)
    X = (rng.integers(LEVELS, size=(n, D)) + 0.5) / LEVELS
    return X, get_problem("dtlz2", n_var=D, n_obj=2).evaluate(X)


def scores(mu: np.ndarray, sd: np.ndarray, y: np.ndarray) -> dict[str, float]:
    sd = np.maximum(sd, 1e-12)
    return {"spearman": float(spearmanr(mu, y)[0]), "cover95": float(np.mean(np.abs(y - mu) <= 1.96 * sd)),
            "rmse": float(np.sqrt(np.mean((mu - y) ** 2))), "loglik": float(norm.logpdf(y, mu, sd).mean())}


def one(model: str, n: int, seed: int, candidates: int) -> list[dict]:
    import torch

    from coflex_ray.searchers import models as M

    X, Y = dtlz2(n, seed)
    Xt, Yt = dtlz2(HELD_OUT, 10_000 + seed)
    Xc = dtlz2(candidates, 20_000 + seed)[0] if candidates else np.zeros((0, D))
    rows = []
    for j in range(Y.shape[1]):
        mean, std = Y[:, j].mean(), Y[:, j].std()
        y, yt = (Y[:, j] - mean) / std, (Yt[:, j] - mean) / std
        torch.manual_seed(seed)
        t0, c0 = time.perf_counter(), time.process_time()
        if model in ("sparse", "additive"):
            fitted = M.fit_sparse_gp(X, y, M.NUM_INDUCING, seed=seed, additive=model == "additive")
            pred = M.predict
        else:
            fitted, pred = M.fit_exact_gp(X, y), M.predict
        t1, c1 = time.perf_counter(), time.process_time()
        mu, sd = pred(fitted, np.vstack([Xt, Xc]))
        t2, c2 = time.perf_counter(), time.process_time()
        m = len(fitted.covar_module.inducing_points) if hasattr(fitted.covar_module, "inducing_points") else n
        rows.append({"model": model, "n": n, "seed": seed, "obj": j + 1, "m": m, "fit_s": t1 - t0,
                     "predict_s": t2 - t1, "fit_cpu": c1 - c0,
                     "predict_cpu": c2 - c1, **scores(mu[:HELD_OUT], sd[:HELD_OUT], yt)})
    return rows


def fmt(r: dict) -> str:
    return (f"{r['model']:8s} n={r['n']:5d} seed={r['seed']} f{r['obj']} m={r['m']:4d}  Spearman {r['spearman']:.4f}  "
            f"cover95 {r['cover95']:.3f}  RMSE {r['rmse']:.4f}  loglik {r['loglik']:6.3f}  "
            f"fit {r['fit_s']:.2f}s (cpu {r['fit_cpu']:.2f})  predict {r['predict_s']:.2f}s (cpu {r['predict_cpu']:.2f})")


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks sparse-gp", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[500, 2000, 10_000], help="training-set sizes")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", nargs="+", default=list(MODELS), help=f"any of {list(MODELS)}")
    p.add_argument("--exact-max-n", type=int, default=2000, help="largest n for the exact GP (first seed only)")
    p.add_argument("--candidates", type=int, default=2000, help="extra points predicted (timing only)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    bad = [m for m in args.models if m not in MODELS]
    if bad or min(args.n) < 2:
        print(f"error: models {bad} not in {list(MODELS)}" if bad else f"error: --n {min(args.n)} must be >= 2",
              file=sys.stderr)
        sys.exit(2)
    from coflex_ray.searchers import models as M
    from coflex_ray.searchers.sgpr import INDUCING_POOL

    lines = [machine(), "command: python -m benchmarks sparse-gp " + " ".join(argv),
             f"DTLZ2, {D} vars x {LEVELS} levels, 2 objectives, {HELD_OUT} held-out random points; sparse GP: "
             f"NUM_INDUCING={M.NUM_INDUCING}, HYPER_SUBSET={M.HYPER_SUBSET}, HYPER_FIT_ITERS={M.HYPER_FIT_ITERS}, "
             f"INDUCING_POOL={INDUCING_POOL}; predict = {HELD_OUT} + {args.candidates} points"]
    print("\n".join(lines), flush=True)
    rows = []
    for n in args.n:
        for model in args.models:
            if model == "exact" and n > args.exact_max_n:
                continue
            for seed in (args.seeds[:1] if model == "exact" else args.seeds):
                for r in one(model, n, seed, args.candidates):
                    rows.append(r)
                    lines.append(fmt(r))
                    print(lines[-1], flush=True)
    lines.append("summary (median over seeds and objectives; min Spearman, coverage range):")
    for n in args.n:
        for model in args.models:
            rs = [r for r in rows if r["model"] == model and r["n"] == n]
            if rs:
                lines.append(f"  {model:8s} n={n:5d}: Spearman median {np.median([r['spearman'] for r in rs]):.4f} "
                             f"(min {min(r['spearman'] for r in rs):.4f}), cover95 "
                             f"{min(r['cover95'] for r in rs):.3f}-{max(r['cover95'] for r in rs):.3f}, RMSE median "
                             f"{np.median([r['rmse'] for r in rs]):.4f}, loglik median "
                             f"{np.median([r['loglik'] for r in rs]):.3f}, fit median "
                             f"{np.median([r['fit_s'] for r in rs]):.2f}s, predict median "
                             f"{np.median([r['predict_s'] for r in rs]):.2f}s (CPU medians {np.median([r['fit_cpu'] for r in rs]):.2f}s, "
                             f"{np.median([r['predict_cpu'] for r in rs]):.2f}s)")
                print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
