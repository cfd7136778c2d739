"""Validation of the SSS accuracy surrogate against the shipped real records, beside the other scores.

On the 248 real ImageNet16-120 ``x-valid`` (hp 90) records: k-fold cross-validation of the GP
surrogate (Spearman, Kendall, RMSE, top-50 overlap, coverage of the 50/90/95 % predictive intervals),
repeated over shuffles; a feature ablation; the in-sample fit; the official records of archs 0, 11
and 284 (out of sample, small networks) when ``--official`` is found; the direct rank correlation of
parameters, FLOPs and the RBF proxy (ImageNet16-120 and cifar10 input) with the same records; and the
coverage of the space by the records (where the surrogate extrapolates).

Writes ``coflex_ray/data/sss_surrogate_validation.json`` (the figures every run quotes; a test
recomputes the surrogate's) and, with ``--txt``, a copy of this output.

    python -m benchmarks surrogate                 # ~1-3 min on 2 cores (proxy scores dominate)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from coflex_ray.evaluators.networks import sss_costs
from coflex_ray.evaluators.sss_surrogate import (DATASET, FEATURE_SETS, TARGET, VALIDATION_COMMAND,
                                                VALIDATION_FILE, GPSurrogate, all_channels, coverage,
                                                cross_validate, rank_metrics, record_channels, records)
from coflex_ray.machine import machine

from .common import RESULTS

OFFICIAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "sss_official_samples_tidy.csv"
METRICS = ("spearman", "kendall", "rmse", "top50", "coverage50", "coverage90", "coverage95")


def _fmt(m: dict) -> str:
    parts = [f"Spearman {m['spearman']:.3f}", f"Kendall {m['kendall']:.3f}", f"top-50 {m['top50']}/50"]
    if "rmse" in m:
        parts += [f"RMSE {m['rmse']:.3f}", f"coverage 50/90/95% {m['coverage50']:.2f}/{m['coverage90']:.2f}/"
                  f"{m['coverage95']:.2f}"]
    return ", ".join(parts)


def surrogate_cv(k: int, repeats: int, feature_set: str = "log_widths") -> dict:
    """Per-repeat and mean CV metrics of the GP surrogate."""
    y = records()["in16_valid_acc_hp90"].to_numpy()
    runs = []
    for r in range(repeats):
        mean, sd = cross_validate(k, r, feature_set)
        runs.append(rank_metrics(y, mean, sd))
    mean_m = {key: float(np.mean([run[key] for run in runs])) for key in METRICS}
    return {"mean": mean_m, "per_repeat": runs}


def run(args: argparse.Namespace) -> dict:
    print(machine())
    print(f"command: {VALIDATION_COMMAND} {' '.join(args.argv)}".rstrip())
    df = records()
    ch, y = record_channels(df), df["in16_valid_acc_hp90"].to_numpy()
    print(f"records: {len(df)} real NATS-Bench SSS {TARGET}; accuracy {y.min():.2f}..{y.max():.2f} "
          f"(mean {y.mean():.2f}, SD {y.std():.2f})")
    scores: dict[str, dict] = {}

    t0 = time.perf_counter()
    cv = surrogate_cv(args.k, args.repeats)
    scores["surrogate"] = cv["mean"]
    print(f"\nGP surrogate (BoTorch SingleTaskGP, log2 widths), {args.k}-fold CV x {args.repeats} shuffles "
          f"({time.perf_counter() - t0:.0f}s, shared machine):")
    print(f"  mean:      {_fmt(cv['mean'])}")
    for r, m in enumerate(cv["per_repeat"]):
        print(f"  shuffle {r}: {_fmt(m)}")
    ablation = {}
    for fs in FEATURE_SETS[1:]:
        ablation[fs] = surrogate_cv(args.k, 1, fs)["mean"]
        print(f"  ablation, features {fs} (shuffle 0): {_fmt(ablation[fs])}")

    t0 = time.perf_counter()
    gp = GPSurrogate(ch, y)
    fit_s = time.perf_counter() - t0
    mu, sd = gp.predict(ch)
    resid = y - mu
    in_sample = {"rmse": float(np.sqrt(np.mean(resid ** 2))), "noise_sd": gp.noise_sd,
                 "inside95": float(np.mean(np.abs(resid) <= 1.96 * sd)), "fit_s": fit_s}
    print(f"\nin-sample (fit on all {len(y)} records in {fit_s:.1f}s): residual RMSE {in_sample['rmse']:.3f}, "
          f"learned noise SD {gp.noise_sd:.3f} points (binomial SD of a 3,000-image split at 38 %: "
          f"{100 * np.sqrt(0.38 * 0.62 / 3000):.2f}), records inside their 95% interval {in_sample['inside95']:.2f}")

    external = []
    if args.official and Path(args.official).is_file():
        off = pd.read_csv(args.official, dtype={"hp": str})
        off = off[(off.dataset == DATASET) & (off.hp == "90")].drop_duplicates("arch_index")
        och = np.array([[int(c) for c in s.split(":")] for s in off.channels])
        omu, osd = gp.predict(och)
        print(f"\nout of sample, official NATS-Bench records ({args.official}), x-valid hp 90:")
        for (_, row), m, s in zip(off.iterrows(), omu, osd):
            external.append({"arch_index": int(row.arch_index), "channels": row.channels,
                             "real": float(row.valid_acc), "predicted": float(m), "sd": float(s)})
            print(f"  arch {row.arch_index:>5} {row.channels:<14} real {row.valid_acc:6.2f}  predicted {m:6.2f} +- {s:.2f}")
    else:
        print(f"\n(official sample records not found at {args.official}; out-of-sample check skipped)")

    costs = sss_costs(ch, DATASET)
    scores["params"] = rank_metrics(y, costs["params_M"])
    scores["flops"] = rank_metrics(y, costs["flops_M"])
    if not args.no_proxy:
        from coflex_ray.evaluators.proxy import RBFProxy

        for key, ds in (("rbf_proxy_in16", "ImageNet16-120"), ("rbf_proxy_cifar10", "cifar10")):
            t0 = time.perf_counter()
            proxy = RBFProxy(ds)
            s = np.array([proxy.score(tuple(int(c) for c in row)) for row in ch])
            scores[key] = rank_metrics(y, s)
            scores[key]["seconds"] = time.perf_counter() - t0
    print(f"\nevery score vs the {len(y)} real accuracies (surrogate: {args.k}-fold CV; others: direct):")
    names = {"surrogate": "GP surrogate (CV)", "params": "parameters", "flops": "FLOPs",
             "rbf_proxy_in16": "RBF proxy, ImageNet16-120 input", "rbf_proxy_cifar10": "RBF proxy, cifar10 input"}
    for key, m in scores.items():
        print(f"  {names[key]:<34} {_fmt(m)}")

    p_all = sss_costs(all_channels(), DATASET)["params_M"]
    pred_mu, pred_sd = gp.predict(all_channels())
    cov = coverage()
    print("\nwhere the surrogate extrapolates: params (M, ImageNet16-120) of the records vs all 32,768 networks")
    print(cov.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"  records' params {costs['params_M'].min():.3f}..{costs['params_M'].max():.3f} M "
          f"(space {p_all.min():.3f}..{p_all.max():.3f}); widths equal to 8 in the records per stage: "
          f"{(ch == 8).sum(0).tolist()}")
    beyond = (pred_mu < y.min()) | (pred_mu > y.max())
    print(f"  predictions over the whole space: {pred_mu.min():.2f}..{pred_mu.max():.2f} % "
          f"(SD {pred_sd.min():.2f}..{pred_sd.max():.2f}); {beyond.sum()} of {len(pred_mu)} outside the records' "
          f"range {y.min():.2f}..{y.max():.2f}; best predicted: {':'.join(map(str, all_channels()[pred_mu.argmax()]))} "
          f"at {pred_mu.max():.2f} %")
    return {"command": VALIDATION_COMMAND, "target": TARGET, "n_records": int(len(y)),
            "cv": {"k": args.k, "repeats": args.repeats, "per_repeat": cv["per_repeat"]},
            "scores": scores, "ablation": ablation, "in_sample": in_sample, "official_out_of_sample": external,
            "machine": machine()}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog=VALIDATION_COMMAND, description=__doc__.splitlines()[0])
    p.add_argument("-k", type=int, default=10, help="folds (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="CV shuffles (default 3)")
    p.add_argument("--no-proxy", action="store_true", help="skip the RBF proxy scores (the slow part)")
    p.add_argument("--official", default=str(OFFICIAL), help="official SSS sample records (tidy CSV)")
    p.add_argument("--json", default=str(resources.files("coflex_ray.data").joinpath(VALIDATION_FILE)),
                   help="where to write the validation the runs quote ('' = do not write)")
    p.add_argument("--txt", default=str(RESULTS / "surrogate_validation.txt"), help="copy of the output ('' = none)")
    args = p.parse_args(argv)
    args.argv = argv
    buf = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            sys.__stdout__.write(s)
            sys.__stdout__.flush()
            return buf.write(s)

    with contextlib.redirect_stdout(Tee()):
        result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwritten: {args.json}")
    if args.txt:
        Path(args.txt).parent.mkdir(parents=True, exist_ok=True)
        Path(args.txt).write_text(buf.getvalue())
        print(f"written: {args.txt}")
