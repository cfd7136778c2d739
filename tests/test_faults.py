"""Failing evaluations: raising, NaN-returning and hanging simulators end as recorded failures, and a
real search with such faults still reaches its budget with every failed point in the result table."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from coflex_ray.evaluators.hardware.accelerator import AccelConfig
from coflex_ray.evaluators.hardware.cache import BadSimulatorResult, LayerCostCache
from coflex_ray.spaces import ACCEL_SPACE, SSS_SPACE, joint, sss_config
from coflex_ray.trial import EvalSpec, evaluate_config

from tests.faults import FaultyHardware, fault_for

SPACE = joint(SSS_SPACE, ACCEL_SPACE)
REASONS = {"raise": "injected simulator crash", "nan": "non-finite or non-positive edp",
           "hang": "exceeded the per-trial timeout of"}


def _config_with(mode: str | None, every: int = 6) -> dict:
    """The first fixed-seed random config whose accelerator gets fault ``mode``."""
    rng = np.random.default_rng(0)
    for cfg in SPACE.sample(rng, 500):
        if fault_for(AccelConfig.from_config(cfg), every) == mode and cfg["X1"] * cfg["X2"] <= 64:
            return cfg
    raise AssertionError(f"no config with fault {mode}")


@pytest.mark.parametrize("mode", ["raise", "nan", "hang"])
def test_each_fault_becomes_an_infeasible_row_with_its_reason(mode):
    spec = EvalSpec(timeout_s=1.5 if mode == "hang" else None)  # cold imports must not time out the others
    out = evaluate_config(_config_with(mode), spec, FaultyHardware(hang_s=60.0))
    assert out["feasible"] is False and REASONS[mode] in out["error"], out["error"]
    assert not any(k.startswith("obj_") or k == "scalar" for k in out)  # raw metrics only (no derived columns)
    assert out["eval_time_s"] < 30.0  # the 60 s hang was abandoned at the timeout, not waited out


def test_healthy_configs_pass_through_the_fault_wrapper():
    cfg = _config_with(None)
    a, b = evaluate_config(cfg, EvalSpec(), FaultyHardware()), evaluate_config(cfg, EvalSpec())
    assert a["feasible"] and a["edp"] == b["edp"] and a["energy_pJ"] == b["energy_pJ"]


def test_nan_from_the_simulator_is_never_cached(monkeypatch):
    import coflex_ray.evaluators.hardware.cache as cache_mod

    real = cache_mod.simulate_layer
    monkeypatch.setattr(cache_mod, "simulate_layer", lambda *a, **k: {**real(*a, **k), "latency_cycles": math.nan})
    cache = LayerCostCache()
    shape = (8, 8, 3, 1, 1, 8, 8, 8, 8)
    acc = AccelConfig(4, 4, 64, 64, 64, 64, "ws")
    with pytest.raises(BadSimulatorResult, match="latency_cycles=nan"):
        cache.get(shape, acc)
    assert cache.stats()["entries"] == 0
    monkeypatch.setattr(cache_mod, "simulate_layer", real)
    assert math.isfinite(cache.get(shape, acc)["latency_cycles"])  # the next call simulates again


def test_bad_timeout_is_named():
    with pytest.raises(ValueError, match="timeout_s=0"):
        EvalSpec(timeout_s=0)


@pytest.mark.slow
def test_search_with_faulty_evaluator_reaches_budget_and_records_failures(tmp_path):
    """CoflexSearch in a real Tuner (concurrency 2) with a third of the accelerators broken three ways."""
    import ray
    from ray.tune.search import ConcurrencyLimiter

    from coflex_ray.runner import init_ray, run_tuner
    from coflex_ray.searchers.tune_searchers import CoflexSearch
    from coflex_ray.trial import cosearch_trial

    init_ray(num_cpus=2)
    try:
        searcher = CoflexSearch(SPACE, metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"],
                                n_init=6, batch_size=4, seed=0)
        # the timeout must exceed a healthy evaluation's cold start in a fresh worker (imports, network)
        trainable = partial(cosearch_trial, spec=EvalSpec(timeout_s=10.0), hardware=FaultyHardware(hang_s=30.0))
        df = run_tuner(trainable, SPACE.param_space(), ConcurrencyLimiter(searcher, 2), 14,
                       storage_path=tmp_path, name="faulty", label="faulty", quiet=True)
    finally:
        ray.shutdown()
    assert len(df) == 14 and df["trial_id"].is_unique  # budget reached, nothing lost or duplicated
    modes = [fault_for(AccelConfig.from_config({k[7:]: r[k] for k in df.columns if k.startswith("config/")}), 6)
             for _, r in df.iterrows()]
    assert any(modes) and not all(modes), modes
    assert len(searcher.failed) >= sum(bool(m) for m in modes)  # the searcher was told about every failure
    for mode, (_, row) in zip(modes, df.iterrows()):
        if mode is None:
            assert row["feasible"] or "infeasible accelerator" in row["error"], row["error"]
        else:  # a "nan" accelerator that the simulator finds infeasible stays that (no energy to poison)
            real = mode == "nan" and "infeasible accelerator" in row["error"]
            assert not row["feasible"] and (REASONS[mode] in row["error"] or real), (mode, row["error"])
