"""Candidate points for the cores: the cube <-> legal-index codec, initial designs, acquisition
candidate sets, legal neighbours and local search, and random untried points.

A point ``x`` of the unit cube stands for the legal value ``min(floor(x * n), n - 1)`` of each
dimension (``n`` legal values); the cores keep points as index tuples so that "already tried" is an
exact set lookup, and hand out bin centres ``(i + 0.5) / n``.  All randomness comes from the numpy
Generator passed in.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..spaces import Space
from .pareto import nondominated

Index = tuple[int, ...]


def to_index(space: Space, x: np.ndarray) -> Index:
    """The legal-value indices a cube point stands for."""
    n = np.array([d.n for d in space.dims])
    return tuple(int(i) for i in np.minimum(np.floor(np.clip(x, 0, 1) * n), n - 1))


def to_cube(space: Space, idx: Index) -> np.ndarray:
    """The bin centre of a legal point."""
    n = np.array([d.n for d in space.dims], dtype=float)
    return (np.asarray(idx) + 0.5) / n


def subseed(rng: np.random.Generator) -> int:
    """An integer seed drawn from ``rng``.

    Handing the Generator itself to scipy is not restorable: scipy may ``spawn`` from it, and a
    spawn counter is not part of the bit-generator state that checkpoints carry.
    """
    return int(rng.integers(2**63 - 1))


def initial_design(space: Space, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` scrambled-Sobol points of the cube (seeded from ``rng``)."""
    from scipy.stats import qmc

    sobol = qmc.Sobol(space.ndim, scramble=True, seed=subseed(rng))
    return list(sobol.random(max(2, 1 << max(1, math.ceil(math.log2(max(n, 1))))))[:n])


