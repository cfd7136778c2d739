"""Constrained search against exact optima: ``python -m benchmarks constrained``.

"The most accurate network (and accelerator) within a latency, energy and area budget", searched
directly by every searcher that takes outcome constraints, on problems whose exact constrained
optimum is known from a complete table:

* ``nb201-<device>-p<q>``: NAS-Bench-201 cells (cifar10 test accuracy), ``latency_ms <= L`` on a
  measured device, ``L`` = the ``q``-th percentile of that device's latencies over all 15,625 cells
  (pixel3 and raspi4, the 10th and 30th percentile).  The optimum: the most accurate cell of the table
  within ``L``.
* ``codesign-c<k>``: NB201 cells x the 100 accelerators of the exhaustive co-design ground truth
  (:func:`coflex_ray.codesign.groundtruth.build_ground_truth`, zigzag-fixed, cached after the first
  build), constraint pair ``k`` of the co-design table (the quantiles of ``experiments/codesign.py``)
  on ``latency`` (cycles) and ``energy`` (pJ), with the table's PE limit (1024): the accelerator is
  one integer knob over the accelerators within the limit, sorted by PE count (then their other
  parameters).  The optimum: :meth:`GroundTruth.optimum`.

Every searcher minimises ``err`` = 100 - accuracy with the same constraints
(``{metric: ("<=", bound)}``, latency and energy modelled in log space) and the same initial design
size; a trial that violates a constraint is an ordinary result.  The searchers are driven through
the Ray Tune ``Searcher`` interface (``suggest`` / ``on_trial_complete``) one trial at a time, without
a Tuner: the evaluations are table look-ups.  Random search samples uniformly; its best feasible
point is read off afterwards ("filtered").

Reported per problem and searcher (median [IQR] over seeds): regret = exact optimum - best feasible
accuracy found, in accuracy points, after 10, 30 and 100 evaluations (``inf`` while nothing feasible
was found; the first 30 evaluations of a run are what a 30-evaluation run would have done, since no
searcher here knows its budget); how many seeds found the exact optimum within the budget and the
median evaluations they needed; the share of proposals after the initial design that violate a
constraint; the searcher's own time.  Rank tests: two-sided Mann-Whitney U of CoflexSearch's regret
against each other searcher's, and one-sided against random.

Runs are appended to ``runs.jsonl`` as they finish (one line per problem, searcher and seed) and
skipped when the command is repeated: an interrupted benchmark resumes.  ``--jobs 2`` runs two at
once (one torch thread each).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .common import RESULTS

SEARCHERS = ("coflex", "qnei", "nsga2", "optuna-tpe", "optuna-gp", "random")
DEVICES, PERCENTILES = ("pixel3", "raspi4"), (10, 30)
CODESIGN_QUANTILES = ((0.05, 0.05), (0.1, 0.25), (0.25, 0.1))  # the co-design table's constraint pairs
MAX_PES = 1024
CHECKPOINTS = (10, 30, 100)
INF = 1e9  # a regret while nothing feasible was found, for quantiles and rank tests (worse than any finite one)
OUT = RESULTS / "constrained"


@dataclass(frozen=True)
class Problem:
    """One constrained problem: a Tune ``param_space``, its evaluation, constraints and exact optimum."""

    name: str
    param_space: dict[str, Any]
    evaluate: Callable[[dict[str, Any]], dict[str, Any]]
    constraints: dict[str, tuple[str, float]]
    log_metrics: tuple[str, ...]
    optimum: float  # accuracy (%) of the best configuration meeting every constraint
    about: str


def _nb201_problem(device: str, pct: int) -> Problem:
    from coflex_ray.evaluators.device import latency_table
    from coflex_ray.evaluators.nb201 import nb201_index, nb201_table
    from coflex_ray.spaces import NB201_SPACE

    lat = latency_table()[device].to_numpy(float)
    acc = nb201_table()["cifar10"].to_numpy(float)  # row = official index
    bound = float(np.percentile(lat, pct))
    ok = lat <= bound
    best = int(np.argmax(np.where(ok, acc, -np.inf)))

    def evaluate(config: dict[str, Any]) -> dict[str, Any]:
        i = nb201_index(config)
        return {"err": 100.0 - acc[i], "latency_ms": lat[i], "feasible": True}

    return Problem(f"nb201-{device}-p{pct}", NB201_SPACE.param_space(), evaluate,
                   {"latency_ms": ("<=", bound)}, ("latency_ms",), float(acc[best]),
                   f"NB201 cifar10, latency_ms <= {bound:.4g} on {device} (p{pct}); optimum cell {best}, "
                   f"{ok.sum()} of {ok.size} cells feasible")


@lru_cache(maxsize=1)
def _ground_truth() -> Any:
    from coflex_ray.codesign.groundtruth import build_ground_truth

    return build_ground_truth(100, 0, "cifar10")


def _codesign_problem(k: int) -> Problem:
    from coflex_ray.evaluators.nb201 import nb201_index
    from coflex_ray.spaces import NB201_SPACE, Space, integer_dim, joint

    gt = _ground_truth()
    lat_max, en_max = gt.quantile_constraints(CODESIGN_QUANTILES, MAX_PES)[k]
    # the PE limit is a property of the configuration, not an outcome: the space holds the accelerators
    # within it, sorted by PE count (then their other parameters)
    order = sorted((r for r in range(len(gt.accelerators)) if gt.pes[r] <= MAX_PES),
                   key=lambda r: (int(gt.pes[r]), gt.accelerators[r].key()))
    column = {int(a): j for j, a in enumerate(gt.arch_index)}
    space = joint(NB201_SPACE, Space("accelerator", (integer_dim("accelerator", 0, len(order) - 1),)))
    best = gt.optimum(lat_max, en_max, max_pes=MAX_PES)

    def evaluate(config: dict[str, Any]) -> dict[str, Any]:
        r, j = order[int(config["accelerator"])], column[nb201_index(config)]
        ok = bool(np.isfinite(gt.latency[r, j]) and np.isfinite(gt.energy[r, j]))
        return {"err": 100.0 - float(gt.accuracy[j]), "latency": float(gt.latency[r, j]),
                "energy": float(gt.energy[r, j]), "feasible": ok}

    cons = {"latency": ("<=", lat_max), "energy": ("<=", en_max)}
    return Problem(f"codesign-c{k}", space.param_space(), evaluate, cons, ("latency", "energy"),
                   float(best["accuracy"]),
                   f"NB201 cifar10 x {len(order)} accelerators (zigzag-fixed ground truth), latency <= "
                   f"{lat_max:.4g} cycles, energy <= {en_max:.4g} pJ (accelerators with <= {MAX_PES} PEs); optimum cell "
                   f"{best['arch']} on accelerator {order.index(best['accelerator'])}")


def problems() -> dict[str, Callable[[], Problem]]:
    """Every problem of the benchmark by name (built on first use)."""
    out: dict[str, Callable[[], Problem]] = {}
    for d in DEVICES:
        for p in PERCENTILES:
            out[f"nb201-{d}-p{p}"] = lambda d=d, p=p: _nb201_problem(d, p)
    for k in range(len(CODESIGN_QUANTILES)):
        out[f"codesign-c{k}"] = lambda k=k: _codesign_problem(k)
    return out


class RandomSearch:
    """Uniform random configurations (the Tune ``Searcher`` calls this benchmark makes)."""

    def __init__(self, param_space: dict[str, Any], seed: int) -> None:
        from coflex_ray.searchers.tune_space import from_param_space

        self.space, _ = from_param_space(param_space, 1001)
        self.rng = np.random.default_rng(seed)

    def suggest(self, trial_id: str) -> dict[str, Any]:
        return self.space.sample(self.rng)[0]

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass


def make_searcher(name: str, problem: Problem, seed: int, n_init: int) -> Any:
    """Searcher ``name`` on ``problem``, minimising ``err`` under the problem's constraints.

    Raises:
        ValueError: ``name`` is not one of :data:`SEARCHERS`.
    """
    kw = dict(metric="err", mode="min", seed=seed, constraints=problem.constraints,
              log_metrics=list(problem.log_metrics))
    if name == "coflex":
        from coflex_ray import CoflexSearch

        return CoflexSearch(problem.param_space, n_init=n_init, **kw)
    if name == "qnei":  # with one metric, BoTorchMOSearch's acquisition is qLogNoisyExpectedImprovement
        from coflex_ray import BoTorchMOSearch

        return BoTorchMOSearch(problem.param_space, n_init=n_init, **kw)
    if name == "nsga2":
        from coflex_ray import NSGA2Search

        return NSGA2Search(problem.param_space, pop_size=n_init, **kw)
    if name in ("optuna-tpe", "optuna-gp"):
        import optuna
        from coflex_ray.registry import optuna_sampler
        from coflex_ray.searchers.optuna_constraints import ConstrainedOptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space = ConstrainedOptunaSearch.convert_search_space(problem.param_space)
        return ConstrainedOptunaSearch(space=space, metric="err", mode="min",
                                       sampler=optuna_sampler(name, seed, n_init), constraints=problem.constraints,
                                       log_metrics=list(problem.log_metrics))
    if name == "random":
        return RandomSearch(problem.param_space, seed)
    raise ValueError(f"unknown searcher {name!r}; allowed: {', '.join(SEARCHERS)}")


def run_one(problem_name: str, searcher: str, seed: int, budget: int, n_init: int) -> dict[str, Any]:
    """One run: ``budget`` sequential evaluations; the accuracy and constraint outcome of each."""
    import torch

    from coflex_ray.analysis import meets_constraints

    torch.set_num_threads(1)
    problem = problems()[problem_name]()
    alg = make_searcher(searcher, problem, seed, n_init)
    results, search_s = [], 0.0
    for i in range(budget):
        t = time.perf_counter()
        config = alg.suggest(f"t{i}")
        search_s += time.perf_counter() - t
        if not isinstance(config, dict):
            break
        result = problem.evaluate(config)
        t = time.perf_counter()
        alg.on_trial_complete(f"t{i}", result)
        search_s += time.perf_counter() - t
        results.append(result)
    acc = [round(100.0 - float(r["err"]), 6) for r in results]
    ok = meets_constraints(pd.DataFrame(results), problem.constraints).tolist() if results else []
    return {"problem": problem_name, "searcher": searcher, "seed": seed, "budget": budget, "n_init": n_init,
            "optimum": problem.optimum, "accuracy": acc, "meets": ok, "searcher_s": round(search_s, 3)}


# ---------------------------------------------------------------- analysis
def regret_curve(run: dict[str, Any]) -> np.ndarray:
    """Regret after each evaluation (inf until a feasible point is found)."""
    acc = np.where(np.asarray(run["meets"], bool), np.asarray(run["accuracy"], float), -np.inf)
    return run["optimum"] - np.maximum.accumulate(acc) if len(acc) else np.array([np.inf])


def run_metrics(run: dict[str, Any]) -> dict[str, Any]:
    """Regret at :data:`CHECKPOINTS`, evaluations until the optimum, violation share after the
    initial design."""
    curve = regret_curve(run)
    out = {f"regret@{c}": float(curve[min(c, len(curve)) - 1]) for c in CHECKPOINTS if c <= run["budget"]}
    hit = np.flatnonzero(curve <= 1e-9)
    out["evals_to_optimum"] = int(hit[0]) + 1 if len(hit) else math.nan
    after = np.asarray(run["meets"][run["n_init"]:], bool)
    out["violating_share"] = float(1 - after.mean()) if len(after) else math.nan
    out["searcher_s"] = run["searcher_s"]
    return out


def _fmt(values: pd.Series) -> str:
    """``median [q1, q3]``; a quantile that reaches into runs with nothing feasible is ``inf``."""
    v = values.to_numpy(float)
    q1, med, q3 = np.percentile(np.where(np.isfinite(v), v, INF), [25, 50, 75])
    show = lambda x: "inf" if x >= INF / 10 else f"{x:.2f}"  # noqa: E731
    return f"{show(med)} [{show(q1)}, {show(q3)}]"


def summarise(runs: list[dict[str, Any]]) -> tuple[pd.DataFrame, str]:
    """Per problem and searcher: the table rows, and the text of the report (with rank tests and
    the targets)."""
    from scipy.stats import mannwhitneyu

    df = pd.DataFrame([{**{k: r[k] for k in ("problem", "searcher", "seed", "optimum")}, **run_metrics(r)}
                       for r in runs])
    rows, lines = [], []
    budget = max(r["budget"] for r in runs)
    cps = [c for c in CHECKPOINTS if c <= budget]
    for prob, g in df.groupby("problem", sort=False):
        lines.append(f"\n{prob} (exact optimum {g['optimum'].iloc[0]:.2f} %):")
        base = g[g["searcher"] == "coflex"]
        for name, s in g.groupby("searcher", sort=False):
            row = {"problem": prob, "searcher": name, "seeds": len(s)}
            for c in cps:
                row[f"regret@{c}"] = _fmt(s[f"regret@{c}"])
                row[f"median@{c}"] = float(np.median(s[f"regret@{c}"]))
            found = s["evals_to_optimum"].dropna()
            row["found"] = f"{len(found)}/{len(s)}"
            row["evals_to_opt"] = f"{found.median():.0f}" if len(found) else "-"
            row["violating"] = f"{np.nanmedian(s['violating_share']):.0%}"
            row["searcher_s"] = f"{s['searcher_s'].median():.1f}"
            if name != "coflex" and len(base):
                for c in cps[1:]:
                    a, b = base[f"regret@{c}"].to_numpy(float), s[f"regret@{c}"].to_numpy(float)
                    a, b = np.where(np.isfinite(a), a, INF), np.where(np.isfinite(b), b, INF)
                    alt = "less" if name == "random" else "two-sided"
                    differ = len(np.unique(np.concatenate([a, b]))) > 1
                    row[f"p@{c}"] = float(mannwhitneyu(a, b, alternative=alt).pvalue) if differ else 1.0
            rows.append(row)
    table = pd.DataFrame(rows)
    show = table.drop(columns=[c for c in table if c.startswith("median@")])
    text = show.to_string(index=False, float_format=lambda v: f"{v:.3g}")
    return table, text + "\n\n" + "\n".join(targets(table, cps))


def targets(table: pd.DataFrame, cps: list[int]) -> list[str]:
    """One line per problem: did CoflexSearch meet the benchmark's targets (lowest median regret at
    30 and 100, better than random at p < 0.05, the optimum on at least half of the seeds)?"""
    out = ["targets (coflex: lowest median regret at 30 and 100; p < 0.05 vs random at 30 and 100; "
           "optimum found on >= half the seeds):"]
    for prob, g in table.groupby("problem", sort=False):
        c = g[g["searcher"] == "coflex"]
        if c.empty:
            continue
        c = c.iloc[0]
        others = g[g["searcher"] != "coflex"]
        lowest = []
        for k in (k for k in cps if k in (30, 100)):
            top = others.loc[others[f"median@{k}"].idxmin()]
            ok = c[f"median@{k}"] <= top[f"median@{k}"]
            lowest.append(f"at {k} {'yes' if ok else 'NO'} ({c[f'median@{k}']:.2f}; best other "
                          f"{top['searcher']} {top[f'median@{k}']:.2f})")
        rnd = others[others["searcher"] == "random"]
        vs_rnd = [float(rnd[f"p@{k}"].iloc[0]) for k in cps[1:]] if len(rnd) else []
        hits, seeds = map(int, c["found"].split("/"))
        out.append(f"  {prob}: lowest median regret {', '.join(lowest)}; p vs random "
                   f"{', '.join(f'{p:.3g}' for p in vs_rnd) or '-'}"
                   f" ({'yes' if vs_rnd and max(vs_rnd) < 0.05 else 'NO'}); optimum found {hits}/{seeds} "
                   f"({'yes' if 2 * hits >= seeds else 'NO'})")
    return out


# ---------------------------------------------------------------- command line
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks constrained", description=__doc__.split("\n")[0])
    p.add_argument("--problems", nargs="+", default=list(problems()), help=f"subset of {', '.join(problems())}")
    p.add_argument("--searchers", nargs="+", default=list(SEARCHERS), help=f"subset of {', '.join(SEARCHERS)}")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--jobs", type=int, default=1, help="runs at once (processes)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--summary-only", action="store_true",
                   help="run nothing: summarise the runs already in --out (a searcher may have fewer seeds)")
    args = p.parse_args(argv)
    for flag, given, allowed in (("--problems", args.problems, list(problems())),
                                 ("--searchers", args.searchers, list(SEARCHERS))):
        bad = [x for x in given if x not in allowed]
        if bad:
            p.error(f"{flag} {bad[0]!r} is not allowed; allowed: {', '.join(allowed)}")
    if args.budget < 1 or not 1 <= args.n_init <= args.budget or args.jobs < 1 or min(args.seeds) < 0:
        p.error(f"need budget >= 1, 1 <= n_init <= budget, jobs >= 1, seeds >= 0; got budget={args.budget} "
                f"n_init={args.n_init} jobs={args.jobs} seeds={args.seeds}")
    return args


def _done(path: Path) -> dict[tuple, dict]:
    if not path.exists():
        return {}
    runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["problem"], r["searcher"], r["seed"], r["budget"], r["n_init"]): r for r in runs}


def main(argv: list[str] | None = None) -> None:
    from coflex_ray.machine import machine

    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "runs.jsonl"
    print(machine(), flush=True)
    for name in args.problems:
        print(f"{name}: {problems()[name]().about}", flush=True)
    done = _done(path)
    todo = [] if args.summary_only else [
        (p, s, seed) for seed in args.seeds for p in args.problems for s in args.searchers
        if (p, s, seed, args.budget, args.n_init) not in done]  # seed by seed: every seed done is complete
    print(f"{len(todo)} runs to do ({len(done)} already in {path}); {args.jobs} at once", flush=True)
    start = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool, path.open("a") as f:
        futures = {pool.submit(run_one, p, s, seed, args.budget, args.n_init): (p, s, seed) for p, s, seed in todo}
        for i, fut in enumerate(as_completed(futures), 1):
            run = fut.result()
            f.write(json.dumps(run) + "\n")
            f.flush()
            done[(run["problem"], run["searcher"], run["seed"], run["budget"], run["n_init"])] = run
            m = run_metrics(run)
            el = time.time() - start
            print(f"[{i}/{len(todo)}] {run['problem']} {run['searcher']} seed {run['seed']}: regret@"
                  f"{min(args.budget, 100)} {m.get(f'regret@{min(args.budget, 100)}', math.nan):.2f}, searcher "
                  f"{run['searcher_s']:.1f}s ({el / 60:.1f} min elapsed, ETA {el / i * (len(todo) - i) / 60:.0f} min)",
                  flush=True)
    runs = [r for k, r in done.items() if k[0] in args.problems and k[1] in args.searchers and k[2] in args.seeds
            and k[3] == args.budget and k[4] == args.n_init]
    if not runs:
        print("no runs to summarise")
        return
    table, text = summarise(runs)
    print(text)
    table.to_csv(args.out / "summary.csv", index=False)
    (args.out / "summary.txt").write_text(machine() + "\n" + text + "\n")
    print(f"\nwritten: {args.out / 'summary.txt'}, {args.out / 'summary.csv'}")


if __name__ == "__main__":
    main()
