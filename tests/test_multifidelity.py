"""Multi-fidelity studies: ladders, multi-step trials, learning-curve epochs from the official
records, top-rung-only analysis, the command line's checks, the smoke study with MO-ASHA, and a
SIGKILLed study with a scheduler resumed with nothing lost or run twice."""

from __future__ import annotations

import bz2
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coflex_ray.fidelity import Ladder, parse_ladder

ROOT = Path(__file__).resolve().parents[1]
SSS_PY = str(ROOT / "experiments" / "sss.py")
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
ACCEL = {"X1": 2, "X2": 12, "X3": 419, "X4": 336, "X5": 469, "X6": 263, "dataflow": "ws"}  # feasible, fast


def test_ladders_parse_in_cost_order():
    assert parse_ladder("zigzag-fixed,zigzag") == Ladder("hardware", ("zigzag-fixed", "zigzag"))
    assert parse_ladder("zigzag-fixed, zigzag ,scalesim").rungs == ("zigzag-fixed", "zigzag", "scalesim")
    lad = parse_ladder("epochs:1,12,90", nats_sss=True)
    assert lad.kind == "epochs" and lad.rungs == (1, 12, 90) and lad.label(2) == "epoch12" and lad.top_tier is None
    for bad, words in [("zigzag-fixed,foo", "unknown tier 'foo'"), ("zigzag,zigzag-fixed", "must come after"),
                       ("zigzag,zigzag", "repeated"), ("zigzag", "at least two"),
                       ("scalesim,zigzag-fixed", "must come after")]:
        with pytest.raises(ValueError, match=words):
            parse_ladder(bad)
    for bad, words in [("epochs:12,90", "need --nats-sss"), ("epochs:30,12,90", "increase strictly"),
                       ("epochs:12,60", "full schedule"), ("epochs:0,90", "between 1 and 90"),
                       ("epochs:x,90", "whole epoch")]:
        with pytest.raises(ValueError, match=words):
            parse_ladder(bad, nats_sss=not words.startswith("need"))


@pytest.mark.parametrize("flags, words", [
    (["--fidelity-ladder", "zigzag-fixed,foo"], "unknown tier 'foo'"),
    (["--fidelity-ladder", "zigzag,zigzag-fixed"], "'zigzag' is more accurate than 'zigzag-fixed'"),
    (["--fidelity-ladder", "zigzag-fixed,zigzag-fixed"], "repeated"),
    (["--scheduler", "mo-asha"], "needs a --fidelity-ladder"),
    (["--scheduler", "bogus", "--fidelity-ladder", "zigzag-fixed,zigzag"], "unknown --scheduler 'bogus'"),
    (["--scheduler", "mo-asha", "--fidelity-ladder", "zigzag-fixed,zigzag", "--reduction-factor", "1"],
     "--reduction-factor 1 must be greater than 1"),
    (["--scheduler", "asha", "--fidelity-ladder", "zigzag-fixed,zigzag", "--grace", "2"], "--grace 2 is beyond"),
    (["--grace", "1"], "no effect without a scheduler"),
    (["--fidelity-ladder", "epochs:10,90"], "need --nats-sss"),
])
def test_bad_multifidelity_flags_get_one_error_line_and_nothing_written(tmp_path, flags, words):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, SSS_PY, *flags, "--out", str(out)], capture_output=True, text=True,
                          timeout=120, env=ENV)
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], proc.stderr
    assert "network evaluator" not in proc.stdout and not out.exists()


def _official_curve(folder: Path, index: int, dataset: str, metric: str) -> tuple[dict, dict]:
    """Accuracy and cumulative train time per epoch (1-based), read from the record file itself."""
    with bz2.open(folder / f"{index:06d}.pickle.pbz2", "rb") as f:
        rec = pickle.load(f)["90"]["all_results"][(dataset, 777)]
    acc = {e + 1: float(rec["eval_acc1es"][f"{metric}@{e}"]) for e in range(90)}
    times = {e + 1: float(sum(rec["train_times"][i] for i in range(e + 1))) for e in range(90)}
    return acc, times


