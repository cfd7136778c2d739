"""Reliability: a timed-out simulation is killed (its process gone, no CPU burnt after the limit), the
in-flight de-duplication stays correct when it is, bad command lines fail before Ray with one line,
two studies cannot share one --out, and a corrupt or foreign --hw-cache file is refused."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from coflex_ray.evaluators.hardware.accelerator import AccelConfig
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.evaluators.hardware.childproc import SimulationTimeout
from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint
from coflex_ray.trial import EvalSpec, evaluate_config

from tests.faults import FaultyHardware, fault_for, hanging_cache, spin_then_simulate

SPACE = joint(SSS_SPACE, ACCEL_SPACE)
SHAPE, ACC = (8, 8, 3, 1, 1, 8, 8, 8, 8), AccelConfig(4, 4, 64, 64, 64, 64, "ws")


def _hang_config() -> dict:
    rng = np.random.default_rng(0)
    return next(c for c in SPACE.sample(rng, 500) if fault_for(AccelConfig.from_config(c), 6) == "hang")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a live process from /proc; FileNotFoundError once it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        raise FileNotFoundError(pid)  # a zombie has stopped running
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Watch:
    """Polls the busy simulator child of ``busy_pids()`` and samples its CPU time until it is gone."""

    def __init__(self, busy_pids) -> None:
        self.busy_pids, self.samples, self.gone_at, self.pid = busy_pids, [], None, None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.pid is None:
                busy = self.busy_pids()
                self.pid = busy[0] if busy else None
            else:
                try:
                    self.samples.append((time.monotonic(), _cpu_s(self.pid)))
                except FileNotFoundError:
                    self.gone_at = time.monotonic()
                    return
            time.sleep(0.02)

    def result(self, limit_at: float) -> tuple[float, float]:
        """(seconds from the limit until the process was gone, CPU seconds it used after the limit)."""
        self.thread.join(timeout=5)
        self._stop.set()
        assert self.pid is not None and self.samples, "the simulator child was never seen"
        assert self.gone_at is not None, f"simulator process {self.pid} still exists"
        before = [c for t, c in self.samples if t <= limit_at]
        assert before, "the child was first seen after the limit"
        return self.gone_at - limit_at, self.samples[-1][1] - before[-1]


def _check_killed(run, busy_pids, limit_s: float) -> tuple[float, float]:
    watch = _Watch(busy_pids)
    start = time.monotonic()
    out = run()
    gone_s, cpu_after = watch.result(start + limit_s)
    print(f"killed {gone_s:.3f} s after the limit, {cpu_after:.3f} CPU s after the limit")
    assert gone_s < 1.0 and cpu_after < 0.25
    return out


def test_timed_out_trial_kills_its_simulation():
    """No pool: the trial's own hanging simulation (busy loop) is killed at the limit."""
    cfg, limit = _hang_config(), 6.0
    evaluate_config(cfg, EvalSpec(timeout_s=None), FaultyHardware(hang_s=0.0))  # network side warm (imports)
    cache = hanging_cache("zigzag-fixed", 600.0)
    out = _check_killed(lambda: evaluate_config(cfg, EvalSpec(timeout_s=limit), FaultyHardware(hang_s=600.0)),
                        lambda: cache.child_pids()["busy"], limit)
    assert out["feasible"] is False and "exceeded the per-trial timeout of 6 s" in out["error"], out["error"]
    assert "simulation killed" in out["error"] and out["eval_time_s"] < limit + 1.0
    assert cache.stats()["entries"] == 0 and cache.stats()["killed"] >= 1


def test_waiters_of_a_killed_simulation_get_the_error_and_nothing_is_cached():
    cache = LayerCostCache(simulate=partial(spin_then_simulate, hang_s=600.0))
    errors: list[BaseException] = []

    def waiter() -> None:
        time.sleep(0.5)  # the owner's simulation is in flight by now
        try:
            cache.get_many([SHAPE], ACC, timeout_s=120.0)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    start = time.monotonic()
    with pytest.raises(SimulationTimeout, match="killed"):
        cache.get_many([SHAPE], ACC, timeout_s=4.0)
    t.join(timeout=10)
    assert time.monotonic() - start < 10 and not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], SimulationTimeout), errors
    assert cache.stats()["entries"] == 0 and cache.child_pids() == {"busy": [], "idle": []}


def test_simulation_in_a_child_matches_in_process():
    cache = LayerCostCache()
    assert cache.get_many([SHAPE], ACC, timeout_s=120.0) == LayerCostCache().get_many([SHAPE], ACC)
    assert len(cache.child_pids()["idle"]) == 1  # kept for the next call


