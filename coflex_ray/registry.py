"""The searchers a study can run, one entry per name: what each needs installed and how it is built.

Like the accuracy-source registry (:data:`coflex_ray.evaluators.accuracy.SOURCES`), one place knows
every searcher; the study, the command line and the tests read it from here.

Every searcher optimises the same two objectives, ``err`` and the hardware column ``hw``
(``edp``, or ``latency_ms`` for measured device latencies; modelled in log space), at the same
budget, seeds and concurrency (other objectives, all minimised: ``make_searcher(metrics=...)``, as
the standard-problem benchmarks use them):

* ours: ``coflex``, ``qnehvi``, ``qehvi``, ``qnparego`` (BoTorch), ``nsga2`` (pymoo);
* Ray Tune's built-ins: ``random`` (``BasicVariantGenerator``); ``optuna-tpe``, ``optuna-nsga2``,
  ``optuna-gp`` (``OptunaSearch`` on ``err`` and ``log10 hw`` through
  :class:`.searchers.scalarize.FiniteObjectivesSearch`, a finite penalty for a failed trial);
  ``hyperopt`` (single-objective ``HyperOptSearch`` on the normalised mean of both objectives
  through :class:`.searchers.scalarize.ScalarizedSearch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:
    from .spaces import Space


class SearcherBuildError(ValueError):
    """A requested searcher cannot be built (missing library, bad option or combination)."""


@dataclass(frozen=True)
class SearcherEntry:
    """One searcher of the registry.

    Attributes:
        requires: import names of the libraries the searcher needs (checked before anything runs).
        library: the distribution whose version names the searcher's implementation in messages.
        build: ``build(space, seed, n_init, concurrency, targets, constraints=None) -> search_alg``
            for ``tune.TuneConfig``; ``targets`` a :class:`Targets`, ``constraints`` outcome
            constraints ``{metric: (op, bound)}``.
        extras: import names that are optional for the library but needed to run it as its authors
            intend (a missing one makes the library fall back to a slower or weaker path).
    """

    requires: tuple[str, ...]
    library: str
    build: Callable[..., Any]
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Targets:
    """The objectives a searcher is built for, all minimised.

    Attributes:
        metrics: the objectives' result keys, e.g. ``("err", "edp")``.
        log_metrics: those of ``metrics`` modelled in log space (positive values only).
    """

    metrics: tuple[str, ...]
    log_metrics: tuple[str, ...] = ()

    @property
    def modes(self) -> list[str]:
        """``"min"`` per metric (the searchers' ``mode``)."""
        return ["min"] * len(self.metrics)


def _kw(seed: int, t: Targets, constraints: Mapping[str, Any] | None = None) -> dict[str, Any]:
    kw = dict(metric=list(t.metrics), mode=t.modes, seed=seed, log_metrics=list(t.log_metrics))
    if constraints:
        kw["constraints"] = dict(constraints)
    return kw


def _batch(concurrency: int) -> int:
    # proposals per model fit: twice the trials running at once (at least 4), so one fit serves two
    # rounds of parallel trials; the pending ones are fantasised, so the batch still spreads out
    return max(2 * concurrency, 4)


def _limit(alg: Any, concurrency: int) -> Any:
    from ray.tune.search import ConcurrencyLimiter

    return ConcurrencyLimiter(alg, concurrency)


def _coflex(space: Space, seed: int, n_init: int, concurrency: int, t: Targets, constraints: Any = None) -> Any:
    from .searchers.tune_searchers import CoflexSearch

    return _limit(CoflexSearch(space, n_init=n_init, batch_size=_batch(concurrency), **_kw(seed, t, constraints)),
                  concurrency)


def _botorch(acquisition: str) -> Callable[..., Any]:
    def build(space: Space, seed: int, n_init: int, concurrency: int, t: Targets, constraints: Any = None) -> Any:
        from .searchers.tune_searchers import BoTorchMOSearch

        return _limit(BoTorchMOSearch(space, acquisition=acquisition, n_init=n_init, batch_size=_batch(concurrency),
                                      **_kw(seed, t, constraints)), concurrency)
    return build


def _nsga2(space: Space, seed: int, n_init: int, concurrency: int, t: Targets, constraints: Any = None) -> Any:
    from .searchers.tune_searchers import NSGA2Search

    return _limit(NSGA2Search(space, pop_size=max(n_init, 4), **_kw(seed, t, constraints)), concurrency)


def _random(space: Space, seed: int, n_init: int, concurrency: int, t: Targets, constraints: Any = None) -> Any:
    # constraints: proposals are random either way; the study filters the results
    # (pareto_results(constraints=...))
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed, max_concurrent=concurrency)


