"""NB201 layer lists derived analytically from the cell string, without building a torch model.

Building the torch network to trace its layers costs about 0.09 s per cell (23 min for all 15,625);
the NB201 macro skeleton (:func:`coflex_ray.evaluators.networks.nb201_network`) is fixed, so the
layer list follows from the cell string alone:

* ``stem.0``: 3x3 conv, 3 -> 16 channels, at the input resolution R;
* three stages of 5 cells at widths 16 / 32 / 64 and resolutions R, R/2, R/4; in every cell each
  ``nor_conv_1x1`` / ``nor_conv_3x3`` edge is one stride-1 conv C -> C (``none``, ``skip_connect``
  and ``avg_pool_3x3`` have no conv, since every NB201 cell keeps its width);
* between stages, a residual reduction block: ``shortcut.1`` (1x1 conv after a 2x2 average pool),
  ``conv_a.1`` (3x3, stride 2), ``conv_b.1`` (3x3) -- in this order, as the forward pass runs them;
* ``classifier``: linear 64 -> classes.

``tests/test_codesign.py`` checks that :func:`nb201_layers` equals the torch-traced
:func:`coflex_ray.evaluators.networks.layer_list` (names included) on random cells of every dataset.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np

from ..evaluators.hardware import layer_shape
from ..evaluators.networks import Layer, dataset_shape, parse_genotype

STAGE_WIDTHS = (16, 32, 64)
CELLS_PER_STAGE = 5
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


def _conv(name: str, cin: int, cout: int, k: int, stride: int, side: int) -> Layer:
    out = (side + 2 * (k // 2) - k) // stride + 1
    return Layer(name, "conv", cin, cout, k, stride, k // 2, side, side, out, out)


def nb201_layers(arch_str: str, dataset: str = "cifar10") -> list[Layer]:
    """Every conv and the classifier of the NB201 network with cell ``arch_str``, in execution order."""
    side, classes = dataset_shape(dataset)
    edges = [op for node in parse_genotype(arch_str) for op, _ in node]
    layers = [_conv("stem.0", 3, STAGE_WIDTHS[0], 3, 1, side)]
    cell, cin = 0, STAGE_WIDTHS[0]
    for stage, width in enumerate(STAGE_WIDTHS):
        if stage:
            half = side // 2
            layers += [_conv(f"cells.{cell}.shortcut.1", cin, width, 1, 1, half),
                       _conv(f"cells.{cell}.conv_a.1", cin, width, 3, 2, side),
                       _conv(f"cells.{cell}.conv_b.1", width, width, 3, 1, half)]
            cell, side, cin = cell + 1, half, width
        for _ in range(CELLS_PER_STAGE):
            layers += [_conv(f"cells.{cell}.edges.{k}.1", width, width, _KERNEL[op], 1, side)
                       for k, op in enumerate(edges) if op in _KERNEL]
            cell += 1
    layers.append(Layer("classifier", "linear", STAGE_WIDTHS[-1], classes, 1, 1, 0, 1, 1, 1, 1))
    return layers


def nb201_flops_m(arch_str: str, dataset: str = "cifar10") -> float:
    """FLOPs in millions by the benchmark convention (same as :func:`..evaluators.networks.count_flops`)."""
    return sum(l.macs + (l.cout if l.kind == "linear" else 0) for l in nb201_layers(arch_str, dataset)) / 1e6


@lru_cache(maxsize=8)
def shape_counts(arch_strs: tuple[str, ...], dataset: str) -> tuple[np.ndarray, tuple[tuple, ...]]:
    """(count matrix ``cells x distinct shapes``, the distinct layer shapes) of a tuple of cells.

    Entry ``[i, j]`` is how many layers of cell ``i`` have shape ``j``; network cost on an accelerator
    is then ``counts @ per-shape cost`` (layers run one after another).
    """
    rows = [Counter(layer_shape(l) for l in nb201_layers(a, dataset)) for a in arch_strs]
    shapes = tuple(sorted({s for r in rows for s in r}))
    col = {s: j for j, s in enumerate(shapes)}
    counts = np.zeros((len(rows), len(shapes)), dtype=np.int32)
    for i, r in enumerate(rows):
        for s, n in r.items():
            counts[i, col[s]] = n
    return counts, shapes
