"""Co-design methods beside CoflexSearch, and the exhaustive NB201 ground truth they are checked against.

Modules (one concept each):

* :mod:`.layers`: NB201 layer lists from the cell string (no torch model), shape-count matrices;
* :mod:`.groundtruth`: latency/energy of every NB201 cell on a sample of accelerators (cached);
* :mod:`.monotonicity`: SRCC of architectures' costs between accelerators, heatmap + CDF plots;
"""
