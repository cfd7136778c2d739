"""A Ray Tune ``param_space`` as a :class:`coflex_ray.spaces.Space` the cores can search.

Every searched knob becomes a finite, ordered list of legal values:

* ``tune.choice(values)``: those values, in the given order;
* ``tune.randint(lo, hi)``: the integers ``lo..hi-1``; ``tune.qrandint(lo, hi, q)``: the multiples of
  ``q`` in ``[lo, hi]`` (``hi`` exclusive for ``q=1``), as Tune samples them;
* ``tune.quniform(lo, hi, q)``: the multiples of ``q`` in ``[lo, hi]`` (Tune's grid, same float values);
* ``tune.uniform(lo, hi)``: ``float_levels`` evenly spaced values from ``lo`` to ``hi``;
  ``tune.loguniform(lo, hi)``: ``float_levels`` log-spaced values.  Values reported from elsewhere
  (a warm start) are snapped to the nearest of them.

Plain values (constants) are not searched; they reach every trial unchanged.  Nested dicts are
searched under ``/``-joined keys, as Tune's own searchers do.  Anything else (``tune.lograndint``,
``tune.qloguniform``, ``tune.randn``, ``tune.sample_from``, ``tune.grid_search``) raises one
``ValueError`` naming the key.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..spaces import Dim, Space, integer_dim

ALLOWED = ("tune.choice, tune.randint, tune.qrandint, tune.uniform, tune.quniform, tune.loguniform "
           "or a constant")
MAX_LEVELS = 10**6  # a knob with more legal values than this is not enumerable


def from_param_space(param_space: Mapping[str, Any], float_levels: int = 1001, name: str = "param_space"
                     ) -> tuple[Space | None, dict[str, Any], dict[str, tuple[np.ndarray, bool]]]:
    """(space of the searched knobs or ``None`` if there are none, constants by flat key, float grids by
    flat key with their log flag)."""
    from ray.tune.search.variant_generator import parse_spec_vars

    if float_levels < 2:
        raise ValueError(f"float_levels={float_levels} must be at least 2")
    resolved, domains, grids = parse_spec_vars(dict(param_space))
    if grids:
        raise ValueError(f"param_space[{_key(grids[0][0])!r}] is a tune.grid_search, which a model-based searcher "
                         f"cannot take; allowed: {ALLOWED}")
    dims, floats = [], {}
    for path, domain in domains:
        dim, grid = _dim(_key(path), domain, float_levels)
        dims.append(dim)
        if grid is not None:
            floats[dim.name] = grid
    return Space(name, tuple(dims)) if dims else None, {_key(p): v for p, v in resolved}, floats


def _key(path: tuple) -> str:
    return "/".join(str(p) for p in path)


def _dim(key: str, domain: Any, levels: int) -> tuple[Dim, tuple[np.ndarray, bool] | None]:
    from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Quantized, Uniform

    sampler = domain.get_sampler()
    q = sampler.q if isinstance(sampler, Quantized) else None
    base = sampler.get_sampler() if isinstance(sampler, Quantized) else sampler
    what = f"{type(domain).__name__} with a {type(sampler).__name__} sampler"
    if isinstance(domain, Categorical) and isinstance(base, Uniform):
        values = tuple(domain.categories)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        return Dim(key, values, "ordinal" if numeric else "categorical"), None
    if isinstance(domain, Integer) and isinstance(base, Uniform):
        if q is None or q == 1:
            hi = domain.upper - 1
            _check_levels(key, hi - domain.lower + 1)
            return integer_dim(key, int(domain.lower), int(hi)), None
        lo_i, hi_i = _grid_index(domain.lower, q, math.ceil), _grid_index(domain.upper, q, math.floor)
        _check_levels(key, hi_i - lo_i + 1)
        return Dim(key, tuple(int(k * q) for k in range(lo_i, hi_i + 1)), "ordinal"), None
    if isinstance(domain, Float) and domain.lower is not None and domain.upper is not None:
        if isinstance(base, Uniform) and q is not None:
            lo_i, hi_i = _grid_index(domain.lower, q, math.ceil), _grid_index(domain.upper, q, math.floor)
            _check_levels(key, hi_i - lo_i + 1)
            return Dim(key, tuple(float(k * q) for k in range(lo_i, hi_i + 1)), "ordinal"), None
        if isinstance(base, (Uniform, LogUniform)) and q is None:
            log = isinstance(base, LogUniform)
            grid = (np.geomspace if log else np.linspace)(domain.lower, domain.upper, levels)
            return Dim(key, tuple(float(v) for v in grid), "ordinal"), (grid, log)
    raise ValueError(f"param_space[{key!r}]: {what} cannot be searched; allowed: {ALLOWED}")


def _grid_index(bound: float, q: float, round_fn: Any) -> int:
    """``bound``'s index on the grid of multiples of ``q``, rounded inwards (as Tune's ``Quantized``)."""
    scaled = bound / q
    nearest = round(scaled)
    return int(nearest) if math.isclose(scaled, nearest) else int(round_fn(scaled))


def _check_levels(key: str, n: int) -> None:
    if n < 1:
        raise ValueError(f"param_space[{key!r}] has no legal value (empty range)")
    if n > MAX_LEVELS:
        raise ValueError(f"param_space[{key!r}] has {n} legal values, more than {MAX_LEVELS} can be enumerated; "
                         f"use a coarser tune.qrandint or tune.quniform step")


def snap(value: Any, grid: tuple[np.ndarray, bool]) -> float:
    """The grid value nearest to ``value`` (in log space for a log grid)."""
    values, log = grid
    v = float(value)
    pos = np.log(values) if log else values
    return float(values[int(np.argmin(np.abs(pos - (math.log(v) if log and v > 0 else v))))])
