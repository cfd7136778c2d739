"""Best-known reference fronts from documented long runs: ``python -m benchmarks best-known DIR [DIR ...]``.

Benchmarks whose configurations cannot all be evaluated (SSS or NB201 x accelerator: ~7.9e14
accelerators) are measured against a best-known front: the non-dominated union of every feasible
point that long runs of every searcher found (:func:`coflex_ray.reference_fronts.write_best_known`).
This command reads finished studies (``results.parquet`` + ``run_info.json`` of ``experiments/sss.py``
or ``experiments/nb201.py``), checks that they are of one benchmark (benchmark, dataset, accuracy
source, fidelity), merges them with the shipped front of that benchmark if there is one (a front only
improves), and writes ``coflex_ray/data/fronts/<name>.json`` with the commands that produced it.

Studies that use the front afterwards normalise by its ideal and nadir; re-run a study's analysis
with ``--resume`` (nothing is re-evaluated) to score it against an updated front.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

import pandas as pd


def study_key(info: dict) -> tuple[str, str, str, str]:
    """(benchmark, dataset, accuracy source, fidelity) of a finished study."""
    args = info["args"]
    if args.get("device"):
        raise ValueError("a --device study has an exact reference front; a best-known front is not needed")
    if "accuracy_source" not in info:
        raise ValueError("run_info.json names no accuracy_source (a study from before it was recorded)")
    return info["benchmark"], args["dataset"], info["accuracy_source"], final_tier(args)


def final_tier(args: dict) -> str:
    """The hardware tier a finished study's results are at: the top of a hardware ladder, else ``--fidelity``."""
    ladder = args.get("fidelity_ladder")
    return ladder.split(",")[-1] if ladder and not ladder.startswith("epochs") else args["fidelity"]


def command_of(info: dict) -> str:
    """The command line that reproduces a study (from its recorded arguments)."""
    args, script = info["args"], f"experiments/{info['benchmark']}.py"
    parts = [f"python {script}", f"--budget {args['budget']}", f"--n-init {args['n_init']}",
             "--seeds " + " ".join(map(str, args["seeds"])), "--searchers " + " ".join(args["searchers"]),
             f"--dataset {args['dataset']}", f"--fidelity {args['fidelity']}", f"--concurrency {args['concurrency']}"]
    if args.get("minutes_per_run"):
        parts.append(f"--minutes-per-run {args['minutes_per_run']:g}")
    if args.get("network_evaluator"):
        parts.append(f"--network-evaluator {args['network_evaluator']}")
    if args.get("nats_sss"):
        parts.append("--nats-sss <the official table>")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> None:
    from coflex_ray.analysis import final_rows
    from coflex_ray.reference_fronts import FRONTS_DIR, front_name, read_front, write_best_known

    p = argparse.ArgumentParser(prog="python -m benchmarks best-known", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("studies", nargs="+", help="finished study folders (--out of sss.py / nb201.py)")
    p.add_argument("--to", default=None, help="output folder (default: the package's data/fronts)")
    a = p.parse_args(argv)
    frames, keys, commands = [], set(), []
    for d in map(Path, a.studies):
        try:
            info = json.loads((d / "run_info.json").read_text())
            frames.append(final_rows(pd.read_parquet(d / "results.parquet")))  # top rung only
        except (OSError, ValueError) as e:
            raise SystemExit(f"error: {d} is not a finished study ({e})")
        try:
            keys.add(study_key(info))
        except (ValueError, KeyError) as e:
            raise SystemExit(f"error: {d}: {e}")
        commands.append(command_of(info))
    if len(keys) != 1:
        raise SystemExit(f"error: the studies are of different benchmarks {sorted(keys)}; give one benchmark's studies")
    benchmark, dataset, source, fidelity = keys.pop()
    hw = "edp"  # accelerator benchmarks only (a --device study has an exact front)
    name = front_name(benchmark, dataset, fidelity, source)
    folder = Path(a.to) if a.to else Path(str(resources.files("coflex_ray") / "data" / FRONTS_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    previous = read_front(path) if path.is_file() else None
    results = pd.concat(frames, ignore_index=True)
    meta = {"benchmark": benchmark, "dataset": dataset, "accuracy_source": source, "fidelity": fidelity,
            "evaluations": int(len(results)) + int(previous.meta.get("evaluations", 0) if previous else 0),
            "commands": (previous.meta.get("commands", []) if previous else []) + commands}
    front = write_best_known(results, hw, path, source=f"best-known front of {benchmark} {dataset} "
                             f"({source}) x {fidelity}: non-dominated union of the runs in meta.commands", meta=meta,
                             previous=previous)
    print(f"{path}: {len(front.points)} points from {meta['evaluations']} evaluations "
          f"({len(commands)} new studies{', merged with the previous front' if previous else ''})")
