"""The Ray Tune trial: evaluate one joint (network x accelerator) config and ``tune.report`` it.

The trainable is a module-level function (Tune pickles it onto workers; functions defined in
``__main__`` do not travel).  Network evaluators are built once per worker process and reused across
trials (with ``reuse_actors=True`` a worker runs many trials); hardware costs come from the shared
:class:`coflex_ray.service.HardwarePool` actors when one is given, else from a per-process cache.

The hardware objective (:attr:`EvalSpec.hw_metric`) is ``edp`` (uJ*ms, from the accelerator
simulator at the spec's fidelity) or, for NB201 with ``device`` set, ``latency_ms``: the measured
latency of the cell on that device (:mod:`.evaluators.device`; no accelerator dimensions then).

Every trial reports the same metric keys, also when the evaluation fails, so that searchers and
Tune's strict metric check always see every objective: a failed or infeasible evaluation reports
``feasible = False``, the hardware objective ``inf`` (and ``err = inf`` if the network side failed)
and the reason in ``error``.

Time limit (``EvalSpec.timeout_s``): the accelerator simulations, the part that can run for minutes,
run in child processes that are killed when the limit passes (in the shard actors of a
:class:`coflex_ray.service.HardwarePool`, or in this process's own cache), so a timed-out trial
leaves no work behind; it ends as failed with ``TimeoutError: evaluation exceeded the per-trial
timeout ...``.  The network side (a table lookup or the proxy score, seconds at most) runs in the
trial itself and counts against the same limit.

**Multi-step trials** (:func:`ladder_rows`, a :class:`coflex_ray.fidelity.Ladder`): the trial reports
the same objectives once per rung, cheapest first, each row with ``fidelity`` (the tier name, or
``epoch<E>`` for an epoch rung), ``fidelity_level`` (1..L, the schedulers' ``time_attr``) and
``fidelity_max_level`` (L: a row with ``fidelity_level == fidelity_max_level`` is final), plus
``epoch`` (the training epoch of an epoch rung, NaN on a hardware ladder) and, for epoch rungs,
``train_time_s`` (the simulated training time of those epochs, from the official record) and
``hw_fidelity`` (the simulator tier, the same at every epoch rung).  A scheduler may stop the trial
after any row.  A rung that fails (infeasible, timed out, evaluator error) is reported and ends the
trial: a higher rung would not make it usable.  Reuse between rungs: the network side (layer
list, params, FLOPs) is built once per process and arch; layer costs are cached per tier in the
shared :class:`coflex_ray.service.HardwarePool` (one pool per tier), so an epoch ladder simulates
its hardware once (the later rungs are cache hits) and a promoted or re-run trial reads every layer
already costed at a tier from that tier's cache.  Without a ladder a trial is exactly one
evaluation and one report, with the columns above absent.

A trial reports raw metrics only; what Ray Tune's built-in searchers need (finite objectives, one
scalarisation) is derived from them by the wrappers in :mod:`coflex_ray.searchers.scalarize`.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any, Iterator

from .evaluators.accuracy import AccuracyEvaluator, make_accuracy_evaluator
from .evaluators.device import check_device, device_latency_ms
from .evaluators.hardware import accel_config, check_fidelity, network_cost
from .evaluators.hardware.cache import LayerCostCache


DEFAULT_TIMEOUT_S = 900.0  # per evaluation; the accurate ZigZag tier needs minutes for a big network


@dataclass(frozen=True)
class EvalSpec:
    """What a trial evaluates: benchmark and data for the network side, fidelity for the hardware."""

    benchmark: str = "sss"
    dataset: str = "cifar10"
    nats_sss: str | None = None
    hp: str = "90"
    split: str = "test"
    fidelity: str = "zigzag-fixed"
    device: str | None = None  # NB201 only: measured device latency instead of an accelerator
    # seconds one evaluation may take before the trial ends as failed ("timeout"); None = no limit
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    # SSS without the official table: "surrogate" | "proxy" | "params" (None: surrogate on
    # ImageNet16-120, proxy elsewhere; see coflex_ray.evaluators.accuracy)
    network_evaluator: str | None = None

    def __post_init__(self) -> None:
        check_fidelity(self.fidelity)
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s={self.timeout_s!r} must be a positive number of seconds or None")
        if self.device is not None:
            if self.benchmark != "nb201":
                raise ValueError(f"device={self.device!r}: measured device latencies exist for nb201 only, "
                                 f"not {self.benchmark!r}")
            check_device(self.device)

    @property
    def hw_metric(self) -> str:
        """Column of the hardware objective: ``latency_ms`` with a device, else ``edp``."""
        return "latency_ms" if self.device else "edp"


@lru_cache(maxsize=8)
def _accuracy_evaluator(benchmark: str, dataset: str, nats_sss: str | None, hp: str, split: str,
                        network_evaluator: str | None = None) -> AccuracyEvaluator:
    return make_accuracy_evaluator(benchmark, dataset, nats_sss, hp, split, network_evaluator)


@lru_cache(maxsize=4)
def reported_metrics(device: str | None = None) -> tuple[str, ...]:
    """The numeric columns a trial of :func:`evaluate_config` reports (what outcome constraints may
    name): the network's, then the hardware's (a device's measured latency, or the accelerator's)."""
    hw = ("latency_ms",) if device else ("edp", "energy_pJ", "latency_cycles")
    return ("err", "params_M", "flops_M", *hw)


def local_cache(fidelity: str) -> LayerCostCache:
    """This process's layer-cost cache for ``fidelity`` (used when no shared pool is given)."""
    return LayerCostCache(fidelity)


