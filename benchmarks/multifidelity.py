"""Multi-fidelity benchmark: does pruning with the cheap tier buy accurate-tier quality at equal wall time?

    python -m benchmarks multifidelity                      # 3 seeds x 3 approaches x 10 min (~90 min)
    python -m benchmarks multifidelity --minutes 1 --seeds 0 # a quick check of the machinery

SSS x the Coflex accelerator space (ImageNet16-120, error from the shipped surrogate unless
``--nats-sss`` is given), one searcher (``--searcher``, default coflex), the accurate tier ``zigzag``
(ZigZag with LOMA, ``--lpf-limit``) as the final fidelity, the same wall-clock budget per run
(``--minutes``), ``--concurrency`` trials at once, cold layer caches per run (each run pays for
its own simulations).  Approaches:

* ``a``: every trial at the accurate tier, no scheduler;
* ``b``: MO-ASHA (``coflex_ray.schedulers``) over the ladder ``zigzag-fixed,zigzag`` (grace 1,
  ``--reduction-factor``);
* ``c``: search at zigzag-fixed only for ``1 - --reeval-share`` of the budget, then re-evaluate that
  run's zigzag-fixed front at the accurate tier in the time left (points not finished by then are
  dropped).

Each finished run is appended to ``--log`` (JSON lines: its accurate-tier points, evaluations per
tier, simulator time); runs already in the log are not run again, so an interrupted benchmark
resumes (a run cut off mid-way is started over).  The report: HV and IGD+ of each run's
accurate-tier points, normalised by the bounds of the union of every accurate-tier point of every
logged run (all approaches and seeds; reference point 1.1), IGD+ against that union's
non-dominated front, the accurate-tier evaluations spent, and how many of the union front's points
each run found (by configuration); median and range over seeds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from coflex_ray.machine import machine

from .common import RESULTS

APPROACHES = {"a": "accurate tier only", "b": "MO-ASHA over zigzag-fixed,zigzag",
              "c": "zigzag-fixed search, front re-evaluated"}
CHEAP, ACCURATE = "zigzag-fixed", "zigzag"
MAX_TRIALS = 100_000  # the wall-clock budget ends a run, not the trial count


def _key(row: Any) -> str:
    """A configuration's identity across runs (its searched values)."""
    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE

    return "|".join(str(row[f"config/{k}"]) for k in (*SSS_SPACE.keys, *ACCEL_SPACE.keys))


def _points(df: Any) -> list[dict]:
    if "feasible" not in df:
        return []
    ok = df[df["feasible"].astype(bool)]
    return [{"key": _key(r), "err": float(r["err"]), "edp": float(r["edp"])} for _, r in ok.iterrows()]


def _reported(df: Any) -> Any:
    """The rows trials actually reported (a trial the time budget ended before its report has none)."""
    if "feasible" not in df:  # no trial reported at all
        import pandas as pd

        return pd.DataFrame(columns=["feasible", "err", "edp", "eval_time_s", "fidelity_level"])
    return df[df["feasible"].notna()]


def _kill(pools: dict) -> None:
    import ray

    for pool in pools.values():
        for shard in pool.shards:
            ray.kill(shard)


