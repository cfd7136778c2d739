"""Search spaces: one definition per space, as a Ray Tune ``param_space`` and a unit-cube codec.

Every dimension is a finite, ordered list of legal values (ordinal channel counts, integer ranges,
categorical operations).  Model-based searchers work in the unit cube ``[0, 1]^d``: value ``i`` of a
dimension with ``n`` legal values is encoded at the centre of its bin, ``(i + 0.5) / n``, and a point
``u`` decodes to ``min(floor(u * n), n - 1)``.  All bins therefore have the same width ``1 / n``, so
every legal value (including the largest, e.g. 64 channels) is reachable with equal probability
under uniform sampling.  Categorical dimensions use the same one-coordinate encoding (their order is
the declared order); this keeps the cube dimension equal to the number of knobs.

Spaces defined here:

* ``SSS_SPACE``: NATS-Bench size search space, 5 channel counts in {8, ..., 64} (32,768 networks).
* ``NB201_SPACE``: NAS-Bench-201 / NATS-Bench TSS cell, 6 edges x 5 operations (15,625 cells).
* ``ACCEL_SPACE``: the Coflex accelerator space (PE array X1 x X2, register files X3..X5, register
  bandwidth X6, dataflow).
* ``joint(a, b)``: the product of two spaces (e.g. network x accelerator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Dim:
    """One searchable knob with an ordered, finite list of legal values.

    ``kind`` is ``"ordinal"`` (ordered numbers), ``"integer"`` (every integer in a range) or
    ``"categorical"`` (unordered labels); it tells searchers how to treat the dimension.
    """

    name: str
    values: tuple[Any, ...]
    kind: str = "ordinal"

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"dimension {self.name!r} has no legal values")
        if self.kind not in ("ordinal", "integer", "categorical"):
            raise ValueError(f"dimension {self.name!r}: kind {self.kind!r} not in ordinal/integer/categorical")

    @property
    def n(self) -> int:
        return len(self.values)

    def allowed(self) -> str:
        """Human-readable description of the legal values, used in error messages."""
        if self.kind == "integer":
            return f"integers {self.values[0]}..{self.values[-1]}"
        return "{" + ", ".join(str(v) for v in self.values) + "}"

    def index_of(self, value: Any) -> int:
        """Index of ``value`` among the legal values.

        Raises:
            ValueError: ``value`` is not legal (the message names the key, the value and the range).
        """
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{self.name}={value!r} is not an integer; allowed: {self.allowed()}")
            idx = int(value) - int(self.values[0])
            if not 0 <= idx < self.n:
                raise ValueError(f"{self.name}={value!r} is out of range; allowed: {self.allowed()}")
            return idx
        for i, v in enumerate(self.values):
            if type(v) is type(value) or (isinstance(v, int) and isinstance(value, np.integer)):
                if v == value:
                    return i
        raise ValueError(f"{self.name}={value!r} is not allowed; allowed: {self.allowed()}")

    def tune_domain(self) -> Any:
        """The Ray Tune sampling domain for this knob (uniform over legal values)."""
        from ray import tune

        if self.kind == "integer":
            return tune.randint(int(self.values[0]), int(self.values[-1]) + 1)
        return tune.choice(list(self.values))


def integer_dim(name: str, low: int, high: int) -> Dim:
    """All integers ``low..high`` inclusive."""
    return Dim(name, tuple(range(low, high + 1)), "integer")


@dataclass(frozen=True)
class Space:
    """An ordered product of dimensions with a Tune ``param_space`` and a unit-cube codec."""

    name: str
    dims: tuple[Dim, ...]
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        keys = tuple(d.name for d in self.dims)
        if len(set(keys)) != len(keys):
            raise ValueError(f"space {self.name!r} has duplicate keys: {keys}")
        object.__setattr__(self, "keys", keys)

    @property
    def ndim(self) -> int:
        return len(self.dims)

    @property
    def size(self) -> int:
        """Number of distinct configurations."""
        return math.prod(d.n for d in self.dims)

    def dim(self, key: str) -> Dim:
        for d in self.dims:
            if d.name == key:
                return d
        raise KeyError(f"space {self.name!r} has no key {key!r}; keys: {list(self.keys)}")

    def param_space(self) -> dict[str, Any]:
        """Ray Tune ``param_space`` with a uniform domain per knob."""
        return {d.name: d.tune_domain() for d in self.dims}

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return the config restricted to this space's keys, with native Python values.

        Raises:
            ValueError: a key is missing or a value is not legal (the first one, named with what is
                allowed).
        """
        out: dict[str, Any] = {}
        for d in self.dims:
            if d.name not in config:
                raise ValueError(f"config lacks key {d.name!r} of space {self.name!r}; allowed: {d.allowed()}")
            out[d.name] = d.values[d.index_of(config[d.name])]
        return out

    def to_indices(self, config: Mapping[str, Any]) -> np.ndarray:
        """Integer index of every value (validating it)."""
        return np.array([d.index_of(config[d.name]) if d.name in config else self._missing(d) for d in self.dims])

    def _missing(self, d: Dim) -> int:
        raise ValueError(f"config lacks key {d.name!r} of space {self.name!r}; allowed: {d.allowed()}")

    def from_indices(self, idx: Sequence[int]) -> dict[str, Any]:
        return {d.name: d.values[int(i)] for d, i in zip(self.dims, idx)}

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Config -> point in the unit cube (bin centres)."""
        n = np.array([d.n for d in self.dims], dtype=float)
        return (self.to_indices(config) + 0.5) / n

    def decode(self, x: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Point in the unit cube -> nearest legal config (equal-width bins, values clipped to [0, 1])."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.ndim,):
            raise ValueError(f"space {self.name!r} decodes points of shape ({self.ndim},), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"space {self.name!r}: cannot decode non-finite point {x.tolist()}")
        n = np.array([d.n for d in self.dims])
        idx = np.minimum(np.floor(np.clip(x, 0.0, 1.0) * n).astype(int), n - 1)
        return self.from_indices(idx)

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Round points (rows) in the cube to the bin centres of their legal values."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        n = np.array([d.n for d in self.dims], dtype=float)
        idx = np.minimum(np.floor(np.clip(x, 0.0, 1.0) * n), n - 1)
        return (idx + 0.5) / n

    def sample(self, rng: np.random.Generator, n: int = 1) -> list[dict[str, Any]]:
        """``n`` configs drawn uniformly over legal values."""
        return [self.from_indices([rng.integers(d.n) for d in self.dims]) for _ in range(n)]


def joint(*spaces: Space, name: str | None = None) -> Space:
    """The product of several spaces (keys must not clash)."""
    return Space(name or "x".join(s.name for s in spaces), tuple(d for s in spaces for d in s.dims))


# ---------------------------------------------------------------- NATS-Bench SSS (size space)
SSS_CHANNELS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
SSS_KEYS: tuple[str, ...] = ("c1", "c2", "c3", "c4", "c5")
SSS_SPACE = Space("sss", tuple(Dim(k, SSS_CHANNELS, "ordinal") for k in SSS_KEYS))


def sss_channels(config: Mapping[str, Any]) -> tuple[int, ...]:
    """The five channel counts of an SSS config (validated)."""
    return tuple(SSS_SPACE.validate(config)[k] for k in SSS_KEYS)


def sss_arch_str(config: Mapping[str, Any]) -> str:
    """Official channel string, e.g. ``'8:8:40:32:40'``."""
    return ":".join(str(c) for c in sss_channels(config))


def sss_index(config_or_str: Mapping[str, Any] | str) -> int:
    """Official SSS index: base 8 over channel positions, last layer fastest."""
    cfg = sss_config(config_or_str) if isinstance(config_or_str, str) else config_or_str
    idx = 0
    for d in SSS_SPACE.dims:
        idx = idx * d.n + d.index_of(cfg[d.name] if d.name in cfg else SSS_SPACE._missing(d))
    return idx


def sss_config(arch: str | int) -> dict[str, int]:
    """Config dict from an official channel string ``'c1:c2:c3:c4:c5'`` or an index 0..32767."""
    if isinstance(arch, str):
        parts = arch.split(":")
        if len(parts) != 5:
            raise ValueError(f"SSS arch {arch!r} must be 5 channel counts joined by ':'; each in {set(SSS_CHANNELS)}")
        try:
            chans = [int(p) for p in parts]
        except ValueError as e:
            raise ValueError(f"SSS arch {arch!r} has a non-integer channel count; allowed {SSS_CHANNELS}") from e
        return SSS_SPACE.validate(dict(zip(SSS_KEYS, chans)))
    if isinstance(arch, bool) or not isinstance(arch, (int, np.integer)) or not 0 <= int(arch) < SSS_SPACE.size:
        raise ValueError(f"SSS index {arch!r} is not allowed; allowed: integers 0..{SSS_SPACE.size - 1}")
    idx, digits = int(arch), []
    for _ in SSS_KEYS:
        idx, r = divmod(idx, len(SSS_CHANNELS))
        digits.append(r)
    return SSS_SPACE.from_indices(digits[::-1])


# ---------------------------------------------------------------- NAS-Bench-201 / NATS-Bench TSS
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Cell edges in the order they appear in the official arch string: (to-node, from-node).
NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NB201_KEYS: tuple[str, ...] = tuple(f"edge_{i}_{j}" for i, j in NB201_EDGES)
NB201_SPACE = Space("nb201", tuple(Dim(k, NB201_OPS, "categorical") for k in NB201_KEYS))


def nb201_arch_str(config: Mapping[str, Any]) -> str:
    """Official cell string, e.g. ``'|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|...|'``."""
    cfg = NB201_SPACE.validate(config)
    nodes = []
    for node in (1, 2, 3):
        ops = [f"{cfg[f'edge_{node}_{j}']}~{j}" for j in range(node)]
        nodes.append("|" + "|".join(ops) + "|")
    return "+".join(nodes)


def nb201_config(arch_str: str) -> dict[str, str]:
    """Config dict from an official cell string (validated)."""
    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise ValueError(f"NB201 arch {arch_str!r} must have 3 nodes joined by '+'")
    cfg: dict[str, str] = {}
    for node, text in enumerate(nodes, start=1):
        ops = [t for t in text.split("|") if t]
        if len(ops) != node:
            raise ValueError(f"NB201 arch {arch_str!r}: node {node} needs {node} inputs, got {len(ops)}")
        for op in ops:
            name, _, src = op.partition("~")
            if not src.isdigit() or int(src) >= node:
                raise ValueError(f"NB201 arch {arch_str!r}: bad edge {op!r}")
            cfg[f"edge_{node}_{int(src)}"] = name
    return NB201_SPACE.validate(cfg)


# ---------------------------------------------------------------- accelerator (Coflex hardware space)
DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
ACCEL_SPACE = Space(
    "accel",
    (
        integer_dim("X1", 1, 64),  # PE array rows
        integer_dim("X2", 1, 64),  # PE array columns
        integer_dim("X3", 10, 512),  # input register file, bits
        integer_dim("X4", 10, 512),  # weight register file, bits
        integer_dim("X5", 10, 512),  # output register file, bits
        integer_dim("X6", 10, 512),  # register-file bandwidth, bits/cycle
        Dim("dataflow", DATAFLOWS, "categorical"),
    ),
)

SPACES: dict[str, Space] = {"sss": SSS_SPACE, "nb201": NB201_SPACE, "accel": ACCEL_SPACE}


def get_space(name: str) -> Space:
    """Space by name: a single space (``sss``, ``nb201``, ``accel``) or a joint one (``sss+accel``)."""
    parts = name.split("+")
    unknown = [p for p in parts if p not in SPACES]
    if unknown:
        raise ValueError(f"unknown space {unknown[0]!r}; allowed: {sorted(SPACES)} or a '+'-joined product")
    return SPACES[parts[0]] if len(parts) == 1 else joint(*(SPACES[p] for p in parts), name=name)
