"""Real benchmark figures: NB201 table, official SSS reader, exact params/FLOPs, the proxy."""

import bz2
import shutil

import numpy as np
import pytest

from coflex_ray.evaluators.accuracy import make_accuracy_evaluator
from coflex_ray.evaluators.nats_sss import NatsDataError, NatsSSS
from coflex_ray.evaluators.nb201 import nb201_accuracy, nb201_arch, nb201_best, nb201_index, nb201_table
from coflex_ray.evaluators.networks import SSS_GENOTYPE, layer_list, network_costs, sss_network
from coflex_ray.evaluators.proxy import RBFProxy, probe_images
from coflex_ray.spaces import SSS_CHANNELS, nb201_config, sss_config


# ------------------------------------------------------------------ NAS-Bench-201
@pytest.mark.parametrize("dataset,index,acc", [("cifar10", 6111, 94.37), ("cifar100", 9930, 73.51),
                                               ("ImageNet16-120", 857, 47.31)])
def test_nb201_documented_maxima(dataset, index, acc):
    best_idx, best_acc = nb201_best(dataset)
    assert best_idx == index and round(best_acc, 2) == acc
    assert nb201_accuracy(nb201_config(nb201_arch(index)), dataset) == best_acc


def test_nb201_index_order_is_official():
    assert nb201_arch(0) == "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert round(nb201_accuracy(0, "cifar10"), 4) == 85.8633
    assert nb201_table()["arch_str"].is_unique and len(nb201_table()) == 15625
    assert nb201_index(SSS_GENOTYPE) == 9930  # the SSS cell is the best TSS cell on cifar100


def test_nb201_bad_input():
    with pytest.raises(ValueError, match="allowed"):
        nb201_accuracy(0, "imagenet")
    with pytest.raises(ValueError, match="unknown benchmark 'nb301'; allowed: .*'sss', 'nb201'"):
        make_accuracy_evaluator("nb301", "cifar10")
    with pytest.raises(ValueError, match="0..15624"):
        nb201_arch(15625)


def test_device_latency_table_is_the_shipped_release():
    """Spot values straight from the HELP / HW-NAS-Bench release (row 0 and 1 of the shared copy)."""
    from coflex_ray.evaluators.device import device_latency_ms, devices, latency_table

    assert len(devices()) == 27 and {"pixel3", "raspi4", "eyeriss", "fpga", "1080ti_1"} <= set(devices())
    assert device_latency_ms(0, "pixel3") == pytest.approx(3.60585)
    assert device_latency_ms(0, "fpga") == pytest.approx(2.57296)
    assert device_latency_ms(1, "eyeriss") == pytest.approx(7.57778)
    assert len(latency_table()) == 15625 and latency_table().notna().all().all()


def test_device_latency_bad_input():
    from coflex_ray.evaluators.device import device_latency_ms
    from coflex_ray.trial import EvalSpec, evaluate_config

    with pytest.raises(ValueError, match="unknown device 'iphone'; allowed: .*pixel3"):
        device_latency_ms(0, "iphone")
    with pytest.raises(ValueError, match="0..15624"):
        device_latency_ms(15625, "pixel3")
    with pytest.raises(ValueError, match="nb201 only"):
        EvalSpec("sss", device="pixel3")
    out = evaluate_config(nb201_config(nb201_arch(1)), EvalSpec("nb201", device="eyeriss"))
    assert out["feasible"] and out["latency_ms"] == pytest.approx(7.57778) and "edp" not in out
    assert not any(k.startswith("obj_") or k == "scalar" for k in out)  # raw metrics only (see searchers.scalarize)


# ------------------------------------------------------------------ official SSS reader
def test_sss_reader_spot_values(sss_samples):
    b = NatsSSS(sss_samples)
    assert round(b.accuracy(284, "cifar10"), 2) == 89.51
    assert round(b.accuracy("8:8:40:32:40", "cifar100"), 2) == 62.70
    assert round(b.accuracy(284, "ImageNet16-120"), 3) == 32.767
    assert round(b.accuracy(284, "ImageNet16-120", split="valid"), 3) == 33.333
    assert round(b.accuracy(sss_config(0), "cifar10"), 2) == 79.79
    assert round(b.accuracy(0, "ImageNet16-120"), 2) == 15.53
    assert round(b.accuracy(0, "cifar100", split="ori-test"), 2) == 32.27


def test_sss_reader_matches_every_official_record(sss_samples, sss_tidy):
    b = NatsSSS(sss_samples)
    for row in sss_tidy.itertuples():
        rec = b.record(row.arch_index, row.dataset, row.hp, row.seed)
        assert rec["params"] == pytest.approx(row.params_M) and rec["flop"] == pytest.approx(row.flops_M)
        split = "x-test" if row.dataset in ("cifar100", "ImageNet16-120") else "ori-test"
        assert b.accuracy(row.arch_index, row.dataset, row.hp, split, seed=row.seed) == pytest.approx(row.test_acc)