@pytest.mark.slow
def test_pool_shard_kills_its_hung_simulation():
    """With a HardwarePool the simulation runs in the shard actor's child process: that child is killed."""
    import ray

    from coflex_ray.runner import init_ray
    from coflex_ray.service import HardwarePool

    init_ray(num_cpus=2)
    try:
        pool = HardwarePool("zigzag-fixed", n_shards=1, simulate=partial(spin_then_simulate, hang_s=600.0))
        shard, limit = pool.shards[0], 8.0
        evaluate_config(_hang_config(), EvalSpec(timeout_s=None))  # network side warm (imports)
        out = _check_killed(lambda: evaluate_config(_hang_config(), EvalSpec(timeout_s=limit), pool),
                            lambda: ray.get(shard.child_pids.remote())["busy"], limit)
        assert out["feasible"] is False and "exceeded the per-trial timeout of 8 s" in out["error"], out["error"]
        assert "simulation killed" in out["error"]
        assert pool.stats()["entries"] == 0 and pool.stats()["killed"] >= 1
    finally:
        ray.shutdown()


# --- bad command lines: one error line before Ray starts, exit 2, nothing written ----------------

ROOT = Path(__file__).resolve().parents[1]
SSS = [sys.executable, str(ROOT / "experiments" / "sss.py")]


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("flags, message", [
    (["--hw-cache", "/proc/nope/x.pkl"], "--hw-cache /proc/nope/x.pkl cannot be created"),
    (["--out", "/proc/forbidden"], "--out /proc/forbidden cannot be created"),
    (["--smoke", "--budget", "0"], "--budget 0 is smaller than --n-init 3"),
    (["--smoke", "--n-init", "-3"], "--n-init -3 must be at least 1"),
    (["--smoke", "--seeds", "1", "1"], "--seeds [1, 1] repeats a seed"),
    (["--smoke", "--minutes-per-run", "0"], "--minutes-per-run 0.0 is not allowed; allowed: a number of minutes > 0"),
    (["--hw-cache", "/tmp"], "--hw-cache /tmp exists and is not a file"),
    (["--smoke", "--seeds", "18446744073709551616"], "--seeds 18446744073709551616 is not allowed; allowed: integers 0"),
    (["--smoke", "--seeds", "-1"], "--seeds -1 is not allowed"),
    (["--smoke", "--trial-timeout", "1e10"], "--trial-timeout 1e+10 is not allowed; allowed: 0 to"),
    (["--smoke", "--minutes-per-run", "0.05"], "--minutes-per-run 0.05 is too short for one trial"),
    (["--smoke", "--address", "127.0.0.1:9"], "--address 127.0.0.1:9: no Ray cluster answers there"),
    (["--smoke", "--address", "nohost"], "--address 'nohost' is not allowed; allowed: HOST:PORT"),
    (["--smoke", "--constraint", "edp<3"], "--constraint 'edp<3' is not allowed; allowed: METRIC<=VALUE or"),
    (["--smoke", "--constraint", "energy_uJ<=3"], "unknown metric 'energy_uJ'; allowed: err, params_M, flops_M, edp"),
    (["--smoke", "--constraint", "err<=nan"], "the bound 'nan' is not allowed; allowed: a finite number"),
    (["--smoke", "--constraint", "err>=inf"], "the bound 'inf' is not allowed; allowed: a finite number"),
    (["--smoke", "--constraint", "edp<=0"], "the bound must be > 0 (edp is positive"),
    (["--smoke", "--constraint", "err<=30", "--constraint", "err>=5"], "err is constrained twice"),
    (["--smoke", "--searchers", "coflex", "hyperopt", "--constraint", "err<=30"],
     "hyperopt takes no constraints; drop it from --searchers"),
])
def test_bad_paths_and_smoke_overrides_fail_with_one_line(tmp_path, flags, message):
    out = tmp_path / "out"
    proc = subprocess.run([*SSS, "--out", str(out), *flags], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert message in _one_error_line(proc)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even --out


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "expected a JSON object"),
    ('{"err": [50, Infinity], "log10_edp": [0, 1]}', "with finite numbers lo < hi, got [50, inf]"),
    ('{"err": [60, 50], "log10_edp": [0, 1]}', "with finite numbers lo < hi, got [60, 50]"),
])
def test_bad_bounds_files_fail_with_one_line(tmp_path, content, message):
    bounds = tmp_path / "bounds.json"
    bounds.write_text(content)
    proc = subprocess.run([*SSS, "--smoke", "--bounds", str(bounds), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert message in _one_error_line(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bounds.json"]


@pytest.mark.slow
def test_bounds_of_another_benchmark_are_refused(tmp_path):
    """NB201 x zigzag bounds (err 6-20 %) on SSS (err 55-85 %): one error naming both ranges, nothing left."""
    bounds = ROOT / "benchmarks" / "results" / "nb201_zz_b30" / "bounds.json"
    proc = subprocess.run([*SSS, "--smoke", "--bounds", str(bounds), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "err bounds [5.703, 19.97] do not fit this study" in errors[0]
    assert list(tmp_path.iterdir()) == []


def test_repeated_searcher_is_dropped_with_a_note(tmp_path):
    proc = subprocess.run([*SSS, "--searchers", "coflex", "random", "coflex", "--budget", "2", "--n-init", "3",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert "note: --searchers coflex random coflex names a searcher more than once; running each once: " \
           "coflex random" in proc.stdout
    assert "--budget 2 is smaller than --n-init 3" in _one_error_line(proc)  # (stops before Ray)


@pytest.mark.slow
def test_probe_without_a_feasible_config_says_why_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    # an accuracy source without a shipped reference front, so the study probes for its bounds
    proc = subprocess.run([*SSS, "--smoke", "--network-evaluator", "params", "--trial-timeout", "0.000001",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "no feasible configuration among 12" in errors[0] and "(12/12): TimeoutError" in errors[0]
    assert "raise --trial-timeout" in errors[0]
    assert list(tmp_path.iterdir()) == []


# --- one study per --out ------------------------------------------------------------------------

def test_second_study_on_the_same_out_is_refused_and_a_killed_ones_lock_is_not_stale(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from coflex_ray.preflight import lock_out; "
                               f"lock_out({str(out)!r}); print('locked', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = subprocess.run([*SSS, "--smoke", "--out", str(out)], capture_output=True, text=True, timeout=120)
        line = _one_error_line(proc)
        assert f"--out {out} is in use by another study (pid {holder.pid} on" in line, line
        assert sorted(p.name for p in out.iterdir()) == [".study.lock"]  # the second study wrote nothing
    finally:
        holder.kill()  # SIGKILL: no clean-up runs
        holder.wait()
    from coflex_ray.preflight import lock_out

    lock_out(out)  # the dead study's lock file is still there, its lock is not
    assert f"pid {os.getpid()}" in (out / ".study.lock").read_text()


# --- corrupt or foreign --hw-cache files ---------------------------------------------------------

def _good_cache_file(path, fidelity="zigzag-fixed"):
    cache = LayerCostCache(fidelity)
    cache.get(SHAPE, ACC)
    return cache.save(path)


def _truncated(p):
    data = _good_cache_file(p).read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _nan_entry(p):
    from coflex_ray.evaluators.hardware.cache import read_cache_file

    entries = read_cache_file(_good_cache_file(p), "zigzag-fixed", 6)
    key = next(iter(entries))
    data = pickle.loads(p.read_bytes())
    data["entries"] = {key: {**entries[key], "energy_pJ": float("nan")}}
    p.write_bytes(pickle.dumps(data))


CORRUPT = {
    "truncated": (_truncated, "cannot be read"),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "cannot be read"),
    "other fidelity": (lambda p: _other_fidelity(p), "holds zigzag costs (lpf_limit 6); this study simulates zigzag-fixed"),
    "pickle of a list": (lambda p: p.write_bytes(pickle.dumps([1, 2, 3])), "holds a list, not a"),
    "old headerless table": (lambda p: p.write_bytes(pickle.dumps({})), "holds a dict, not a"),
    "NaN entry": (_nan_entry, "malformed entry"),
}


def _other_fidelity(p):
    _good_cache_file(p)
    data = pickle.loads(p.read_bytes())
    data["fidelity"] = "zigzag"  # same layout, another tier's numbers
    data["entries"] = {(k[0], k[1], "zigzag", k[3]): v for k, v in data["entries"].items()}
    p.write_bytes(pickle.dumps(data))


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_or_foreign_cache_file_is_refused_with_its_reason(tmp_path, case):
    make, message = CORRUPT[case]
    path = tmp_path / "costs.pkl"
    make(path)
    with pytest.raises(ValueError, match="costs.pkl") as e:
        LayerCostCache(path=path)
    assert message in str(e.value)


def test_cli_refuses_a_corrupt_cache_before_ray(tmp_path):
    path = tmp_path / "costs.pkl"
    _truncated(path)
    proc = subprocess.run([*SSS, "--smoke", "--hw-cache", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert "--hw-cache: cache file" in _one_error_line(proc) and not (tmp_path / "out").exists()


def test_cache_file_round_trip_keeps_costs(tmp_path):
    path = _good_cache_file(tmp_path / "costs.pkl")
    assert LayerCostCache(path=path).get(SHAPE, ACC) == LayerCostCache().get(SHAPE, ACC)
