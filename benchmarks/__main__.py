"""Dispatch ``python -m benchmarks NAME [args]`` to the benchmark module ``NAME``."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "proxy": "benchmarks.proxy",
    "evaluators": "benchmarks.evaluators",
    "monotonicity": "benchmarks.monotonicity",
    "searcher-scaling": "benchmarks.searcher_scaling",
    "synthetic": "benchmarks.synthetic",
    "lpf": "benchmarks.lpf",
    "timeouts": "benchmarks.timeouts",
    "soak": "benchmarks.soak",
    "surrogate": "benchmarks.surrogate",
    "best-known": "benchmarks.best_known",
    "anytime": "benchmarks.anytime",
    "sparse-gp": "benchmarks.sparse_gp",
    "batch-cost": "benchmarks.batch_cost",
    "multifidelity": "benchmarks.multifidelity",
    "merge-studies": "benchmarks.merge_studies",
    "constrained": "benchmarks.constrained",
    "mobo": "benchmarks.mobo",
    "concurrency": "benchmarks.concurrency",
    "cluster-sim": "benchmarks.cluster_sim",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHES:
        given = sys.argv[1] if len(sys.argv) > 1 else "(none)"
        print(f"usage: python -m benchmarks NAME [args]; NAME={given} not in {sorted(BENCHES)}", file=sys.stderr)
        return 2
    importlib.import_module(BENCHES[sys.argv[1]]).main(sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
