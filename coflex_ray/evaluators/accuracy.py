"""The network side of a trial: error (or a stated stand-in for it), parameters and FLOPs of a network.

One accuracy *source* class per data source, behind a registry (:data:`SOURCES`, the pattern of Syne
Tune's blackbox repository); :func:`make_accuracy_evaluator` picks one and wraps it in an
:class:`AccuracyEvaluator`.  Sources:

* ``nb201-table``: the shipped NAS-Bench-201 table, test error after 200 epochs (``test_error_pct``).
* ``nats-sss-table``: the official SSS folder (``nats_sss=PATH`` or ``$NATS_SSS_PATH``), test or
  valid error at the chosen hp (``test_error_pct`` / ``valid_error_pct``).
* ``sss-surrogate``: SSS on ImageNet16-120 without the table: the *predicted* ``x-valid`` error after
  90 epochs from the GP fitted on 248 real records (:mod:`.sss_surrogate`), with its predictive SD
  in ``err_sd`` (``predicted_valid_error_pct``).
* ``rbf-proxy``: the training-free RBF score (:mod:`.proxy`), ``err = -score`` (``neg_rbf_score``):
  lower is better, but it is not an error rate.
* ``params``: ``err = -params_M`` (``neg_params_M``), the "bigger is better" baseline.

Choice for SSS (``network_evaluator=None``): the official table if given, else the surrogate on
ImageNet16-120 and the proxy on cifar10/cifar100 (no real records of those here).  Every source's
``description`` says what the error is and, for the stand-ins, their measured rank correlation with
real accuracy (from the shipped validation, :func:`.sss_surrogate.validated_claim`).

Every result also carries exact params and FLOPs (closed form for SSS, the traced torch network for
NB201).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, ClassVar, Mapping

from ..spaces import NB201_SPACE, SSS_SPACE, nb201_arch_str, sss_arch_str, sss_channels, sss_index
from .nats_sss import ENV_VAR, NatsSSS
from .nb201 import NB201_DATASETS, nb201_accuracy, nb201_index
from .networks import Layer, count_flops, count_params, dataset_shape, layer_list, nb201_network, sss_costs, sss_network

BENCHMARKS = ("sss", "nb201")
#: ``--network-evaluator`` choices for SSS (the official table is chosen by giving its folder)
NETWORK_EVALUATORS = ("surrogate", "proxy", "params")


@lru_cache(maxsize=4096)
def network_info(benchmark: str, arch: str, dataset: str) -> tuple[dict[str, float], tuple[Layer, ...]]:
    """(params/FLOPs, layer list) of a benchmark network, built once per process and arch."""
    if benchmark == "sss":
        net = sss_network(tuple(int(c) for c in arch.split(":")), dataset)
    else:
        net = nb201_network(arch, dataset)
    layers = layer_list(net, dataset_shape(dataset)[0])
    return {"params_M": count_params(net), "flops_M": count_flops(layers)}, tuple(layers)


# ------------------------------------------------------------------ sources
class AccuracySource:
    """One data source of a network's error: ``error(arch) -> {'err': ..., maybe 'err_sd'}``.

    ``arch`` is a dict with ``arch`` (string), ``arch_index``, ``channels`` (SSS) and the costs."""

    name: ClassVar[str]
    benchmark: ClassVar[str]
    err_kind: str
    err_label: str  # axis label of the error in plots
    description: str

    def __init__(self, dataset: str, **options: Any) -> None:
        self.dataset = dataset

    def error(self, arch: Mapping[str, Any]) -> dict[str, float]:
        raise NotImplementedError


SOURCES: dict[str, type[AccuracySource]] = {}


def register(cls: type[AccuracySource]) -> type[AccuracySource]:
    SOURCES[cls.name] = cls
    return cls


@register
class NB201Table(AccuracySource):
    name, benchmark = "nb201-table", "nb201"

    def __init__(self, dataset: str, **options: Any) -> None:
        if dataset not in NB201_DATASETS:
            raise ValueError(f"dataset={dataset!r} is not allowed for nb201; allowed: {list(NB201_DATASETS)}")
        super().__init__(dataset)
        self.err_kind, self.err_label = "test_error_pct", f"{dataset} test error (%)"
        self.description = f"NAS-Bench-201 {dataset} test error after 200 epochs (official table)"

    def error(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"err": 100.0 - nb201_accuracy(arch["arch"], self.dataset)}


@register
class NatsSSSTable(AccuracySource):
    name, benchmark = "nats-sss-table", "sss"

    def __init__(self, dataset: str, path: str | None = None, hp: str = "90", split: str = "test",
                 **options: Any) -> None:
        super().__init__(dataset)
        self.table, self.hp, self.split = NatsSSS(path), hp, split
        kind = "valid" if "valid" in split else "test"
        self.err_kind, self.err_label = f"{kind}_error_pct", f"{dataset} {kind} error (%)"
        self.description = f"NATS-Bench SSS {dataset} {split} error, hp {hp}, official data at {self.table.path}"

    def error(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"err": 100.0 - self.table.accuracy(arch["arch_index"], self.dataset, self.hp, self.split)}

    def error_at(self, arch: Mapping[str, Any], epoch: int) -> dict[str, float]:
        """The error after ``epoch`` training epochs, from the official learning curve, and the
        simulated training time those epochs took (``train_time_s``, from the record)."""
        point = self.table.at_epoch(arch["arch_index"], epoch, self.dataset, self.hp, self.split)
        return {"err": 100.0 - point["accuracy"], "train_time_s": point["train_time_s"]}


@register
class SSSSurrogateSource(AccuracySource):
    name, benchmark = "sss-surrogate", "sss"
    err_kind = "predicted_valid_error_pct"

    def __init__(self, dataset: str, **options: Any) -> None:
        from .sss_surrogate import DATASET, validated_claim

        if dataset != DATASET:
            raise ValueError(f"network evaluator 'surrogate' exists for dataset {DATASET} only (its real records), "
                             f"not {dataset!r}; for {dataset} use the official table (--nats-sss PATH) or "
                             f"--network-evaluator proxy or params")
        super().__init__(dataset)
        self.err_label = "predicted ImageNet16-120 valid error (%)"
        self.description = (f"NATS-Bench SSS {dataset}: PREDICTED x-valid error (%) after 90 epochs, not a table "
                            "lookup: a BoTorch GP surrogate (log2 channel widths) fitted on 248 real NATS-Bench "
                            f"records; validated {validated_claim('surrogate')}; predictive SD in err_sd")

    def error(self, arch: Mapping[str, Any]) -> dict[str, float]:
        from .sss_surrogate import sss_surrogate

        acc, sd = sss_surrogate().accuracy(arch["channels"])
        return {"err": 100.0 - acc, "err_sd": sd}


@register
class RBFProxySource(AccuracySource):
    name, benchmark = "rbf-proxy", "sss"

    def __init__(self, dataset: str, **options: Any) -> None:
        from .proxy import RBFProxy
        from .sss_surrogate import validated_claim

        super().__init__(dataset)
        self.proxy = RBFProxy(dataset)
        self.err_kind, self.err_label = RBFProxy.kind, "-(RBF proxy score)"
        key = "rbf_proxy_" + ("in16" if dataset == "ImageNet16-120" else "cifar10")
        self.description = (f"NATS-Bench SSS {dataset}: {RBFProxy.description}; a weak stand-in: "
                            f"{validated_claim(key)}")

    def error(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"err": -self.proxy.score(arch["channels"])}


@register
class ParamsSource(AccuracySource):
    name, benchmark = "params", "sss"

    def __init__(self, dataset: str, **options: Any) -> None:
        from .sss_surrogate import validated_claim

        super().__init__(dataset)
        self.err_kind, self.err_label = "neg_params_M", "-(parameters, M)"
        self.description = (f"NATS-Bench SSS {dataset}: err = -(parameters in millions), 'bigger is better'; "
                            f"not an accuracy: {validated_claim('params')}")

    def error(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"err": -arch["params_M"]}


# ------------------------------------------------------------------ the evaluator trials call
class AccuracyEvaluator:
    """Callable ``config -> {'err', 'err_kind', 'params_M', 'flops_M', 'arch', 'arch_index'[, 'err_sd']}``."""

    def __init__(self, benchmark: str, dataset: str, source: AccuracySource) -> None:
        self.benchmark, self.dataset, self.source = benchmark, dataset, source
        self.err_kind, self.err_label, self.description = source.err_kind, source.err_label, source.description

    @property
    def space(self):
        return SSS_SPACE if self.benchmark == "sss" else NB201_SPACE

    def __call__(self, config: Mapping[str, Any], epoch: int | None = None) -> dict[str, Any]:
        """``epoch``: the error after that many training epochs (learning-curve sources only, i.e. the
        official SSS table; adds ``epoch`` and ``train_time_s``); ``None``: the source's final error."""
        if self.benchmark == "nb201":
            arch = nb201_arch_str(config)
            out: dict[str, Any] = {"arch": arch, "arch_index": nb201_index(arch)}
            out.update(network_info("nb201", arch, self.dataset)[0])
        else:
            channels = sss_channels(config)
            out = {"arch": sss_arch_str(config), "arch_index": sss_index(config), "channels": channels}
            out.update(sss_costs(channels, self.dataset))
        if epoch is None:
            out.update(self.source.error(out))
        elif hasattr(self.source, "error_at"):
            out.update(self.source.error_at(out, epoch), epoch=int(epoch))
        else:
            raise ValueError(f"network evaluator {self.source.name!r} has no learning curve; epoch rungs need "
                             "the official NATS-Bench SSS table (--nats-sss PATH)")
        out.pop("channels", None)
        out["err_kind"] = self.err_kind
        return out

    def layers(self, config: Mapping[str, Any]) -> tuple[Layer, ...]:
        """The network's compute layers (the hardware evaluators' input)."""
        arch = nb201_arch_str(config) if self.benchmark == "nb201" else sss_arch_str(config)
        return network_info(self.benchmark, arch, self.dataset)[1]