def optuna_sampler(name: str, seed: int, n_init: int) -> Any:
    """The Optuna sampler of the built-in searcher ``name`` (``optuna-tpe``, ``optuna-nsga2`` or
    ``optuna-gp``), ``n_init`` random trials first (NSGA-II: a population of ``max(n_init, 4)``).

    Raises:
        ValueError: ``name`` is not an Optuna searcher.
    """
    from optuna.samplers import GPSampler, TPESampler

    if name == "optuna-tpe":
        return TPESampler(seed=seed, n_startup_trials=n_init)
    if name == "optuna-nsga2":
        from .searchers.optuna_samplers import PicklableNSGAIISampler

        return PicklableNSGAIISampler(seed=seed, population_size=max(n_init, 4))
    if name == "optuna-gp":
        return GPSampler(seed=seed, n_startup_trials=n_init)
    raise ValueError(f"unknown Optuna searcher {name!r}; allowed: optuna-tpe, optuna-nsga2, optuna-gp")


def _optuna(name: str) -> Callable[..., Any]:
    def build(space: Space, seed: int, n_init: int, concurrency: int, t: Targets, constraints: Any = None) -> Any:
        from ray.tune.search.optuna import OptunaSearch

        from .searchers.scalarize import FiniteObjectivesSearch

        sampler = optuna_sampler(name, seed, n_init)
        if constraints:
            # Optuna's samplers read the constraint values the searcher stores on each trial
            from .searchers.optuna_constraints import ConstrainedOptunaSearch

            inner = ConstrainedOptunaSearch(sampler=sampler, constraints=dict(constraints),
                                            log_metrics=list(t.log_metrics))
        else:
            inner = OptunaSearch(sampler=sampler)
        alg = FiniteObjectivesSearch(inner, metric=list(t.metrics), mode=t.modes, log_metrics=list(t.log_metrics))
        return _limit(alg, concurrency)
    return build


def _hyperopt(space: Space, seed: int, n_init: int, concurrency: int, t: Targets, constraints: Any = None) -> Any:
    if constraints:
        raise SearcherBuildError("hyperopt takes no constraints; drop it from --searchers")
    from ray.tune.search.hyperopt import HyperOptSearch

    from .searchers.scalarize import ScalarizedSearch

    # single-objective: the mean of the two objectives normalised by the study's bounds (set by
    # study.set_study_bounds once the study has fixed them)
    alg = ScalarizedSearch(HyperOptSearch(n_initial_points=n_init, random_state_seed=seed), metric=list(t.metrics),
                           mode=t.modes, log_metrics=list(t.log_metrics))
    return _limit(alg, concurrency)


_GP = ("torch", "botorch", "gpytorch")
SEARCHERS: dict[str, SearcherEntry] = {
    "coflex": SearcherEntry(_GP, "coflex-ray", _coflex),
    "qnehvi": SearcherEntry(_GP, "botorch", _botorch("qnehvi")),
    "qehvi": SearcherEntry(_GP, "botorch", _botorch("qehvi")),
    "qnparego": SearcherEntry(_GP, "botorch", _botorch("qnparego")),
    "nsga2": SearcherEntry(("pymoo",), "pymoo", _nsga2),
    "random": SearcherEntry((), "ray", _random),
    "optuna-tpe": SearcherEntry(("optuna",), "optuna", _optuna("optuna-tpe")),
    "optuna-nsga2": SearcherEntry(("optuna",), "optuna", _optuna("optuna-nsga2")),
    # GPSampler: batched L-BFGS-B needs greenlet (without it Optuna warns and optimises sequentially)
    "optuna-gp": SearcherEntry(("optuna", "torch", "scipy"), "optuna", _optuna("optuna-gp"), extras=("greenlet",)),
    "hyperopt": SearcherEntry(("hyperopt",), "hyperopt", _hyperopt),
}
DEFAULT_SEARCHERS = ("coflex", "qnehvi", "qnparego", "nsga2", "random", "optuna-tpe", "optuna-nsga2", "hyperopt",
                     "optuna-gp")
