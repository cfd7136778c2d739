"""Ask/tell cores: the optimisers themselves, without Ray.

A core proposes points of the unit cube of a :class:`coflex_ray.spaces.Space` and learns from
minimised objective vectors, like pymoo's and Optuna's ask/tell interfaces::

    core = CoflexCore(space, n_obj=2, seed=0)
    for _ in range(40):
        (x,) = core.ask(1)
        core.tell(x, f(space.decode(x)))       # f returns the objective vector, all minimised
        # or core.tell(x, failed=True)          # an evaluation that failed

What every core guarantees:

* **No repeats**: a point already told, asked or pending is never asked again (points are compared
  by their legal-value indices, :mod:`.candidates`).
* **Batches**: a core makes a batch of proposals at a time and hands them out one by one, skipping
  any that became taken; ``ask`` returns fewer points than requested (possibly none) when the core
  must wait for results, and :attr:`Core.exhausted` says when every legal point is taken.
* **Pending points**: ``ask(n, pending)`` takes the points being evaluated now (default: every point
  asked and not yet told); model-based cores account for them (kriging believer, ``X_pending``).
* **Outcome constraints**: ``constraints=[(sign, bound), ...]`` (model scale, see
  :mod:`.normalise`); each good result is told with its constraint values ``c`` and holds when
  ``sign * (c - bound) <= 0`` for every constraint.  A result that violates one is a good observation
  (its objectives are modelled) that is infeasible: it is kept off the observed front
  (:meth:`Core.feasible`).
* **Determinism and checkpoints**: all randomness flows from ``seed``; a core pickles whole, and an
  unpickled copy continues identically.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterable, Iterator

import numpy as np

from ..spaces import Space
from .candidates import Index, candidate_set, initial_design, random_untaken, to_cube, to_index
from .normalise import check_bounds, frozen_bounds, violation


class Core:
    """Bookkeeping shared by every core; a subclass implements :meth:`next_batch`."""

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *,
                 constraints: Iterable[tuple[float, float]] = ()) -> None:
        if not isinstance(space, Space):
            raise ValueError(f"space must be a coflex_ray.spaces.Space, got {type(space).__name__}")
        if n_obj < 1:
            raise ValueError(f"n_obj={n_obj} must be at least 1")
        self.space, self.n_obj, self.seed = space, n_obj, seed
        self.constraints = check_core_constraints(constraints)
        self.C: list[np.ndarray] = []  # constraint values of the good observations (model scale)
        self.rng = np.random.default_rng(seed)
        self.X: list[np.ndarray] = []  # cube points of good observations
        self.Y: list[np.ndarray] = []  # their objective vectors (minimised)
        self.failed: list[Index] = []
        self.results: dict[Index, np.ndarray | None] = {}  # every told point -> objectives (None: failed)
        self.taken: set[Index] = set()  # told, asked or queued-and-handed-out points
        self.outstanding: list[Index] = []  # asked and not yet told, in asking order
        self.queue: list[Index] = []  # the current batch's points not yet handed out
        self.n_batches = 0

    # ------------------------------------------------------------------ ask/tell
    def ask(self, n: int = 1, pending: Iterable[np.ndarray] | None = None) -> list[np.ndarray]:
        """New points to evaluate.

        Args:
            n: how many points are wanted.
            pending: cube points being evaluated now; ``None`` (default): every point asked and not
                yet told.

        Returns:
            Up to ``n`` untaken cube points (bin centres); fewer, or none, when the core must wait
            for results or every legal point is taken (:attr:`exhausted`).
        """
        running = [to_index(self.space, np.asarray(p)) for p in pending] if pending is not None \
            else list(self.outstanding)
        out: list[np.ndarray] = []
        for _ in range(n):
            idx = self._next_index(running)
            if idx is None:
                break
            self.taken.add(idx)
            self.outstanding.append(idx)
            running.append(idx)
            out.append(to_cube(self.space, idx))
        return out

    def tell(self, x: np.ndarray, y: np.ndarray | None = None, failed: bool = False,
             c: np.ndarray | None = None) -> None:
        """Record the result of the point ``x`` (also of a point never asked: a warm start).

        Args:
            x: a cube point.
            y: its objective vector, every entry minimised; ``None`` counts as failed.
            failed: the evaluation failed (the point is never proposed again).
            c: its constraint values (one per constraint, model scale); needed with constraints.

        Raises:
            ValueError: ``y`` does not have ``n_obj`` finite values, or ``c`` not one finite value
                per constraint.
        """
        idx = to_index(self.space, np.asarray(x))
        self.taken.add(idx)
        if idx in self.outstanding:
            self.outstanding.remove(idx)
        if failed or y is None:
            self.failed.append(idx)
            self.results[idx] = None
            return
        y = np.asarray(y, dtype=float).reshape(-1)
        if y.shape != (self.n_obj,) or not np.all(np.isfinite(y)):
            raise ValueError(f"y must be {self.n_obj} finite objective values, got {y.tolist()}; "
                             "tell a failed evaluation with failed=True")
        k = len(self.constraints)
        cv = np.asarray([] if c is None else c, dtype=float).reshape(-1)
        if cv.shape != (k,) or not np.all(np.isfinite(cv)):
            raise ValueError(f"c must be {k} finite constraint values, got {cv.tolist()}; "
                             "tell a failed evaluation with failed=True")
        self.C.append(cv)
        self.X.append(to_cube(self.space, idx))
        self.Y.append(y)
        self.results[idx] = y

    def reserve(self, x: np.ndarray) -> bool:
        """Count the point ``x`` as being evaluated though the core did not ask it (a point the user
        chose to run first); ``False`` if it was taken already."""
        idx = to_index(self.space, np.asarray(x))
        if idx in self.taken:
            return False
        self.taken.add(idx)
        self.outstanding.append(idx)
        return True

    @property
    def exhausted(self) -> bool:
        """Every legal point of the space is taken."""
        return len(self.taken) >= self.space.size

    def observed(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y) arrays of the good observations."""
        return (np.array(self.X).reshape(-1, self.space.ndim), np.array(self.Y).reshape(-1, self.n_obj))

    def constraint_values(self) -> np.ndarray:
        """``(n, k)`` constraint values of the good observations (rows as in :meth:`observed`)."""
        return np.array(self.C).reshape(len(self.X), len(self.constraints))

    def feasible(self) -> np.ndarray:
        """Boolean mask of the good observations that meet every constraint (all ``True`` without any)."""
        return np.all(violation(self.constraint_values(), self.constraints) <= 0, axis=1)

    def front_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y) of the observations an observed front is built from: the feasible ones when any
        observation is feasible, else all of them."""
        X, Y = self.observed()
        ok = self.feasible()
        return (X[ok], Y[ok]) if ok.any() else (X, Y)

    def is_taken(self, idx: Index) -> bool:
        return idx in self.taken

    # ------------------------------------------------------------------ for subclasses
    def next_batch(self, running: list[Index]) -> list[Index] | None:
        """A new batch of untaken points (in order of preference), or ``None`` to wait for results.

        ``running``: indices of the points being evaluated now.
        """
        raise NotImplementedError

    def _next_index(self, running: list[Index]) -> Index | None:
        """Next untaken point from the queue, refilling it with a new batch when empty."""
        for _ in range(4):
            while self.queue:
                idx = self.queue.pop(0)
                if idx not in self.taken:
                    return idx
            if self.exhausted:
                return None
            batch = self.next_batch(running)
            if batch is None:
                return None  # wait for results
            self.queue = batch
        return None


class ModelCore(Core):
    """A model-based core: a Sobol initial design, then batches from :meth:`propose`.

    Points already taken at the first batch (warm starts, points reserved to run first) count towards
    the ``n_init`` points of the initial design.

    Until ``n_init`` points are told (and at least two of them good), no model is fitted: the core
    waits for the initial design, then fills in uniformly random untried points.  When
    :meth:`propose` fails numerically (a ``RuntimeError``, such as a covariance that is not positive
    definite), it is called once more under :meth:`simpler_models` (counted in ``n_retries``); when
    that raises too, or :meth:`propose` raises anything else, the batch falls back to random points
    (counted in ``n_fallbacks``) so the search goes on.
    """

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *, n_init: int = 10, batch_size: int = 4,
                 bounds: np.ndarray | None = None, constraints: Iterable[tuple[float, float]] = ()) -> None:
        super().__init__(space, n_obj, seed, constraints=constraints)
        check_model_options(n_init, batch_size)
        self.n_init, self.batch_size = n_init, batch_size
        self.bounds = check_bounds(bounds, n_obj)  # minimised scale; frozen from the data if None
        self.n_fallbacks = 0
        self.n_retries = 0  # batches made by simpler models after a numerical failure (:meth:`simpler_models`)
        # whether the models' kernel gets the first-order additive part (:meth:`additive_for`,
        # :func:`.models.make_kernel`); off here, CoflexCore turns it on
        self.additive = False
        # dimensions whose values are unordered labels (for the models' categorical kernels)
        self.cat_dims = tuple(k for k, d in enumerate(space.dims) if d.kind == "categorical")

    @property
    def can_model(self) -> bool:
        """``n_init`` points are told and at least two of them are good: a model can be fitted."""
        return len(self.X) + len(self.failed) >= self.n_init and len(self.X) >= 2

    def propose(self, n: int, pending: np.ndarray) -> list[np.ndarray]:
        """Up to ``n`` cube points (best first) given the good observations and the ``pending`` points."""
        raise NotImplementedError

    def next_batch(self, running: list[Index]) -> list[Index] | None:
        if self.n_batches == 0 and len(self.taken) < self.n_init:
            # points told or reserved before the first batch (warm starts, points to evaluate) count
            batch = initial_design(self.space, self.n_init - len(self.taken), self.rng)
        elif not self.can_model:
            if running:
                return None  # the initial design is still running
            batch = []  # too few good observations to model: random points (see the end)
        else:
            pending = np.array([to_cube(self.space, i) for i in running]).reshape(-1, self.space.ndim)
            try:
                try:
                    batch = self.propose(self.batch_size, pending)
                except RuntimeError:  # numerical (not positive definite, singular): once more, simpler
                    with self.simpler_models():
                        batch = self.propose(self.batch_size, pending)
                    self.n_retries += 1
            except Exception as e:  # a model that cannot be fitted must not stop the search
                self.n_fallbacks += 1
                warnings.warn(f"{type(self).__name__}: batch {self.n_batches} fell back to random points after "
                              f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
                batch = []
        self.n_batches += 1
        idxs: list[Index] = []
        for x in batch:
            idx = to_index(self.space, np.asarray(x))
            if idx not in self.taken and idx not in idxs:
                idxs.append(idx)
        # nothing usable: a batch's worth of random untried points (as many as proposed, if all were taken)
        return idxs or random_untaken(self.space, max(1, len(batch) if batch else self.batch_size), self.rng,
                                      self.is_taken)

    def candidates(self, n_sobol: int) -> np.ndarray:
        """The shared acquisition candidate set (:func:`.candidates.candidate_set`), perturbing the
        observed front (of the feasible observations, when any, see :meth:`Core.front_data`)."""
        X, Y = self.front_data()
        return candidate_set(self.space, X, Y, self.rng, self.is_taken, n_sobol)

    def feasibility_model(self, X: np.ndarray):
        """A feasibility classifier (:func:`.models.fit_feasibility`) of every told point: the good
        observations ``X`` as feasible, every failed point as infeasible."""
        from .models import fit_feasibility

        bad = np.array([to_cube(self.space, i) for i in self.failed]).reshape(-1, self.space.ndim)
        ok = np.r_[np.ones(len(X), dtype=bool), np.zeros(len(bad), dtype=bool)]
        return fit_feasibility(np.vstack([X, bad]), ok, cat_dims=self.cat_dims, seed=self.seed,
                               additive=self.additive_for(len(ok)))

    @contextmanager
    def simpler_models(self) -> Iterator[None]:
        """Within: the models of a retry after a numerical failure, without the kernel's additive part
        (its sum of per-knob kernels makes the covariance matrices worse conditioned)."""
        saved = self.additive
        self.additive = False
        try:
            yield
        finally:
            self.additive = saved

    def additive_for(self, n: int) -> bool:
        """Whether a model of ``n`` observations gets the kernel's additive part: when the core asks for
        it, ``n <= models.ADDITIVE_MAX_N`` and the space has at least ``models.ADDITIVE_MIN_D`` inputs
        (see there why not otherwise)."""
        from .models import ADDITIVE_MAX_N, ADDITIVE_MIN_D

        return bool(self.additive) and n <= ADDITIVE_MAX_N and self.space.ndim >= ADDITIVE_MIN_D

    def freeze_bounds(self) -> np.ndarray:
        """The normalisation bounds: given, or frozen from the observations at the first model batch."""
        self.bounds = frozen_bounds(self.bounds, self.observed()[1])
        return self.bounds


def check_core_constraints(constraints: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """A core's constraints as ``((sign, bound), ...)`` (:mod:`.normalise`: ``sign`` is 1 for ``<=``,
    -1 for ``>=``, ``bound`` on the model scale).

    Raises:
        ValueError: a sign other than +-1 or a non-finite bound.
    """
    out = tuple((float(a), float(b)) for a, b in (constraints or ()))
    if any(a not in (1.0, -1.0) or not np.isfinite(b) for a, b in out):
        raise ValueError(f"core constraints must be (sign +-1, finite bound) pairs, got {list(out)}")
    return out


def check_model_options(n_init: int, batch_size: int) -> None:
    """Check the options every model-based core shares.

    Raises:
        ValueError: ``n_init < 1`` or ``batch_size < 1``.
    """
    if n_init < 1 or batch_size < 1:
        raise ValueError(f"n_init={n_init} and batch_size={batch_size} must both be at least 1")
