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
