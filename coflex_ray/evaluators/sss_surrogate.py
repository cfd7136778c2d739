"""Accuracy surrogate of NATS-Bench SSS on ImageNet16-120, fitted on real records (a surrogate benchmark).

Without the official SSS table (about 1 GB), the network objective of the SSS study is the
*predicted* ImageNet16-120 ``x-valid`` error after the 90-epoch schedule, from a Gaussian process
fitted on the 248 real records shipped in ``data/sss_in16_valid_acc_hp90.csv`` (see the README
there).  This is a surrogate benchmark in the sense of NAS-Bench-301 (Zela et al., ICLR 2022): a model
trained on real evaluations stands in for the table, and its error is validated, not assumed.

Model: BoTorch ``SingleTaskGP`` with its default priors (Matern/RBF ARD kernel, Gaussian likelihood
with a learned noise level), ``Normalize`` input transform and ``Standardize`` outcome transform, on
the features ``log2(c1..c5)`` (:func:`features`): adding log params and log FLOPs, or a linear prior
mean, does not improve the cross-validated figures of ``python -m benchmarks surrogate``, which
also checks the predictions for small networks the records lack.

The fit is seeded and takes about a second; it happens once per process (:func:`sss_surrogate`),
which then predicts all 32,768 networks at once and serves every later query from that table.
Predictive SDs include the learned observation noise, i.e. they describe a new real measurement
(single seed, 3,000-image split), which is what the calibration in the bench checks.

Where it extrapolates: the records were queried by searches, so they cluster in the wider part of the
space (:func:`coverage` compares their params distribution with the whole space's).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Sequence

import numpy as np
import pandas as pd

from ..spaces import SSS_CHANNELS, SSS_SPACE
from .networks import sss_costs

RECORDS_FILE = "sss_in16_valid_acc_hp90.csv"
VALIDATION_FILE = "sss_surrogate_validation.json"
VALIDATION_COMMAND = "python -m benchmarks surrogate"
DATASET = "ImageNet16-120"
TARGET = "ImageNet16-120 x-valid accuracy (%) after the 90-epoch schedule (hp 90, seed 777)"
FEATURE_SETS = ("log_widths", "log_widths+costs")
_Z = {0.5: 0.6744897501960817, 0.9: 1.6448536269514722, 0.95: 1.959963984540054}


def records() -> pd.DataFrame:
    """The shipped real records: arch_index, channels, in16_valid_acc_hp90, n_obs."""
    with resources.files("coflex_ray.data").joinpath(RECORDS_FILE).open("rb") as f:
        return pd.read_csv(f)


def record_channels(df: pd.DataFrame) -> np.ndarray:
    return np.array([[int(c) for c in s.split(":")] for s in df["channels"]], dtype=np.int64)


def all_channels() -> np.ndarray:
    """All 32,768 SSS networks as an ``(n, 5)`` array, row = official index (base 8, last layer fastest)."""
    grid = np.meshgrid(*[np.asarray(SSS_CHANNELS)] * 5, indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1)


def check_channels(channels: np.ndarray | Sequence[int]) -> np.ndarray:
    """The SSS widths of one network ``(c1..c5)`` or of several, as an ``(n, 5)`` int array.

    Raises:
        ValueError: not five widths per network, or a width that is not legal (named with what is
            allowed).
    """
    ch = np.atleast_2d(np.asarray(channels))
    if ch.ndim != 2 or ch.shape[1] != 5:
        raise ValueError(f"SSS channels must be 5 widths per network, got shape {ch.shape}; "
                         f"each width in {set(SSS_CHANNELS)}")
    bad = ~np.isin(ch, SSS_CHANNELS)
    if bad.any():
        raise ValueError(f"SSS channel width {ch[bad][0].item()!r} is not allowed; allowed: {list(SSS_CHANNELS)}")
    return ch.astype(np.int64)


def features(channels: np.ndarray, kind: str = "log_widths") -> np.ndarray:
    """Model inputs: ``log2`` of the five widths (optionally plus log params and log FLOPs)."""
    if kind not in FEATURE_SETS:
        raise ValueError(f"feature set {kind!r} is not allowed; allowed: {list(FEATURE_SETS)}")
    ch = check_channels(channels)
    x = np.log2(ch.astype(float))
    if kind == "log_widths+costs":
        c = sss_costs(ch, DATASET)
        x = np.column_stack([x, np.log(c["params_M"]), np.log(c["flops_M"])])
    return x


class GPSurrogate:
    """A seeded BoTorch GP of accuracy on :func:`features`; ``predict`` gives (mean, predictive SD)."""

    def __init__(self, channels: np.ndarray, acc: np.ndarray, feature_set: str = "log_widths", seed: int = 0) -> None:
        import torch
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Normalize, Standardize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        self.feature_set = feature_set
        x = torch.tensor(features(channels, feature_set), dtype=torch.float64)
        y = torch.tensor(np.asarray(acc, dtype=float), dtype=torch.float64).unsqueeze(-1)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # 248 x 248 matrices: threads only add contention
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # fit_gpytorch_mll's retries draw from the priors
                self.model = SingleTaskGP(x, y, input_transform=Normalize(x.shape[-1]),
                                          outcome_transform=Standardize(1))
                fit_gpytorch_mll(ExactMarginalLogLikelihood(self.model.likelihood, self.model))
        finally:
            torch.set_num_threads(threads)
        self.model.eval()

    @property
    def noise_sd(self) -> float:
        """Learned observation-noise SD, in accuracy points."""
        tf = self.model.outcome_transform
        return float(self.model.likelihood.noise.sqrt() * tf.stdvs.squeeze())

    def predict(self, channels: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """(mean, SD) of a new real measurement of the accuracy (%) of each network."""
        import torch

        x = features(channels, self.feature_set)
        means, sds = [], []
        with torch.no_grad():
            for i in range(0, len(x), chunk):
                post = self.model.posterior(torch.tensor(x[i:i + chunk], dtype=torch.float64), observation_noise=True)
                means.append(post.mean.detach().squeeze(-1).numpy())
                sds.append(post.variance.detach().clamp_min(0).sqrt().squeeze(-1).numpy())
        return np.concatenate(means), np.concatenate(sds)


class SSSSurrogate:
    """The fitted surrogate with every network's prediction precomputed (index = official SSS index)."""

    def __init__(self, seed: int = 0) -> None:
        df = records()
        self.n_records = len(df)
        self.gp = GPSurrogate(record_channels(df), df["in16_valid_acc_hp90"].to_numpy(), seed=seed)
        self.mean, self.sd = self.gp.predict(all_channels())

    def accuracy(self, channels: Sequence[int]) -> tuple[float, float]:
        """(predicted accuracy %, predictive SD) of one network ``(c1..c5)``."""
        ch = check_channels(channels)
        if len(ch) != 1:
            raise ValueError(f"one network expected, got {len(ch)}")
        idx = int(np.ravel_multi_index(tuple(SSS_CHANNELS.index(int(c)) for c in ch[0]), (len(SSS_CHANNELS),) * 5))
        return float(self.mean[idx]), float(self.sd[idx])


