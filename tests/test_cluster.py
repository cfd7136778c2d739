"""A real two-node Ray cluster on this machine: head + worker node, the main job's smoke run against it.

The nodes get their own GCS port and their own temp dir, and are shut down by the pids of their own
processes (found by that temp dir in their command lines), never by a host-wide ``ray stop``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PORT = 6391


def _ray(*args: str, env: dict) -> subprocess.CompletedProcess:
    ray = Path(sys.executable).with_name("ray")
    return subprocess.run([str(ray), *args], capture_output=True, text=True, timeout=180, env=env)


def _own_pids(marker: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker in (d / "cmdline").read_bytes().decode(errors="ignore"):
                    pids.append(int(d.name))
            except OSError:
                continue
    return [p for p in pids if p != os.getpid()]


def _stop(marker: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _own_pids(marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(2)


@pytest.mark.slow
def test_smoke_study_runs_on_two_nodes(tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    temp = tempfile.mkdtemp(prefix="crray", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    head = _ray("start", "--head", f"--port={PORT}", "--num-cpus=1", "--include-dashboard=false",
                "--disable-usage-stats", f"--temp-dir={temp}", "--min-worker-port=21000", "--max-worker-port=21999",
                env=env)
    try:
        assert head.returncode == 0, head.stderr[-2000:]
        worker = _ray("start", f"--address=127.0.0.1:{PORT}", "--num-cpus=1", "--disable-usage-stats",
                      "--min-worker-port=22000", "--max-worker-port=22999", env=env)
        assert worker.returncode == 0, worker.stderr[-2000:]
        for _ in range(30):  # the second node registers within a few seconds
            status = _ray("status", f"--address=127.0.0.1:{PORT}", env=env)
            if status.stdout.count("node_") >= 2:
                break
            time.sleep(2)
        out = tmp_path / "out"
        proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--smoke", "--out", str(out),
                               "--address", f"127.0.0.1:{PORT}"], capture_output=True, text=True, timeout=900,
                              env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        df = pd.read_parquet(out / "results.parquet")
        assert len(df) == 12 and df["trial_id"].is_unique
        assert df["node_id"].nunique() == 2, df["node_id"].value_counts()  # trials ran on both nodes
    finally:
        _stop(temp)
        _stop(f"127.0.0.1:{PORT}")  # the worker node's processes name the head's address
    assert not _own_pids(temp)


def test_cluster_yaml_passes_rays_own_validation():
    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    validate_config(prepare_config(cfg))
    assert cfg["provider"]["type"] == "local" and cfg["provider"]["worker_ips"]
    assert any("pip install" in c for c in cfg["setup_commands"])
