"""Hypervolume on problems with known fronts: CoflexSearch vs the baselines at equal budget and seeds.

``python -m coflex_ray.bench synthetic [--seeds 0 1 2 3 4] [--budget 50]``

Problems (pymoo): ZDT1 and DTLZ2 (2 objectives), 6 variables each discretised to 33 levels in [0, 1],
driven sequentially through the Searcher API (batch 4, 10 initial points).  Random search samples
uniformly with the same seed.  Hypervolume of all evaluated points w.r.t. a fixed reference point
(ZDT1: (1.1, 11); DTLZ2: (1.5, 1.5)); the printed table has median and min..max over seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .common import machine

PROBLEMS = {"zdt1": dict(kw=dict(n_var=6), ref=(1.1, 11.0)), "dtlz2": dict(kw=dict(n_var=6, n_obj=2), ref=(1.5, 1.5))}
METHODS = ("coflex", "qnehvi", "qnparego", "nsga2", "random")


def run(method: str, problem: str, budget: int, seed: int) -> tuple[float, float]:
    """(hypervolume, wall seconds) of one run."""
    from pymoo.problems import get_problem

    from ..searchers.pareto import hypervolume
    from ..searchers.tune_searchers import BoTorchMOSearch, CoflexSearch, NSGA2Search
    from ..spaces import Dim, Space

    prob = get_problem(problem, **PROBLEMS[problem]["kw"])
    space = Space(problem, tuple(Dim(f"x{i}", tuple(np.round(np.linspace(0, 1, 33), 5).tolist()), "ordinal")
                                 for i in range(prob.n_var)))

    def f(cfg: dict) -> dict:
        F = prob.evaluate(np.array([cfg[f"x{i}"] for i in range(prob.n_var)], dtype=float)[None])[0]
        return {"f1": float(F[0]), "f2": float(F[1])}

    start = time.perf_counter()
    kw = dict(metric=["f1", "f2"], mode=["min", "min"], seed=seed)
    if method == "random":
        Y = [list(f(c).values()) for c in space.sample(np.random.default_rng(seed), budget)]
    else:
        s = (CoflexSearch(space, n_init=10, batch_size=4, **kw) if method == "coflex" else
             NSGA2Search(space, pop_size=10, **kw) if method == "nsga2" else
             BoTorchMOSearch(space, acquisition=method, n_init=10, batch_size=4, **kw))
        Y = []
        for t in range(budget):
            cfg = s.suggest(str(t))
            r = f(cfg)
            s.on_trial_complete(str(t), r)
            Y.append([r["f1"], r["f2"]])
    return hypervolume(np.array(Y), PROBLEMS[problem]["ref"]), time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m coflex_ray.bench synthetic", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--budget", type=int, default=50)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = p.parse_args(argv)
    print(machine())
    print(f"budget {args.budget}, seeds {args.seeds}; hypervolume median [min..max] over seeds, wall s median")
    for prob in args.problems:
        print(f"\n{prob} (reference point {PROBLEMS[prob]['ref']})")
        for m in args.methods:
            res = [run(m, prob, args.budget, s) for s in args.seeds]
            hv, wall = np.array([r[0] for r in res]), np.array([r[1] for r in res])
            print(f"  {m:<9} HV {np.median(hv):.4f} [{hv.min():.4f}..{hv.max():.4f}]  wall {np.median(wall):.1f}s  "
                  f"per seed: {' '.join(f'{h:.3f}' for h in hv)}", flush=True)
