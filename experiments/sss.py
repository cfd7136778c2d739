"""Joint search over NATS-Bench SSS networks x the Coflex accelerator space: every searcher compared.

Objectives (both minimised): the network's error (test error % from the official NATS-Bench SSS data
given by ``--nats-sss``/``$NATS_SSS_PATH``; without it, on ImageNet16-120 (the default dataset) the
error *predicted* by a surrogate fitted on real NATS-Bench records, on cifar10/cifar100 the
training-free RBF proxy, ``err = -score``; ``--network-evaluator`` chooses) and the accelerator EDP
from the chosen simulator fidelity.  Each (searcher, seed) is one
``tune.Tuner`` run; results, indicators (HV, IGD, IGD+) and plots land in ``--out``.

    python experiments/sss.py                                   # defaults: 9 searchers (all but qehvi), 2 seeds
    python experiments/sss.py --smoke                           # tiny, for tests
    python experiments/sss.py --nats-sss /data/NATS-sss-v1_0-50262-simple --budget 200 --seeds 0 1 2 3 4
    python experiments/sss.py --address 10.0.0.1:6379           # on a running Ray cluster
"""

from __future__ import annotations

import sys

from coflex_ray.experiment import main

if __name__ == "__main__":
    sys.exit(main("sss", __doc__))
