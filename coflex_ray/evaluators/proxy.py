"""Training-free network score in the spirit of RBFleX-NAS (the Coflex paper's network evaluator).

Used for NATS-Bench SSS when the official accuracy table is not available (the default on a fresh
machine).  It is a *score*, not an accuracy, and every result that uses it says so
(``err_kind = "neg_rbf_score"``).

Procedure, per network:

1. Build the real, untrained SSS network (:mod:`.networks`) with weights drawn from a fixed seed.
2. Push a batch of real images through it (BatchNorm in training mode, i.e. batch statistics, no
   gradients).  The images are random crops of the colour photographs that scikit-image ships in
   ``skimage.data`` (astronaut, chelsea, coffee, rocket, hubble_deep_field, immunohistochemistry),
   rescaled to the dataset's resolution and normalised with the dataset's channel mean/std.
   Nothing is downloaded.
3. Collect, per image, (a) the concatenated outputs of every ReLU and (b) the input features of the
   last (classifier) layer.
4. For each of the two, an RBF kernel matrix ``K[i, j] = exp(-gamma * ||x_i - x_j||^2)`` over the
   batch, with ``gamma = 1 / median_{i != j} ||x_i - x_j||^2`` (the median heuristic; RBFleX-NAS
   instead detects gamma with its own hyperparameter-detection algorithm).
5. Score = ``log det(K_act o K_feat + 1e-6 I)`` (Hadamard product, itself an RBF kernel on the joint
   representation).  Higher means the network separates the images better, which RBFleX-NAS found to
   correlate with trained accuracy.

Deterministic for a fixed seed; about tens of milliseconds per network on a 2-core CPU.
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


def _rbf_kernel(x: torch.Tensor) -> torch.Tensor:
    """RBF kernel over the rows of ``x`` (median-heuristic gamma), in float64."""
    gram = (x @ x.T).double()  # one float32 matmul; the rest is N x N
    sq = gram.diagonal()
    d2 = (sq[:, None] + sq[None, :] - 2 * gram).clamp_min(0.0)
    off = d2[~torch.eye(len(x), dtype=torch.bool)]
    med = float(off.median()) if off.numel() else 0.0
    gamma = 1.0 / med if med > 0 else 1.0
    return torch.exp(-gamma * d2)


def rbf_score(net: nn.Module, images: torch.Tensor) -> float:
    """The RBF kernel score of a network on a batch of images (see module docstring)."""
    acts: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: acts.append(out.flatten(1)))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    feats: list[torch.Tensor] = []
    hooks.append(net.classifier.register_forward_hook(lambda _m, inp, _o: feats.append(inp[0].flatten(1))))
    try:
        net.train()
        with torch.no_grad():
            net(images)
    finally:
        for h in hooks:
            h.remove()
    k = _rbf_kernel(torch.cat(acts, dim=1)) * _rbf_kernel(feats[0])
    k = k + 1e-6 * torch.eye(len(k), dtype=k.dtype)
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if sign > 0 else float("-inf")


class RBFProxy:
    """Training-free score of SSS networks on a dataset's input size (higher is better)."""

    kind = "neg_rbf_score"
    description = "training-free RBF kernel score (RBFleX-NAS style) of the untrained network; not an accuracy"

    def __init__(self, dataset: str = "cifar10", batch: int = 32, seed: int = 0) -> None:
        dataset_shape(dataset)  # validates the name
        if batch < 2:
            raise ValueError(f"batch={batch!r} is too small; the kernel needs at least 2 images")
        self.dataset, self.batch, self.seed = dataset, batch, seed

    def score(self, channels: Sequence[int]) -> float:
        torch.manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = sss_network(channels, self.dataset)
        return rbf_score(net, probe_images(self.dataset, self.batch, self.seed))
