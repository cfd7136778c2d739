"""The SSS accuracy surrogate: fits the shipped real records within their noise, predicts plausibly
everywhere, is validated by the figures every run quotes, and rejects bad input."""

import numpy as np
import pytest

from coflex_ray.evaluators.accuracy import SOURCES, make_accuracy_evaluator
from coflex_ray.evaluators.networks import sss_costs
from coflex_ray.evaluators.sss_surrogate import (all_channels, check_channels, cross_validate, rank_metrics,
                                                 record_channels, records, sss_surrogate, validation)
from coflex_ray.spaces import SSS_SPACE, sss_config, sss_index

#: binomial SD (points) of one accuracy read on a 3,000-image split at ~38 %: the records' noise floor,
#: before seed-to-seed training noise (the records are single-seed)
SPLIT_NOISE_SD = 100 * np.sqrt(0.38 * 0.62 / 3000)


@pytest.fixture(scope="module")
def data():
    df = records()
    return record_channels(df), df["in16_valid_acc_hp90"].to_numpy()


def test_shipped_records_are_the_real_ones(data):
    ch, y = data
    df = records()
    assert len(df) == 248 and df["arch_index"].is_unique
    assert [sss_index(s) for s in df["channels"]] == df["arch_index"].tolist()  # index and channels agree
    assert np.all(np.abs(y * 30 - np.round(y * 30)) < 0.01)  # multiples of 1/30 % (3,000-image split)
    assert 20 < y.min() and y.max() < 45


def test_surrogate_reproduces_the_records_within_their_noise(data):
    ch, y = data
    mu, sd = sss_surrogate().gp.predict(ch)
    rmse = float(np.sqrt(np.mean((y - mu) ** 2)))
    assert rmse < SPLIT_NOISE_SD  # in-sample residuals below the split's own sampling noise (0.89 points)
    assert np.mean(np.abs(y - mu) <= 1.96 * sd) >= 0.9  # most records inside their predictive 95 % interval
    assert 0.2 < sss_surrogate().gp.noise_sd < 1.5  # learned noise of the order of the split noise


def test_predictions_are_plausible_for_every_architecture(data):
    _, y = data
    s = sss_surrogate()
    assert s.mean.shape == s.sd.shape == (SSS_SPACE.size,) and np.isfinite(s.mean).all() and (s.sd > 0).all()
    assert 0 < s.mean.min() and s.mean.max() < 100
    # within a stated margin of the records' range: at most 5 points above the best record (the
    # largest networks sit just beyond the records), at most 10 below the worst (small networks)
    assert y.min() - 10 < s.mean.min() and s.mean.max() < y.max() + 5
    assert s.accuracy((64,) * 5)[0] > s.accuracy((8,) * 5)[0] + 20  # largest predicted far better than smallest
    params = sss_costs(all_channels(), "ImageNet16-120")["params_M"]
    small, large = params <= np.quantile(params, 0.1), params >= np.quantile(params, 0.9)
    assert s.mean[large].mean() > s.mean[small].mean() + 5
    assert s.sd[small].mean() > s.sd[large].mean()  # less certain where the records are sparse
    assert s.accuracy((8, 8, 40, 32, 40)) == (s.mean[284], s.sd[284])  # index order = official order


def test_out_of_sample_official_small_networks(sss_tidy):
    """Archs 0, 11, 284 (not among the records; small networks the records lack): real x-valid hp 90."""
    rows = sss_tidy[(sss_tidy.dataset == "ImageNet16-120") & (sss_tidy.hp == "90")].drop_duplicates("arch_index")
    assert len(rows) == 3
    for row in rows.itertuples():
        mu, sd = sss_surrogate().accuracy([int(c) for c in row.channels.split(":")])
        assert abs(mu - row.valid_acc) < 2 * sd, (row.channels, mu, sd, row.valid_acc)


def test_cross_validation_matches_the_shipped_validation(data):
    """Recompute the first CV shuffle: the figure every run quotes is reproducible and above the floor."""
    ch, y = data
    v = validation()
    assert v is not None and v["command"] == "python -m benchmarks surrogate"
    mean, sd = cross_validate(v["cv"]["k"], 0)
    got, shipped = rank_metrics(y, mean, sd), v["cv"]["per_repeat"][0]
    for key in ("spearman", "kendall", "rmse", "coverage90"):
        assert got[key] == pytest.approx(shipped[key], abs=2e-3), key
    assert got["spearman"] >= 0.95 and got["top50"] >= 35
    assert 0.85 <= got["coverage90"] and 0.9 <= got["coverage95"]
    costs = sss_costs(ch, "ImageNet16-120")
    assert rank_metrics(y, costs["params_M"])["spearman"] == pytest.approx(v["scores"]["params"]["spearman"])
    assert got["spearman"] > v["scores"]["params"]["spearman"] + 0.1  # far better than counting parameters


def test_evaluator_sources_and_their_labels():
    assert set(SOURCES) == {"nb201-table", "nats-sss-table", "sss-surrogate", "rbf-proxy", "params"}
    ev = make_accuracy_evaluator("sss", "ImageNet16-120")
    r = ev(sss_config(284))
    assert ev.source.name == "sss-surrogate" and r["err_kind"] == "predicted_valid_error_pct"
    assert r["err"] == pytest.approx(100 - sss_surrogate().mean[284]) and r["err_sd"] > 0
    assert "PREDICTED" in ev.description and "Spearman 0.9" in ev.description and "benchmarks surrogate" in ev.description
    assert (r["arch"], r["arch_index"], round(r["params_M"], 6)) == ("8:8:40:32:40", 284, 0.149344)
    p = make_accuracy_evaluator("sss", "ImageNet16-120", network_evaluator="params")
    assert p(sss_config(284))["err"] == pytest.approx(-0.149344) and p.err_kind == "neg_params_M"
    assert "Spearman 0.8" in p.description


def test_bad_inputs_raise_one_clear_error(sss_samples):
    with pytest.raises(ValueError, match="width 12 is not allowed; allowed: \\[8, 16"):
        check_channels((8, 8, 8, 8, 12))
    with pytest.raises(ValueError, match="5 widths per network"):
        sss_surrogate().accuracy((8, 8, 8, 8))
    with pytest.raises(ValueError, match="c5=12 is not allowed"):
        make_accuracy_evaluator("sss", "ImageNet16-120")({"c1": 8, "c2": 8, "c3": 8, "c4": 8, "c5": 12})
    with pytest.raises(ValueError, match="'surrogate' exists for dataset ImageNet16-120 only.*not 'cifar10'"):
        make_accuracy_evaluator("sss", "cifar10", network_evaluator="surrogate")
    with pytest.raises(ValueError, match="unknown network evaluator 'oracle'; allowed: surrogate, proxy, params"):
        make_accuracy_evaluator("sss", "ImageNet16-120", network_evaluator="oracle")
    with pytest.raises(ValueError, match="conflicts with the official table"):
        make_accuracy_evaluator("sss", "ImageNet16-120", str(sss_samples), network_evaluator="proxy")
