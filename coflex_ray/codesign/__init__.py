"""Co-design methods beside CoflexSearch, and the exhaustive NB201 ground truth they are checked against.

Modules (one concept each):

* :mod:`.layers`: NB201 layer lists from the cell string (no torch model), shape-count matrices;
* :mod:`.groundtruth`: latency/energy of every NB201 cell on a sample of accelerators (cached);
* :mod:`.monotonicity`: SRCC of architectures' costs between accelerators, heatmap + CDF plots;
* :mod:`.semidecoupled`: semi-decoupled co-design (Lu et al., tinyML 2022) on the ground truth;
* :mod:`.reinforce`: RL co-exploration controller (Jiang et al., TCAD 2020) as a Tune Searcher;
* :mod:`.tuning`: Tune trial functions of the methods and the one place CoflexSearch is built;
* :mod:`.methods`: every method as Ray Tune runs (coupled, semi-decoupled, RL, HW-aware NAS, sequential);
* :mod:`.experiment`, :mod:`.report`: the command line of ``experiments/codesign.py``.
"""
