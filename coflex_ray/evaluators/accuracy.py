"""The network side of a trial: error (or a stated proxy of it), parameters and FLOPs of a network.

:func:`make_accuracy_evaluator` picks the source by benchmark and data at hand:

* ``nb201``: the shipped NAS-Bench-201 table, test error after 200 epochs (``err_kind =
  "test_error_pct"``).
* ``sss`` with the official folder (``nats_sss=PATH`` or ``$NATS_SSS_PATH``): official test (or
  valid) error at the chosen hp, ``err_kind = "test_error_pct"`` / ``"valid_error_pct"``.
* ``sss`` without it: the training-free RBF score (:mod:`.proxy`), reported as
  ``err = -score`` with ``err_kind = "neg_rbf_score"``: lower is better, but it is not an error rate.

Every result also carries exact params and FLOPs computed from the real torch network.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Mapping

from ..spaces import NB201_SPACE, SSS_SPACE, nb201_arch_str, sss_arch_str, sss_channels, sss_index
from .nats_sss import ENV_VAR, NatsSSS
from .nb201 import NB201_DATASETS, nb201_accuracy, nb201_index
from .networks import Layer, count_flops, count_params, dataset_shape, layer_list, nb201_network, sss_network
from .proxy import RBFProxy

BENCHMARKS = ("sss", "nb201")


@lru_cache(maxsize=4096)
def network_info(benchmark: str, arch: str, dataset: str) -> tuple[dict[str, float], tuple[Layer, ...]]:
    """(params/FLOPs, layer list) of a benchmark network, built once per process and arch."""
    if benchmark == "sss":
        net = sss_network(tuple(int(c) for c in arch.split(":")), dataset)
    else:
        net = nb201_network(arch, dataset)
    layers = layer_list(net, dataset_shape(dataset)[0])
    return {"params_M": count_params(net), "flops_M": count_flops(layers)}, tuple(layers)


class AccuracyEvaluator:
    """Callable ``config -> {'err', 'err_kind', 'params_M', 'flops_M', 'arch', 'arch_index'}``."""

    def __init__(self, benchmark: str, dataset: str, source: str, err_kind: str, description: str,
                 table: NatsSSS | None = None, proxy: RBFProxy | None = None,
                 hp: str = "90", split: str = "test") -> None:
        self.benchmark, self.dataset, self.source = benchmark, dataset, source
        self.err_kind, self.description = err_kind, description
        self.table, self.proxy, self.hp, self.split = table, proxy, hp, split

    @property
    def space(self):
        return SSS_SPACE if self.benchmark == "sss" else NB201_SPACE

    def __call__(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if self.benchmark == "nb201":
            arch = nb201_arch_str(config)
            out = {"err": 100.0 - nb201_accuracy(arch, self.dataset), "arch": arch, "arch_index": nb201_index(arch)}
            out.update(network_info("nb201", arch, self.dataset)[0])
        else:
            channels = sss_channels(config)
            out = {"arch": sss_arch_str(config), "arch_index": sss_index(config)}
            if self.table is not None:
                out["err"] = 100.0 - self.table.accuracy(out["arch_index"], self.dataset, self.hp, self.split)
            else:
                out["err"] = -self.proxy.score(channels)
            out.update(network_info("sss", out["arch"], self.dataset)[0])
        out["err_kind"] = self.err_kind
        return out

    def layers(self, config: Mapping[str, Any]) -> tuple[Layer, ...]:
        """The network's compute layers (the hardware evaluators' input)."""
        arch = nb201_arch_str(config) if self.benchmark == "nb201" else sss_arch_str(config)
        return network_info(self.benchmark, arch, self.dataset)[1]


def make_accuracy_evaluator(benchmark: str = "sss", dataset: str = "cifar10", nats_sss: str | None = None,
                            hp: str = "90", split: str = "test") -> AccuracyEvaluator:
    """The network evaluator for a benchmark; see the module docstring for which source is used."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; allowed: {list(BENCHMARKS)}")
    dataset_shape(dataset)
    if benchmark == "nb201":
        if dataset not in NB201_DATASETS:
            raise ValueError(f"dataset={dataset!r} is not allowed for nb201; allowed: {list(NB201_DATASETS)}")
        return AccuracyEvaluator("nb201", dataset, "nb201-table", "test_error_pct",
                                 f"NAS-Bench-201 {dataset} test error after 200 epochs (official table)")
    path = nats_sss or os.environ.get(ENV_VAR)
    if path:
        table = NatsSSS(path)
        kind = f"{'valid' if 'valid' in split else 'test'}_error_pct"
        return AccuracyEvaluator("sss", dataset, "nats-sss-official", kind,
                                 f"NATS-Bench SSS {dataset} {split} error, hp {hp}, official data at {table.path}",
                                 table=table, hp=hp, split=split)
    proxy = RBFProxy(dataset)
    return AccuracyEvaluator("sss", dataset, "rbf-proxy", RBFProxy.kind,
                             f"NATS-Bench SSS {dataset}: {RBFProxy.description} (no official data given)",
                             proxy=proxy)
