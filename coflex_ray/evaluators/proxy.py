"""Training-free network score following RBFleX-NAS (Yamasaki et al.; the Coflex paper's network evaluator).

Used for NATS-Bench SSS on cifar10/cifar100 without the official table (no real records of those
here), and on request.  It is a *score*, not an accuracy, and every result that uses it says so
(``err_kind = "neg_rbf_score"``); its measured rank correlation with real accuracy is weak (see
``python -m benchmarks surrogate``).

Procedure, per network, as RBFleX-NAS describes it:

1. Build the real, untrained SSS network (:mod:`.networks`) with weights drawn from a fixed seed, in
   training mode (BatchNorm uses the statistics of the image at hand).
2. Push ``batch`` real images through it one at a time (RBFleX-NAS uses 3).  The images are random
   crops of the colour photographs that scikit-image ships in ``skimage.data`` (astronaut, chelsea,
   coffee, rocket, hubble_deep_field, immunohistochemistry), downsampled to the dataset's resolution
   (16 x 16 for ImageNet16-120) and normalised with the dataset's channel mean/std.  Nothing is
   downloaded.
3. Collect, per image, (a) the concatenated outputs of every ReLU and (b) the input of the last
   (classifier) layer; normalise each column to [0, 1] over the images (min-max).
4. For each of the two, an RBF kernel matrix ``K[i, j] = exp(-gamma * ||x_i - x_j||^2)`` with
   ``gamma`` from RBFleX-NAS's hyperparameter detection (:func:`detect_gammas`): over ``N_GAMMA``
   seeded random networks and every pair of images, ``(m_i - m_j)^2 / (2 (s_i + s_j))`` of the raw
   vectors' means ``m`` and variances ``s``, and the smallest of them.
5. Score = ``batch * (log det K_act + log det K_feat)``.  Higher means the network separates the
   images better, which RBFleX-NAS found to correlate with trained accuracy.

Deterministic for a fixed seed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .networks import dataset_shape, sss_network

#: Per-channel mean and std used by NATS-Bench's data loaders (RGB, in [0, 1]).
_NORMALISATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar10-valid": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "ImageNet16-120": ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255)),
}
_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry")


@lru_cache(maxsize=8)
def probe_images(dataset: str = "cifar10", n: int = 32, seed: int = 0) -> torch.Tensor:
    """``n`` normalised ``3 x R x R`` crops of scikit-image's bundled photographs (R from the dataset)."""
    import skimage.data
    from skimage.transform import resize

    resolution, _ = dataset_shape(dataset)
    rng = np.random.default_rng(seed)
    photos = [getattr(skimage.data, name)()[..., :3] for name in _IMAGES]
    crops = []
    for i in range(n):
        img = photos[i % len(photos)]
        side = int(rng.integers(resolution, 4 * resolution + 1))  # crop side before rescaling
        side = min(side, *img.shape[:2])
        y = int(rng.integers(0, img.shape[0] - side + 1))
        x = int(rng.integers(0, img.shape[1] - side + 1))
        patch = resize(img[y:y + side, x:x + side], (resolution, resolution), anti_aliasing=True)
        crops.append(patch)
    batch = torch.tensor(np.stack(crops), dtype=torch.float32).permute(0, 3, 1, 2)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in _NORMALISATION[dataset])
    return (batch - mean) / std


N_GAMMA = 10  # networks the hyperparameter detection looks at (RBFleX-NAS's default)


def activations(net: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(ReLU outputs, classifier inputs) per image, each ``len(images) x features`` in float64."""
    acts: list[torch.Tensor] = []
    feats: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: acts.append(out.flatten()))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    hooks.append(net.classifier.register_forward_hook(lambda _m, inp, _o: feats.append(inp[0].flatten())))
    rows_a, rows_f = [], []
    try:
        net.train()
        with torch.no_grad():
            for img in images:  # one image at a time, as RBFleX-NAS does
                acts.clear(), feats.clear()
                net(img.unsqueeze(0))
                rows_a.append(torch.cat(acts))
                rows_f.append(feats[0])
    finally:
        for h in hooks:
            h.remove()
    return torch.stack(rows_a).double(), torch.stack(rows_f).double()


def _gamma_candidates(x: torch.Tensor) -> list[float]:
    """RBFleX-NAS's per-pair gamma candidates ``(m_i - m_j)^2 / (2 (s_i + s_j))`` of the rows of ``x``."""
    m, s = x.mean(dim=1), x.var(dim=1, unbiased=False)
    out = []
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if s[i] + s[j] > 0:
                out.append(float((m[i] - m[j]) ** 2 / (2 * (s[i] + s[j]))))
    return out


def _network(channels: Sequence[int], dataset: str, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return sss_network(channels, dataset)


@lru_cache(maxsize=8)
def detect_gammas(dataset: str, batch: int = 3, seed: int = 0) -> tuple[float, float]:
    """(gamma of the activations kernel, gamma of the last-layer-input kernel) by RBFleX-NAS's detection."""
    from ..spaces import SSS_SPACE, sss_channels

    images = probe_images(dataset, batch, seed)
    cand_a, cand_f = [], []
    for cfg in SSS_SPACE.sample(np.random.default_rng(seed), N_GAMMA):
        a, f = activations(_network(sss_channels(cfg), dataset, seed), images)
        cand_a += _gamma_candidates(a)
        cand_f += _gamma_candidates(f)
    if not (cand_a and cand_f):
        raise RuntimeError(f"gamma detection found no image pair with non-zero variance ({dataset}, batch {batch})")
    return min(cand_a), min(cand_f)


def _log_det_rbf(x: torch.Tensor, gamma: float) -> float:
    """``log det exp(-gamma * D2)`` of the min-max-normalised rows of ``x`` (D2: squared distances)."""
    lo, hi = x.min(dim=0).values, x.max(dim=0).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    z = (x - lo) / span
    d2 = torch.cdist(z, z).pow(2)
    sign, logdet = torch.linalg.slogdet(torch.exp(-gamma * d2))
    return float(logdet) if sign > 0 else float("-inf")


def rbf_score(net: nn.Module, images: torch.Tensor, gammas: tuple[float, float]) -> float:
    """The RBFleX-NAS score of a network on a batch of images (see module docstring)."""
    a, f = activations(net, images)
    return len(images) * (_log_det_rbf(a, gammas[0]) + _log_det_rbf(f, gammas[1]))


class RBFProxy:
    """Training-free RBFleX-NAS score of SSS networks on a dataset's input size (higher is better)."""

    kind = "neg_rbf_score"
    description = ("training-free RBF kernel score (RBFleX-NAS: 3 images, detected gammas) of the untrained "
                   "network; not an accuracy")

    def __init__(self, dataset: str = "cifar10", batch: int = 3, seed: int = 0) -> None:
        dataset_shape(dataset)  # validates the name
        if batch < 2:
            raise ValueError(f"batch={batch!r} is too small; the kernel needs at least 2 images")
        self.dataset, self.batch, self.seed = dataset, batch, seed

    @property
    def gammas(self) -> tuple[float, float]:
        return detect_gammas(self.dataset, self.batch, self.seed)

    def score(self, channels: Sequence[int]) -> float:
        net = _network(channels, self.dataset, self.seed)
        return rbf_score(net, probe_images(self.dataset, self.batch, self.seed), self.gammas)
