"""CoflexSearch's output warps: monotone, invertible where claimed, and picked by name."""

from __future__ import annotations

import numpy as np
import pytest


def test_rank_gauss_warp_keeps_order_ties_and_inverts():
    """CoflexSearch's output warp: normal scores of the ranks (ties share one), an outlier is just the
    highest rank, and the inverse returns every observation and extrapolates linearly past the ends."""
    from scipy.stats import norm

    from coflex_ray.searchers.warping import RankGauss

    y = np.array([6.0, 90.0, 7.0, 90.0, 8.0])
    w = RankGauss(y)
    # ranks 1, 4.5, 2, 4.5, 3 -> Phi^-1((r - 0.5) / 5)
    assert w.z == pytest.approx(norm.ppf((np.array([1, 4.5, 2, 4.5, 3]) - 0.5) / 5))
    assert w.z[1] == w.z[3] and w.z.max() < 1.3  # the 90s: tied, and no further out than any top rank
    assert w.inverse(w.z) == pytest.approx(y)
    zs = np.linspace(-4, 4, 81)
    assert np.all(np.diff(w.inverse(zs)) >= 0)  # monotone
    # below the best observation: the slope of the lowest tenth (here the lowest two knots)
    slope = (7.0 - 6.0) / (w.z[2] - w.z[0])
    assert w.inverse(np.array([w.z[0] - 1.0]))[0] == pytest.approx(6.0 - slope)
    assert RankGauss(np.array([3.0])).inverse(np.array([-1.0, 2.0])) == pytest.approx([3.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        RankGauss(np.array([1.0, np.nan]))


def test_power_warp_inverts_extrapolates_and_shrinks_a_heavy_tail():
    """The Yeo-Johnson warp: the inverse returns every observation, is monotone and goes past the best
    observation; symmetric data stay nearly as they are (exponent ~1), a far outlier is pulled in (the
    exponent falls, here to its cap -2), and a bad ``warp`` name is refused with the allowed ones."""
    from coflex_ray.searchers.warping import PowerWarp, make_warp

    rng = np.random.default_rng(0)
    sym = rng.normal(size=200)
    w = PowerWarp(sym)
    assert w.lam == pytest.approx(1.0, abs=0.15)
    assert w.inverse(w.z) == pytest.approx(sym)
    y = np.r_[rng.normal(8.0, 1.0, 45), [90.0] * 5]  # NAS-Bench-201-like: a few 90 %-error cells
    w = PowerWarp(y)
    assert w.lam == -2.0  # capped
    assert w.inverse(w.z) == pytest.approx(y)
    assert w.z.max() - np.sort(w.z)[-6] < 3.0  # the outliers are no longer ~9 standard deviations out
    zs = np.linspace(w.z.min() - 2, w.z.max(), 50)
    vals = w.inverse(zs)
    assert np.all(np.diff(vals) > 0) and vals[0] < y.min()  # monotone, below the best observation
    with pytest.raises(ValueError, match="allowed: auto, rank, power, none"):
        make_warp("boxcox", y)


_rng = np.random.default_rng(0)
DATA = {
    "right-skewed": np.exp(_rng.normal(size=40)),
    "left-skewed": -np.exp(_rng.normal(size=40)),
    "symmetric": _rng.normal(size=40),
    "ties": _rng.integers(5, size=40).astype(float),
    "constant": np.full(7, 2.5),
}


@pytest.mark.parametrize("warp", ["rank", "power"])
@pytest.mark.parametrize("name", list(DATA))
def test_fitted_warps_keep_the_order_and_give_back_every_observation(warp, name):
    from coflex_ray.searchers.warping import make_warp

    y = DATA[name]
    w = make_warp(warp, y)
    assert w.inverse(w.z) == pytest.approx(y)
    assert np.all(np.diff(w.z[np.argsort(y, kind="stable")]) >= 0)  # the warp keeps the order of y
    wide = np.linspace(w.z.min() - 3, w.z.max() + 3, 601)
    assert np.all(np.diff(w.inverse(wide)) >= 0)  # the inverse is monotone everywhere...
    if np.ptp(y) > 0:  # ...and strictly increasing over the observations
        assert np.all(np.diff(w.inverse(np.linspace(w.z.min(), w.z.max(), 201))) > 0)


@pytest.mark.parametrize("lam", [-2.0, -0.5, 0.0, 0.7, 1.0, 1.5, 2.0])
def test_power_warp_inverse_undoes_yeo_johnson_for_every_allowed_exponent(lam):
    """The fit keeps the exponent in [-2, 2]; the inverse must undo the transform for each of them,
    including its special cases 0 and 2."""
    from scipy.stats import yeojohnson

    from coflex_ray.searchers.warping import PowerWarp

    y = np.random.default_rng(1).normal(3.0, 2.0, 60)
    w = PowerWarp(y)
    w.lam = lam
    t = yeojohnson((y - w.mean) / w.std, lmbda=lam)
    w.t_mean, w.t_std = float(t.mean()), float(t.std())
    assert w.inverse((t - w.t_mean) / w.t_std) == pytest.approx(y)


def test_make_warp_picks_by_name_and_auto_warps_only_far_out_values():
    from coflex_ray.searchers.warping import PowerWarp, RankGauss, has_far_out, make_warp, warp_kind

    calm, wild = np.arange(10.0), np.r_[np.arange(10.0), 1e3]
    assert has_far_out(wild) and not has_far_out(calm)
    assert isinstance(make_warp("auto", wild), RankGauss) and make_warp("auto", calm) is None
    assert isinstance(make_warp(True, calm), RankGauss) and make_warp(False, wild) is None
    assert isinstance(make_warp("power", calm), PowerWarp) and make_warp("none", wild) is None
    assert warp_kind(True) == "rank" and warp_kind("auto") == "auto"
    for bad in ("cube", 1, None):
        with pytest.raises(ValueError, match="is not allowed; allowed: auto, rank, power, none"):
            warp_kind(bad)


@pytest.mark.parametrize("y", [np.array([]), np.ones((2, 2)), np.array([1.0, np.inf])], ids=["empty", "2-d", "inf"])
def test_warps_refuse_what_they_cannot_fit(y):
    from coflex_ray.searchers.warping import PowerWarp, RankGauss

    for warp in (RankGauss, PowerWarp):
        with pytest.raises(ValueError, match="non-empty 1-d array of finite values"):
            warp(y)