def test_epoch_rungs_report_the_official_learning_curve(tmp_path, sss_samples):
    """A real Tuner over the three official sample architectures with an epoch ladder: every row's
    error is 100 - the record's x-test accuracy at that epoch, its train_time_s the record's time."""
    from functools import partial

    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from coflex_ray.runner import init_ray, run_tuner
    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint, sss_config
    from coflex_ray.trial import EvalSpec, cosearch_trial

    ladder = parse_ladder("epochs:1,12,45,90", nats_sss=True)
    spec = EvalSpec("sss", "ImageNet16-120", str(sss_samples))
    points = [{**sss_config(i), **ACCEL} for i in (0, 11, 284)]
    init_ray(num_cpus=2)
    df = run_tuner(partial(cosearch_trial, spec=spec, ladder=ladder), joint(SSS_SPACE, ACCEL_SPACE).param_space(),
                   BasicVariantGenerator(points_to_evaluate=points), 3, storage_path=tmp_path, name="curve",
                   label="curve", quiet=True, all_rows=True)
    assert len(df) == 12 and df["feasible"].all()  # 3 archs x 4 rungs, every rung reported
    assert df.groupby("trial_id")["fidelity_level"].apply(lambda s: sorted(s) == [1, 2, 3, 4]).all()
    assert set(df["fidelity"]) == {"epoch1", "epoch12", "epoch45", "epoch90"} and (df["fidelity_max_level"] == 4).all()
    assert (df["hw_fidelity"] == "zigzag-fixed").all() and df.groupby("trial_id")["edp"].nunique().eq(1).all()
    for idx, run in df.groupby("arch_index"):
        acc, times = _official_curve(sss_samples, int(idx), "ImageNet16-120", "x-test")
        for r in run.itertuples():
            assert r.epoch == ladder.rungs[r.fidelity_level - 1]
            assert r.err == pytest.approx(100.0 - acc[r.epoch], abs=1e-9)
            assert r.train_time_s == pytest.approx(times[r.epoch], rel=1e-12)
    # the final rung is exactly the official final value the single-evaluation study reports
    assert df[(df.arch_index == 284) & (df.epoch == 90)]["err"].iloc[0] == pytest.approx(100 - 32.7666666, abs=1e-6)


