"""A comparison study: every searcher x every seed as one ``tune.Tuner`` run, then one tidy table.

Shared by the experiment scripts (``experiments/sss.py``, ``experiments/nb201.py``, through
:mod:`coflex_ray.experiment`), which only choose the space, the evaluator and the defaults.

* :mod:`.runs` - the searchers and schedulers of every (searcher, seed) run built up front, and the
  runs themselves (:class:`~.runs.RunSpec` holds what they share), one after another or K at once;
* :mod:`.bounds` - the fixed objective bounds: a fixed-seed probe, handed to every searcher;
* :mod:`.outputs` - tables, rank tests, plots and run info; the ``[failed]`` line of a run;
* :mod:`.config` - the command line of the experiment scripts as one frozen :class:`~.config.StudyConfig`.

The searchers themselves and how each is built live in :mod:`coflex_ray.registry`.
"""

from .bounds import PROBE_N, PROBE_SEED, probe_bounds, set_study_bounds
from .outputs import write_outputs
from .runs import RunSpec, build_schedulers, build_searchers, run_study

__all__ = ["PROBE_N", "PROBE_SEED", "RunSpec", "build_schedulers", "build_searchers", "probe_bounds", "run_study",
           "set_study_bounds", "write_outputs"]
