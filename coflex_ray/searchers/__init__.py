"""Multi-objective searchers: ask/tell cores (no Ray) behind one Ray Tune adapter.

Cores (:mod:`.core`; their modules do not import Ray): ``CoflexCore`` (:mod:`.coflex`),
``BoTorchCore`` (:mod:`.botorch_mo`: qNEHVI, qEHVI, qNParEGO), ``NSGA2Core`` (:mod:`.nsga2`).  Their
Tune searchers ``CoflexSearch``, ``BoTorchMOSearch``, ``NSGA2Search`` (:mod:`.tune_searchers`) share
one adapter, :class:`.adapter.AskTellSearcher`, whose background mode (:mod:`.background`) fits on
a worker thread.  Helpers: the codec and candidate sets (:mod:`.candidates`), objectives and bounds
(:mod:`.normalise`), the failure policy (:mod:`.failures`), Pareto/hypervolume (:mod:`.pareto`),
Tune ``param_space`` conversion (:mod:`.tune_space`), and the wrapper that lets single-objective
Tune searchers optimise raw metrics (:mod:`.scalarize`).  Searchers never import evaluators or the
analysis.
"""
