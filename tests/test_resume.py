"""Kill a real study with SIGKILL mid-run, resume it, and check nothing is lost or run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
# large enough that the kill lands mid-run even on an idle machine (14 trials could all finish
# before Tune first wrote its experiment state)
BUDGET = 40


def _completed(out: Path) -> int:
    return sum(1 for f in (out / "ray_results").glob("*/*/result.json") if f.stat().st_size > 0)


@pytest.mark.slow
def test_sigkill_then_resume_keeps_every_trial_and_reaches_the_budget(tmp_path):
    out, bounds = tmp_path / "out", tmp_path / "bounds.json"
    bounds.write_text(json.dumps({"err": [54.7, 82.9], "log10_edp": [-1.2, 1.13]}))  # SSS x zigzag-fixed
    cmd = [sys.executable, str(ROOT / "experiments" / "sss.py"), "--searchers", "coflex", "--seeds", "0",
           "--budget", str(BUDGET), "--n-init", "4", "--bounds", str(bounds), "--out", str(out)]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        if _completed(out) >= 6 and list((out / "ray_results").glob("*/experiment_state-*.json")):
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    killed_at = time.time()
    proc.wait()
    time.sleep(3)
    before = {p.parent.name.split("_")[2] for p in (out / "ray_results").glob("*/*/result.json")
              if p.stat().st_size > 0}
    assert 6 <= len(before) < BUDGET
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming the interrupted run" in done.stdout
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == BUDGET and df["trial_id"].is_unique  # the budget exactly, nothing twice
    assert before <= set(df["trial_id"])  # every trial completed before the kill is kept
    keys = df[[c for c in df.columns if c.startswith("config/")]].astype(str).apply(tuple, axis=1)
    assert keys.is_unique  # the restored searcher did not re-propose anything
    # timings cover both parts: Tune searched with its own restored copy of the searcher, whose
    # suggest seconds must be reported (not the ~0 of the object the driver built), and the wall
    # seconds include the interrupted part, i.e. the span of the results reported before the kill
    # (a trial that finished after Tune's last state save is run again on resume and its row then
    # carries the resumed run's time, so trial ids with a result file are not that set)
    first = df[df["timestamp"] <= killed_at]
    span_before = first["timestamp"].max() - (first["timestamp"] - first["time_total_s"]).min()
    assert df["suggest_s"].iloc[0] > 0.5
    assert df["run_wall_s"].iloc[0] >= span_before > 0
    # --resume once more: the finished run is read back as it is, with its figures
    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=900, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reading back the finished run" in again.stdout and "resuming the interrupted run" not in again.stdout
    df2 = pd.read_parquet(out / "results.parquet")
    assert set(df2["trial_id"]) == set(df["trial_id"])
    assert df2["run_wall_s"].iloc[0] == df["run_wall_s"].iloc[0]


def test_interrupted_wall_counts_only_results_before_the_resume():
    from coflex_ray.study.runs import interrupted_wall_s

    df = pd.DataFrame({"timestamp": [100.0, 130.0, 500.0], "time_total_s": [20.0, 25.0, 10.0]})
    assert interrupted_wall_s(df, resumed_at=400.0) == pytest.approx(130.0 - 80.0)  # first start 80
    assert interrupted_wall_s(df, resumed_at=50.0) == 0.0
    assert interrupted_wall_s(df.drop(columns="time_total_s"), resumed_at=400.0) == 0.0


def test_wall_clock_sums_every_restart_and_not_the_time_between(tmp_path, monkeypatch):
    from coflex_ray import runner

    log = tmp_path / "run.wall.json"
    with runner.wall_clock(log, resumed=True) as earlier:
        assert earlier is None  # resumed, but no log: the caller must estimate the earlier part
    log.write_text(json.dumps([[100.0, 160.0], [5000.0, 5030.0]]))  # two earlier parts, hours apart
    with runner.wall_clock(log, resumed=True) as earlier:
        assert earlier == pytest.approx(90.0)
    segments = json.loads(log.read_text())
    assert len(segments) == 3 and segments[:2] == [[100.0, 160.0], [5000.0, 5030.0]]
    assert 0 <= segments[2][1] - segments[2][0] < 5
    with runner.wall_clock(log, resumed=False) as earlier:  # a new run starts the log afresh
        assert earlier == 0.0
    assert len(json.loads(log.read_text())) == 1
    monkeypatch.setattr(runner, "WALL_EVERY_S", 0.05)  # the span is written while the run goes on
    with runner.wall_clock(log, resumed=False):
        time.sleep(0.3)
        start, last = json.loads(log.read_text())[0]
        assert last - start >= 0.1


def _sss(*flags: str) -> list[str]:
    return [sys.executable, str(ROOT / "experiments" / "sss.py"), *flags]


ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.mark.slow
def test_ctrl_c_stops_the_study_and_resume_finishes_it_exactly(tmp_path):
    """The first SIGINT stops the study (not only the run): exit 130 with a resume hint, no table, the
    cut run kept out of runs/; --resume then delivers exactly --budget unique trials per run, and a
    second --resume reads the finished study back byte for byte."""
    out = tmp_path / "out"
    flags = ["--smoke", "--searchers", "coflex", "random", "--budget", "12", "--seeds", "0", "--out", str(out)]
    proc = subprocess.Popen(_sss(*flags), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    for line in proc.stdout:  # wait until the first run is under way
        if "[run 1/2 coflex seed 0] trial 1/12" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted by SIGINT" in err and "--resume" in err and "Traceback" not in err
    assert not list((out / "runs").glob("*.parquet")) and not (out / "summary.csv").exists()
    done = subprocess.run(_sss(*flags, "--resume"), capture_output=True, text=True, timeout=900, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    df = pd.read_parquet(out / "results.parquet")
    per_run = df.groupby(["searcher", "seed"])["trial_id"]
    assert per_run.nunique().eq(12).all() and per_run.size().eq(12).all()  # (random's ids repeat across runs)
    files = {p: p.read_bytes() for p in sorted((out / "runs").glob("*.parquet"))}
    assert len(files) == 2
    again = subprocess.run(_sss(*flags, "--resume"), capture_output=True, text=True, timeout=900, env=ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.read_bytes() for p in files} == files
    assert again.stdout.count("(read back)") == 2
    # a resume with another budget or dataset is refused before Ray starts, naming both values
    for extra, message in ((["--budget", "10"], "ran with --budget 12, this command has 10"),
                           (["--dataset", "cifar10"], "has accuracy_source 'sss-surrogate'")):
        bad = flags[:flags.index("--budget")] + ["--seeds", "0", "--out", str(out)] + extra
        proc = subprocess.run(_sss(*bad, "--resume"), capture_output=True, text=True, timeout=120, env=ENV)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
