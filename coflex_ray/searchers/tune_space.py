"""A Ray Tune ``param_space`` as a :class:`coflex_ray.spaces.Space` the cores search, and the configs
handed back in the param_space's own shape.

Every searched knob becomes a finite, ordered list of legal values:

* ``tune.choice(values)``: those values, in the given order;
* ``tune.randint(lo, hi)``: the integers ``lo..hi-1``; ``tune.qrandint(lo, hi, q)``: the multiples of
  ``q`` in ``[lo, hi]`` (``hi`` exclusive for ``q=1``), as Tune samples them;
* ``tune.quniform(lo, hi, q)``: the multiples of ``q`` in ``[lo, hi]`` (Tune's grid, same float values);
* ``tune.uniform(lo, hi)``: ``float_levels`` evenly spaced values from ``lo`` to ``hi``;
  ``tune.loguniform(lo, hi)``: ``float_levels`` log-spaced values;
* ``tune.lograndint(lo, hi)``, ``tune.qlograndint(lo, hi, q)``, ``tune.qloguniform(lo, hi, q)``: the
  values Tune can sample (integers ``lo..hi-1``, or multiples of ``q`` as for ``qrandint`` /
  ``quniform``) at ``float_levels`` log-spaced positions, rounded to them (duplicates dropped), so at
  most ``float_levels`` values that keep the log scale.

Values from elsewhere (``points_to_evaluate``, warm starts) must lie in their Tune domain (a clear
``ValueError`` otherwise); the searcher runs them as given and models them at the nearest legal value.

The config of a trial has the shape of the ``param_space``, as Tune's own ``BasicVariantGenerator``
delivers it: nested dicts, lists and tuples (of domains and of constants), keys with any character
(a ``/`` in a key stays part of the key).  Not searched:

* constants (anything that is not a domain) reach every config unchanged;
* ``tune.sample_from(fn)`` is evaluated for every config, on the config, as Tune does.  Through a
  ``Tuner``, Tune itself does it: searchers see a placeholder and Tune fills it in for the trial
  (so a searcher's own records, e.g. ``pareto_front()``, show the placeholder).

Rejected with one ``ValueError`` naming the key and what to use instead: ``tune.randn`` /
``tune.qrandn`` (no bounds), ``tune.grid_search``, and a ``tune.choice`` whose categories hold search
domains themselves (a conditional space).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..spaces import Dim, Space, integer_dim

ALLOWED = ("tune.choice, tune.randint, tune.qrandint, tune.lograndint, tune.qlograndint, tune.uniform, "
           "tune.quniform, tune.loguniform, tune.qloguniform, tune.sample_from or a constant")
MAX_LEVELS = 10**6  # a linear knob with more legal values than this is not enumerable
PLACEHOLDER_TOKENS = ("__fn_ph", "__ref_ph")  # Tune's stand-ins for sample_from and non-primitive values


@dataclass(frozen=True)
class Knob:
    """One searched entry of a ``param_space``: where it sits and which values are inside its domain.

    ``path``: dict keys and list/tuple positions from the top of the ``param_space``; ``name``: its
    dimension's name in the :class:`Space` (the path joined by ``/``).  A numeric range has
    ``lower``/``upper`` (its smallest and largest legal value), ``q`` (values are multiples of it),
    ``integer`` and ``log`` (legal values nearest in log space); a ``tune.choice`` (or a dimension of
    a :class:`Space`) has ``lower is None`` and takes exactly its legal values.
    """

    path: tuple
    name: str
    lower: float | None = None
    upper: float | None = None
    q: float | None = None
    integer: bool = False
    log: bool = False

    def allowed(self, dim: Dim) -> str:
        if self.lower is None:
            return dim.allowed()
        what = "integers" if self.integer else "floats"
        step = f" (multiples of {self.q})" if self.q not in (None, 1) else ""
        return f"{what}{step} in [{self.lower}, {self.upper}]"

    def check(self, value: Any, dim: Dim, where: str) -> tuple[Any, Any]:
        """``(value as a trial gets it, the nearest legal value)``.

        Raises:
            ValueError: ``value`` is outside the domain (names ``where``, the key and what is allowed).
        """
        if isinstance(value, np.generic):
            value = value.item()
        if self.lower is None:
            try:
                legal = dim.values[dim.index_of(value)]
            except ValueError:
                raise ValueError(f"{where}: {self.name}={value!r} is outside the search space; allowed: "
                                 f"{self.allowed(dim)}") from None
            return legal, legal
        bad = ValueError(f"{where}: {self.name}={value!r} is outside the search space; allowed: {self.allowed(dim)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        tol = 1e-9 * max(1.0, abs(self.lower), abs(self.upper))
        if not self.lower - tol <= value <= self.upper + tol:
            raise bad
        if self.integer:
            if float(value) != int(value):
                raise bad
            value = int(value)
        if self.q not in (None, 1) and not math.isclose(value / self.q, round(value / self.q), abs_tol=1e-9):
            raise bad
        if not self.integer:
            value = float(min(max(value, self.lower), self.upper))
        if dim.kind == "integer":
            return value, dim.values[dim.index_of(value)]
        values = np.asarray(dim.values, dtype=float)
        pos, v = (np.log(values), math.log(value)) if self.log else (values, float(value))
        return value, dim.values[int(np.argmin(np.abs(pos - v)))]


@dataclass
class Layout:
    """Where each searched knob and each ``sample_from`` sits in a ``param_space``, and how to put a
    config back together in the ``param_space``'s shape.

    ``template``: the ``param_space`` itself (domains in place); ``knobs``: the searched entries, one
    per dimension of the space, in the space's order; ``derived``: ``(path, tune.sample_from domain)``
    pairs evaluated for every config.
    """

    template: dict
    knobs: tuple[Knob, ...]
    derived: tuple[tuple[tuple, Any], ...] = ()

    def config(self, values: Sequence[Any], given: Mapping[str, Any] | None = None) -> dict:
        """The config with ``values`` (one per knob) in place; ``sample_from`` entries are evaluated on
        it (or taken from ``given``, a config that already has them)."""
        out = copy.deepcopy(self.template)
        for knob, v in zip(self.knobs, values):
            out = _assign(out, knob.path, copy.deepcopy(v))
        for path, fn in self.derived:
            try:
                v = lookup(given, path) if given is not None else fn.sample(config=out)
            except KeyError:
                v = fn.sample(config=out)
            out = _assign(out, path, v)
        return out

    def values(self, space: Space, config: Mapping[str, Any], where: str) -> tuple[list, list]:
        """``(values as given, nearest legal values)`` of every knob in ``config`` (nested like the
        ``param_space``, or with ``/``-joined keys as in a results table).

        Raises:
            ValueError: a knob is missing or outside its domain (the first one, named).
        """
        if not isinstance(config, Mapping):
            raise ValueError(f"{where} must be a dict of parameter values, got {type(config).__name__}")
        given, legal = [], []
        for knob, dim in zip(self.knobs, space.dims):
            try:
                value = lookup(config, knob.path)
            except KeyError:
                raise ValueError(f"{where} lacks {knob.name!r}; allowed: {knob.allowed(dim)}") from None
            g, v = knob.check(value, dim, where)
            given.append(g)
            legal.append(v)
        return given, legal


def from_param_space(param_space: Mapping[str, Any], float_levels: int = 1001, name: str = "param_space"
                     ) -> tuple[Space | None, Layout]:
    """(space of the searched knobs, or ``None`` if there are none; their :class:`Layout`).

    Raises:
        ValueError: an entry that cannot be searched (named, with what to use instead).
    """
    from ray.tune.search.sample import Function
    from ray.tune.search.variant_generator import parse_spec_vars

    if float_levels < 2:
        raise ValueError(f"float_levels={float_levels} must be at least 2")
    if not isinstance(param_space, Mapping):
        raise ValueError(f"a param_space must be a dict, got {type(param_space).__name__}")
    _, domains, grids = parse_spec_vars(dict(param_space))
    if grids:
        raise ValueError(f"param_space[{_key(grids[0][0])!r}] is a tune.grid_search, which a searcher cannot "
                         "combine with its own suggestions; use tune.choice(values) to let the searcher pick "
                         "among the values (or run one Tuner per grid value)")
    dims, knobs, derived, names = [], [], [], set()
    for path, domain in domains:
        key = _key(path)
        if isinstance(domain, Function):
            derived.append((path, domain))
            continue
        name, k = key, 1
        while name in names:  # e.g. {"a/b": ..., "a": {"b": ...}}: both are "a/b"
            k += 1
            name = f"{key}#{k}"
        names.add(name)
        dim, knob = _dim(name, path, domain, float_levels)
        dims.append(dim)
        knobs.append(knob)
    layout = Layout(dict(param_space), tuple(knobs), tuple(derived))
    return (Space(name, tuple(dims)) if dims else None), layout


def space_layout(space: Space) -> Layout:
    """The :class:`Layout` of a :class:`Space`: one top-level key per dimension, its values exactly."""
    return Layout({d.name: d.tune_domain() for d in space.dims}, tuple(Knob((d.name,), d.name) for d in space.dims))


def lookup(config: Any, path: tuple) -> Any:
    """The value at ``path`` in a config, nested or with ``/``-joined keys (``{"opt/lr": ...}`` for
    ``("opt", "lr")``, ``{"layers": {"0": ...}}`` for ``("layers", 0)``).

    Raises:
        KeyError: nothing there.
    """
    node = config
    for i, step in enumerate(path):
        if isinstance(node, Mapping):
            if step in node:
                node = node[step]
                continue
            flat = "/".join(str(p) for p in path[i:])
            if i + 1 < len(path) and flat in node:
                return node[flat]
            if str(step) in node:
                node = node[str(step)]
                continue
        elif isinstance(node, (list, tuple)) and isinstance(step, int) and 0 <= step < len(node) \
                and not is_placeholder(node):
            node = node[step]
            continue
        raise KeyError(path)
    return node


def is_placeholder(value: Any) -> bool:
    """Whether ``value`` is Tune's stand-in for a ``sample_from`` or a non-primitive value."""
    return isinstance(value, tuple) and len(value) == 2 and value[0] in PLACEHOLDER_TOKENS