OURS = ("coflex", "qnehvi", "qehvi", "qnparego", "nsga2")


def check_searchers(names: list[str]) -> list[str]:
    """``names`` without repeats, in order.

    Raises:
        ValueError: ``names`` is empty or holds a name that is not in :data:`SEARCHERS`.
    """
    if not names:
        raise ValueError(f"--searchers is empty; allowed: {', '.join(SEARCHERS)}")
    bad = [n for n in names if n not in SEARCHERS]
    if bad:
        raise ValueError(f"unknown searcher {bad[0]!r}; allowed: {', '.join(SEARCHERS)}")
    return list(dict.fromkeys(names))


def check_installed(names: list[str]) -> None:
    """Check that every library the searchers ``names`` need (and their ``extras``) is importable.

    Raises:
        SearcherBuildError: naming the searcher and the missing library.
    """
    from importlib.util import find_spec

    for name in names:
        entry = SEARCHERS[name]
        lib = next((lib for lib in entry.requires + entry.extras if find_spec(lib) is None), None)
        if lib is not None:
            raise SearcherBuildError(f"searcher {name!r} needs the library {lib!r}, which is not installed; "
                                     f"install coflex-ray with its dependencies (pip install -e .) or drop "
                                     f"{name!r} from --searchers")


def make_searcher(name: str, space: Space | Mapping[str, Any], seed: int, n_init: int, concurrency: int,
                  hw: str = "edp", constraints: Mapping[str, Any] | None = None, *,
                  metrics: Sequence[str] | None = None) -> Any:
    """The ``search_alg`` of searcher ``name`` on the objectives ``err`` and ``hw`` (or ``metrics``).

    ``space``: a :class:`.spaces.Space` or a Tune ``param_space`` dict.  ``constraints``: outcome
    constraints ``{metric: (op, bound)}`` (see :func:`.searchers.normalise.check_constraints`),
    passed to every searcher that takes them (ours; the Optuna ones through
    :class:`.searchers.optuna_constraints.ConstrainedOptunaSearch`); ``random`` proposes as without
    them (filter its results with ``pareto_results(constraints=...)``).  ``None`` or ``{}``: exactly
    the unconstrained searcher.  ``metrics``: other objectives instead of ``err`` and ``hw``, all
    minimised and modelled as reported (no log space), e.g. ``["f0", "f1", "f2"]``; ``hw`` is then
    unused.  ``None`` (default): ``err`` and ``hw``, ``hw`` in log space.

    Raises:
        ValueError: ``name`` is not in :data:`SEARCHERS`, malformed ``constraints``, or an empty or
            repeating ``metrics``.
        SearcherBuildError: constraints for ``hyperopt``, which cannot take them.
    """
    if name not in SEARCHERS:
        raise ValueError(f"unknown searcher {name!r}; allowed: {', '.join(SEARCHERS)}")
    if metrics is None:
        targets = Targets(("err", hw), (hw,))
    elif not metrics or len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics={list(metrics)!r} must name at least one objective, each once")
    else:
        targets = Targets(tuple(metrics))
    if constraints:
        from .searchers.normalise import check_constraints

        check_constraints(constraints)
        return SEARCHERS[name].build(space, seed, n_init, concurrency, targets, constraints=constraints)
    return SEARCHERS[name].build(space, seed, n_init, concurrency, targets)


def library_version(name: str) -> str:
    """``"<library> <version>"`` of the searcher ``name``'s implementation, for messages."""
    from importlib.metadata import PackageNotFoundError, version

    lib = SEARCHERS[name].library if name in SEARCHERS else name
    try:
        return f"{lib} {version(lib)}"
    except PackageNotFoundError:
        return f"{lib} (not installed)"
