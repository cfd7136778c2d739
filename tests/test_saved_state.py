"""A resumed run's saved state: an unreadable file is mended from Tune's staging copy or named in one error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ray import cloudpickle

from coflex_ray.saved_state import UnreadableRunState, mend_saved_state, unreadable_state_files

SESSION = "2026-12-07_14-29-20"


def _state(folder: Path, n_trials: int) -> dict[str, bytes]:
    """The files Tune 2.60 writes for a run: JSON, a pickle under a .json name, pickles."""
    files = {
        f"experiment_state-{SESSION}.json": json.dumps({"trial_data": list(range(n_trials))}).encode(),
        f"search_gen_state-{SESSION}.json": cloudpickle.dumps({"counter": n_trials}),
        f"searcher-state-{SESSION}.pkl": cloudpickle.dumps({"observed": list(range(n_trials))}),
        "moasha_rungs.json": json.dumps({"records": []}).encode(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def _run(tmp_path: Path, n_trials: int = 6) -> Path:
    run = tmp_path / "out" / "ray_results" / "coflex_seed0"
    _state(run, n_trials)
    (run / "tuner.pkl").write_bytes(cloudpickle.dumps({"tuner": 1}))
    (run / ".validate_storage_marker").write_bytes(b"")  # hidden: not Tune state
    return run


def _staging(root: Path, run: Path, n_trials: int) -> Path:
    folder = root / "session_2026-12-07_14-29-07_1" / "artifacts" / SESSION / run.name / "driver_artifacts"
    _state(folder, n_trials)
    return folder


def test_a_readable_state_is_left_alone(tmp_path):
    run = _run(tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert mend_saved_state(run, temp_roots=[tmp_path / "ray"]) == []
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("name", [f"searcher-state-{SESSION}.pkl", f"search_gen_state-{SESSION}.json",
                                  f"experiment_state-{SESSION}.json"])
@pytest.mark.parametrize("keep", [0, 7])  # empty, or cut mid-file
def test_a_truncated_file_is_mended_with_the_whole_staging_save(tmp_path, name, keep):
    run = _run(tmp_path)
    (run / name).write_bytes((run / name).read_bytes()[:keep])
    assert unreadable_state_files(run) == [run / name]
    staging = _staging(tmp_path / "ray", run, n_trials=8)  # a newer save than the storage copy
    lines: list[str] = []
    copied = mend_saved_state(run, lines.append, temp_roots=[tmp_path / "ray"])
    assert name in copied and unreadable_state_files(run) == []
    for f in staging.iterdir():  # one save throughout, not the staging file beside older ones
        assert (run / f.name).read_bytes() == f.read_bytes()
    assert cloudpickle.loads((run / "tuner.pkl").read_bytes()) == {"tuner": 1}
    assert len(lines) == 1 and name in lines[0] and str(staging) in lines[0]


def test_without_a_readable_copy_the_error_names_the_file_and_nothing_changes(tmp_path):
    run = _run(tmp_path)
    bad = run / f"searcher-state-{SESSION}.pkl"
    bad.write_bytes(b"")
    staging = _staging(tmp_path / "ray", run, n_trials=8)
    (staging / bad.name).write_bytes(b"\x80\x05")  # the staging copy is no better
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(UnreadableRunState, match=bad.name):
        mend_saved_state(run, temp_roots=[tmp_path / "ray"])
    with pytest.raises(UnreadableRunState, match="start the run afresh"):
        mend_saved_state(run, temp_roots=[tmp_path / "elsewhere"])
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def _lookup(config: dict) -> dict:
    return {"err": float(config["c1"]), "edp": float(config["c5"]) + 1.0}


@pytest.mark.timeout(300)
def test_a_restore_tune_fails_raises_instead_of_restarting_the_run(tmp_path):
    """A readable searcher state that no longer fits its searcher: Tune 2.60 would log the failed
    restore and start the run afresh over the saved one; the resume raises and writes nothing."""
    import ray
    from ray.tune.search import ConcurrencyLimiter

    from coflex_ray.runner import init_ray, run_tuner
    from coflex_ray.searchers.tune_searchers import NSGA2Search
    from coflex_ray.spaces import SSS_SPACE

    def searcher():
        return ConcurrencyLimiter(NSGA2Search(SSS_SPACE, metric=["err", "edp"], mode=["min", "min"], pop_size=4), 2)

    init_ray(num_cpus=2)
    try:
        run_tuner(_lookup, SSS_SPACE.param_space(), searcher(), 4, storage_path=tmp_path, name="run", label="run",
                  quiet=True)
        run = tmp_path / "run"
        (state,) = run.glob("searcher-state-*.pkl")
        state.write_bytes(cloudpickle.dumps(42))  # readable, but not the searcher's state dict
        before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
        with pytest.raises(UnreadableRunState, match="could not restore the run"):
            run_tuner(_lookup, SSS_SPACE.param_space(), searcher(), 6, storage_path=tmp_path, name="run",
                      label="run", quiet=True, resume=True)  # 6 > 4 saved trials: an unfinished run
    finally:
        ray.shutdown()
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
