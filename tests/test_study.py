"""The comparison study: every default searcher runs, unbuildable searchers fail first, a run that
fails mid-study costs only itself."""

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from coflex_ray.registry import DEFAULT_SEARCHERS

ROOT = Path(__file__).resolve().parents[1]


class BrokenSearcher:
    """A Tune searcher that suggests random configs and raises after ``fail_after`` suggestions."""

    def __new__(cls, *args, **kwargs):  # subclass Tune's Searcher lazily (Ray imports only when used)
        from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, Searcher

        class Broken(Searcher):
            def __init__(self, fail_after: int) -> None:
                super().__init__(metric="err", mode="min")
                self.fail_after, self.n = fail_after, 0
                self.inner = None

            def set_search_properties(self, metric, mode, config, **spec) -> bool:
                self.config = config
                return True

            def suggest(self, trial_id: str):
                import random

                self.n += 1
                if self.n > self.fail_after:
                    raise RuntimeError("planted failure in suggest")
                rng = random.Random(self.n)
                return {k: v.sample(random_state=rng.randint(0, 2**31)) if hasattr(v, "sample") else v
                        for k, v in self.config.items()}

            def on_trial_complete(self, trial_id, result=None, error=False) -> None:
                pass

        return ConcurrencyLimiter(Broken(*args, **kwargs), 1)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 4 min on an idle 2-core machine; 10+ when it is shared
def test_every_default_searcher_runs_end_to_end(tmp_path):
    """The main job's default searcher set at a tiny budget, from the installed environment: a searcher
    whose library is not declared (and so missing in CI's fresh venv) fails this test."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--smoke", "--searchers",
                           *DEFAULT_SEARCHERS, "--out", str(out)],
                          capture_output=True, text=True, timeout=1700, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "[failed]" not in proc.stdout
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df["searcher"].unique()) == sorted(DEFAULT_SEARCHERS)
    assert df.groupby("searcher").size().eq(6).all()  # the smoke budget, for every searcher
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert set(summary.index) == set(DEFAULT_SEARCHERS)


def _hide(tmp_path: Path, library: str) -> dict:
    """Environment in which ``library`` looks uninstalled (``sys.modules[library] = None`` at start-up
    through a ``sitecustomize`` on PYTHONPATH: ``import`` fails and ``find_spec`` returns None)."""
    import os

    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(f"import sys\nsys.modules[{library!r}] = None\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("searcher, library", [("optuna-tpe", "optuna"), ("hyperopt", "hyperopt")])
def test_missing_searcher_library_fails_before_ray_starts(tmp_path, searcher, library):
    out = tmp_path / "out"
    start = time.time()
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--searchers", "coflex", searcher,
                           "--out", str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=_hide(tmp_path, library))
    elapsed = time.time() - start
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and repr(searcher) in lines[0] \
        and repr(library) in lines[0], proc.stderr
    assert "network evaluator" not in proc.stdout  # nothing started: no evaluator, no Ray, no probe
    assert not out.exists()
    assert elapsed < 30, elapsed  # about 0.5 s idle: the check runs before torch, ZigZag or Ray load


def test_searcher_that_cannot_be_constructed_fails_with_one_line(tmp_path):
    """A library that is present but breaks when the searcher is built: same single line, exit 2."""
    import os

    shim = tmp_path / "shim"
    (shim / "hyperopt").mkdir(parents=True)
    (shim / "hyperopt" / "__init__.py").write_text("raise ImportError('hyperopt is broken here (test)')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "sss.py"), "--searchers", "hyperopt",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    # Ray's wrapper turns the ImportError into its own AssertionError; either way one line naming it
    assert len(lines) == 1 and "'hyperopt' (seed 0) cannot be built" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_run_that_fails_mid_study_is_reported_and_the_rest_is_written(tmp_path):
    """A searcher that raises after a few trials: ``[failed]``, the other run's tables and plots written."""
    from functools import partial

    from coflex_ray.runner import init_ray
    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint
    from coflex_ray.study import RunSpec, build_searchers, probe_bounds, run_study, write_outputs
    from coflex_ray.trial import EvalSpec, cosearch_trial, evaluate_config

    space = joint(SSS_SPACE, ACCEL_SPACE)
    built = build_searchers(["random"], space, [0], n_init=2, concurrency=1)
    built["broken", 0] = BrokenSearcher(fail_after=3)
    init_ray(num_cpus=1)
    spec = EvalSpec("sss", "cifar10")
    bounds = probe_bounds(partial(evaluate_config, spec=spec), space, 6)
    trainable = partial(cosearch_trial, spec=spec)
    results, failed = run_study(RunSpec(trainable, space, budget=5, out=tmp_path), built)
    assert len(failed) == 1 and failed[0].startswith("[failed] broken") and "planted failure" in failed[0]
    assert set(results["searcher"]) == {"random"} and len(results) == 5
    summary = write_outputs(results, bounds, "test probe", tmp_path, "err", meta={"failed_runs": failed})
    assert list(summary.index) == ["random"]
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "pareto_fronts.png").stat().st_size > 10_000
    assert (tmp_path / "runs" / "random_seed0.parquet").is_file()
    assert not (tmp_path / "runs" / "broken_seed0.parquet").exists()


