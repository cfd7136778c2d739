"""Co-design methods compared on NAS-Bench-201 (real accuracies) x the accelerator space, zigzag-fixed.

Fully coupled CoflexSearch, semi-decoupled co-design (stage 1 exhaustive on the ground-truth table,
and stage 1 by CoflexSearch), RL co-exploration, hardware-aware NAS on a fixed accelerator and the
sequential method, under three (latency, energy) constraint pairs and several seeds; prints the
evaluations used, the best accuracy under the constraints, the gap to the exhaustive optimum and
the wall time, and plots accuracy under constraint against evaluations and the monotonicity
heatmap/CDF.  ``--benchmark sss`` runs the same on SSS x accelerator without the exhaustive part.

    python experiments/codesign.py
    python experiments/codesign.py --benchmark sss --seeds 0
"""

from __future__ import annotations

import sys

from coflex_ray.codesign.experiment import main

if __name__ == "__main__":
    sys.exit(main())
