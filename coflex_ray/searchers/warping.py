"""Output warps for CoflexSearch's per-objective GPs (rule 1 of :mod:`.coflex`).

A warp is fitted to one objective's observations ``y``; the GP models the warped values ``z`` and
its predictions go back to the objective's units through the warp's monotone ``inverse``:

* :class:`RankGauss`: a Gaussian copula, the normal scores of the ranks (as Syne Tune's ``copula``
  output transform; Salinas et al., ICML 2020);
* :class:`PowerWarp`: a Yeo-Johnson power transform (HEBO's; Cowen-Rivers et al., JAIR 2022);
* :func:`make_warp` picks one by name; ``"auto"`` applies the copula only to an objective with a
  far-out value (Tukey's outer fences), since rank scores keep a few extreme values from dominating
  the fit but also stop the GP extrapolating past the best observation (``docs/design.md``,
  "Output warps").
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
    """The Gaussian-copula warp fitted to the observations ``y`` of one objective.

    Args:
        y: the observations, a non-empty 1-d array of finite values.

    Attributes:
        z: the warped observations, ``Phi^-1((rank - 0.5) / n)`` with tied values sharing their mean rank.

    Raises:
        ValueError: ``y`` is empty, not 1-d, or not finite.
    """

    def __init__(self, y: np.ndarray) -> None:
        y = observations(y, "RankGauss")
        self.z = norm.ppf((rankdata(y) - 0.5) / len(y))
        self.knots_y, first = np.unique(y, return_index=True)
        self.knots_z = self.z[first]  # tied values share their mean rank, hence one z

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Map warped values back to the objective's units.

        Args:
            z: warped values, any shape.

        Returns:
            Objective values of the same shape: piecewise linear between the observations, and
            linear beyond them with the slope of the outer tenth of the observations (so a prediction
            below the best observation stays below it); the observed value when all are equal.
        """
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

    Unlike :class:`RankGauss` it keeps the spacing of the observations, so a GP can extrapolate past
    the best observation.  The exponent is kept in [-2, 2]: above 2 the inverse of the lower tail
    would be bounded.

    Args:
        y: the observations, a non-empty 1-d array of finite values.

    Attributes:
        z: the warped observations.
        lam: the Yeo-Johnson exponent (1 for constant ``y``).

    Raises:
        ValueError: ``y`` is empty, not 1-d, or not finite.
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
        """Map warped values back to the objective's units.

        Args:
            z: warped values, any shape.

        Returns:
            Objective values of the same shape, monotone in ``z``; for an exponent below 0, values
            beyond the transform's range are capped at a large finite value.
        """
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
    """The checked name of a ``warp`` option.

    Args:
        warp: one of :data:`WARPS`, or ``True`` ("rank") / ``False`` ("none").

    Returns:
        The name, one of :data:`WARPS`.

    Raises:
        ValueError: any other value.
    """
    kind = ("rank" if warp else "none") if isinstance(warp, bool) else warp
    if kind not in WARPS:
        raise ValueError(f"warp={warp!r} is not allowed; allowed: {', '.join(WARPS)} (or True / False)")
    return kind


def has_far_out(y: np.ndarray) -> bool:
    """Whether ``y`` has a far-out value (Tukey): beyond ``FAR_OUT`` interquartile ranges from the quartiles."""
    q1, q3 = np.percentile(y, [25, 75])
    return bool(np.any((y < q1 - FAR_OUT * (q3 - q1)) | (y > q3 + FAR_OUT * (q3 - q1))))


def make_warp(kind: str | bool, y: np.ndarray) -> RankGauss | PowerWarp | None:
    """Fit the warp ``kind`` to the observations ``y`` of one objective.

    Args:
        kind: a ``warp`` option (:func:`warp_kind`); ``"auto"`` means ``"rank"`` when ``y`` has a
            far-out value (:func:`has_far_out`), else ``"none"``.
        y: the observations.

    Returns:
        A :class:`RankGauss` or :class:`PowerWarp`, or ``None`` for no warp.

    Raises:
        ValueError: an unknown ``kind``; for ``"rank"`` and ``"power"`` also ``y`` not a non-empty 1-d
            array of finite values.
    """
    kind = warp_kind(kind)
    if kind == "auto":
        kind = "rank" if has_far_out(np.asarray(y, dtype=float)) else "none"
    if kind == "rank":
        return RankGauss(y)
    if kind == "power":
        return PowerWarp(y)
    return None
