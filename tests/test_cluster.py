"""A real two-node Ray cluster on this machine: head + worker node, the main job against it, the worker lost.

The nodes get their own GCS port and their own temp dir, and are shut down by the pids of their own
processes (found by that temp dir in their command lines), never by a host-wide ``ray stop``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.soak import tune_retries

ROOT = Path(__file__).resolve().parents[1]
PORT = 6391
BUDGET = 10  # per searcher


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


def _node_ids(run_dir: Path) -> list[tuple[float, str]]:
    """(timestamp, node_id) of every finished trial result under ``run_dir``."""
    out = []
    for f in run_dir.glob("*/*/result.json"):
        for line in f.read_text(errors="ignore").splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue  # being written
            out.append((r.get("timestamp", 0.0), r.get("node_id", "")))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="ignore")
    except OSError:
        return ""


def _worker_raylet() -> list[int]:
    """Pids of the worker node's raylet (it carries the worker node's own port range)."""
    return [p for p in _own_pids("22000") if "raylet" in _cmdline(p)]


def _running_a_trial(raylet: int) -> bool:
    """True while one of the node's worker processes runs a Tune trial (Ray titles it ``ray::ImplicitFunc.train``)."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == raylet and _cmdline(int(d.name)).startswith("ray::ImplicitFunc.train"):
                return True
    return False


@contextmanager
def _two_nodes() -> Iterator[dict]:
    """Head + worker node (1 CPU each) on this machine; yields the environment to run commands in;
    stops exactly their processes afterwards."""
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
        yield env
    finally:
        _stop(temp)
        _stop(f"127.0.0.1:{PORT}")  # the worker node's processes name the head's address
    assert not _own_pids(temp)


@pytest.mark.slow
def test_study_on_two_nodes_survives_losing_the_worker(tmp_path):
    """Head + worker node on this machine; the main job runs against them; once trials have run on
    both nodes the worker's raylet is SIGKILLed.  The study must finish on the head with every trial
    of the budget exactly once, none lost to the dead node."""
    proc = None
    with _two_nodes() as env:
        try:
            out, bounds = tmp_path / "out", tmp_path / "bounds.json"
            bounds.write_text(json.dumps({"err": [54.7, 82.9], "log10_edp": [-1.2, 1.13]}))  # SSS x zigzag-fixed
            cmd = [sys.executable, str(ROOT / "experiments" / "sss.py"), "--searchers", "random", "coflex",
                   "--seeds", "0", "--budget", str(BUDGET), "--n-init", "3", "--bounds", str(bounds), "--out",
                   str(out), "--address", f"127.0.0.1:{PORT}"]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                    cwd=tmp_path)
            raylets = _worker_raylet()
            assert len(raylets) == 1, raylets
            killed_at, deadline = None, time.time() + 600
            while proc.poll() is None and time.time() < deadline:
                # kill once the worker has finished trials and is running one right now
                if len({n for _, n in _node_ids(out / "ray_results")}) >= 2 and _running_a_trial(raylets[0]):
                    os.kill(raylets[0], signal.SIGKILL)
                    killed_at = time.time()
                    break
                time.sleep(0.05)
            assert killed_at is not None, "the study ended before the worker node could be caught running a trial"
            stdout, _ = proc.communicate(timeout=900)
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, stdout[-3000:]
    df = pd.read_parquet(out / "results.parquet")
    assert df.groupby("searcher").size().to_dict() == {"random": BUDGET, "coflex": BUDGET}, stdout[-3000:]
    assert df["trial_id"].is_unique  # nothing run twice into the table
    assert df["node_id"].nunique() == 2, df["node_id"].value_counts()  # trials ran on both nodes
    late = df[df["timestamp"] > killed_at + 60]  # long after the kill, only the head is left
    assert late["node_id"].nunique() <= 1
    lost = df["error"].fillna("").str.contains("RayActorError|ActorDied|NodeDied|died", regex=True)
    assert not lost.any(), df.loc[lost, "error"].tolist()  # no trial recorded as failed because of the node
    assert "[failed]" not in stdout
    retries = tune_retries(out / "ray_results")
    print(f"node loss: {len(df)} trials, {df['trial_id'].nunique()} unique, per node "
          f"{df['node_id'].str[:8].value_counts().to_dict()}, {retries} trial retries")
    # How the trial that was running on the dead node came back varies from run to run: retried by Tune
    # (retries >= 1), re-run by run_tuner when Tune errored it anyway ("running them again"), or not at
    # all needed when it had reported just before the kill (seen on a fresh clone: 0 retries, 20/20 trials). What
    # must hold is asserted above: every trial of the budget exactly once, none failed for the node.


@pytest.mark.slow
def test_parallel_runs_keep_both_nodes_busy_with_different_runs(tmp_path):
    """``--parallel-runs 2`` with one trial at a time per run on a two-node cluster of 1 CPU each: the two
    runs' trials must overlap in time on different nodes (a sequential study could never do that)."""
    with _two_nodes() as env:
        out, bounds = tmp_path / "out", tmp_path / "bounds.json"
        bounds.write_text(json.dumps({"err": [54.7, 82.9], "log10_edp": [-1.2, 1.13]}))  # SSS x zigzag-fixed
        proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--searchers", "random",
                               "coflex", "--seeds", "0", "--budget", "8", "--n-init", "3", "--concurrency", "1",
                               "--parallel-runs", "2", "--bounds", str(bounds), "--out", str(out), "--address",
                               f"127.0.0.1:{PORT}"], capture_output=True, text=True, timeout=900, env=env,
                              cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 runs at once" in proc.stdout and "coflex seed 0] trial 8/8" in proc.stdout  # progress reached us
    df = pd.read_parquet(out / "results.parquet")
    assert df.groupby("searcher").size().to_dict() == {"random": 8, "coflex": 8} and df["trial_id"].is_unique
    # each trial's busy interval on its node: [end - time_total_s, end]
    df["end"], df["begin"] = df["timestamp"], df["timestamp"] - df["time_total_s"]
    overlaps = [(a.node_id, b.node_id) for a in df[df.searcher == "random"].itertuples()
                for b in df[df.searcher == "coflex"].itertuples()
                if a.node_id != b.node_id and a.begin < b.end and b.begin < a.end]
    print(f"parallel runs: {len(df)} trials, per node {df['node_id'].str[:8].value_counts().to_dict()}, "
          f"{len(overlaps)} overlapping cross-node trial pairs")
    assert df["node_id"].nunique() == 2 and overlaps


def test_cluster_yaml_passes_rays_own_validation():
    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    validate_config(prepare_config(cfg))
    assert cfg["provider"]["type"] == "local" and cfg["provider"]["worker_ips"]
    assert any("pip install" in c for c in cfg["setup_commands"])
