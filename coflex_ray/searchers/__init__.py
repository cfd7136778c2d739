"""Multi-objective Ray Tune searchers sharing one codec and base class (:mod:`.base`).

``CoflexSearch`` (:mod:`.coflex`), the BoTorch baselines ``BoTorchMOSearch`` (:mod:`.botorch_mo`:
qNEHVI, qEHVI, qNParEGO) and ``NSGA2Search`` (:mod:`.nsga2`).  Searchers never import evaluators.
"""
