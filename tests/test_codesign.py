"""Co-design tools: NB201 ground truth, monotonicity, semi-decoupled co-design, RL co-exploration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coflex_ray.codesign.groundtruth import build_ground_truth, check_cache_dir, sample_accelerators
from coflex_ray.codesign.layers import nb201_layers, shape_counts
from coflex_ray.codesign.monotonicity import monotonicity, plot_monotonicity
from coflex_ray.evaluators.hardware import network_cost
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.evaluators.nb201 import nb201_table
from coflex_ray.evaluators.networks import dataset_shape, layer_list, nb201_network

ARCHS = tuple(nb201_table()["arch_str"])


@pytest.fixture(scope="module")
def cells() -> tuple[str, ...]:
    rng = np.random.default_rng(3)
    return tuple(ARCHS[i] for i in sorted(rng.choice(len(ARCHS), 60, replace=False)))


@pytest.fixture(scope="module")
def gt(tmp_path_factory, cells):
    return build_ground_truth(4, seed=1, cache_dir=tmp_path_factory.mktemp("gt"), archs=cells)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_analytic_layers_equal_torch_layer_list(dataset):
    rng = np.random.default_rng({"cifar10": 0, "cifar100": 1, "ImageNet16-120": 2}[dataset])
    side = dataset_shape(dataset)[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: 0.06 s per cell instead of about 1 s on a busy 2-core machine
    try:
        for i in rng.choice(len(ARCHS), 50, replace=False):
            assert nb201_layers(ARCHS[i], dataset) == layer_list(nb201_network(ARCHS[i], dataset), side), ARCHS[i]
    finally:
        torch.set_num_threads(threads)


def test_ground_truth_matches_network_cost_and_is_cached(gt, cells, tmp_path_factory):
    cache = LayerCostCache()
    for a, acc in enumerate(gt.accelerators):
        for j in (0, 17, 59):
            ref = network_cost(nb201_layers(cells[j]), acc, cache.get_many)
            if ref["hw_feasible"]:
                assert gt.latency[a, j] == pytest.approx(ref["latency_cycles"])
                assert gt.energy[a, j] == pytest.approx(ref["energy_pJ"])
            else:
                assert not gt.feasible[a, j]
    assert {acc.dataflow for acc in gt.accelerators} == {"os", "ws", "is"}
    again = build_ground_truth(4, seed=1, cache_dir=gt.source.split("cached to ")[1].rsplit("/", 1)[0], archs=cells)
    assert again.source.startswith("cache") and np.array_equal(again.latency, gt.latency, equal_nan=True)
    counts, shapes = shape_counts(cells, "cifar10")
    assert counts.shape == (60, len(shapes)) and len(shapes) <= 12


def test_ground_truth_optimum_is_the_constrained_best(gt):
    lat_max, en_max = np.nanmedian(gt.latency), np.nanmedian(gt.energy)
    best = gt.optimum(lat_max, en_max)
    df = gt.long()
    ok = df[df.feasible & (df.latency <= lat_max) & (df.energy <= en_max)]
    assert best["accuracy"] == pytest.approx(ok["accuracy"].max())
    on1 = gt.optimum(lat_max, en_max, accelerator=1)
    assert on1["accuracy"] <= best["accuracy"] and on1["accelerator"] in (1, -1)
    assert np.isnan(gt.optimum(0, 0)["accuracy"])
    with pytest.raises(ValueError, match="accelerator=9"):
        gt.optimum(1, 1, accelerator=9)


def test_ground_truth_rejects_a_cache_dir_inside_the_package():
    import coflex_ray

    with pytest.raises(ValueError, match="inside the coflex_ray package"):
        check_cache_dir(coflex_ray.__file__.rsplit("/", 1)[0] + "/data")
    with pytest.raises(ValueError, match="n_accelerators"):
        sample_accelerators(0)


# ------------------------------------------------------------------ monotonicity
def _table(costs: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(i, acc, v, 2 * v + 1) for acc, vals in costs.items() for i, v in enumerate(vals)]
    return pd.DataFrame(rows, columns=["arch", "accelerator", "latency", "energy"])


def test_monotonicity_is_one_for_rescaled_accelerators():
    base = np.random.default_rng(0).random(40) * 100
    t = _table({"a": list(base), "b": list(3 * base + 7), "c": list(np.sqrt(base))})
    t["flops"] = t["arch"] % 5
    res = monotonicity(t, band_column="flops", n_bands=2)
    assert np.allclose(res.pairs["srcc"], 1.0)
    assert set(res.pairs["band"]) == {"all", "band 1/2", "band 2/2"}


def test_monotonicity_hand_computed_case(tmp_path):
    # ranks 1 2 3 4 vs 1 3 2 4: sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8
    t = _table({"a": [10, 20, 30, 40], "b": [1, 3, 2, 4]})
    t.loc[t.accelerator == "b", "energy"] = [4, 3, 2, 1]  # reversed: rho = -1
    res = monotonicity(t, n_bands=1)
    row = res.pairs.set_index(["metric", "band"])
    assert row.loc[("latency", "all"), "srcc"] == pytest.approx(0.8)
    assert row.loc[("energy", "all"), "srcc"] == pytest.approx(-1.0)
    assert res.summary().loc[0, "min"] == pytest.approx(0.8)
    assert plot_monotonicity(res, tmp_path / "m.png").stat().st_size > 1000


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="energy"), r"lacks column\(s\) \['energy'\]"),
    (lambda t: t[t.accelerator == "a"], "1 accelerator"),
    (lambda t: t.assign(latency=t.latency.where(t.arch != 2)), "'latency' has 2 NaN"),
    (lambda t: pd.concat([t, t.iloc[:1]]), "repeated"),
])
def test_monotonicity_rejects_bad_tables(change, message):
    t = _table({"a": [1, 2, 3, 4], "b": [2, 3, 4, 5]})
    with pytest.raises(ValueError, match=message):
        monotonicity(change(t))


# ------------------------------------------------------------------ semi-decoupled
def test_semi_decoupled_stage2_uses_only_p_and_counts_evaluations(gt):
    from coflex_ray.codesign.semidecoupled import pareto_set, semi_decoupled

    lat, en = np.nanquantile(gt.latency, 0.3), np.nanquantile(gt.energy, 0.3)
    r = semi_decoupled(gt, [(lat, en)], proxies=0, grid=4)
    assert 0 < len(r.members) <= 16
    assert r.evaluations == {"stage1": 60, "probe": 0, "stage2": len(r.members) * 4}
    row = r.rows.iloc[0]
    if np.isfinite(row.found_accuracy):
        assert row.found_arch in set(gt.arch_index[r.members])
        assert row.gap >= 0
    full = semi_decoupled(gt, [(lat, en)], proxies=0, grid=None)
    assert set(full.members) == set(pareto_set(gt.accuracy, gt.latency[0], gt.energy[0]))


def test_stage2_trial_never_evaluates_outside_p(monkeypatch):
    from coflex_ray.codesign import tuning
    from coflex_ray.spaces import nb201_arch_str, nb201_config

    members = [nb201_config(ARCHS[i]) for i in (5, 600, 9000)]
    seen = []
    real = tuning.pair_result

    def recording(config, spec, hardware=None):
        seen.append(nb201_arch_str(config))
        return real(config, spec, hardware)

    monkeypatch.setattr(tuning, "pair_result", recording)
    accel = {"X1": 16, "X2": 16, "X3": 128, "X4": 128, "X5": 128, "X6": 64, "dataflow": "ws"}
    out = tuning.evaluate_members(accel, members, tuning.EvalSpec("nb201"), np.inf, np.inf, max_pes=None)
    assert sorted(seen) == sorted(out["evaluated"]) == sorted(ARCHS[i] for i in (5, 600, 9000))
    assert out["n_evals"] == 3 and out["best_arch"] in out["evaluated"]
    seen.clear()
    small = tuning.evaluate_members(accel, members, tuning.EvalSpec("nb201"), np.inf, np.inf, max_pes=100)
    assert seen == [] and not small["feasible"]  # 256 PEs > 100: nothing evaluated


@pytest.mark.slow
def test_stage2_tune_run_reports_only_members(tmp_path):
    from coflex_ray.codesign.methods import semi_decoupled_tune
    from coflex_ray.runner import init_ray
    from coflex_ray.spaces import nb201_config
    from coflex_ray.trial import EvalSpec

    init_ray(num_cpus=2)
    members = [nb201_config(ARCHS[i]) for i in (11, 4000)]
    df = semi_decoupled_tune(members, 100, [(1e12, 1e15)], EvalSpec("nb201"), None, 4, 0, tmp_path, None, "t",
                             n_init=2)
    evaluated = {a for s in df["evaluated"].dropna() for a in s.split(",") if a}
    assert evaluated <= {ARCHS[11], ARCHS[4000]} and len(df) == 4
    assert df["evals"].tolist() == [102, 104, 106, 108]


# ------------------------------------------------------------------ RL co-exploration
def _toy():
    from coflex_ray.spaces import Dim, Space, integer_dim

    space = Space("toy", (Dim("op", ("a", "b", "c", "d", "e"), "categorical"), integer_dim("n", 1, 100),
                          Dim("df", ("os", "ws", "is"), "categorical")))
    return space, {"op": "c", "n": 67, "df": "is"}


def _toy_result(config, target):
    m = sum(config[k] == v for k, v in target.items())
    return {"err": 100 - 100 * m / 3, "latency": 0.5, "energy": 0.5, "feasible": True}


def test_reinforce_moves_toward_the_planted_optimum():
    from coflex_ray.codesign.reinforce import ReinforceSearch

    space, target = _toy()
    s = ReinforceSearch(space, 1.0, 1.0, seed=0, batch_size=4)
    start = [p[i] for p, i in zip(s.probs(), (2, 10, 2))]  # offered index of c, 67, is
    for i in range(240):
        c = s.suggest(str(i))
        s.on_trial_complete(str(i), _toy_result(c, target))
    end = [p[i] for p, i in zip(s.probs(), (2, 10, 2))]
    assert s.choices[1][10] == 66  # value 67 is offered
    assert all(e > 2 * b for e, b in zip(end, start)) and s.greedy() == target
    assert np.mean(s.history[-40:]) > np.mean(s.history[:40])


def test_reinforce_reward_formula_and_save_restore(tmp_path):
    from coflex_ray.codesign.reinforce import ReinforceSearch, reward

    assert reward({"err": 10, "latency": 50, "energy": 50, "feasible": True}, 100, 100) == pytest.approx(0.9 + 0.1)
    assert reward({"err": 10, "latency": 200, "energy": 50, "feasible": True}, 100, 100) == pytest.approx(
        0.9 - (1 + np.log(2)))
    assert reward({"err": 10, "latency": 50, "energy": 50, "pes": 2048, "feasible": True}, 100, 100,
                  max_pes=1024) == pytest.approx(0.9 - (1 + np.log(2)))
    assert reward({"feasible": False}, 1, 1) == -2.0
    space, target = _toy()
    a = ReinforceSearch(space, 1.0, 1.0, seed=3, batch_size=3)
    for i in range(7):
        a.on_trial_complete(str(i), _toy_result(a.suggest(str(i)), target))
    a.suggest("pending")
    a.save(str(tmp_path / "ck.pkl"))
    b = ReinforceSearch(space, 1.0, 1.0, seed=99, batch_size=3)
    b.restore(str(tmp_path / "ck.pkl"))
    assert b.pending == a.pending and b.baseline == a.baseline
    for i in range(10, 16):
        ca, cb = a.suggest(str(i)), b.suggest(str(i))
        assert ca == cb
        a.on_trial_complete(str(i), _toy_result(ca, target))
        b.on_trial_complete(str(i), _toy_result(cb, target))
    assert all(np.allclose(x, y) for x, y in zip(a.probs(), b.probs()))
