"""Real Tuner runs: the plain user script of the README, a HyperOpt search on raw metrics, and the shape of
the configs a trainable receives from CoflexSearch."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ray_session():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _keys(configs) -> set:
    return {tuple(sorted(c.items())) for c in configs}


@pytest.mark.slow
def test_plain_tune_script_returns_its_pareto_set(ray_session, tmp_path):
    # written as a Ray Tune user writes a searcher example: Tune domains, no coflex_ray space
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    from coflex_ray import CoflexSearch, pareto_results

    def trainable(config):
        import math

        a = (config["width"] / 64 + config["depth"] / 8 + 2 * config["dropout"]) / 3
        err = float("nan") if config["depth"] == 1 else 1 - a + 0.05 * abs(math.log10(config["lr"]) + 2)
        tune.report({"err": err, "edp": math.exp(2 * a) * (1 + config["group"] / 64 + config["wd"]),
                     "tag": config["tag"]})

    param_space = {"width": tune.choice([16, 32, 48, 64]), "depth": tune.randint(1, 9),
                   "lr": tune.loguniform(1e-4, 1e-1), "dropout": tune.uniform(0, 0.5),
                   "group": tune.qrandint(8, 64, 8), "wd": tune.quniform(0, 0.1, 0.01), "tag": "v1"}
    searcher = CoflexSearch(metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], seed=0,
                            n_init=5, batch_size=2, n_candidates=256)
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=param_space,
                       tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, 2), num_samples=10,
                                                   reuse_actors=True),
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="plain", verbose=0))
    grid = tuner.fit()
    front = pareto_results(grid, metric=["err", "edp"], mode=["min", "min"])

    df = grid.get_dataframe()
    assert len(df) == 10 and (df["tag"] == "v1").all()  # the constant reached every trial
    assert df[[c for c in df.columns if c.startswith("config/")]].drop(columns="config/tag").apply(tuple, axis=1).is_unique
    assert len(searcher.failed) == int(df["err"].isna().sum()) and searcher.core.n_batches >= 3  # NaN = failure
    assert 0 < len(front) <= int(df["err"].notna().sum())
    cols = {c: c[len("config/"):] for c in front.columns if c.startswith("config/")}
    grid_front = [{cols[c]: v for c, v in row.items()} for row in front[list(cols)].to_dict("records")]
    assert _keys(grid_front) == _keys(cfg for cfg, _ in searcher.pareto_front())

    # a later search warm-started from this run's ResultGrid
    from coflex_ray import NSGA2Search

    warm = NSGA2Search(metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], pop_size=4)
    warm.add_evaluated_trials(grid)
    assert warm.set_search_properties(None, None, param_space)
    assert len(warm.core.results) == 10 and len(warm.failed) == len(searcher.failed)
    assert _keys(cfg for cfg, _ in warm.pareto_front()) == _keys(grid_front)


@pytest.mark.slow
def test_hyperopt_optimises_the_scalarisation_of_raw_metrics(ray_session, tmp_path):
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.hyperopt import HyperOptSearch

    from coflex_ray import ScalarizedSearch

    def trainable(config):
        import math

        ok = config["depth"] != 1
        a = (config["width"] / 64 + config["depth"] / 8 + 2 * config["dropout"]) / 3
        tune.report({"err": 1 - a, "edp": math.exp(3 * a) if ok else math.inf, "feasible": ok})

    inner = HyperOptSearch(n_initial_points=3, random_state_seed=0)
    bounds = {"err": [0.0, 1.0], "log10_edp": [0.0, 1.5]}
    search = ScalarizedSearch(inner, metric=["err", "edp"], mode=["min", "min"], log_metrics=["edp"], bounds=bounds)
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}),
                       param_space={"width": tune.choice([16, 32, 64]), "depth": tune.randint(1, 5),
                                    "dropout": tune.uniform(0, 0.5)},
                       tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(search, 2), num_samples=8,
                                                   reuse_actors=True),
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="hyperopt", verbose=0))
    df = tuner.fit().get_dataframe()
    assert len(df) == 8 and "scalar" not in df.columns  # trials report raw metrics only

    def expected(r) -> float:
        if not r["feasible"]:
            return 1e3
        return 0.5 * (r["err"] - 0.0) / 1.0 + 0.5 * (math.log10(r["edp"]) - 0.0) / 1.5

    losses = sorted(t["result"]["loss"] for t in inner._hpopt_trials.trials if t["result"].get("status") == "ok")
    assert np.allclose(losses, sorted(expected(r) for _, r in df.iterrows()))


@pytest.mark.slow
def test_tuner_hands_the_trainable_the_param_space_shape(ray_session, tmp_path):
    # nested dicts, a list and a tuple of domains and constants, a '/' key, sample_from, a point to run
    # first and TuneConfig's metric beside the searcher's: what the trainable receives
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    from coflex_ray import CoflexSearch

    def trainable(config):
        import math

        (depth, act, _), (_, beta) = config["layers"], config["opt"]["betas"]
        err = float("nan") if depth == 1 else 1 / config["width"] + abs(math.log10(config["opt"]["lr"]) + 2) + beta
        tune.report({"err": err, "edp": config["width"] * depth * (2 if act == "gelu" else 1), "seen": repr(config)})

    param_space = {"width": tune.choice([16, 32, 64]),
                   "layers": [tune.randint(1, 4), tune.choice(["relu", "gelu"]), 3],
                   "opt": {"lr": tune.loguniform(1e-4, 1e-1), "betas": (0.9, tune.quniform(0.9, 0.99, 0.01))},
                   "opt/wd": tune.qloguniform(1e-4, 1e-1, 1e-4),
                   "scale": tune.sample_from(lambda config: config["width"] * 2),
                   "tag": "v1", "consts": [1, 2]}
    point = {"width": 32, "layers": [2, "relu", 3], "opt": {"lr": 1e-3, "betas": (0.9, 0.95)}, "opt/wd": 1e-3}
    searcher = CoflexSearch(metric=["err", "edp"], mode=["min", "min"], points_to_evaluate=[point], seed=0,
                            n_init=4, batch_size=2, n_candidates=128)
    grid = tune.Tuner(trainable, param_space=param_space,
                      tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, 2), metric="err", mode="min",
                                                  num_samples=6, reuse_actors=True),
                      run_config=tune.RunConfig(storage_path=str(tmp_path), name="shape", verbose=0)).fit()

    assert len(grid) == 6 and not grid.errors
    seen = [ast.literal_eval(grid[i].metrics["seen"]) for i in range(len(grid))]  # no domain object would parse
    assert {**point, "scale": 64, "tag": "v1", "consts": [1, 2]} in seen  # the point, exactly as given
    for cfg in seen:
        assert list(cfg) == list(param_space) and list(cfg["opt"]) == ["lr", "betas"]
        depth, act, three = cfg["layers"]
        assert type(cfg["layers"]) is list and depth in (1, 2, 3) and act in ("relu", "gelu") and three == 3
        assert type(cfg["opt"]["betas"]) is tuple and cfg["opt"]["betas"][0] == 0.9
        assert 0.9 <= cfg["opt"]["betas"][1] <= 0.99 and 1e-4 <= cfg["opt"]["lr"] <= 0.1
        assert 1e-4 <= cfg["opt/wd"] <= 0.1 and cfg["scale"] == 2 * cfg["width"]  # sample_from filled in by Tune
        assert cfg["tag"] == "v1" and cfg["consts"] == [1, 2]
    df = grid.get_dataframe()
    assert len(searcher.failed) == int(df["err"].isna().sum()) and len(searcher.evaluated) + len(searcher.failed) == 6
    assert grid.get_best_result().metrics["err"] == df["err"].min()  # TuneConfig's metric ranks the results
    restored = CoflexSearch()  # the searcher state Tune saved restores into a fresh searcher
    restored.restore_from_dir(str(tmp_path / "shape"))
    assert len(restored.core.results) == 6 and [c for c, _ in restored.pareto_front()] == \
        [c for c, _ in searcher.pareto_front()]


@pytest.mark.slow
def test_asha_in_a_plain_tune_script_keeps_stopped_trials_off_the_front(ray_session, tmp_path):
    """Tune's own ASHAScheduler on a 4-step trainable that reports no fidelity columns: the trials it
    stopped early are known to the searcher from Tune's training_iteration and stay off its front."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    from coflex_ray import CoflexSearch, pareto_results

    def trainable(config):
        for step in range(1, 5):
            tune.report({"err": config["x"] + 1.0 / step, "edp": 2.0 - config["x"] + config["y"] / step})

    searcher = CoflexSearch(metric=["err", "edp"], mode=["min", "min"], seed=0, n_init=4, batch_size=2,
                            n_candidates=128)
    grid = tune.Tuner(trainable, param_space={"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)},
                      tune_config=tune.TuneConfig(search_alg=ConcurrencyLimiter(searcher, 2), num_samples=12,
                                                  reuse_actors=True,
                                                  scheduler=ASHAScheduler(metric="err", mode="min", max_t=4,
                                                                          grace_period=1, reduction_factor=2)),
                      run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0)).fit()
    df = grid.get_dataframe()
    stopped = set(df.loc[df["training_iteration"] < 4, "trial_id"])
    assert stopped and len(stopped) < len(df)  # ASHA stopped some trials, others ran to the end
    front = searcher.pareto_front()
    full = df[df["training_iteration"] == 4]
    full_configs = {(round(r["config/x"], 9), round(r["config/y"], 9)) for _, r in full.iterrows()}
    assert front and all((round(c["x"], 9), round(c["y"], 9)) in full_configs for c, _ in front)
    assert set(pareto_results(grid, ["err", "edp"], ["min", "min"])["training_iteration"]) == {4}
