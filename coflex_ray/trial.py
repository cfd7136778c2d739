"""The Ray Tune trial: evaluate one joint (network x accelerator) config and ``tune.report`` it.

The trainable is a module-level function (Tune pickles it onto workers; functions defined in
``__main__`` do not travel).  Evaluator objects are built once per worker process and reused across
trials (with ``reuse_actors=True`` a worker runs many trials).

Every trial reports the same metric keys, also when the evaluation fails, so that searchers and
Tune's strict metric check always see every objective: a failed evaluation reports
``feasible = False``, ``err = inf`` and the reason in ``error``.
"""

from __future__ import annotations

import math
import time
import traceback
from functools import lru_cache
from typing import Any

from .evaluators.accuracy import AccuracyEvaluator, make_accuracy_evaluator


@lru_cache(maxsize=8)
def _accuracy_evaluator(benchmark: str, dataset: str, nats_sss: str | None, hp: str, split: str) -> AccuracyEvaluator:
    return make_accuracy_evaluator(benchmark, dataset, nats_sss, hp, split)


def evaluate_config(config: dict[str, Any], benchmark: str = "sss", dataset: str = "cifar10",
                    nats_sss: str | None = None, hp: str = "90", split: str = "test") -> dict[str, Any]:
    """All metrics of one joint config (no Tune involved); failures become ``feasible=False`` rows."""
    start = time.perf_counter()
    try:
        acc = _accuracy_evaluator(benchmark, dataset, nats_sss, hp, split)
        out: dict[str, Any] = acc(config)
        out["feasible"] = bool(math.isfinite(out["err"]))
        out["error"] = "" if out["feasible"] else f"non-finite err {out['err']!r}"
    except Exception as e:  # reported, not raised: the search must go on
        out = {"err": math.inf, "err_kind": "", "params_M": math.nan, "flops_M": math.nan, "arch": "",
               "arch_index": -1, "feasible": False, "error": f"{type(e).__name__}: {e}",
               "traceback": traceback.format_exc(limit=5)}
    out["eval_time_s"] = time.perf_counter() - start
    return out


def cosearch_trial(config: dict[str, Any], benchmark: str = "sss", dataset: str = "cifar10",
                   nats_sss: str | None = None, hp: str = "90", split: str = "test") -> None:
    """Tune function trainable: one evaluation, one ``tune.report``."""
    import ray
    from ray import tune

    out = evaluate_config(config, benchmark, dataset, nats_sss, hp, split)
    out["node_id"] = ray.get_runtime_context().get_node_id()
    tune.report(out)