def _hv_top_only(df: pd.DataFrame, bounds: dict) -> float:
    from coflex_ray.analysis import REF, hypervolume, normalise, nondominated, objective_matrix

    Y = normalise(objective_matrix(df[df.fidelity_level == df.fidelity_max_level], "edp"), bounds)
    return float(hypervolume(Y[nondominated(Y)], [REF, REF])) if len(Y) else 0.0


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about 3.5 min on a shared 2-core machine (LOMA rungs)
def test_smoke_study_with_mo_asha(tmp_path):
    """``python experiments/sss.py --scheduler mo-asha --smoke``: every row says its fidelity, the
    indicators count the top rung only, the fidelity table counts every rung."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, SSS_PY, "--scheduler", "mo-asha", "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path, env=ENV)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "[failed]" not in proc.stdout and "scheduler mo-asha" in proc.stdout
    df = pd.read_parquet(out / "results.parquet")
    assert df["fidelity"].notna().all() and set(df["fidelity"]) <= {"zigzag-fixed", "zigzag"}
    assert (df["fidelity"] == df["fidelity_level"].map({1: "zigzag-fixed", 2: "zigzag"})).all()
    assert not df.duplicated(["searcher", "seed", "trial_id", "fidelity_level"]).any()
    assert df.groupby(["searcher", "seed"])["trial_id"].nunique().eq(6).all()  # the smoke budget
    bounds = json.loads((out / "bounds.json").read_text())["bounds"]
    per_run = pd.read_csv(out / "per_run.csv")
    fid = pd.read_csv(out / "fidelity.csv")
    for r in per_run.itertuples():
        run = df[(df.searcher == r.searcher) & (df.seed == r.seed)]
        assert r.hv == pytest.approx(_hv_top_only(run, bounds))
        assert r.n_final == int((run.fidelity_level == 2).sum())
        f = fid[(fid.searcher == r.searcher) & (fid.seed == r.seed)].iloc[0]
        assert f["evals_zigzag-fixed"] == int((run.fidelity_level == 1).sum()) == 6
        assert f["evals_zigzag"] == int((run.fidelity_level == 2).sum()) <= 6
        assert f["sim_time_s"] == pytest.approx(run["eval_time_s"].sum())


def _trial_dirs(out: Path) -> list[Path]:
    return [p for p in (out / "ray_results").glob("*/*") if p.is_dir() and p.name.count("_") >= 2]


def _trials_with_results(out: Path) -> set[str]:
    return {p.parent.name.split("_")[2] for p in (out / "ray_results").glob("*/*/result.json") if p.stat().st_size > 0}


@pytest.mark.slow
@pytest.mark.timeout(1500)  # about 5.5 min on a shared 2-core machine (two runs with LOMA rungs)
def test_sigkill_then_resume_with_a_scheduler_loses_and_repeats_nothing(tmp_path):
    budget = 14
    out, bounds = tmp_path / "out", tmp_path / "bounds.json"
    bounds.write_text(json.dumps({"err": [55.0, 80.0], "log10_edp": [0.0, 4.0]}))  # skips the probe
    cmd = [sys.executable, SSS_PY, "--searchers", "coflex", "--seeds", "0", "--budget", str(budget), "--n-init", "4",
           "--bounds", str(bounds), "--out", str(out), "--scheduler", "mo-asha", "--fidelity-ladder",
           "zigzag-fixed,zigzag", "--lpf-limit", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, start_new_session=True)
    # Killed once the searcher has proposed past its 4-point initial design.  Not keyed on results:
    # a trial's result.json is flushed when the trial ends, and the cheap rung-1 trials end in a
    # burst (measured: 4 trials with results at 37 s, all 14 at 38 s, the run done at 41 s).
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if len(_trial_dirs(out)) >= 6 and list((out / "ray_results").glob("*/experiment_state-*.json")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)
    before = _trials_with_results(out)
    rows_before = {(r["trial_id"], r["fidelity_level"]) for f in (out / "ray_results").glob("*/*/result.json")
                   for r in map(json.loads, f.read_text().splitlines()) if r.get("fidelity_level")}
    assert len(_trial_dirs(out)) >= 6
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=1200, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming the interrupted run" in done.stdout
    df = pd.read_parquet(out / "results.parquet")
    assert df["trial_id"].nunique() == budget and before <= set(df["trial_id"])  # nothing lost
    assert not df.duplicated(["trial_id", "fidelity_level"]).any()  # no rung counted twice
    assert rows_before <= set(zip(df["trial_id"], df["fidelity_level"]))  # no rung reported before the kill lost
    levels = df.groupby("trial_id")["fidelity_level"].apply(lambda s: sorted(s) == list(range(1, len(s) + 1)))
    assert levels.all()  # every trial's rungs from 1 up, without gaps
    configs = df.drop_duplicates("trial_id")[[c for c in df.columns if c.startswith("config/")]]
    assert not configs.astype(str).duplicated().any()  # the restored searcher re-proposed nothing
    assert df["fidelity"].notna().all()


def test_searchers_keep_low_fidelity_results_apart_from_final_ones():
    """The core learns each trial once, at its last row; a stopped trial is neither failed nor final."""
    from coflex_ray.searchers.tune_searchers import NSGA2Search
    from coflex_ray.spaces import SSS_SPACE

    s = NSGA2Search(SSS_SPACE, metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], pop_size=4)
    configs = {t: s.suggest(t) for t in ("stopped", "final", "failed")}
    s.on_trial_result("stopped", {"err": 1.0, "edp": 1.0, "feasible": True, "fidelity_level": 1,
                                  "fidelity_max_level": 2})  # an intermediate row: not used
    s.on_trial_complete("stopped", {"err": 50.0, "edp": 9.0, "feasible": True, "fidelity_level": 1,
                                    "fidelity_max_level": 2})
    s.on_trial_complete("final", {"err": 60.0, "edp": 3.0, "feasible": True, "fidelity_level": 2,
                                  "fidelity_max_level": 2})
    s.on_trial_complete("failed", {"err": float("inf"), "edp": float("inf"), "feasible": False, "fidelity_level": 1,
                                   "fidelity_max_level": 2})
    assert [(c, m) for c, m, _ in s.evaluated] == [(configs["final"], {"err": 60.0, "edp": 3.0})]
    assert [(c, m, lvl) for c, m, _, lvl in s.low_fidelity] == [(configs["stopped"], {"err": 50.0, "edp": 9.0}, 1)]
    assert [c for c, _ in s.failed] == [configs["failed"]]
    assert s.pareto_front() == [(configs["final"], {"err": 60.0, "edp": 3.0})]
    assert len(s.core.results) == 3 and sum(v is not None for v in s.core.results.values()) == 2


def test_warm_start_from_an_all_rows_table_takes_each_trials_last_rung():
    from coflex_ray.searchers.tune_searchers import NSGA2Search
    from coflex_ray.spaces import SSS_SPACE, sss_config

    cfg = {f"config/{k}": v for k, v in sss_config(284).items()}
    rows = pd.DataFrame([{**cfg, "trial_id": "t", "fidelity_level": lvl, "fidelity_max_level": 2, "err": err,
                          "edp": 2.0, "feasible": True} for lvl, err in ((2, 40.0), (1, 70.0))])
    s = NSGA2Search(SSS_SPACE, metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], pop_size=4)
    s.add_evaluated_trials(rows)
    assert [m for _, m, _ in s.evaluated] == [{"err": 40.0, "edp": 2.0}] and not s.low_fidelity


def test_analysis_counts_the_top_rung_only():
    from coflex_ray.analysis import fidelity_table, final_rows, per_run_table

    bounds = {"err": [0.0, 100.0], "log10_edp": [0.0, 2.0]}
    base = {"searcher": "s", "seed": 0, "feasible": True, "fidelity_max_level": 2, "run_wall_s": 1.0,
            "suggest_s": 0.0}
    df = pd.DataFrame([
        {**base, "trial_id": "a", "fidelity": "zigzag-fixed", "fidelity_level": 1, "err": 1.0, "edp": 1.0,
         "eval_time_s": 0.5, "completed_at": 1},  # stopped at rung 1: dominates everything, must not count
        {**base, "trial_id": "b", "fidelity": "zigzag-fixed", "fidelity_level": 1, "err": 50.0, "edp": 10.0,
         "eval_time_s": 0.5, "completed_at": 2},
        {**base, "trial_id": "b", "fidelity": "zigzag", "fidelity_level": 2, "err": 50.0, "edp": 10.0,
         "eval_time_s": 60.0, "completed_at": 3},
    ])
    assert list(final_rows(df)["trial_id"]) == ["b"]
    run = per_run_table(df, bounds).iloc[0]
    assert run["hv"] == pytest.approx((1.1 - 0.5) * (1.1 - 0.5)) and run["best_err"] == 50.0
    assert run["n_final"] == 1 and run["trials"] == 2
    fid = fidelity_table(df).iloc[0]
    assert fid["evals_zigzag-fixed"] == 2 and fid["evals_zigzag"] == 1 and fid["sim_time_s"] == pytest.approx(61.0)
