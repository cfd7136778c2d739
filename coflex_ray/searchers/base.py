"""Common machinery of our multi-objective Ray Tune searchers (Coflex, BoTorch baselines, NSGA-II).

Ray Tune's ``metric``/``mode`` describe one objective; ours optimise several, so they take
``metrics=[...]`` and ``modes=[...]`` in the constructor (Tune accepts list-valued searcher metrics,
as ``OptunaSearch`` does).  Everything here works in the unit cube of a
:class:`coflex_ray.spaces.Space` and hands Tune decoded configs.

What the base guarantees for every subclass:

* **Observations** are kept minimisation-oriented (``max`` objectives negated) and, for
  ``log_metrics``, in log space.
* **No repeats**: a config already evaluated, failed or pending is never suggested again (points are
  compared by their legal-value indices).  Subclasses propose batches; the base hands them out one
  at a time, skipping any that became taken, and tops a short batch up with uniformly random
  untaken points.
* **Failures**: ``on_trial_complete(error=True)``, a missing or non-finite objective, or
  ``result[infeasible_key]`` false marks the point failed (never proposed again, never modelled).
* **Checkpointing**: ``save``/``restore`` (and ``get_state``/``set_state``) round-trip all state:
  observations, failures, pending trials, queued proposals, the RNG, and subclass state.
* **Determinism**: all randomness flows from ``seed`` (numpy Generator + per-batch torch seeds).
"""

from __future__ import annotations

import math
import pickle
import warnings
from typing import Any, Sequence

import numpy as np
from ray.tune.search import Searcher

from ..analysis import hypervolume, nondominated  # noqa: F401 (re-exported for subclasses)
from ..spaces import Space


