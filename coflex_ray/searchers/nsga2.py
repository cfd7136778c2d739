"""NSGA-II (pymoo) as a Ray Tune searcher, through pymoo's ask/tell interface.

pymoo's ``NSGA2`` runs on a continuous problem over the unit cube (SBX crossover, polynomial
mutation, rank-and-crowding survival); each individual is snapped to the space's legal values by the
shared codec.  One generation at a time:

* ``ask()`` a population; individuals whose legal point was already evaluated take the stored
  objectives (no trial spent), the others become trials (several individuals on the same legal point
  share one trial);
* when every trial of the generation has completed, ``tell()`` the objectives and ask the next one.

Failed or infeasible points get a penalty objective vector (per objective: worst observed value plus
the observed range plus one), so selection pushes away from them.  The pymoo algorithm (including its
own ``numpy`` Generator) is pickled by ``save`` so a restored search continues the same generations.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pymoo.core.problem import Problem

from ..spaces import Space
from .base import MultiObjectiveSearcher


class _UnitCube(Problem):
    """The search space as pymoo sees it: ``n_var`` continuous variables in [0, 1]."""

    def __init__(self, n_var: int, n_obj: int) -> None:
        super().__init__(n_var=n_var, n_obj=n_obj, xl=0.0, xu=1.0)


class NSGA2Search(MultiObjectiveSearcher):
    """pymoo NSGA-II searcher; ``pop_size`` individuals per generation (the first one random)."""

    def __init__(self, space: Space, metrics: Sequence[str] = ("err", "edp"), modes: Sequence[str] = ("min", "min"),
                 *, pop_size: int = 20, seed: int = 0, log_metrics: Sequence[str] = (),
                 infeasible_key: str | None = "feasible") -> None:
        if pop_size < 2:
            raise ValueError(f"pop_size={pop_size} must be at least 2")
        super().__init__(space, metrics, modes, n_init=pop_size, batch_size=pop_size, seed=seed,
                         log_metrics=log_metrics, infeasible_key=infeasible_key)
        from pymoo.algorithms.moo.nsga2 import NSGA2

        self.pop_size = pop_size
        self.algorithm = NSGA2(pop_size=pop_size)
        self.algorithm.setup(_UnitCube(space.ndim, len(self.metrics)), seed=seed)
        self.generation = None  # the population asked and not yet told
        self.generations = 0

    def _refill(self) -> list[tuple[int, ...]] | None:
        if self.generation is not None:
            idxs = [self._index(x) for x in self.generation.get("X")]
            if any(i not in self.results for i in idxs):
                return None  # wait for this generation's trials
            self._tell(idxs)
        self.generation = self.algorithm.ask()
        self.generations += 1
        self.n_batches += 1
        todo: list[tuple[int, ...]] = []
        for x in self.generation.get("X"):
            idx = self._index(x)
            if idx not in self.taken and idx not in todo:
                todo.append(idx)
        if not todo:  # the whole generation was evaluated before: tell it at once on the next call
            return self._refill() if len(self.taken) < self.space.size else None
        return todo

    def _tell(self, idxs: list[tuple[int, ...]]) -> None:
        good = [y for y in self.results.values() if y is not None]
        if good:
            Y = np.array(good)
            penalty = Y.max(axis=0) + (Y.max(axis=0) - Y.min(axis=0)) + 1.0
        else:
            penalty = np.full(len(self.metrics), 1e6)
        F = np.array([self.results[i] if self.results[i] is not None else penalty for i in idxs])
        self.generation.set("F", F)
        self.algorithm.tell(infills=self.generation)
        self.generation = None
