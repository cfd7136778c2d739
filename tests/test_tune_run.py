"""End to end: the main job runs real Ray Tune trials and writes Ray's result table."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sss_smoke_runs_real_tuner(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # says which evaluator it used: the validated surrogate of ImageNet16-120 accuracy (the default)
    assert "PREDICTED x-valid error" in proc.stdout and "Spearman 0.9" in proc.stdout
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 12
    # every trial is a good result or an accelerator too small for a layer, recorded with its reason
    assert (df["feasible"] | df["error"].str.startswith("infeasible accelerator: ")).all(), df["error"].tolist()
    assert df.loc[df["searcher"] == "random", "feasible"].all()
    assert sorted(df["searcher"].unique()) == ["coflex", "random"]
    assert df.groupby("searcher").size().tolist() == [6, 6]
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert set(summary.index) == {"coflex", "random"} and summary["hv_median"].gt(0).all()
    for png in ("pareto_fronts", "hv_vs_evaluations", "hv_vs_wall_time", "running_minima"):
        assert (out / f"{png}.png").stat().st_size > 10_000
    assert (out / "bounds.json").is_file() and (out / "run_info.json").is_file()
    assert (df["err_kind"] == "predicted_valid_error_pct").all() and df["err_sd"].gt(0).all()
    assert df["err"].between(50, 85).all()  # predicted ImageNet16-120 errors, not proxy scores
    assert df["config/c1"].isin([8, 16, 24, 32, 40, 48, 56, 64]).all()
    assert df["trial_id"].is_unique and df["node_id"].str.len().gt(0).all()
    assert "HV" in proc.stdout and "[done] coflex" in proc.stdout
    assert list(tmp_path.iterdir()) == [out]  # nothing written outside --out


def test_sss_bad_nats_path_fails_cleanly(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--nats-sss",
                           str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "missing" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "cifar11"], "unknown dataset 'cifar11'"),
    (["--searchers"], "--searchers is empty"),
    (["--searchers", "coflex", "smac"], "unknown searcher 'smac'"),
    (["--budget", "5", "--n-init", "10"], "--budget 5 is smaller than --n-init 10"),
    (["--fidelity", "maestro"], "unknown fidelity 'maestro'"),
    (["--trial-timeout", "-1"], "--trial-timeout -1 is not allowed; allowed: 0 to"),
    (["--network-evaluator", "oracle"], "unknown --network-evaluator 'oracle'; allowed: surrogate, proxy, params"),
    (["--network-evaluator", "surrogate", "--dataset", "cifar10"],
     "'surrogate' exists for dataset ImageNet16-120 only"),
    (["--network-evaluator", "proxy", "--nats-sss", "/nonexistent"], "conflicts with the official table"),
])
def test_sss_bad_flags_fail_with_one_line(tmp_path, flags, message):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), *flags, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_nb201_device_latency_variant(tmp_path):
    """The NB201 study with a measured device latency as the hardware objective: cells only, real table;
    with an outcome constraint on the latency, which every table counts (and a bound no probe point
    meets stops the study with one error line)."""
    from coflex_ray.evaluators.device import device_latency_ms

    out = tmp_path / "out"
    study = [sys.executable, str(ROOT / "experiments" / "nb201.py"), "--device", "pixel3", "--smoke"]
    proc = subprocess.run([*study, "--constraint", "latency_ms<=8", "--out", str(out)], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "measured latency (ms) on pixel3" in proc.stdout and "best latency_ms" in proc.stdout
    assert "only results meeting latency_ms <= 8 count" in proc.stdout
    df = pd.read_parquet(out / "results.parquet")
    assert df["meets_constraints"].tolist() == (df["feasible"] & (df["latency_ms"] <= 8)).tolist()
    per_run = pd.read_csv(out / "per_run.csv")
    for (s, seed), run in df.groupby(["searcher", "seed"]):
        row = per_run[(per_run["searcher"] == s) & (per_run["seed"] == seed)].iloc[0]
        assert row["n_violating"] == (run["feasible"] & ~run["meets_constraints"]).sum()
        assert row["best_latency_ms"] <= 8 and row["best_err"] == run.loc[run["meets_constraints"], "err"].min()
    bad = subprocess.run([*study, "--constraint", "latency_ms<=0.001", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert bad.returncode == 2 and "error: --constraint latency_ms<=0.001: none of the" in bad.stderr, bad.stderr[-2000:]
    assert not (tmp_path / "bad").exists()
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 12
    # every trial is a good result or an accelerator too small for a layer, recorded with its reason
    assert (df["feasible"] | df["error"].str.startswith("infeasible accelerator: ")).all(), df["error"].tolist()
    assert df.loc[df["searcher"] == "random", "feasible"].all()
    assert not any(c.startswith("config/X") for c in df.columns) and "edp" not in df.columns
    for idx, lat in zip(df["arch_index"], df["latency_ms"]):
        assert lat == device_latency_ms(int(idx), "pixel3")
    assert "log10_latency_ms" in (out / "bounds.json").read_text()
    assert "best_latency_ms_median" in pd.read_csv(out / "summary.csv", index_col=0)


@pytest.mark.parametrize("flags, message", [
    (["--device", "pixel9"], "unknown device 'pixel9'; allowed: 1080ti_1"),
    (["--device", "pixel3", "--fidelity", "zigzag"], "--fidelity zigzag has no effect with --device pixel3"),
])
def test_nb201_bad_device_flags_fail_with_one_line(tmp_path, flags, message):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "nb201.py"), *flags, "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_sss_corrupt_nats_pickle_fails_cleanly(sss_samples, tmp_path):
    import shutil

    bad = tmp_path / "sss"
    shutil.copytree(sss_samples, bad)
    (bad / "meta.pickle.pbz2").chmod(0o644)
    (bad / "meta.pickle.pbz2").write_bytes(b"not a bz2 pickle")
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--nats-sss", str(bad),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "meta.pickle.pbz2" in lines[0] and "corrupt" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
