"""A study's fixed objective bounds: probed from a fixed-seed sample, then handed to every searcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import pandas as pd

    from ..spaces import Space

PROBE_SEED, PROBE_N = 20251122, 48


def probe_rows(evaluate: Callable[[dict], dict], space: Space, n: int = PROBE_N) -> pd.DataFrame:
    """``evaluate`` on ``n`` configs drawn with the fixed :data:`PROBE_SEED` (independent of the
    searchers' seeds): one row per config."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame([evaluate(c) for c in space.sample(np.random.default_rng(PROBE_SEED), n)])


def probe_bounds(evaluate: Callable[[dict], dict], space: Space, n: int = PROBE_N,
                 hw: str = "edp") -> dict[str, list[float]]:
    """Fixed objective bounds of a benchmark: min/max of ``err`` and ``log10 hw`` over the
    :func:`probe_rows` of ``n`` configs, so every study of the same benchmark, dataset and fidelity
    gets the same bounds.  Better points found later normalise below 0."""
    from ..analysis import bounds_from

    return bounds_from(probe_rows(evaluate, space, n), hw)


def set_study_bounds(built: dict[tuple[str, int], Any], bounds: dict,
                     schedulers: dict[tuple[str, int], Any] | None = None) -> None:
    """Hand the study's fixed objective bounds to every searcher and scheduler that can use them, so
    every searcher gets the same information: HyperOpt's scalarisation
    (:class:`.searchers.scalarize.ScalarizedSearch`), our searchers (``set_objective_bounds``: the
    BoTorch baselines and CoflexSearch's fusion normalise by them and put their reference point at
    1.1), and every scheduler with a ``set_bounds``
    (the scalarised ASHA).  Optuna's samplers, NSGA-II and random search are scale-free.  Called once
    the bounds are known, before any run."""
    from ..searchers.adapter import AskTellSearcher
    from ..searchers.scalarize import FiniteObjectivesSearch, ScalarizedSearch

    raw = {k[len("log10_"):] if k.startswith("log10_") else k:
           [10.0 ** v[0], 10.0 ** v[1]] if k.startswith("log10_") else list(v) for k, v in bounds.items()}
    for alg in built.values():
        inner = getattr(alg, "searcher", None)  # ConcurrencyLimiter -> the wrapper
        if isinstance(inner, ScalarizedSearch) and not isinstance(inner, FiniteObjectivesSearch):
            inner.set_bounds(bounds)
        elif isinstance(inner, AskTellSearcher):
            inner.set_objective_bounds(raw)
    for sched in (schedulers or {}).values():
        if hasattr(sched, "set_bounds"):
            sched.set_bounds(bounds)
