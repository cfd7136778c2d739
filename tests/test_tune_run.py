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
    assert "training-free RBF kernel score" in proc.stdout  # says which evaluator it used
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 6 and df["feasible"].all()
    assert (df["err_kind"] == "neg_rbf_score").all()
    assert df["config/c1"].isin([8, 16, 24, 32, 40, 48, 56, 64]).all()
    assert df["trial_id"].is_unique and df["node_id"].str.len().gt(0).all()
    assert list(tmp_path.iterdir()) == [out]  # nothing written outside --out


def test_sss_bad_nats_path_fails_cleanly(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--nats-sss",
                           str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "missing" in proc.stderr
    assert not (tmp_path / "out").exists()