def one_run(approach: str, seed: int, args: argparse.Namespace, out: Path) -> dict:
    """Run one (approach, seed) with fresh caches; returns its log record."""
    from coflex_ray.fidelity import parse_ladder
    from coflex_ray.runner import run_tuner
    from coflex_ray.service import HardwarePool
    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint
    from coflex_ray.study import build_schedulers, build_searchers
    from coflex_ray.trial import EvalSpec, cosearch_trial

    space = joint(SSS_SPACE, ACCEL_SPACE)
    alg = build_searchers([args.searcher], space, [seed], args.n_init, args.concurrency)[args.searcher, seed]
    tiers = (CHEAP, ACCURATE) if approach in "bc" else (ACCURATE,)
    pools = {t: HardwarePool(t, lpf_limit=args.lpf_limit) for t in tiers}
    name = f"{approach}_seed{seed}"
    shutil.rmtree(out / name, ignore_errors=True)  # a run cut off earlier starts over
    budget_s = args.minutes * 60.0
    spec = EvalSpec("sss", args.dataset, args.nats_sss, timeout_s=None)
    start = time.time()
    run = partial(run_tuner, param_space=space.param_space(), search_alg=alg, budget=MAX_TRIALS, storage_path=out,
                  name=name, label=name)
    try:
        if approach == "a":
            df = _reported(run(partial(cosearch_trial, spec=replace(spec, fidelity=ACCURATE),
                                       hardware=pools[ACCURATE]), time_budget_s=budget_s))
            accurate, evals = _points(df), {ACCURATE: len(df)}
            sim_s = float(df["eval_time_s"].sum())
        elif approach == "b":
            ladder = parse_ladder(f"{CHEAP},{ACCURATE}")
            sched = build_schedulers("mo-asha", [(args.searcher, seed)], ladder, "edp", 1,
                                     args.reduction_factor)[args.searcher, seed]
            df = run(partial(cosearch_trial, spec=replace(spec, fidelity=CHEAP), hardware=pools,
                             ladder=ladder), time_budget_s=budget_s, scheduler=sched, all_rows=True)
            df = _reported(df)
            top = df[df["fidelity_level"] == 2]
            accurate = _points(top)
            evals = {CHEAP: int((df["fidelity_level"] == 1).sum()), ACCURATE: len(top)}
            sim_s = float(df["eval_time_s"].sum())
        else:
            df = _reported(run(partial(cosearch_trial, spec=replace(spec, fidelity=CHEAP), hardware=pools[CHEAP]),
                               time_budget_s=budget_s * (1 - args.reeval_share)))
            accurate, n_accurate, reeval_s = _reevaluate(df, spec, pools[ACCURATE], start + budget_s)
            evals = {CHEAP: len(df), ACCURATE: n_accurate}
            sim_s = float(df["eval_time_s"].sum()) + reeval_s
    finally:
        _kill(pools)
    return {"approach": approach, "seed": seed, "searcher": args.searcher, "minutes": args.minutes,
            "lpf_limit": args.lpf_limit, "dataset": args.dataset, "wall_s": time.time() - start,
            "evals": evals, "sim_time_s": sim_s, "accurate": accurate}


def _reevaluate(df: Any, spec: Any, pool: Any, deadline: float) -> tuple[list[dict], int, float]:
    """Approach c's second phase: the feasible zigzag-fixed front of ``df`` at the accurate tier, as
    Ray tasks of one CPU each (so at most ``--concurrency`` at once, like the trials of a and b; the
    pool's shards do the simulating), cheapest zigzag-fixed EDP first, until ``deadline``; unfinished
    ones cancelled.  (Launched all at once, 20 LOMA searches shared 2 cores and none finished; in
    order of error, the largest networks came first and none finished in 96 s either.)"""
    import ray

    from coflex_ray.analysis import nondominated
    from coflex_ray.trial import evaluate_config

    ok = df[df["feasible"].astype(bool)].reset_index(drop=True)
    if ok.empty:
        return [], 0, 0.0
    Y = np.column_stack([ok["err"].to_numpy(float), np.log10(ok["edp"].to_numpy(float))])
    front = ok[nondominated(Y)].sort_values("edp")
    acc_spec = replace(spec, fidelity=ACCURATE)
    task = ray.remote(num_cpus=1)(evaluate_config)
    configs = [{c[len("config/"):]: r[c] for c in front.columns if c.startswith("config/")}
               for _, r in front.iterrows()]
    refs = {task.remote({k: (v.item() if hasattr(v, "item") else v) for k, v in cfg.items()}, acc_spec, pool): cfg
            for cfg in configs}
    done, rest = ray.wait(list(refs), num_returns=len(refs), timeout=max(0.0, deadline - time.time()))
    for ref in rest:
        ray.cancel(ref, force=True)
    rows = [dict(ray.get(r), **{f"config/{k}": v for k, v in refs[r].items()}) for r in done]
    import pandas as pd

    table = pd.DataFrame(rows)
    return (_points(table) if len(table) else []), len(rows), float(sum(r["eval_time_s"] for r in rows))


