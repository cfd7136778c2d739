"""The real NATS-Bench networks in torch, and their layer lists, parameter and FLOP counts.

One builder serves both benchmark spaces, because both use the same macro skeleton:
stem (3x3 conv + BN) -> cells -> residual reduction block -> cells -> reduction -> cells ->
BN + ReLU -> global average pool -> linear classifier.

* SSS (size space): N = 1 cell per stage, the five searched widths are the five successive stages
  (cell c1, reduction c1->c2, cell c2->c3, reduction c3->c4, cell c4->c5), and the cell is the best
  TSS topology ``SSS_GENOTYPE``.
* NB201 / TSS (topology space): N = 5 cells per stage at widths 16 / 32 / 64 and the searched cell.

The construction reproduces every official SSS params/FLOPs record exactly (see the tests), with the
benchmark's counting convention: params = all weights including BN affine parameters and the
classifier bias; FLOPs = sum over convolutions of ``k*k*Cin*Cout*Hout*Wout`` (per group) plus the
linear layer's ``in*out + out``; pooling and BN not counted; both in millions.

:func:`layer_list` traces a network with forward hooks and returns every convolution and the
classifier with its real shapes: the hardware evaluators consume exactly this list.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

#: dataset -> (input resolution, number of classes) of the NATS-Bench data.
DATASETS: dict[str, tuple[int, int]] = {
    "cifar10": (32, 10),
    "cifar10-valid": (32, 10),
    "cifar100": (32, 100),
    "ImageNet16-120": (16, 120),
}

SSS_GENOTYPE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def dataset_shape(dataset: str) -> tuple[int, int]:
    """(input resolution, classes) of a NATS dataset.

    Raises:
        ValueError: an unknown dataset (the allowed names listed).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; allowed: {list(DATASETS)}")
    return DATASETS[dataset]


class ReLUConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout),
        )


class Zero(nn.Module):
    """The ``none`` operation: zeros of the output width."""

    def __init__(self, cout: int) -> None:
        super().__init__()
        self.cout = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], self.cout, x.shape[2], x.shape[3])
        return x.new_zeros(shape)


class Pool(nn.Module):
    """3x3 average pooling (stride 1), preceded by ReLU-conv1x1-BN when the width changes."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.pre = ReLUConvBN(cin, cout, 1) if cin != cout else nn.Identity()
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.pre(x))


def make_op(name: str, cin: int, cout: int) -> nn.Module:
    if name == "none":
        return Zero(cout)
    if name == "skip_connect":
        return nn.Identity() if cin == cout else ReLUConvBN(cin, cout, 1)
    if name == "nor_conv_1x1":
        return ReLUConvBN(cin, cout, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(cin, cout, 3)
    if name == "avg_pool_3x3":
        return Pool(cin, cout)
    raise ValueError(f"unknown cell operation {name!r}")


def parse_genotype(arch_str: str) -> list[list[tuple[str, int]]]:
    """``'|a~0|+|b~0|c~1|+|...|'`` -> per node, the list of (op, source node)."""
    nodes = []
    for text in arch_str.split("+"):
        ops = [t.split("~") for t in text.split("|") if t]
        nodes.append([(op, int(src)) for op, src in ops])
    return nodes


class InferCell(nn.Module):
    """A DAG cell: node i = sum of op(node j) over its inputs; edges from node 0 map cin -> cout."""

    def __init__(self, genotype: str, cin: int, cout: int) -> None:
        super().__init__()
        self.nodes = parse_genotype(genotype)
        self.edges = nn.ModuleList()
        for node in self.nodes:
            for op, src in node:
                self.edges.append(make_op(op, cin if src == 0 else cout, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, k = [x], 0
        for node in self.nodes:
            total = None
            for _, src in node:
                y = self.edges[k](states[src])
                total = y if total is None else total + y
                k += 1
            states.append(total)
        return states[-1]


class ResBlock(nn.Module):
    """Residual reduction block (stride 2) with an avg-pool + 1x1 conv shortcut (no BN)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, stride=2)
        self.conv_b = ReLUConvBN(cout, cout, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """The NATS-Bench macro skeleton with given per-stage widths, cell genotype and depth."""

    def __init__(self, genotype: str, widths: Sequence[int], cells_per_stage: int, num_classes: int) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"need 5 stage widths (cell, reduce, cell, reduce, cell), got {list(widths)}")
        c1, c2, c3, c4, c5 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1))
        layers: list[nn.Module] = []
        cin = c1
        for stage, cout in enumerate(widths):
            if stage in (1, 3):
                layers.append(ResBlock(cin, cout))
            else:
                for i in range(cells_per_stage):
                    layers.append(InferCell(genotype, cin if i == 0 else cout, cout))
            cin = cout
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c5), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c5, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Input of the classifier (pooled final features)."""
        out = self.lastact(self.cells(self.stem(x)))
        return self.pool(out).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def sss_network(channels: Sequence[int], dataset: str = "cifar10") -> TinyNetwork:
    """The NATS-Bench SSS network ``c1:c2:c3:c4:c5`` for a dataset (untrained)."""
    _, classes = dataset_shape(dataset)
    return TinyNetwork(SSS_GENOTYPE, channels, 1, classes)


def nb201_network(arch_str: str, dataset: str = "cifar10") -> TinyNetwork:
    """The NAS-Bench-201 network (C = 16, N = 5) with the given cell (untrained)."""
    _, classes = dataset_shape(dataset)
    return TinyNetwork(arch_str, (16, 32, 32, 64, 64), 5, classes)


@dataclass(frozen=True)
class Layer:
    """One compute layer as a hardware simulator sees it (batch 1).

    ``kind`` is ``conv`` or ``linear``; a linear layer is a 1x1 conv on a 1x1 map.  ``ih, iw`` is
    the unpadded input size and ``pad`` the symmetric padding.
    """

    name: str
    kind: str
    cin: int
    cout: int
    k: int
    stride: int
    pad: int
    ih: int
    iw: int
    oh: int
    ow: int

    @property
    def macs(self) -> int:
        return self.k * self.k * self.cin * self.cout * self.oh * self.ow

    def to_dict(self) -> dict:
        return asdict(self)


def layer_list(net: nn.Module, resolution: int) -> list[Layer]:
    """Trace ``net`` on one ``3 x resolution x resolution`` input; every conv and linear, in order."""
    layers: list[Layer] = []
    hooks = []

    def hook(name: str):
        def fn(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            x = inp[0]
            if isinstance(mod, nn.Conv2d):
                if mod.groups != 1:
                    raise NotImplementedError(f"grouped conv {name} is not supported")
                layers.append(Layer(name, "conv", mod.in_channels, mod.out_channels, mod.kernel_size[0],
                                    mod.stride[0], mod.padding[0], x.shape[2], x.shape[3], out.shape[2], out.shape[3]))
            else:
                layers.append(Layer(name, "linear", mod.in_features, mod.out_features, 1, 1, 0, 1, 1, 1, 1))
        return fn

    for name, mod in net.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            hooks.append(mod.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            was_training = net.training
            net.eval()
            net(torch.zeros(1, 3, resolution, resolution))
            net.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return layers


def count_params(net: nn.Module) -> float:
    """Parameters in millions (weights, BN affine, biases; not BN running statistics)."""
    return sum(p.numel() for p in net.parameters()) / 1e6


def count_flops(layers: Sequence[Layer], net: nn.Module | None = None) -> float:
    """FLOPs in millions by the benchmark convention (convs ``k*k*Cin*Cout*Hout*Wout``, linear ``in*out+out``)."""
    total = 0
    for layer in layers:
        total += layer.macs + (layer.cout if layer.kind == "linear" else 0)
    return total / 1e6


def network_costs(net: nn.Module, dataset: str) -> dict[str, float]:
    """``{'params_M': ..., 'flops_M': ...}`` of a network on a dataset's input size."""
    resolution, _ = dataset_shape(dataset)
    return {"params_M": count_params(net), "flops_M": count_flops(layer_list(net, resolution))}