class MultiObjectiveSearcher(Searcher):
    """Base class; subclasses implement :meth:`propose`."""

    def __init__(self, space: Space, metrics: Sequence[str], modes: Sequence[str], *, n_init: int = 10,
                 batch_size: int = 4, seed: int = 0, log_metrics: Sequence[str] = (),
                 infeasible_key: str | None = "feasible") -> None:
        metrics, modes = list(metrics), list(modes)
        if not isinstance(space, Space):
            raise ValueError(f"space must be a coflex_ray.spaces.Space, got {type(space).__name__}")
        if len(metrics) < 1 or len(metrics) != len(modes):
            raise ValueError(f"need one mode per metric; got metrics={metrics} modes={modes}")
        bad = [m for m in modes if m not in ("min", "max")]
        if bad:
            raise ValueError(f"mode {bad[0]!r} is not allowed; allowed: 'min', 'max'")
        unknown = [m for m in log_metrics if m not in metrics]
        if unknown:
            raise ValueError(f"log_metrics {unknown} are not among metrics {metrics}")
        if n_init < 1 or batch_size < 1:
            raise ValueError(f"n_init={n_init} and batch_size={batch_size} must both be at least 1")
        super().__init__(metric=metrics, mode=modes)
        self.space, self.metrics, self.modes = space, metrics, modes
        self.n_init, self.batch_size, self.seed = n_init, batch_size, seed
        self.log_metrics, self.infeasible_key = tuple(log_metrics), infeasible_key
        self.rng = np.random.default_rng(seed)
        self.X: list[np.ndarray] = []  # unit-cube points of completed, good trials
        self.Y: list[np.ndarray] = []  # their objectives, minimisation-oriented (log where asked)
        self.failed: list[tuple[tuple[int, ...], str]] = []
        self.pending: dict[str, tuple[int, ...]] = {}
        self.queue: list[tuple[int, ...]] = []
        self.taken: set[tuple[int, ...]] = set()
        self.results: dict[tuple[int, ...], np.ndarray | None] = {}  # index -> objectives (None: failed)
        self.suggest_time_s = 0.0
        self.n_batches = 0
        self.n_fallbacks = 0  # batches where the model failed and random points were used

    # ------------------------------------------------------------------ Tune API
    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        """Accept Tune's properties; the space comes from the constructor (``config`` keys must fit it)."""
        extra = [k for k in (config or {}) if k not in self.space.keys]
        if extra:
            raise ValueError(f"param_space keys {extra} are not in the searcher's space {list(self.space.keys)}")
        return True

    def suggest(self, trial_id: str) -> dict | None:
        import time

        start = time.perf_counter()
        try:
            idx = self._next_index()
        finally:
            self.suggest_time_s += time.perf_counter() - start
        if idx is None:
            return Searcher.FINISHED if len(self.taken) >= self.space.size else None
        self.pending[trial_id] = idx
        self.taken.add(idx)
        return self.space.from_indices(idx)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        idx = self.pending.pop(trial_id, None)
        if idx is None:
            return
        self._record(idx, result, error)

    def _record(self, idx: tuple[int, ...], result: dict | None, error: bool) -> None:
        reason = self._bad_result(result, error)
        if reason:
            self.failed.append((idx, reason))
            self.results[idx] = None
            return
        self.X.append(self._cube(idx))
        self.Y.append(self._objectives(result))
        self.results[idx] = self.Y[-1]

    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: Any = None) -> None:
        """Warm start: ``value`` is a dict with every metric (or a sequence in metric order)."""
        idx = tuple(int(i) for i in self.space.to_indices(parameters))
        self.taken.add(idx)
        result = value if isinstance(value, dict) else dict(zip(self.metrics, value))
        self._record(idx, result, error)

    def get_state(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in self._unpicklable()}
        state["rng"] = self.rng.bit_generator.state
        return state

    def set_state(self, state: dict) -> None:
        state = dict(state)
        rng_state = state.pop("rng")
        self.__dict__.update(state)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = rng_state

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))

    # ------------------------------------------------------------------ helpers for subclasses
    def _unpicklable(self) -> tuple[str, ...]:
        """Attributes to leave out of checkpoints (rebuilt on demand)."""
        return ()

    def propose(self, n: int) -> list[np.ndarray]:
        """Return up to ``n`` unit-cube points (any order of preference); subclasses override."""
        raise NotImplementedError

    def observed(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y) arrays of good observations; Y minimisation-oriented."""
        d, m = self.space.ndim, len(self.metrics)
        return (np.array(self.X).reshape(-1, d), np.array(self.Y).reshape(-1, m))

    def pending_points(self) -> np.ndarray:
        """Unit-cube points of trials running now and of proposals queued but not handed out."""
        pts = [self._cube(i) for i in list(self.pending.values()) + self.queue]
        return np.array(pts).reshape(-1, self.space.ndim)

    def taken_mask(self, X: np.ndarray) -> np.ndarray:
        return np.array([self._index(x) in self.taken for x in X], dtype=bool)

    def candidate_set(self, n_sobol: int = 1024, sigma: float = 0.08) -> np.ndarray:
        """Acquisition candidates shared by the model-based searchers, snapped and untaken.

        ``n_sobol`` scrambled-Sobol points of the cube, plus Gaussian perturbations (``sigma``) and
        one-coordinate mutations of the observed Pareto-optimal points (about ``n_sobol`` more).
        """
        from scipy.stats import qmc

        X, Y = self.observed()
        d = self.space.ndim
        parts = [qmc.Sobol(d, scramble=True, seed=self._subseed()).random(n_sobol)]
        front = X[nondominated(Y)] if len(Y) else X
        if len(front):
            base = np.repeat(front, max(1, n_sobol // (2 * len(front))), axis=0)
            parts.append(np.clip(base + self.rng.normal(0, sigma, base.shape), 0, 1))
            mutated = base.copy()
            mutated[np.arange(len(mutated)), self.rng.integers(d, size=len(mutated))] = self.rng.random(len(mutated))
            parts.append(mutated)
        C = np.unique(self.space.snap(np.vstack(parts)), axis=0)
        return C[~self.taken_mask(C)]

    def internal_bounds(self, objective_bounds: Sequence[Sequence[float]] | None) -> np.ndarray | None:
        """User bounds ``[[lo, hi]] per metric`` mapped to the internal scale (log where asked, negated
        for ``max``), sorted; ``None`` stays ``None``.  Raises ``ValueError`` on a malformed list."""
        if objective_bounds is None:
            return None
        b = np.array(objective_bounds, dtype=float)
        if b.shape != (len(self.metrics), 2) or np.any(b[:, 0] >= b[:, 1]):
            raise ValueError(f"objective_bounds must be [[lo, hi]] per metric with lo < hi, got {objective_bounds}")
        out = []
        for m, mode, pair in zip(self.metrics, self.modes, b):
            v = np.log(pair) if m in self.log_metrics else pair
            out.append(np.sort(v if mode == "min" else -v))
        return np.array(out)

    def normalizer(self, bounds: np.ndarray | None) -> np.ndarray:
        """Fixed objective bounds ``[[lo, hi]] per objective``: given, or frozen from the data now."""
        if bounds is not None:
            return bounds
        _, Y = self.observed()
        lo, hi = Y.min(axis=0), Y.max(axis=0)
        return np.stack([lo, np.where(hi > lo, hi, lo + 1.0)], axis=1)

    def initial_design(self, n: int) -> list[np.ndarray]:
        """Scrambled Sobol points (seeded from the searcher's RNG)."""
        from scipy.stats import qmc

        sobol = qmc.Sobol(self.space.ndim, scramble=True, seed=self._subseed())
        return list(sobol.random(max(2, 1 << max(1, math.ceil(math.log2(max(n, 1))))))[:n])

    def _subseed(self) -> int:
        """An integer seed drawn from the searcher's RNG.

        Handing the Generator itself to scipy is not restorable: scipy may ``spawn`` from it, and a
        spawn counter is not part of the bit-generator state that checkpoints carry.
        """
        return int(self.rng.integers(2**63 - 1))

    def random_untaken(self, n: int) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = []
        sizes = [d.n for d in self.space.dims]
        tries = 0
        while len(out) < n and tries < 100 * n + 1000:
            tries += 1
            idx = tuple(int(self.rng.integers(s)) for s in sizes)
            if idx not in self.taken and idx not in out:
                out.append(idx)
        return out

    # ------------------------------------------------------------------ internals
    def _index(self, x: np.ndarray) -> tuple[int, ...]:
        n = np.array([d.n for d in self.space.dims])
        return tuple(int(i) for i in np.minimum(np.floor(np.clip(x, 0, 1) * n), n - 1))

    def _cube(self, idx: tuple[int, ...]) -> np.ndarray:
        n = np.array([d.n for d in self.space.dims], dtype=float)
        return (np.asarray(idx) + 0.5) / n

    def _next_index(self) -> tuple[int, ...] | None:
        """Next untaken point from the queue, refilling it with a new batch when empty."""
        for _ in range(4):
            while self.queue:
                idx = self.queue.pop(0)
                if idx not in self.taken:
                    return idx
            if len(self.taken) >= self.space.size:
                return None
            refill = self._refill()
            if refill is None:
                return None  # wait for results
            self.queue = refill
        return None

    def _refill(self) -> list[tuple[int, ...]] | None:
        """The initial design first; model-based batches once it is evaluated; ``None`` to wait."""
        if self.n_batches == 0:
            batch = self.initial_design(self.n_init)
        elif len(self.X) + len(self.failed) < self.n_init or len(self.X) < 2:
            if self.pending:
                return None  # the initial design is still running
            batch = []  # too few good observations to model: random points (see the end)
        else:
            try:
                batch = self.propose(self.batch_size)
            except Exception as e:  # a model that cannot be fitted must not stop the search
                self.n_fallbacks += 1
                warnings.warn(f"{type(self).__name__}: batch {self.n_batches} fell back to random points after "
                              f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
                batch = []
        self.n_batches += 1
        idxs: list[tuple[int, ...]] = []
        for x in batch:
            idx = self._index(np.asarray(x))
            if idx not in self.taken and idx not in idxs:
                idxs.append(idx)
        # nothing usable: a batch's worth of random untried points (as many as proposed, if all were taken)
        return idxs or self.random_untaken(max(1, len(batch) if batch else self.batch_size))

    def _bad_result(self, result: dict | None, error: bool) -> str:
        if error:
            return "trial error"
        if not result:
            return "no result"
        if self.infeasible_key and self.infeasible_key in result and not result[self.infeasible_key]:
            return f"infeasible: {str(result.get('error', ''))[:200]}"
        for m in self.metrics:
            v = result.get(m)
            if v is None or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(float(v)):
                return f"metric {m!r} missing or non-finite: {v!r}"
            if m in self.log_metrics and float(v) <= 0:
                return f"metric {m!r}={v!r} is not positive (modelled in log space)"
        return ""

    def _objectives(self, result: dict) -> np.ndarray:
        y = []
        for m, mode in zip(self.metrics, self.modes):
            v = float(result[m])
            v = math.log(v) if m in self.log_metrics else v
            y.append(v if mode == "min" else -v)
        return np.array(y)
