"""Hypervolume on problems with known fronts laid over the real SSS x accelerator codec.

``python -m benchmarks synthetic [--seeds 0 1 ... 9] [--budget 30] [--methods ...]``

Space: the 12-dim space of ``experiments/sss.py`` (``joint(SSS_SPACE, ACCEL_SPACE)``: five channel
counts of 8 values, four register sizes of 503 values, PE rows/columns of 64 values, the
categorical dataflow), with every knob's kind as declared.  Problems (pymoo, 12 variables, 2
objectives): ZDT1 and DTLZ2; variable ``i`` is the unit-cube coordinate of knob ``i`` (the centre of
its value's bin, ``(index + 0.5) / n``), so each searcher sees the real knobs and their legal values
while the objectives have a known front.  Every searcher is driven sequentially through the
Searcher API (10 initial points, batch 4 for the model-based ones); random search samples uniformly
with the same seed.  Hypervolume of all evaluated points w.r.t. a fixed reference point (ZDT1:
(1.1, 11); DTLZ2: (1.5, 1.5)).  Printed: median [min..max] over seeds, the per-seed values, and on
how many seeds each method's hypervolume is above random search's on the same seed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from coflex_ray.machine import machine

PROBLEMS = {"zdt1": dict(kw=dict(n_var=12), ref=(1.1, 11.0)), "dtlz2": dict(kw=dict(n_var=12, n_obj=2), ref=(1.5, 1.5))}
METHODS = ("coflex", "qnehvi", "qnparego", "nsga2", "optuna-gp", "random")
DEFAULT_METHODS = ("coflex", "qnehvi", "qnparego", "nsga2", "random")  # optuna-gp: 475 s in suggest per 30-trial run (loaded 2-core machine)
N_INIT, BATCH = 10, 4


def make(method: str, space, seed: int):
    """The searcher ``method`` on the objectives ``f1``, ``f2`` (both minimised)."""
    from coflex_ray.searchers.tune_searchers import BoTorchMOSearch, CoflexSearch, NSGA2Search

    kw = dict(metric=["f1", "f2"], mode=["min", "min"], seed=seed)
    if method == "coflex":
        return CoflexSearch(space, n_init=N_INIT, batch_size=BATCH, **kw)
    if method == "nsga2":
        return NSGA2Search(space, pop_size=N_INIT, **kw)
    if method in ("qnehvi", "qnparego"):
        return BoTorchMOSearch(space, acquisition=method, n_init=N_INIT, batch_size=BATCH, **kw)
    if method == "optuna-gp":  # as the study builds it (registry.make_searcher), on f1/f2
        from ray.tune.search.optuna import OptunaSearch

        from coflex_ray.registry import optuna_sampler
        from coflex_ray.searchers.scalarize import FiniteObjectivesSearch

        s = FiniteObjectivesSearch(OptunaSearch(sampler=optuna_sampler(method, seed, N_INIT)), metric=["f1", "f2"],
                                   mode=["min", "min"])
        s.set_search_properties(None, None, space.param_space())
        return s
    raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")


def run(method: str, problem: str, budget: int, seed: int) -> tuple[float, float]:
    """(hypervolume, wall seconds) of one run."""
    from pymoo.problems import get_problem

    from coflex_ray.searchers.pareto import hypervolume
    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint

    prob = get_problem(problem, **PROBLEMS[problem]["kw"])
    space = joint(SSS_SPACE, ACCEL_SPACE)

    def f(cfg: dict) -> dict:
        F = prob.evaluate(space.encode(cfg)[None])[0]
        return {"f1": float(F[0]), "f2": float(F[1])}

    start = time.perf_counter()
    if method == "random":
        Y = [list(f(c).values()) for c in space.sample(np.random.default_rng(seed), budget)]
    else:
        s = make(method, space, seed)
        Y = []
        for t in range(budget):
            cfg = s.suggest(str(t))
            r = f(cfg)
            s.on_trial_complete(str(t), r)
            Y.append([r["f1"], r["f2"]])
    return hypervolume(np.array(Y), PROBLEMS[problem]["ref"]), time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks synthetic", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--budget", type=int, default=30)
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS)
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = p.parse_args(argv)
    print(machine())
    print(f"SSS x accelerator codec (12 dims), budget {args.budget}, {N_INIT} initial points, batch {BATCH}, "
          f"seeds {args.seeds}; hypervolume median [min..max] over seeds, wall s median per run")
    for prob in args.problems:
        print(f"\n{prob} (reference point {PROBLEMS[prob]['ref']})")
        hvs = {}
        for m in args.methods:
            res = [run(m, prob, args.budget, s) for s in args.seeds]
            hv, wall = np.array([r[0] for r in res]), np.array([r[1] for r in res])
            hvs[m] = hv
            print(f"  {m:<9} HV {np.median(hv):.4f} [{hv.min():.4f}..{hv.max():.4f}]  wall {np.median(wall):.1f}s  "
                  f"per seed: {' '.join(f'{h:.3f}' for h in hv)}", flush=True)
        if "random" in hvs:
            print("  above random on the same seed: " + ", ".join(
                f"{m} {int(np.sum(hv > hvs['random']))}/{len(hv)}" for m, hv in hvs.items() if m != "random"))