def test_sss_reader_seed_mean_and_valid_source(sss_samples, sss_tidy):
    b = NatsSSS(sss_samples)
    rows = sss_tidy[(sss_tidy.arch_index == 284) & (sss_tidy.hp == "12") & (sss_tidy.dataset == "cifar10")]
    assert len(rows) == 3
    assert b.accuracy(284, "cifar10", "12") == pytest.approx(rows.test_acc.mean())
    valid = sss_tidy[(sss_tidy.arch_index == 284) & (sss_tidy.hp == "12") & (sss_tidy.dataset == "cifar10-valid")]
    assert b.accuracy(284, "cifar10", 12, "valid") == pytest.approx(valid.valid_acc.mean())


def test_sss_reader_errors(sss_samples, tmp_path, monkeypatch):
    monkeypatch.delenv("NATS_SSS_PATH", raising=False)
    with pytest.raises(NatsDataError, match="does not exist.*--nats-sss"):
        NatsSSS(tmp_path / "nope")
    with pytest.raises(NatsDataError, match="NATS_SSS_PATH"):
        NatsSSS()
    b = NatsSSS(sss_samples)
    with pytest.raises(NatsDataError, match=r"architecture 5 .*000005\.pickle\.pbz2"):
        b.accuracy(5)
    with pytest.raises(ValueError, match="hp='200'"):
        b.accuracy(284, hp="200")
    with pytest.raises(ValueError, match="dataset='mnist'"):
        b.accuracy(284, "mnist")
    # a corrupt architecture file
    bad = tmp_path / "sss"
    shutil.copytree(sss_samples, bad)
    (bad / "000284.pickle.pbz2").chmod(0o644)
    (bad / "000284.pickle.pbz2").write_bytes(bz2.compress(b"not a pickle"))
    with pytest.raises(NatsDataError, match="corrupt"):
        NatsSSS(bad).accuracy(284)
    monkeypatch.setenv("NATS_SSS_PATH", str(sss_samples))
    assert NatsSSS().path == sss_samples


# ------------------------------------------------------------------ exact costs from the real network
@pytest.mark.parametrize("dataset,params,flops", [("cifar10", 0.144834, 21.827994), ("cifar100", 0.148524, 21.831684),
                                                  ("ImageNet16-120", 0.149344, 5.461816)])
def test_sss_arch284_params_flops_exact(dataset, params, flops):
    c = network_costs(sss_network((8, 8, 40, 32, 40), dataset), dataset)
    assert round(c["params_M"], 6) == params and round(c["flops_M"], 6) == flops


def test_sss_costs_match_all_official_records(sss_tidy):
    for row in sss_tidy.drop_duplicates(["arch_index", "dataset"]).itertuples():
        c = network_costs(sss_network([int(x) for x in row.channels.split(":")], row.dataset), row.dataset)
        assert round(c["params_M"], 6) == row.params_M and round(c["flops_M"], 6) == row.flops_M
    assert round(network_costs(sss_network((8,) * 5), "cifar10")["params_M"], 6) == 0.011714
    assert round(network_costs(sss_network((64,) * 5), "cifar10")["params_M"], 6) == 0.713674


def test_sss_closed_form_costs_equal_the_torch_counts(sss_tidy):
    """The closed-form count (all 32,768 networks at once) equals the real torch network's count."""
    from coflex_ray.evaluators.networks import DATASETS, sss_costs

    rng = np.random.default_rng(0)
    for dataset in DATASETS:
        sample = [tuple(int(c) for c in rng.choice(SSS_CHANNELS, 5)) for _ in range(6)] + [(8,) * 5, (64,) * 5]
        for ch in sample:
            exact = network_costs(sss_network(ch, dataset), dataset)
            fast = sss_costs(ch, dataset)
            assert fast["params_M"] == pytest.approx(exact["params_M"], abs=1e-12)
            assert fast["flops_M"] == pytest.approx(exact["flops_M"], abs=1e-9)
        batch = sss_costs(np.array(sample), dataset)
        assert batch["params_M"][-1] == sss_costs((64,) * 5, dataset)["params_M"]
    for row in sss_tidy.drop_duplicates(["arch_index", "dataset"]).itertuples():  # official arch 0, 11, 284
        c = sss_costs([int(x) for x in row.channels.split(":")], row.dataset)
        assert round(c["params_M"], 6) == row.params_M and round(c["flops_M"], 6) == row.flops_M
    every = sss_costs(np.array([list(sss_config(i).values()) for i in (0, 32767)]), "cifar10")
    assert [round(v, 6) for v in every["params_M"]] == [0.011714, 0.713674]
    with pytest.raises(ValueError, match="5 stage widths"):
        sss_costs((8, 8, 8), "cifar10")


