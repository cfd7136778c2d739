"""Drive one searcher of the main job on one test problem through the Tune Searcher API, without a Tuner.

The searcher is built by :func:`coflex_ray.registry.make_searcher` as the main job builds it, given
the problem's fixed bounds (:func:`coflex_ray.study.set_study_bounds`) and the ``param_space``
(``set_search_properties``, as Tune's ``SearchGenerator`` does).  ``random`` is Tune's
``BasicVariantGenerator``, not a ``Searcher``: :class:`Variants` puts its ``next_trial`` behind the
same ``suggest`` / ``on_trial_complete`` calls.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .mobo_problems import Problem


class Variants:
    """Tune's ``BasicVariantGenerator`` behind ``suggest(trial_id)`` / ``on_trial_complete(trial_id, result)``.

    Args:
        alg: the generator (``make_searcher("random", ...)``).
        space: the ``param_space`` it samples.
        budget: the trials it may generate.
    """

    def __init__(self, alg: Any, space: dict[str, Any], budget: int) -> None:
        from ray.tune.experiment import Experiment

        def trainable(config: dict) -> None:  # never run: the generator only needs an experiment to sample
            return None

        alg.add_configurations([Experiment("mobo", trainable, config=space, num_samples=budget)])
        self.alg, self.ids = alg, {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next sampled config, or ``None`` when the generator waits or has no trial left."""
        trial = self.alg.next_trial()
        if trial is None:
            return None
        self.ids[trial_id] = trial.trial_id
        return dict(trial.config)

    def on_trial_complete(self, trial_id: str, result: dict[str, float]) -> None:
        """Free the generator's slot of ``trial_id``."""
        self.alg.on_trial_complete(self.ids.pop(trial_id), result)


def preload(searchers: list[str]) -> None:
    """Import the libraries of ``searchers`` now, so that no run's searcher seconds include them."""
    import importlib

    from coflex_ray.registry import SEARCHERS

    wrappers = {"optuna": "ray.tune.search.optuna", "hyperopt": "ray.tune.search.hyperopt"}
    for module in ["coflex_ray.searchers.tune_searchers", "botorch.acquisition.analytic", "ray.tune.experiment"] + [
            wrappers[lib] for lib in sorted({SEARCHERS[s].library for s in searchers} & set(wrappers))]:
        importlib.import_module(module)


def build(p: Problem, name: str, batch: int, seed: int, n_init: int, budget: int,
          bounds: dict[str, list[float]]) -> Any:
    """The searcher ``name`` ready to ``suggest`` on ``p``: the main job's build for ``batch`` trials at once."""
    return build_for(p.param_space(), name, batch, seed, n_init, budget, bounds, metrics=p.metrics)


def build_for(space: dict[str, Any], name: str, batch: int, seed: int, n_init: int, budget: int,
              bounds: dict[str, list[float]], **objectives: Any) -> Any:
    """The searcher ``name`` ready to ``suggest`` on the ``param_space`` ``space``, built by
    :func:`coflex_ray.registry.make_searcher` with ``objectives`` (``metrics=`` or ``hw=``)."""
    from ray.tune.search import BasicVariantGenerator

    from coflex_ray.registry import make_searcher
    from coflex_ray.study.bounds import set_study_bounds

    alg = make_searcher(name, space, seed, n_init, batch, **objectives)
    if isinstance(alg, BasicVariantGenerator):
        return Variants(alg, space, budget)
    set_study_bounds({(name, seed): alg}, bounds)
    alg.set_search_properties(None, None, space)
    return alg


def drive(p: Problem, name: str, batch: int, seed: int, budget: int, n_init: int,
          bounds: dict[str, list[float]]) -> tuple[np.ndarray, dict[str, float], int | None]:
    """One run of ``budget`` evaluations: rounds of up to ``batch`` suggestions (fewer when the
    searcher returns ``None``), each round then completed in order.

    Returns:
        ``(Y, seconds, model fallbacks)``: the objectives in completion order ``(budget, m)``;
        ``{"searcher_s": ..., "searcher_cpu_s": ..., "eval_s": ...}``, wall-clock and process CPU
        time inside ``suggest`` / ``on_trial_complete`` and wall-clock time inside the problem's
        function; the batches a model-based core gave up to random points (``None`` for a searcher
        without such a core).

    Raises:
        RuntimeError: the searcher proposes nothing while no trial is running.
    """
    import optuna
    from ray.tune.search import Searcher

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    wall, cpu, eval_s = [0.0], [0.0], 0.0

    def timed(f: Any, *args: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        out = f(*args)
        wall[0] += time.perf_counter() - t
        cpu[0] += time.process_time() - c
        return out

    Y: list[list[float]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libraries' numerical warnings; model fallbacks are counted below
        s = build(p, name, batch, seed, n_init, budget, bounds)
        tid = 0
        while len(Y) < budget:
            asked = []
            for _ in range(min(batch, budget - len(Y))):
                cfg = timed(s.suggest, str(tid))
                if cfg is None or cfg == Searcher.FINISHED:
                    break
                asked.append((str(tid), cfg))
                tid += 1
            if not asked:
                raise RuntimeError(f"{name} proposed nothing after {len(Y)} evaluations with no trial running")
            for t, cfg in asked:
                t0 = time.perf_counter()
                result = p.objective(cfg)
                eval_s += time.perf_counter() - t0
                timed(s.on_trial_complete, t, result)
                Y.append(list(result.values()))
    core = getattr(getattr(s, "searcher", s), "core", None)
    fallbacks = getattr(core, "n_fallbacks", None)
    return np.array(Y), {"searcher_s": wall[0], "searcher_cpu_s": cpu[0], "eval_s": eval_s}, fallbacks