def evaluate_config(config: dict[str, Any], spec: EvalSpec = EvalSpec(), hardware: Any = None,
                    epoch: int | None = None) -> dict[str, Any]:
    """All metrics of one joint config (no Tune involved); failures become ``feasible=False`` rows.

    ``epoch``: the network's error after that many training epochs (official SSS learning curves;
    adds ``epoch`` and ``train_time_s``); ``None``: the final error.

    Failures caught here, each with its reason in ``error``: an evaluator that raises, one that
    takes longer than ``spec.timeout_s`` (its simulation is killed at the limit), a non-finite error
    rate or hardware cost, an infeasible accelerator.
    """
    start = time.perf_counter()
    hw_name = spec.hw_metric
    out: dict[str, Any] = {"err": math.inf, "err_kind": "", "params_M": math.nan, "flops_M": math.nan, "arch": "",
                           "arch_index": -1, "feasible": False, "error": ""}
    if spec.device:
        out.update({"latency_ms": math.inf, "device": spec.device})
    else:
        out.update({"energy_pJ": math.nan, "latency_cycles": math.nan, "edp": math.inf, "fidelity": spec.fidelity})
    if epoch is not None:
        out.update({"epoch": int(epoch), "train_time_s": math.nan})
    try:
        deadline = None if spec.timeout_s is None else time.monotonic() + spec.timeout_s
        parts, hw = _evaluate(config, spec, hardware, deadline, epoch)
        out.update(parts)
        if not math.isfinite(out["err"]):
            out["error"] = f"non-finite err {out['err']!r}"
        elif not hw["hw_feasible"]:
            out["error"] = f"infeasible {'device latency' if spec.device else 'accelerator'}: {hw['hw_reason']}"
        elif not 0 < out[hw_name] < math.inf:
            out["error"] = f"non-finite or non-positive {hw_name} {out[hw_name]!r} from the hardware evaluator"
        out["feasible"] = not out["error"]
    except TimeoutError as e:  # also a Ray error whose cause is a killed simulation
        out["error"] = (f"TimeoutError: evaluation exceeded the per-trial timeout of {spec.timeout_s:g} s "
                        f"({str(e).splitlines()[-1][:200]})")
    except Exception as e:  # reported, not raised: the search must go on
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc(limit=5)
    out["eval_time_s"] = time.perf_counter() - start
    return out


def _evaluate(config: dict[str, Any], spec: EvalSpec, hardware: Any,
              deadline: float | None, epoch: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(network + hardware metrics, hardware verdict) of one config.

    Raises:
        TimeoutError: past ``deadline`` (a ``time.monotonic()`` value).
        Exception: whatever an evaluator raises.
    """
    acc_eval = _accuracy_evaluator(spec.benchmark, spec.dataset, spec.nats_sss, spec.hp, spec.split,
                                   spec.network_evaluator)
    parts = dict(acc_eval(config) if epoch is None else acc_eval(config, epoch))
    if spec.device:
        parts["latency_ms"] = device_latency_ms(parts["arch_index"], spec.device)
        return parts, {"hw_feasible": True, "hw_reason": ""}
    accel = accel_config(config)
    layers = acc_eval.layers(config)
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise TimeoutError("the network side used up the time limit")
    layer_costs = hardware.layer_costs if hardware is not None else local_cache(spec.fidelity).get_many
    hw = network_cost(layers, accel, partial(layer_costs, timeout_s=left))
    parts.update({k: hw[k] for k in ("energy_pJ", "latency_cycles", "edp")})
    return parts, hw


def ladder_rows(config: dict[str, Any], spec: EvalSpec, ladder: Any, hardware: Any = None) -> Iterator[dict[str, Any]]:
    """The rows of a multi-step trial, one per rung, cheapest first (see the module docstring); stops
    after a failed rung.

    ``hardware``: for a hardware ladder a mapping ``tier -> pool`` (or ``None``: this process's
    caches); for an epoch ladder the one pool of ``spec.fidelity`` (or ``None``)."""
    top = ladder.levels
    for level in range(1, top + 1):
        if ladder.kind == "hardware":
            tier = ladder.rungs[level - 1]
            row = evaluate_config(config, replace(spec, fidelity=tier), None if hardware is None else hardware[tier])
            row["epoch"] = math.nan
        else:
            row = evaluate_config(config, spec, hardware, epoch=ladder.rungs[level - 1])
            row["hw_fidelity"] = spec.fidelity
        row.update(fidelity=ladder.label(level), fidelity_level=level, fidelity_max_level=top)
        yield row
        if not row["feasible"]:
            return


def cosearch_trial(config: dict[str, Any], spec: EvalSpec = EvalSpec(), hardware: Any = None,
                   ladder: Any = None) -> None:
    """Tune function trainable: one evaluation and one ``tune.report``; with a ``ladder``
    (:class:`coflex_ray.fidelity.Ladder`), one report per rung (:func:`ladder_rows`)."""
    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()
    if ladder is None:
        out = evaluate_config(config, spec, hardware)
        out["node_id"] = node
        tune.report(out)
        return
    for row in ladder_rows(config, spec, ladder, hardware):
        row["node_id"] = node
        tune.report(row)