def test_layer_list_is_the_real_network():
    layers = layer_list(sss_network((8, 16, 24, 32, 40), "cifar10"), 32)
    # stem, cell(3x3 x5 + skip 1x1 only if widths differ), reduction (2 + shortcut), ...
    assert layers[0].name == "stem.0" and (layers[0].cin, layers[0].cout, layers[0].oh) == (3, 8, 32)
    assert layers[-1].kind == "linear" and (layers[-1].cin, layers[-1].cout) == (40, 10)
    shortcuts = [l for l in layers if "shortcut" in l.name]
    assert [(l.cin, l.cout, l.k, l.ih, l.oh) for l in shortcuts] == [(8, 16, 1, 16, 16), (24, 32, 1, 8, 8)]
    assert min(l.oh for l in layers if l.kind == "conv") == 8


# ------------------------------------------------------------------ training-free proxy
def test_probe_images_are_real_and_deterministic():
    a, b = probe_images("cifar10", 16, 0), probe_images("ImageNet16-120", 16, 0)
    assert a.shape == (16, 3, 32, 32) and b.shape == (16, 3, 16, 16)
    assert float(a.std()) > 0.3  # real pictures, not constants
    assert not np.allclose(a[0].numpy(), a[1].numpy())


def test_proxy_is_deterministic_and_orders_the_official_samples():
    p = RBFProxy("cifar10")
    s = [p.score(ch) for ch in [(8, 8, 8, 8, 8), (8, 8, 8, 16, 32), (8, 8, 40, 32, 40)]]
    assert p.score((8, 8, 40, 32, 40)) == s[2]
    # official cifar10 hp-90 test accuracies 79.79 < 85.77 < 89.51: the proxy ranks them the same way
    assert s[0] < s[1] < s[2]


def test_accuracy_evaluator_sources(sss_samples, monkeypatch):
    monkeypatch.delenv("NATS_SSS_PATH", raising=False)
    proxy = make_accuracy_evaluator("sss", "cifar10")
    r = proxy(sss_config(284))
    assert r["err_kind"] == "neg_rbf_score" and "not an accuracy" in proxy.description
    official = make_accuracy_evaluator("sss", "cifar10", str(sss_samples))
    r = official(sss_config(284))
    assert r["err_kind"] == "test_error_pct" and r["err"] == pytest.approx(100 - 89.51)
    assert (r["arch"], r["arch_index"], round(r["params_M"], 6)) == ("8:8:40:32:40", 284, 0.144834)
    nb = make_accuracy_evaluator("nb201", "cifar100")
    assert nb(nb201_config(nb201_arch(9930)))["err"] == pytest.approx(100 - 73.513333)
    with pytest.raises(ValueError, match="benchmark 'tss'"):
        make_accuracy_evaluator("tss")
    with pytest.raises(ValueError, match="cifar10-valid"):
        make_accuracy_evaluator("nb201", "cifar10-valid")


# ------------------------------------------------------------------ standard multi-objective problems
def test_mobo_harness_records_resumes_and_reports_finite_gaps(tmp_path, capsys):
    """``python -m benchmarks mobo`` end to end on one cheap problem: a JSON line per run, the summary,
    a second call that runs nothing, and a line cut short by an interruption that is redone."""
    import json
    import math

    from benchmarks.mobo import main

    args = ["--problems", "zdt1", "--searchers", "random", "coflex", "--seeds", "0", "--budget", "12",
            "--batch", "1", "--out", str(tmp_path)]
    runs = tmp_path / "runs.jsonl"
    runs.write_text('{"problem": "zdt1", "searcher": "coflex", "batch": 1, "se')  # killed mid-write
    main(args)
    lines = runs.read_text().splitlines()
    records = [json.loads(line) for line in lines[1:]]
    assert [r["searcher"] for r in records] == ["random", "coflex"]
    for r in records:
        assert r["evaluations"] == 12 and r["batch"] == 1 and r["seed"] == 0 and r["searcher_s"] >= 0
        assert 0 < r["hv"]["10"] <= r["hv"]["12"] < r["max_hv"] and r["searcher_cpu_s"] >= 0
        assert math.isfinite(r["log10_gap"]["12"]) and r["log10_gap"]["12"] == math.log10(r["max_hv"] - r["hv"]["12"])
    assert records[1]["fallbacks"] == 0 and records[0]["fallbacks"] is None
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("machine: ") and "| zdt1 |" in summary and "batch 1, 12 evaluations" in summary
    capsys.readouterr()
    main(args)
    assert "2 runs, 2 finished before, 0 to run" in capsys.readouterr().out
    assert runs.read_text().splitlines() == lines
