"""Hardware evaluators: hand-checked cycles, monotone in array size, deterministic, cached, safe."""

import math
import os
import threading

import pytest

from coflex_ray.evaluators.hardware import FIDELITIES, network_cost, simulate_layer
from coflex_ray.evaluators.hardware.accelerator import AccelConfig, zigzag_accelerator_dict
from coflex_ray.evaluators.hardware.cache import LayerCostCache
from coflex_ray.evaluators.networks import Layer, layer_list, sss_network
from coflex_ray.spaces import sss_config
from coflex_ray.trial import EvalSpec, evaluate_config

BIG_RF = dict(X3=512, X4=512, X5=512, X6=512)


def conv(cin, cout, k, hw, stride=1):
    pad = k // 2
    out = (hw + 2 * pad - k) // stride + 1
    return (cin, cout, k, stride, pad, hw, hw, out, out)


@pytest.mark.parametrize("shape,acc,expected", [
    # ws: K on X1, C on X2 -> ceil(K/X1) * ceil(C/X2) * OY * OX * FY * FX
    (conv(16, 16, 3, 16), AccelConfig(8, 8, dataflow="ws", **BIG_RF), 2 * 2 * 16 * 16 * 9),
    (conv(12, 20, 3, 8), AccelConfig(8, 8, dataflow="ws", **BIG_RF), 3 * 2 * 8 * 8 * 9),
    # os: K on X1, OX on X2 -> ceil(K/X1) * ceil(OX/X2) * C * OY * FY * FX
    (conv(16, 16, 3, 16), AccelConfig(8, 4, dataflow="os", **BIG_RF), 2 * 4 * 16 * 16 * 9),
    # is: OX on X1, C on X2 -> ceil(OX/X1) * ceil(C/X2) * K * OY * FY * FX
    (conv(8, 4, 1, 8), AccelConfig(4, 8, dataflow="is", **BIG_RF), 2 * 1 * 4 * 8),
])
def test_zigzag_compute_cycles_match_hand_calculation(shape, acc, expected):
    r = simulate_layer(shape, acc, "zigzag-fixed")
    assert r["compute_cycles"] == expected
    assert r["latency_cycles"] >= expected  # plus stalls, loading and draining


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_doubling_the_array_never_increases_a_large_layers_cycles(dataflow):
    shape = conv(64, 64, 3, 32)
    cycles = [simulate_layer(shape, AccelConfig(n, n, dataflow=dataflow, **BIG_RF), "zigzag-fixed")["latency_cycles"]
              for n in (4, 8, 16, 32)]
    assert all(b <= a for a, b in zip(cycles, cycles[1:])), cycles
    assert cycles[-1] < cycles[0] / 4


def test_deterministic_across_fresh_caches():
    layers = layer_list(sss_network((8, 16, 24, 32, 40)), 32)
    acc = AccelConfig(12, 20, 96, 64, 256, 128, "os")
    a = network_cost(layers, acc, LayerCostCache().get_many, per_layer=True)
    b = network_cost(layers, acc, LayerCostCache().get_many, per_layer=True)
    assert a == b and a["hw_feasible"] and a["edp"] > 0
    assert [l["name"] for l in a["layers"]] == [l.name for l in layers]


def test_cache_hits_and_single_simulation_under_concurrency():
    cache = LayerCostCache()
    acc = AccelConfig(8, 8, 64, 64, 128, 64, "ws")
    shape = conv(32, 32, 3, 16)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(shape, acc))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.stats() == {"entries": 1, "hits": 5, "misses": 1, "killed": 0}
    assert all(r == results[0] for r in results)
    layers = layer_list(sss_network((8, 8, 8, 8, 8)), 32)
    network_cost(layers, acc, cache.get_many)
    before = cache.stats()
    network_cost(layers, acc, cache.get_many)
    after = cache.stats()
    assert after["misses"] == before["misses"] and after["hits"] == before["hits"] + len(layers)


def test_cache_persistence_round_trip(tmp_path):
    path = tmp_path / "costs.pkl"
    acc = AccelConfig(8, 8, 64, 64, 128, 64, "ws")
    warm = LayerCostCache(path=path)
    first = warm.get(conv(8, 16, 3, 32), acc)
    warm.save()
    cold = LayerCostCache(path=path)
    assert cold.get(conv(8, 16, 3, 32), acc) == first
    assert cold.stats()["misses"] == 0
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="costs.pkl. cannot be read"):
        LayerCostCache(path=path)


def test_infeasible_output_register_file_is_flagged_not_raised():
    # 10 bits floor to one byte: cannot hold a 16-bit partial sum
    r = simulate_layer(conv(8, 8, 3, 8), AccelConfig(4, 4, 64, 64, 10, 64, "ws"), "zigzag-fixed")
    assert "infeasible" in r and "O" in r["infeasible"]
    cfg = dict(sss_config(0), X1=4, X2=4, X3=64, X4=64, X5=10, X6=64, dataflow="ws")
    out = evaluate_config(cfg, EvalSpec())
    assert out["feasible"] is False and "infeasible accelerator" in out["error"]
    assert math.isinf(out["edp"]) and math.isfinite(out["err"])  # the network side is still reported


def test_failed_cache_entry_is_not_stored(monkeypatch):
    import coflex_ray.evaluators.hardware.cache as cache_mod

    def boom(*a, **k):
        raise RuntimeError("simulator crashed")

    monkeypatch.setattr(cache_mod, "simulate_layer", boom)
    cache = LayerCostCache()
    with pytest.raises(RuntimeError):
        cache.get(conv(8, 8, 3, 8), AccelConfig(4, 4, 64, 64, 64, 64, "ws"))
    assert cache.stats()["entries"] == 0


def test_bad_input_names_allowed_values():
    with pytest.raises(ValueError, match="unknown fidelity 'maestro'.*zigzag-fixed"):
        LayerCostCache("maestro")
    with pytest.raises(ValueError, match="X1=0.*1..64"):
        AccelConfig.from_config(dict(X1=0, X2=4, X3=64, X4=64, X5=64, X6=64, dataflow="ws"))
    with pytest.raises(ValueError, match="dataflow='xs'"):
        AccelConfig.from_config(dict(X1=4, X2=4, X3=64, X4=64, X5=64, X6=64, dataflow="xs"))
    with pytest.raises(ValueError, match="fidelity"):
        EvalSpec(fidelity="fast")


def test_accelerator_dict_passes_zigzag_validation():
    from zigzag.parser.accelerator_validator import AcceleratorValidator

    v = AcceleratorValidator(zigzag_accelerator_dict(AccelConfig(64, 1, 511, 10, 17, 10, "is")))
    assert v.validate(), v.validator.errors
    assert v.normalized_data["memories"]["rf_I"]["size"] == 504  # floored to whole bytes


def test_every_fidelity_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shape = conv(4, 4, 3, 4)
    acc = AccelConfig(2, 2, 64, 64, 128, 64, "ws")
    for fidelity in FIDELITIES:
        r = simulate_layer(shape, acc, fidelity)
        assert r["latency_cycles"] >= r["compute_cycles"] > 0 and r["energy_pJ"] > 0, fidelity
    assert os.listdir(tmp_path) == []


def test_zigzag_search_never_worse_latency_than_a_tiny_array():
    shape = conv(16, 16, 3, 8)
    small = simulate_layer(shape, AccelConfig(2, 2, dataflow="ws", **BIG_RF), "zigzag", )
    large = simulate_layer(shape, AccelConfig(8, 8, dataflow="ws", **BIG_RF), "zigzag")
    assert large["latency_cycles"] < small["latency_cycles"]