def sss_costs(channels: np.ndarray | Sequence[int], dataset: str = "cifar10") -> dict[str, np.ndarray | float]:
    """Exact params and FLOPs (millions) of SSS networks in closed form, without building them.

    ``channels`` is one ``(c1..c5)`` tuple or an ``(n, 5)`` array (e.g. all 32,768 networks at once:
    about a millisecond instead of ~15 minutes of torch builds).  Same network and counting
    convention as :func:`sss_network` + :func:`network_costs` (the tests check they agree):

    * 3x3 stem ``3 -> c1`` + BN at full resolution ``R``;
    * cell ``cin -> cout`` at ``H``: two 3x3 convs ``cin -> cout`` and three ``cout -> cout``, each + BN,
      plus a 1x1 conv + BN on the skip edge when ``cin != cout``;
    * reduction ``cin -> cout`` to ``H/2``: 3x3 stride-2 ``cin -> cout`` + BN, 3x3 ``cout -> cout`` + BN,
      1x1 shortcut ``cin -> cout`` (no BN);
    * final BN on ``c5`` and the linear classifier ``c5 -> classes`` with bias.
    """
    resolution, classes = dataset_shape(dataset)
    ch = np.asarray(channels, dtype=np.int64)
    single = ch.ndim == 1
    ch = np.atleast_2d(ch)
    if ch.shape[1] != 5:
        raise ValueError(f"need 5 stage widths per network, got shape {ch.shape}")
    c1, c2, c3, c4, c5 = ch.T

    def cell(cin, cout, h):
        proj = (cin != cout)
        w = 9 * (2 * cin * cout + 3 * cout * cout) + proj * cin * cout
        return w + 2 * cout * (5 + proj), w * h * h

    def reduction(cin, cout, h_out):
        w = 9 * cin * cout + 9 * cout * cout + cin * cout
        return w + 4 * cout, w * h_out * h_out

    r = resolution
    parts = [(27 * c1 + 2 * c1, 27 * c1 * r * r), cell(c1, c1, r), reduction(c1, c2, r // 2),
             cell(c2, c3, r // 2), reduction(c3, c4, r // 4), cell(c4, c5, r // 4),
             (2 * c5 + c5 * classes + classes, c5 * classes + classes)]
    params = sum(p for p, _ in parts) / 1e6
    flops = sum(f for _, f in parts) / 1e6
    if single:
        return {"params_M": float(params[0]), "flops_M": float(flops[0])}
    return {"params_M": params, "flops_M": flops}
