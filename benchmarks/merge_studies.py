"""One table from studies run separately: ``python -m benchmarks merge-studies DIR [DIR ...] --out OUT``.

A searcher too slow to finish beside the others (qNEHVI at 100 trials: 6-10 minutes per run here)
can be run later, in its own study folder, on the same benchmark, bounds and seeds.  This command
reads the finished studies' ``per_run.csv`` (one row per (searcher, seed)), checks that they are
comparable, and writes and prints the joint ``per_run.csv``, ``summary.csv`` and ``rank_tests.csv``
(CoflexSearch against every other searcher) to ``OUT``.

Comparable means: the same benchmark and settings that change what a run sees (budget, initial
points, dataset, hardware tier or device, network evaluator, scheduler and ladder, concurrency), the
same objective bounds (``bounds.json``) and the same reference front (``run_info.json``); a (searcher,
seed) may come from one study only.  The per-run indicators are the run's own (HV in the shared
bounds, HV fraction and IGD+ against the reference front), so they are comparable across studies;
IGD and IGD+ against the union front of the methods *of one study* are not, and are left blank.
Wall-clock columns are each study's own: compare them only where the studies ran on the same,
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

# run settings that must agree between merged studies (seeds and searchers may differ)
from coflex_ray.study.identity import IDENTITY_ARGS as SAME_ARGS
STUDY_RELATIVE = ("igd", "igd_plus")


def read_study(folder: Path) -> tuple[pd.DataFrame, dict, dict]:
    """(per_run table, run_info, bounds read by :func:`coflex_ray.analysis.load_bounds`) of a finished study folder."""
    from coflex_ray.analysis import load_bounds

    missing = [f for f in ("per_run.csv", "run_info.json", "bounds.json") if not (folder / f).is_file()]
    if missing:
        raise ValueError(f"{folder}: not a finished study (no {', '.join(missing)})")
    return (pd.read_csv(folder / "per_run.csv"), json.loads((folder / "run_info.json").read_text()),
            load_bounds(folder / "bounds.json"))


def check_comparable(folders: list[Path], infos: list[dict], bounds: list[dict]) -> None:
    """Raise ``ValueError`` naming the first setting in which a study differs from the first one."""
    first, info0, b0 = folders[0], infos[0], bounds[0]
    for folder, info, b in zip(folders[1:], infos[1:], bounds[1:]):
        for key in ("benchmark", "accuracy_source", "reference_front"):
            if info.get(key) != info0.get(key):
                raise ValueError(f"{folder} and {first} differ in {key}: {info.get(key)!r} vs {info0.get(key)!r}")
        for key in SAME_ARGS:
            if info["args"].get(key) != info0["args"].get(key):
                raise ValueError(f"{folder} and {first} differ in --{key.replace('_', '-')}: "
                                 f"{info['args'].get(key)!r} vs {info0['args'].get(key)!r}")
        if b != b0:
            raise ValueError(f"{folder} and {first} differ in their objective bounds (bounds.json): {b} vs {b0}")


def merge(folders: list[Path]) -> pd.DataFrame:
    """The joint per-run table of comparable studies (study-relative IGD/IGD+ blanked)."""
    if not folders:
        raise ValueError("no study folders given")
    read = [read_study(f) for f in folders]
    check_comparable(folders, [r[1] for r in read], [r[2] for r in read])
    parts = []
    for folder, (per_run, _, _) in zip(folders, read):
        parts.append(per_run.assign(study=str(folder)))
    out = pd.concat(parts, ignore_index=True)
    dup = out[out.duplicated(["searcher", "seed"], keep=False)]
    if len(dup):
        s = dup.iloc[0]
        raise ValueError(f"searcher {s['searcher']!r} seed {s['seed']} is in more than one study: "
                         f"{', '.join(sorted(set(dup[(dup.searcher == s.searcher) & (dup.seed == s.seed)].study)))}")
    for col in STUDY_RELATIVE:
        if col in out:
            out[col] = np.nan
    return out


def main(argv: list[str] | None = None) -> None:
    from coflex_ray.analysis import format_rank_tests, format_summary, rank_tests, summary_table

    p = argparse.ArgumentParser(prog="python -m benchmarks merge-studies", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("studies", nargs="+", type=Path, help="finished study folders (the --out of each study)")
    p.add_argument("--out", type=Path, required=True, help="folder for the joint tables")
    args = p.parse_args(argv)
    try:
        per_run = merge(args.studies)
    except ValueError as e:
        p.error(str(e))
    args.out.mkdir(parents=True, exist_ok=True)
    per_run.to_csv(args.out / "per_run.csv", index=False)
    summary = summary_table(per_run)
    summary.to_csv(args.out / "summary.csv")
    print(f"{len(per_run)} runs from {len(args.studies)} studies: "
          + "; ".join(f"{f}: {', '.join(per_run[per_run.study == str(f)].searcher.unique())}" for f in args.studies))
    print("IGD / IGD+ against a study's own union front are blank (not comparable across studies); "
          "wall and suggest seconds are each study's own")
    print(format_summary(summary))
    written = ["per_run.csv", "summary.csv"]
    if "hv_frac" in per_run:  # a reference front: CoflexSearch against every other searcher
        tests = rank_tests(per_run)
        tests.to_csv(args.out / "rank_tests.csv", index=False)
        written.append("rank_tests.csv")
        print("\n" + format_rank_tests(tests))
    if "n_infeasible" in per_run:
        total = per_run.groupby("searcher", sort=False)[["n_trials", "n_infeasible"]].sum()
        print("\nfeasible trials: " + ", ".join(f"{s} {int(r.n_trials - r.n_infeasible)} / {int(r.n_trials)}"
                                                for s, r in total.iterrows()))
    print(f"\nwritten to {args.out}: {', '.join(written)}")