def sss_source_name(dataset: str, nats_sss: str | None = None, network_evaluator: str | None = None) -> str:
    """Which registered source scores SSS networks (see the module docstring)."""
    if network_evaluator is not None:
        if network_evaluator not in NETWORK_EVALUATORS:
            raise ValueError(f"unknown network evaluator {network_evaluator!r}; allowed: {', '.join(NETWORK_EVALUATORS)}")
        if nats_sss:
            raise ValueError(f"network evaluator {network_evaluator!r} conflicts with the official table "
                             f"{nats_sss!r} (which is exact); drop one of them")
        return {"surrogate": "sss-surrogate", "proxy": "rbf-proxy", "params": "params"}[network_evaluator]
    if nats_sss or os.environ.get(ENV_VAR):
        return "nats-sss-table"
    return "sss-surrogate" if dataset == "ImageNet16-120" else "rbf-proxy"


def make_accuracy_evaluator(benchmark: str = "sss", dataset: str = "cifar10", nats_sss: str | None = None,
                            hp: str = "90", split: str = "test",
                            network_evaluator: str | None = None) -> AccuracyEvaluator:
    """The network evaluator for a benchmark; see the module docstring for which source is used."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; allowed: {list(BENCHMARKS)}")
    dataset_shape(dataset)
    if benchmark == "nb201":
        if network_evaluator is not None:
            raise ValueError(f"network evaluator {network_evaluator!r} is for sss only; nb201 uses its official table")
        return AccuracyEvaluator("nb201", dataset, NB201Table(dataset))
    name = sss_source_name(dataset, nats_sss, network_evaluator)
    return AccuracyEvaluator("sss", dataset, SOURCES[name](dataset, path=nats_sss, hp=hp, split=split))
