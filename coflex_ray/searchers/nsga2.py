"""NSGA-II (pymoo) as an ask/tell core (no Ray), through pymoo's own ask/tell interface.

``NSGA2Search`` (:mod:`.tune_searchers`) is its Ray Tune searcher.

pymoo's ``NSGA2`` runs on a continuous problem over the unit cube (SBX crossover, polynomial
mutation, rank-and-crowding survival); each individual is snapped to the space's legal values by the
shared codec.  One generation at a time:

* pymoo's ``ask()`` gives a population; individuals whose legal point was already evaluated take the
  stored objectives (no evaluation spent), the others become the core's batch (several individuals
  on the same legal point share one evaluation);
* when every point of the generation has been told, pymoo's ``tell()`` gets the objectives and the
  next generation is asked.

Failed or infeasible points get a penalty objective vector (:func:`.failures.penalty`), so selection
pushes away from them.  With outcome constraints (``constraints``, :mod:`.core`) the problem has one
inequality constraint per outcome constraint, and each told individual carries pymoo's constraint
values ``G = sign * (value - bound)`` (feasible where ``<= 0``; pymoo's constrained domination ranks
feasible individuals first); a failed point gets a violation worse than any observed.  When the
population has converged, so that :data:`STALE_GENERATIONS` generations in a row hold only evaluated
points, the batch is random untaken points instead (counted in ``n_fallbacks``).  The pymoo
algorithm (including its own ``numpy`` Generator) is part of the core's state, so a restored search
continues the same generations.
"""

from __future__ import annotations


import numpy as np
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination

from ..spaces import Space
from .candidates import Index, random_untaken, to_index
from .core import Core
from .failures import penalty
from .normalise import violation


# generations in a row whose every individual was evaluated before (told at once from the stored
# results) before a batch of random untaken points is proposed instead
STALE_GENERATIONS = 20


class _UnitCube(Problem):
    """The search space as pymoo sees it: ``n_var`` continuous variables in [0, 1]."""

    def __init__(self, n_var: int, n_obj: int, n_ieq_constr: int = 0) -> None:
        super().__init__(n_var=n_var, n_obj=n_obj, n_ieq_constr=n_ieq_constr, xl=0.0, xu=1.0)


def check_pop_size(pop_size: int) -> None:
    """Raises ``ValueError`` when ``pop_size < 2``."""
    if pop_size < 2:
        raise ValueError(f"pop_size={pop_size} must be at least 2")


class NSGA2Core(Core):
    """Ask/tell NSGA-II over the unit cube of ``space``; ``pop_size`` individuals per generation.

    Args:
        space: the search space.
        n_obj: number of objectives (all minimised).
        seed: seeds pymoo's algorithm.
        pop_size: individuals per generation (the first generation is random).
        constraints: outcome constraints ``[(sign, bound), ...]`` on the model scale (:mod:`.core`).
    """

    def __init__(self, space: Space, n_obj: int, seed: int = 0, *, pop_size: int = 20, constraints=()) -> None:
        from pymoo.algorithms.moo.nsga2 import NSGA2

        super().__init__(space, n_obj, seed, constraints=constraints)
        check_pop_size(pop_size)
        self.pop_size = pop_size
        self.algorithm = NSGA2(pop_size=pop_size)
        # the search ends when Tune's budget does: pymoo's default termination test (an IGD between
        # successive fronts every generation) would only cost time
        self.algorithm.setup(_UnitCube(space.ndim, n_obj, len(self.constraints)), seed=seed,
                             termination=NoTermination())
        self.generation = None  # the population asked from pymoo and not yet told
        self.generations = 0
        self.n_fallbacks = 0  # batches of random points after STALE_GENERATIONS converged generations

    def next_batch(self, running: list[Index]) -> list[Index] | None:
        if self.generation is not None:
            idxs = [to_index(self.space, x) for x in self.generation.get("X")]
            if any(i not in self.results for i in idxs):
                return None  # wait for this generation's evaluations
            self._tell_generation(idxs)
        for _ in range(STALE_GENERATIONS):
            self.generation = self.algorithm.ask()
            self.generations += 1
            self.n_batches += 1
            idxs = [to_index(self.space, x) for x in self.generation.get("X")]
            todo = list(dict.fromkeys(i for i in idxs if i not in self.taken))
            if todo or self.exhausted:
                return todo or None
            self._tell_generation(idxs)  # the whole generation was evaluated before: tell it at once
        # the population has converged onto evaluated points: random untaken points keep the search going
        self.n_fallbacks += 1
        return random_untaken(self.space, self.pop_size, self.rng, self.is_taken)

    def _tell_generation(self, idxs: list[Index]) -> None:
        bad = penalty(np.array([y for y in self.results.values() if y is not None]).reshape(-1, self.n_obj),
                      self.n_obj)
        F = np.array([self.results[i] if self.results[i] is not None else bad for i in idxs])
        self.generation.set("F", F)
        if self.constraints:
            G = self._violations()
            self.generation.set("G", np.array([G.get(i, G[None]) for i in idxs]))
        self.algorithm.tell(infills=self.generation)
        self.generation = None

    def _violations(self) -> dict:
        """pymoo's ``G`` row of every good told point (by index), and under ``None`` the row for a failed
        point: per constraint, the largest observed violation plus one (at least 1)."""
        G = violation(self.constraint_values(), self.constraints)  # rows in the order told, as self.X
        out: dict = {to_index(self.space, x): g for x, g in zip(self.X, G)}
        out[None] = np.maximum(G.max(axis=0) + 1.0, 1.0) if len(G) else np.ones(len(self.constraints))
        return out
