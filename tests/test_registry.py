"""Every searcher the study registry knows survives Ray Tune's handling, in seconds.

Tune pickles each search algorithm (``tuner.pkl``, experiment checkpoints) with pickle and
cloudpickle; a library release that makes a searcher unpicklable (Optuna 5.1's NSGA-II sampler
holds a ``threading.Lock``) must fail here, not only in a 15-minute study.
"""

from __future__ import annotations

import math
import subprocess
import sys
from importlib.util import find_spec

import pytest
import ray.cloudpickle as cloudpickle

from coflex_ray.registry import SEARCHERS, library_version, make_searcher
from coflex_ray.spaces import Dim, Space, integer_dim

SPACE = Space("toy", (Dim("c1", (8, 16, 24, 32), "ordinal"), Dim("op", ("none", "skip", "conv"), "categorical"),
                      integer_dim("X1", 1, 64)))


def _result(cfg: dict) -> dict:
    err = 50.0 + cfg["c1"] / 4 + ("none", "skip", "conv").index(cfg["op"])
    return {"err": err, "edp": math.exp(cfg["X1"] / 32), "feasible": True}


def _ready(alg):
    """``alg`` as Tune's SearchGenerator leaves it before the first ``suggest``."""
    alg.set_search_properties(None, None, SPACE.param_space())
    return alg


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_searcher_round_trips_and_searches(name, tmp_path):
    """Pickled as ``tuner.pkl`` holds it (cloudpickle), searching, then checkpointed mid-search
    with the searcher's own ``save_to_dir`` (Optuna's uses pickle, HyperOpt's cloudpickle) and
    restored into a new copy that searches on."""
    alg = make_searcher(name, SPACE, seed=0, n_init=2, concurrency=1)
    if name == "random":  # BasicVariantGenerator: not a Searcher; Tune pickles it all the same
        assert type(cloudpickle.loads(cloudpickle.dumps(alg))) is type(alg)
        return
    alg = cloudpickle.loads(cloudpickle.dumps(_ready(alg)))
    for t in range(3):  # the first config, a result, another config: the restored copy still searches
        cfg = alg.suggest(f"t{t}")
        assert set(cfg) == {"c1", "op", "X1"}, cfg
        alg.on_trial_complete(f"t{t}", _result(cfg))
    alg.save_to_dir(str(tmp_path))
    fresh = _ready(make_searcher(name, SPACE, seed=0, n_init=2, concurrency=1))
    fresh.restore_from_dir(str(tmp_path))
    assert fresh.suggest("t3") is not None


def test_every_searcher_names_its_library_and_version():
    for name in SEARCHERS:
        lib, version = library_version(name).split(" ", 1)
        assert version[0].isdigit(), (name, lib, version)


@pytest.mark.parametrize("name", [n for n, e in SEARCHERS.items() if e.extras])
def test_peer_runs_as_its_authors_intend(name):
    """A searcher's optional speed-ups are installed (Optuna's GPSampler: greenlet for batched
    L-BFGS-B), and the library does not warn that it fell back without them."""
    for extra in SEARCHERS[name].extras:
        assert find_spec(extra) is not None, f"{name} needs {extra!r} to run as its authors intend"
    code = ("import warnings, optuna; warnings.simplefilter('always'); optuna.logging.set_verbosity(optuna.logging.ERROR)\n"
            "s = optuna.create_study(directions=['minimize', 'minimize'], sampler=optuna.samplers.GPSampler(seed=0, n_startup_trials=2))\n"
            "s.optimize(lambda t: (t.suggest_float('x', 0, 1), t.suggest_float('y', 0, 1)), n_trials=3)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "greenlet" not in proc.stderr, proc.stderr[-2000:]


CONS = {"edp": ("<=", 3.0)}


@pytest.mark.parametrize("name", ["coflex", "nsga2", "optuna-tpe", "optuna-nsga2", "optuna-gp"])
def test_constraints_reach_every_searcher_that_takes_them(name):
    alg = cloudpickle.loads(cloudpickle.dumps(_ready(make_searcher(name, SPACE, seed=0, n_init=2, concurrency=1,
                                                                   constraints=CONS))))
    inner = alg.searcher.searcher if name.startswith("optuna") else alg.searcher
    assert inner.constraints == (("edp", "<=", 3.0),)
    for t in range(3):
        cfg = alg.suggest(f"t{t}")
        alg.on_trial_complete(f"t{t}", _result(cfg))
    if name.startswith("optuna"):  # the Optuna trials carry the constraint (log10 units: edp is log-modelled)
        for tr in inner._ot_study.get_trials(deepcopy=False):
            assert tr.constraints == {"edp": pytest.approx(tr.params["X1"] / 32 / math.log(10) - math.log10(3.0))}


def test_constraints_on_random_and_hyperopt():
    from ray.tune.search import BasicVariantGenerator

    from coflex_ray.registry import SearcherBuildError

    assert type(make_searcher("random", SPACE, 0, 2, 1, constraints=CONS)) is BasicVariantGenerator
    for name in ("qnehvi", "qehvi", "qnparego"):  # BoTorch's constrained search: tests/searchers/test_constraints.py
        assert make_searcher(name, SPACE, 0, 2, 1, constraints=CONS).searcher.constraints == (("edp", "<=", 3.0),)
    with pytest.raises(SearcherBuildError, match="hyperopt takes no constraints; drop it from --searchers"):
        make_searcher("hyperopt", SPACE, 0, 2, 1, constraints=CONS)
    with pytest.raises(ValueError, match="constraints must be"):
        make_searcher("coflex", SPACE, 0, 2, 1, constraints={"edp": ("<", 3.0)})


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_every_searcher_takes_other_objectives(name):
    """``metrics=``: the standard-problem benchmarks' objectives (three here, none in log space) reach
    every searcher, which then searches on them."""
    metrics = ["f0", "f1", "f2"]
    alg = make_searcher(name, SPACE.param_space(), seed=0, n_init=2, concurrency=1, metrics=metrics)
    if name == "random":  # BasicVariantGenerator: no objectives
        return
    assert list(alg.searcher.metric) == metrics
    alg = _ready(alg)
    for t in range(3):
        cfg = alg.suggest(f"t{t}")
        r = _result(cfg)
        alg.on_trial_complete(f"t{t}", {"f0": r["err"], "f1": -r["edp"], "f2": float(cfg["X1"])})
    assert alg.suggest("t3") is not None


def test_other_objectives_must_be_named_once():
    for bad in ([], ["f0", "f0"]):
        with pytest.raises(ValueError, match="must name at least one objective, each once"):
            make_searcher("coflex", SPACE, 0, 2, 1, metrics=bad)