def _assign(node: Any, path: tuple, value: Any) -> Any:
    """``node`` with ``value`` at ``path`` (dicts and lists changed in place, tuples rebuilt)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, tuple):
        items = list(node)
        items[head] = _assign(items[head], rest, value)
        return tuple(items)
    node[head] = _assign(node[head], rest, value)
    return node


def _key(path: tuple) -> str:
    return "/".join(str(p) for p in path)


def _dim(name: str, path: tuple, domain: Any, levels: int) -> tuple[Dim, Knob]:
    from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Normal, Quantized, Uniform
    from ray.tune.search.variant_generator import _has_unresolved_values

    sampler = domain.get_sampler()
    q = sampler.q if isinstance(sampler, Quantized) else None
    base = sampler.get_sampler() if isinstance(sampler, Quantized) else sampler
    where = f"param_space[{name!r}]"
    if isinstance(base, Normal):
        raise ValueError(f"{where} is a tune.{'q' if q else ''}randn (a normal distribution without bounds), which "
                         "cannot be searched; use bounds instead, e.g. tune.uniform(mean - 3 * sd, mean + 3 * sd)"
                         f"{' or tune.quniform(..., q)' if q else ''}")
    if isinstance(domain, Categorical) and isinstance(base, Uniform):
        values = tuple(domain.categories)
        for v in values:
            if _has_unresolved_values({0: v}):
                raise ValueError(f"{where} is a tune.choice whose category {v!r} holds search domains (a conditional "
                                 "space), which cannot be searched; use constants as categories and search the "
                                 "inner knobs as separate keys")
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        return Dim(name, values, "ordinal" if numeric else "categorical"), Knob(path, name)
    if isinstance(domain, Integer) and isinstance(base, (Uniform, LogUniform)):
        log = isinstance(base, LogUniform)
        if q is None or q == 1:
            lo_i, hi_i, step = int(domain.lower), int(domain.upper) - 1, 1
        else:
            lo_i, hi_i, step = _grid_index(domain.lower, q, math.ceil), _grid_index(domain.upper, q, math.floor), q
        _check_levels(name, hi_i - lo_i + 1, log)
        knob = Knob(path, name, lo_i * step, hi_i * step, q, True, log)
        if log:
            return Dim(name, _log_grid(knob.lower, knob.upper, step, levels, int), "ordinal"), knob
        if step == 1:
            return integer_dim(name, lo_i, hi_i), knob
        return Dim(name, tuple(int(k * q) for k in range(lo_i, hi_i + 1)), "ordinal"), knob
    if isinstance(domain, Float) and isinstance(base, (Uniform, LogUniform)) \
            and math.isfinite(domain.lower) and math.isfinite(domain.upper):
        log = isinstance(base, LogUniform)
        if q is not None:
            lo_i, hi_i = _grid_index(domain.lower, q, math.ceil), _grid_index(domain.upper, q, math.floor)
            _check_levels(name, hi_i - lo_i + 1, log)
            knob = Knob(path, name, float(lo_i * q), float(hi_i * q), q, False, log)
            if log:
                return Dim(name, _log_grid(knob.lower, knob.upper, q, levels, float), "ordinal"), knob
            return Dim(name, tuple(float(k * q) for k in range(lo_i, hi_i + 1)), "ordinal"), knob
        grid = (np.geomspace if log else np.linspace)(domain.lower, domain.upper, levels)
        knob = Knob(path, name, float(domain.lower), float(domain.upper), None, False, log)
        return Dim(name, tuple(float(v) for v in grid), "ordinal"), knob
    sampler_name = type(sampler).__name__
    raise ValueError(f"{where}: {type(domain).__name__} with a {sampler_name} sampler cannot be searched; "
                     f"allowed: {ALLOWED}")


def _log_grid(lower: float, upper: float, q: float, levels: int, cast: type) -> tuple:
    """Up to ``levels`` multiples of ``q`` in ``[lower, upper]`` at log-spaced positions (both ends kept)."""
    k = np.unique(np.clip(np.round(np.geomspace(lower, upper, levels) / q), round(lower / q), round(upper / q)))
    return tuple(cast(int(i) * q) for i in k)


def _grid_index(bound: float, q: float, round_fn: Any) -> int:
    """``bound``'s index on the grid of multiples of ``q``, rounded inwards (as Tune's ``Quantized``)."""
    scaled = bound / q
    nearest = round(scaled)
    return int(nearest) if math.isclose(scaled, nearest) else int(round_fn(scaled))


def _check_levels(key: str, n: int, log: bool = False) -> None:
    if n < 1:
        raise ValueError(f"param_space[{key!r}] has no legal value (empty range)")
    if n > MAX_LEVELS and not log:
        raise ValueError(f"param_space[{key!r}] has {n} legal values, more than {MAX_LEVELS} can be enumerated; "
                         f"use a coarser tune.qrandint or tune.quniform step")
