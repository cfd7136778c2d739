"""Output warping for CoflexSearch's per-objective GPs: a Gaussian copula (rank -> normal quantile,
:class:`RankGauss`) or a Yeo-Johnson power transform (:class:`PowerWarp`).

Why: benchmark objectives are often heavy-tailed.  On NAS-Bench-201 about one cell in ten of a
run's picks had 90 % error (the output node is cut off: a random guess) against 6-14 % for the rest;
standardised, those few values dominate the GP's fit (its noise and lengthscales), the model cannot
tell the good cells apart, and on measured runs (budget 100, 10 seeds) a fifth of CoflexSearch's
model-based picks were such cells, ten times random search's rate.  Fitting each GP to the normal
scores of the ranks instead keeps the order of the observations, puts every one of them within about
+-2.5, and leaves the model's job (rank the candidates, say how sure it is) intact.  Syne Tune
(``copula`` transform of its GP searchers) and HEBO (power transforms) warp outputs for the same
reason.  BoTorch ships no rank transform (its ``Power``/``Log`` need positive data and a fitted
exponent), hence this short module.

But the rank scores also discard the spacing of the observations, and with it the GP's ability to
extrapolate: on the SSS x accelerator study (no far-out values) the copula's EDP model saw no gain in
shrinking a network further and some runs never reached the front's low-EDP end, where the
standardised values did.  Hence the default ``"auto"`` (:func:`make_warp`): the copula only for an
objective whose observations have far-out values (Tukey's outer fences), else no warp.  A
Yeo-Johnson transform (:class:`PowerWarp`, HEBO's) sits between the two and is available, but was
second on both benchmarks (see :mod:`.coflex`, rule 1).

Predictions go back to the objective's own units through the inverse of the warp: for the copula,
piecewise linear between the observed values, extended linearly beyond them with the slope of the
outer tenth of the observations, so an optimistic prediction below the best observation stays below it.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata, yeojohnson, yeojohnson_normmax

WARPS = ("auto", "rank", "power", "none")
FAR_OUT = 3.0  # Tukey's outer fences: beyond the quartiles by 3 interquartile ranges


def observations(y: np.ndarray, who: str) -> np.ndarray:
    """``y`` as a float array, checked: a warp is fitted to a non-empty 1-d array of finite values."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or not len(y) or not np.all(np.isfinite(y)):
        raise ValueError(f"{who} needs a non-empty 1-d array of finite values, got shape {y.shape}")
    return y


class RankGauss:
    """The warp fitted to the observations ``y`` of one objective.

    Attributes:
        z: the warped observations, ``Phi^-1((rank - 0.5) / n)`` with tied values sharing their mean rank.
    """

    def __init__(self, y: np.ndarray) -> None:
        y = observations(y, "RankGauss")
        self.z = norm.ppf((rankdata(y) - 0.5) / len(y))
        self.knots_y, first = np.unique(y, return_index=True)
        self.knots_z = self.z[first]  # tied values share their mean rank, hence one z

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Objective values of warped values ``z`` (monotone; linear beyond the observed range)."""
        z = np.asarray(z, dtype=float)
        ky, kz = self.knots_y, self.knots_z
        if len(ky) == 1:
            return np.full(z.shape, ky[0])
        k = max(1, len(ky) // 10)
        low = (ky[k] - ky[0]) / (kz[k] - kz[0])
        high = (ky[-1] - ky[-1 - k]) / (kz[-1] - kz[-1 - k])
        out = np.interp(z, kz, ky)
        out = np.where(z < kz[0], ky[0] + (z - kz[0]) * low, out)
        return np.where(z > kz[-1], ky[-1] + (z - kz[-1]) * high, out)


class PowerWarp:
    """HEBO's output transform (Cowen-Rivers et al., JAIR 2022) fitted to the observations ``y`` of one
    objective: standardise, Yeo-Johnson with the maximum-likelihood exponent, standardise again.

    Unlike :class:`RankGauss` it keeps the spacing of the observations (a transform with one
    parameter, near the identity for symmetric data), so a GP can extrapolate an effect it has seen
    beyond the best observation; it still shrinks a heavy tail.  The exponent is kept in [-2, 2]:
    above 2 the inverse of the lower tail would be bounded (an optimistic prediction could not be
    mapped back).

    Attributes:
        z: the warped observations.
        lam: the Yeo-Johnson exponent.
    """

    def __init__(self, y: np.ndarray) -> None:
        y = observations(y, "PowerWarp")
        self.mean, self.std = float(y.mean()), float(y.std()) or 1.0
        u = (y - self.mean) / self.std
        self.lam = float(np.clip(yeojohnson_normmax(u), -2.0, 2.0)) if np.ptp(u) > 0 else 1.0
        t = yeojohnson(u, lmbda=self.lam)
        self.t_mean, self.t_std = float(t.mean()), float(t.std()) or 1.0
        self.z = (t - self.t_mean) / self.t_std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Objective values of warped values ``z`` (monotone; beyond the transform's range, for an
        exponent below 0, the upper tail is capped at a large finite value)."""
        t = np.asarray(z, dtype=float) * self.t_std + self.t_mean
        lam, u = self.lam, np.empty(np.shape(t))
        pos = t >= 0
        if abs(lam) < 1e-9:
            u[pos] = np.expm1(t[pos])
        else:
            u[pos] = np.maximum(t[pos] * lam + 1, 1e-6) ** (1 / lam) - 1
        if abs(lam - 2) < 1e-9:
            u[~pos] = -np.expm1(-t[~pos])
        else:
            u[~pos] = 1 - (1 - (2 - lam) * t[~pos]) ** (1 / (2 - lam))
        return u * self.std + self.mean


def warp_kind(warp: str | bool) -> str:
    """The checked name of a ``warp`` option: one of :data:`WARPS` (``True``: "rank", ``False``: "none")."""
    kind = ("rank" if warp else "none") if isinstance(warp, bool) else warp
    if kind not in WARPS:
        raise ValueError(f"warp={warp!r} is not allowed; allowed: {', '.join(WARPS)} (or True / False)")
    return kind


def has_far_out(y: np.ndarray) -> bool:
    """Whether ``y`` has a far-out value (Tukey): beyond ``FAR_OUT`` interquartile ranges from the quartiles."""
    q1, q3 = np.percentile(y, [25, 75])
    return bool(np.any((y < q1 - FAR_OUT * (q3 - q1)) | (y > q3 + FAR_OUT * (q3 - q1))))


def make_warp(kind: str | bool, y: np.ndarray) -> RankGauss | PowerWarp | None:
    """The warp ``kind`` (see :func:`warp_kind`) fitted to ``y``; ``None`` for "none".

    "auto": :class:`RankGauss` when ``y`` has a far-out value (:func:`has_far_out`), else none.
    """
    kind = warp_kind(kind)
    if kind == "auto":
        kind = "rank" if has_far_out(np.asarray(y, dtype=float)) else "none"
    if kind == "rank":
        return RankGauss(y)
    if kind == "power":
        return PowerWarp(y)
    return None
