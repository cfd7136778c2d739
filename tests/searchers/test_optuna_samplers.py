"""The picklable Optuna samplers: same samples as Optuna's, pickle and cloudpickle round trips."""

from __future__ import annotations

import pickle
import threading

import optuna
import pytest
import ray.cloudpickle as cloudpickle

from coflex_ray.searchers.optuna_samplers import PicklableNSGAIIISampler, PicklableNSGAIISampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _values(sampler) -> list:
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("n", 0, 9)), n_trials=12)
    return [t.values for t in study.trials]


@pytest.mark.parametrize("ours, theirs", [(PicklableNSGAIISampler, optuna.samplers.NSGAIISampler),
                                          (PicklableNSGAIIISampler, optuna.samplers.NSGAIIISampler)])
def test_same_samples_as_optuna(ours, theirs):
    assert _values(ours(seed=3, population_size=4)) == _values(theirs(seed=3, population_size=4))


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)])
def test_round_trip_makes_fresh_locks(dumps, loads):
    sampler = PicklableNSGAIISampler(seed=0, population_size=4)
    sampler.__dict__["_extra_rlock"] = threading.RLock()  # any lock attribute, not only Optuna 5.1's
    copy = loads(dumps(sampler))
    assert type(copy) is PicklableNSGAIISampler and copy._population_size == 4
    assert isinstance(copy._extra_rlock, type(threading.RLock()))
    locks = [k for k, v in vars(sampler).items() if isinstance(v, type(threading.Lock()))]
    assert all(isinstance(getattr(copy, k), type(threading.Lock())) for k in locks)
    assert _values(copy)  # and it samples