@lru_cache(maxsize=1)
def sss_surrogate() -> SSSSurrogate:
    """The per-process fitted surrogate (fit once, about a second)."""
    assert SSS_SPACE.size == len(all_channels())
    return SSSSurrogate()


# ------------------------------------------------------------------ validation
def rank_metrics(y: np.ndarray, score: np.ndarray, sd: np.ndarray | None = None, top: int = 50) -> dict[str, float]:
    """How well ``score`` (higher = better) tracks the real accuracy ``y``.

    Spearman, Kendall, top-``top`` overlap (of the ``top`` truly best, how many are in the score's
    top ``top``); with a predictive ``sd`` also RMSE (score taken as an accuracy prediction) and the
    coverage of the central 50/90/95 % predictive intervals."""
    from scipy.stats import kendalltau, spearmanr

    y, score = np.asarray(y, float), np.asarray(score, float)
    out = {"spearman": float(spearmanr(y, score)[0]), "kendall": float(kendalltau(y, score)[0]),
           f"top{top}": int(len(set(np.argsort(-y)[:top]) & set(np.argsort(-score)[:top])))}
    if sd is not None:
        z = np.abs(y - score) / np.asarray(sd, float)
        out["rmse"] = float(np.sqrt(np.mean((y - score) ** 2)))
        out.update({f"coverage{int(q * 100)}": float(np.mean(z <= zq)) for q, zq in _Z.items()})
    return out


def cross_validate(k: int = 10, repeat: int = 0, feature_set: str = "log_widths") -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (mean, SD) predictions of every shipped record, ``k`` folds shuffled with seed ``repeat``."""
    df = records()
    ch, y = record_channels(df), df["in16_valid_acc_hp90"].to_numpy()
    order = np.random.default_rng(repeat).permutation(len(y))
    mean, sd = np.empty(len(y)), np.empty(len(y))
    for fold in np.array_split(order, k):
        train = np.setdiff1d(order, fold)
        mean[fold], sd[fold] = GPSurrogate(ch[train], y[train], feature_set).predict(ch[fold])
    return mean, sd


def validation() -> dict | None:
    """The validation written by ``python -m benchmarks surrogate`` (shipped), or None if absent."""
    file = resources.files("coflex_ray.data").joinpath(VALIDATION_FILE)
    if not file.is_file():
        return None
    return json.loads(file.read_text())


def validated_claim(key: str = "surrogate") -> str:
    """One sentence quoting the shipped validation of ``key`` (a row of the validation file)."""
    v = validation()
    if v is None or key not in v["scores"]:
        return f"not validated yet (run `{VALIDATION_COMMAND}`)"
    m = v["scores"][key]
    how = (f"{v['cv']['k']}-fold cross-validated over {v['cv']['repeats']} shuffles" if key == "surrogate"
           else "measured directly")
    return (f"Spearman {m['spearman']:.3f} / Kendall {m['kendall']:.3f} with {v['n_records']} real {TARGET.split(' (')[0]} "
            f"records ({how}; `{v['command']}`)")


def coverage(bins: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)) -> pd.DataFrame:
    """Params (M, ImageNet16-120) histogram of the records vs the whole space: where the surrogate extrapolates."""
    p_all = sss_costs(all_channels(), DATASET)["params_M"]
    p_rec = sss_costs(record_channels(records()), DATASET)["params_M"]
    edges = list(bins)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        n_all = int(((p_all >= lo) & (p_all < hi)).sum())
        n_rec = int(((p_rec >= lo) & (p_rec < hi)).sum())
        rows.append({"params_M": f"[{lo:.1f}, {hi:.1f})", "space_frac": n_all / len(p_all),
                     "records_frac": n_rec / len(p_rec), "records": n_rec})
    return pd.DataFrame(rows)
