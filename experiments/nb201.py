"""Joint search over NAS-Bench-201 cells x the Coflex accelerator space: every searcher compared.

Objectives (both minimised): the cell's test error (%) after 200 epochs from the shipped official
NAS-Bench-201 table (all 15,625 cells, real figures) and the accelerator EDP of the real NB201
network from the chosen simulator fidelity.  Same flags, tables and plots as ``experiments/sss.py``.

With ``--device NAME`` the hardware objective is instead the cell's measured inference latency (ms)
on that real device (HELP / HW-NAS-Bench table shipped with the package: GPUs, CPUs, phones,
Raspberry Pi 4, Eyeriss, FPGA) and the search space is the cells alone.

    python experiments/nb201.py --dataset cifar100 --budget 100 --seeds 0 1 2 3 4
    python experiments/nb201.py --device pixel3
"""

from __future__ import annotations

import sys

from coflex_ray.experiment import main

if __name__ == "__main__":
    sys.exit(main("nb201", __doc__))
