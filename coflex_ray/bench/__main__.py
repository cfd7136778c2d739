"""Dispatch ``python -m coflex_ray.bench NAME [args]`` to the benchmark module ``NAME``."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "proxy": "coflex_ray.bench.proxy",
    "evaluators": "coflex_ray.bench.evaluators",
    "monotonicity": "coflex_ray.bench.monotonicity",
    "searcher-scaling": "coflex_ray.bench.searcher_scaling",
    "synthetic": "coflex_ray.bench.synthetic",
    "lpf": "coflex_ray.bench.lpf",
    "timeouts": "coflex_ray.bench.timeouts",
    "soak": "coflex_ray.bench.soak",
    "surrogate": "coflex_ray.bench.surrogate",
    "best-known": "coflex_ray.bench.best_known",
    "anytime": "coflex_ray.bench.anytime",
    "sparse-gp": "coflex_ray.bench.sparse_gp",
    "multifidelity": "coflex_ray.bench.multifidelity",
    "merge-studies": "coflex_ray.bench.merge_studies",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHES:
        given = sys.argv[1] if len(sys.argv) > 1 else "(none)"
        print(f"usage: python -m coflex_ray.bench NAME [args]; NAME={given} not in {sorted(BENCHES)}", file=sys.stderr)
        return 2
    importlib.import_module(BENCHES[sys.argv[1]]).main(sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