def candidate_set(space: Space, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator,
                  is_taken: Callable[[Index], bool], n_sobol: int = 1024, sigma: float = 0.08) -> np.ndarray:
    """The global acquisition candidate set shared by the model-based cores.

    Args:
        space: the search space.
        X: observed cube points, shape ``(n, d)``.
        Y: their minimised objectives, shape ``(n, m)``; with none, ``X`` itself is perturbed.
        rng: the random source.
        is_taken: whether a legal point is taken (evaluated, failed or pending).
        n_sobol: scrambled-Sobol points of the cube.
        sigma: standard deviation of the Gaussian perturbations, in cube units.

    Returns:
        The Sobol points plus Gaussian perturbations and one-coordinate mutations of the observed
        Pareto-optimal points ``X[nondominated(Y)]`` (about ``n_sobol`` more), snapped to legal
        values, without repeats and taken points.
    """
    from scipy.stats import qmc

    d = space.ndim
    parts = [qmc.Sobol(d, scramble=True, seed=subseed(rng)).random(n_sobol)]
    front = X[nondominated(Y)] if len(Y) else X
    if len(front):
        base = np.repeat(front, max(1, n_sobol // (2 * len(front))), axis=0)
        parts.append(np.clip(base + rng.normal(0, sigma, base.shape), 0, 1))
        mutated = base.copy()
        mutated[np.arange(len(mutated)), rng.integers(d, size=len(mutated))] = rng.random(len(mutated))
        parts.append(mutated)
    return untaken_legal(space, parts, is_taken)


def untaken_legal(space: Space, parts: list[np.ndarray], is_taken: Callable[[Index], bool]) -> np.ndarray:
    """The cube points of ``parts`` snapped to legal values, without repeats and taken points."""
    C = np.unique(space.snap(np.vstack(parts)), axis=0)
    return C[~np.array([is_taken(to_index(space, c)) for c in C], dtype=bool)]


def random_untaken(space: Space, n: int, rng: np.random.Generator, is_taken: Callable[[Index], bool]) -> list[Index]:
    """Up to ``n`` distinct uniformly random legal points that are not taken.

    Returns:
        Their index tuples; fewer than ``n`` when ``100 n + 1000`` draws did not find enough.
    """
    out: list[Index] = []
    sizes = [d.n for d in space.dims]
    tries = 0
    while len(out) < n and tries < 100 * n + 1000:
        tries += 1
        idx = tuple(int(rng.integers(s)) for s in sizes)
        if not is_taken(idx) and idx not in out:
            out.append(idx)
    return out


def neighbours(space: Space, idx: Index, far: bool = False) -> list[Index]:
    """The legal points one step away from ``idx``: the next lower and next higher value of one
    ordinal or integer dimension, or any other value of one categorical dimension.

    ``far``: also the values ``max(2, n // 8)`` steps away in ordinal/integer dimensions with more than
    8 values (a single step of a 503-value register size barely moves the point).
    """
    out: list[Index] = []
    for k, d in enumerate(space.dims):
        i = idx[k]
        if d.kind == "categorical":
            moves = [v for v in range(d.n) if v != i]
        else:
            steps = (1, max(2, d.n // 8)) if far and d.n > 8 else (1,)
            moves = [i + sign * s for s in steps for sign in (-1, 1) if 0 <= i + sign * s < d.n]
        out.extend(idx[:k] + (v,) + idx[k + 1:] for v in moves)
    return out


def to_cubes(space: Space, idx: np.ndarray) -> np.ndarray:
    """The bin centres of the legal points whose indices are the rows of ``idx``."""
    return (np.asarray(idx, dtype=float).reshape(-1, space.ndim) + 0.5) / np.array([d.n for d in space.dims], float)


def local_search(space: Space, starts: list[Index], score: Callable[[np.ndarray], np.ndarray],
                 is_taken: Callable[[Index], bool], steps: int = 3, far: bool = True,
                 start_values: np.ndarray | None = None) -> list[Index]:
    """Steepest-ascent hill-climbing of ``score`` over untaken legal neighbours.

    Args:
        space: the search space.
        starts: index tuples to start from.
        score: higher is better; called on an ``(N, d)`` array of cube points, returns ``(N,)``.
        is_taken: whether a legal point is taken.
        steps: at most this many moves per start; all starts stop when none improves.
        far: include :func:`neighbours`' far steps.
        start_values: the starts' scores, if known (saves one call of ``score``).

    Returns:
        The distinct end points, none of them taken (a start that is taken itself is returned only
        after it moved).
    """
    current = list(starts)
    values = (np.array(start_values, dtype=float) if start_values is not None else
              score(to_cubes(space, np.array(current))) if current else np.zeros(0))
    moved = [False] * len(current)
    for _ in range(steps):
        nbrs = [[j for j in neighbours(space, i, far) if not is_taken(j)] for i in current]
        flat = [j for ns in nbrs for j in ns]
        if not flat:
            break
        vals = score(to_cubes(space, np.array(flat)))
        pos, improved = 0, False
        for k, ns in enumerate(nbrs):
            if ns:
                b = int(np.argmax(vals[pos:pos + len(ns)]))
                if vals[pos + b] > values[k]:
                    current[k], values[k], moved[k], improved = ns[b], vals[pos + b], True, True
            pos += len(ns)
        if not improved:
            break
    return list(dict.fromkeys(i for i, m in zip(current, moved) if m or not is_taken(i)))


def trust_region_set(space: Space, centres: np.ndarray, length: float, n: int, rng: np.random.Generator,
                     is_taken: Callable[[Index], bool]) -> np.ndarray:
    """Candidates in the trust regions around ``centres`` (rule 2 of :mod:`.coflex`).

    Each centre's region is the box of half-width ``length`` around it in the ordinal/integer
    coordinates of the cube; a categorical knob keeps the centre's value, or (with probability
    ``length``) takes a uniformly random one.  The centres' one-step neighbours (:func:`neighbours`)
    are always included, so a region smaller than a bin still has candidates.

    Args:
        space: the search space.
        centres: cube points, shape ``(k, d)``.
        length: the half-width, in cube units.
        n: about this many points in all (``n // k`` per centre).
        rng: the random source.
        is_taken: whether a legal point is taken.

    Returns:
        Legal, untaken, distinct cube points (bin centres), shape ``(N, d)``.
    """
    d = space.ndim
    cat = np.array([dim.kind == "categorical" for dim in space.dims])
    per = max(1, n // max(1, len(centres)))
    parts = []
    for c in centres:
        P = np.clip(c + (2 * rng.random((per, d)) - 1) * length, 0, 1)
        flip = rng.random((per, d)) < length
        P[:, cat] = np.where(flip[:, cat], rng.random((per, int(cat.sum()))), c[cat])
        parts.append(P)
        parts.append(to_cubes(space, np.array(neighbours(space, to_index(space, c)))))
    return untaken_legal(space, parts, is_taken)