def test_study_bounds_reach_every_searcher_that_uses_them():
    """Same information for every searcher: HyperOpt's scalarisation and the BoTorch baselines get the
    study's bounds (analysis units: err, log10 edp), converted to each one's own scale."""
    import math

    import numpy as np

    from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint
    from coflex_ray.study import build_searchers, set_study_bounds

    built = build_searchers(["qnehvi", "hyperopt", "coflex"], joint(SSS_SPACE, ACCEL_SPACE), [0], 10, 2)
    bounds = {"err": [50.0, 80.0], "log10_edp": [0.0, 4.0]}
    set_study_bounds(built, bounds)
    qnehvi = built[("qnehvi", 0)].searcher
    assert np.allclose(qnehvi.core.bounds, [[50.0, 80.0], [0.0, 4.0 * math.log(10)]])  # natural log inside
    assert built[("hyperopt", 0)].searcher.bounds == {"err": (50.0, 80.0), "log10_edp": (0.0, 4.0)}
    assert built[("coflex", 0)].searcher.objective_bounds == {"err": [50.0, 80.0], "edp": [1.0, 1e4]}


def test_minutes_per_run_stops_each_run_on_the_clock(tmp_path):
    """``--minutes-per-run`` (``time_budget_s``) ends a run on wall clock, long before its trial budget
    (NB201 x measured latency: table lookups, so thousands of trials would fit without the clock)."""
    from functools import partial

    from coflex_ray.runner import init_ray
    from coflex_ray.spaces import NB201_SPACE
    from coflex_ray.study import RunSpec, build_searchers, run_study
    from coflex_ray.trial import EvalSpec, cosearch_trial

    built = build_searchers(["random"], NB201_SPACE, [0], n_init=2, concurrency=1)
    init_ray(num_cpus=1)
    start = time.time()
    spec = EvalSpec("nb201", "cifar10", device="pixel3")
    # Ray's worker start counts: 15 s gave no trial on a loaded machine
    run = RunSpec(partial(cosearch_trial, spec=spec), NB201_SPACE, budget=5000, out=tmp_path, time_budget_s=45)
    results, failed = run_study(run, built)
    assert not failed and 1 <= len(results) < 5000
    assert time.time() - start < 300


def test_a_run_resume_only_read_back_keeps_its_saved_timings(tmp_path):
    """``--resume`` on a finished run reads its trials back in ~0 s: the per-run wall and suggest
    seconds must stay those of the search, not become ~0; a run that gained trials takes the new ones."""
    from coflex_ray.study.runs import finish_run

    (tmp_path / "runs").mkdir()
    df = pd.DataFrame({"trial_id": ["a", "b"], "timestamp": [100.0, 101.0], "err": [1.0, 2.0],
                       "feasible": [True, True]})
    finish_run(df.copy(), {"wall_s": 50.0, "start": 99.0, "suggest_s": 7.0, "n_fallbacks": 0}, "coflex", 0, tmp_path)
    saved = tmp_path / "runs" / "coflex_seed0.parquet"
    before = saved.read_bytes()
    shuffled = df.iloc[::-1].copy()  # Tune may hand the same trials back in another order
    restored = finish_run(shuffled, {"wall_s": 0.2, "start": 500.0, "suggest_s": 0.0, "n_fallbacks": 0}, "coflex", 0,
                          tmp_path)
    assert restored["run_wall_s"].iat[0] == 50.0 and restored["suggest_s"].iat[0] == 7.0
    assert saved.read_bytes() == before  # read back unchanged: same order, same completed_at
    assert list(restored["trial_id"]) == ["a", "b"] and list(restored["completed_at"]) == [1.0, 2.0]
    grown = pd.concat([df, pd.DataFrame({"trial_id": ["c"], "timestamp": [600.0], "err": [3.0],
                                         "feasible": [True]})], ignore_index=True)
    more = finish_run(grown, {"wall_s": 30.0, "start": 590.0, "suggest_s": 2.0, "n_fallbacks": 0}, "coflex", 0,
                      tmp_path)
    assert more["run_wall_s"].iat[0] == 30.0 and more["suggest_s"].iat[0] == 2.0


def test_a_run_ended_by_its_time_limit_is_marked_in_the_tables(tmp_path):
    from coflex_ray.analysis import per_run_table, summary_table
    from coflex_ray.study.runs import finish_run

    (tmp_path / "runs").mkdir()
    rows = lambda n: pd.DataFrame({"trial_id": [f"t{i}" for i in range(n)], "timestamp": [100.0 + i for i in range(n)],
                                   "err": [60.0 - i for i in range(n)], "edp": [1.0 + i for i in range(n)],
                                   "feasible": [True] * n})
    stats = {"wall_s": 5.0, "start": 99.0, "suggest_s": 1.0, "n_fallbacks": 0}
    short = finish_run(rows(3), stats, "coflex", 0, tmp_path, budget=5)
    full = finish_run(rows(5), stats, "random", 0, tmp_path, budget=5)
    assert set(short["cut_short"]) == {"time limit"} and set(full["cut_short"]) == {""}
    bounds = {"err": [50.0, 70.0], "log10_edp": [0.0, 1.0]}
    per_run = per_run_table(pd.concat([short, full], ignore_index=True), bounds)
    assert dict(zip(per_run["searcher"], per_run["cut_short"])) == {"coflex": "time limit", "random": ""}
    assert summary_table(per_run)["cut_short"].to_dict() == {"coflex": 1, "random": 0}


def test_failed_line_names_the_library_and_its_version():
    """A run that fails inside a peer library says which library, at which version."""
    from importlib.metadata import version

    import optuna

    from coflex_ray.study.outputs import failed_line

    try:
        optuna.distributions.FloatDistribution(1.0, 0.0)  # raises inside Optuna
    except ValueError as e:
        line = failed_line("optuna-tpe", 3, e)
    assert line.startswith("[failed] optuna-tpe") and "seed 3" in line
    assert f"optuna {version('optuna')}" in line and "ValueError" in line
    try:
        import numpy as np

        np.linalg.cholesky(-np.eye(2))
    except Exception as e:  # noqa: BLE001
        line = failed_line("coflex", 0, e)
    assert f"coflex-ray {version('coflex-ray')}" in line and f"raised in numpy {version('numpy')}" in line