def _load(log: Path) -> list[dict]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def report(records: list[dict]) -> str:
    """The table of the logged runs (see the module docstring)."""
    from pymoo.indicators.igd_plus import IGDPlus

    from coflex_ray.analysis import REF, bounds_of, hypervolume, normalise, nondominated

    union: dict[str, tuple[float, float]] = {}
    for rec in records:
        for p in rec["accurate"]:
            union.setdefault(p["key"], (p["err"], float(np.log10(p["edp"]))))
    if not union:
        return "no accurate-tier results yet"
    keys = list(union)
    U = np.array([union[k] for k in keys])
    bounds = bounds_of(U)
    Un = normalise(U, bounds)
    nd = nondominated(Un)
    front, front_keys = Un[nd], {k for k, f in zip(keys, nd) if f}
    rows = []
    for rec in records:
        Y = np.array([(p["err"], np.log10(p["edp"])) for p in rec["accurate"]]).reshape(-1, 2)
        Yn = normalise(Y, bounds)
        F = Yn[nondominated(Yn)] if len(Yn) else Yn
        rows.append({"approach": rec["approach"], "seed": rec["seed"],
                     "hv": float(hypervolume(F, [REF, REF])) if len(F) else 0.0,
                     "igd_plus": float(IGDPlus(front)(F)) if len(F) else float("nan"),
                     "accurate_evals": rec["evals"].get(ACCURATE, 0), "cheap_evals": rec["evals"].get(CHEAP, 0),
                     "front_found": len(front_keys & {p["key"] for p in rec["accurate"]}),
                     "sim_time_s": rec["sim_time_s"], "wall_s": rec["wall_s"]})
    import pandas as pd

    t = pd.DataFrame(rows)
    lines = [f"union of accurate-tier ({ACCURATE}) results: {len(U)} configurations, front of {len(front)}; "
             f"HV of (err, log10 edp) normalised by the union's bounds, reference point {REF}",
             f"{'approach':<42} {'seeds':>5} {'HV':>20} {'IGD+':>20} {'accurate evals':>16} {'cheap evals':>14} "
             f"{'front pts found':>16} {'sim s':>10} {'wall s':>8}"]

    def cell(s: Any, fmt: str) -> str:
        return f"{format(s.median(), fmt)} [{format(s.min(), fmt)}-{format(s.max(), fmt)}]"

    for a, g in t.groupby("approach", sort=True):
        lines.append(f"{a + ') ' + APPROACHES[a]:<42} {len(g):>5} {cell(g['hv'], '.3f'):>20} "
                     f"{cell(g['igd_plus'], '.3f'):>20} {cell(g['accurate_evals'], '.0f'):>16} "
                     f"{cell(g['cheap_evals'], '.0f'):>14} {cell(g['front_found'], '.0f'):>16} "
                     f"{g['sim_time_s'].median():>10.0f} {g['wall_s'].median():>8.0f}")
    lines.append("cells: median [min-max] over seeds; front pts found = points of the union front the run "
                 "evaluated at the accurate tier; sim s = evaluation time summed over the run's trials "
                 "(concurrent trials overlap)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks multifidelity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per run (default 10)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--approaches", nargs="+", default=list(APPROACHES), choices=list(APPROACHES))
    p.add_argument("--searcher", default="coflex", help="one of the study's searchers (default coflex)")
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--lpf-limit", type=int, default=6, help="LOMA limit of the accurate tier (default 6)")
    p.add_argument("--reduction-factor", type=float, default=3.0, help="MO-ASHA's (approach b; default 3)")
    p.add_argument("--reeval-share", type=float, default=0.6,
                   help="approach c: share of the budget kept for re-evaluating the front (default 0.6: the cheap search saturates in a minute, an accurate evaluation takes tens of seconds)")
    p.add_argument("--dataset", default="ImageNet16-120")
    p.add_argument("--nats-sss", default=None, metavar="PATH", help="official SSS folder (exact errors)")
    p.add_argument("--log", default=str(RESULTS / "multifidelity.jsonl"),
                   help="JSON-lines log: each finished run is appended; logged runs are not run again")
    p.add_argument("--out", default="results/bench_multifidelity", help="Tune's storage for the runs")
    args = p.parse_args(argv)
    if not args.minutes > 0 or not 0 < args.reeval_share < 1 or args.reduction_factor <= 1:
        p.error(f"--minutes {args.minutes} must be > 0, --reeval-share {args.reeval_share} in (0, 1), "
                f"--reduction-factor {args.reduction_factor} > 1")
    print(machine())
    log, out = Path(args.log), Path(args.out).resolve()
    same = lambda r: (r["searcher"], r["minutes"], r["lpf_limit"], r["dataset"]) == (  # noqa: E731
        args.searcher, args.minutes, args.lpf_limit, args.dataset)
    done = {(r["approach"], r["seed"]) for r in _load(log) if same(r)}
    todo = [(a, s) for s in args.seeds for a in args.approaches if (a, s) not in done]
    print(f"{args.searcher}, {args.minutes:g} min per run, concurrency {args.concurrency}, LOMA lpf_limit "
          f"{args.lpf_limit}, {args.dataset}; {len(done)} runs in {log}, {len(todo)} to run")
    if todo:
        from coflex_ray.runner import init_ray

        init_ray(num_cpus=args.concurrency)
    for approach, seed in todo:
        rec = one_run(approach, seed, args, out)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"[done] {approach}) {APPROACHES[approach]}, seed {seed}: {len(rec['accurate'])} accurate-tier points, "
              f"evaluations {rec['evals']}, {rec['wall_s']:.0f}s", flush=True)
    print("\n" + report([r for r in _load(log) if same(r) and r["seed"] in args.seeds
                         and r["approach"] in args.approaches]))
