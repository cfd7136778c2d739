"""The Coflex accelerator template: an X1 x X2 MAC array with per-PE register files, SRAM, DRAM.

Modelled on ZigZag's bundled ``meta_prototype.yaml`` (a 2-D array with small register files under
shared on-chip SRAMs).  Searched knobs (``coflex_ray.spaces.ACCEL_SPACE``):

==========  ==============================================================================
X1, X2      PE array rows and columns (operational-array dimensions D1, D2)
X3, X4, X5  register file per PE for inputs, weights, outputs, in bits (floored to whole bytes,
            as ZigZag requires; an RF smaller than one operand word makes a layer infeasible)
X6          register-file port width in bits/cycle (read and write, all three RFs)
dataflow    spatial unrolling: ``ws`` D1=K, D2=C; ``os`` D1=K, D2=OX; ``is`` D1=OX, D2=C
==========  ==============================================================================

Fixed parts and per-access energies (pJ), documented here once:

* MAC: 0.04 pJ (meta_prototype ``unit_energy``), 8-bit inputs and weights, 16-bit partial sums,
  8-bit final outputs.
* Register file access: ``0.01 pJ x (port bits / 8) x sqrt(capacity bytes)``.  Anchored on
  meta_prototype's 1-byte RF (0.01 pJ per 8-bit access), linear in the port width and growing with
  the square root of capacity (the trend CACTI shows for small arrays).
* Weight SRAM and activation SRAM (inputs + outputs), 1 MB each, ports 64..1024 bits/cycle, read
  208.08 pJ / write 189.2 pJ per access (meta_prototype's ``sram_1MB_*``).
* DRAM, 64 bits/cycle, read 700 pJ / write 750 pJ per access (meta_prototype's ``dram``).

Latency is in cycles; :data:`CLOCK_HZ` turns cycles into seconds for the energy-delay product.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from typing import Any, Mapping

from ...spaces import ACCEL_SPACE

CLOCK_HZ = 1e9  #: assumed clock (1 GHz): 1e6 cycles = 1 ms
MAC_PJ = 0.04
SRAM_BITS = 8 * 1024 * 1024  # 1 MB
SRAM_READ_PJ, SRAM_WRITE_PJ = 208.08, 189.2
DRAM_READ_PJ, DRAM_WRITE_PJ = 700.0, 750.0
PRECISION = {"I": 8, "W": 8, "O": 16, "O_final": 8}

#: spatial unrolling per dataflow: operational-array dimension -> layer dimension
SPATIAL = {"ws": ("K", "C"), "os": ("K", "OX"), "is": ("OX", "C")}


@dataclass(frozen=True)
class AccelConfig:
    """A validated point of the accelerator space (hashable, used in cache keys)."""

    X1: int
    X2: int
    X3: int
    X4: int
    X5: int
    X6: int
    dataflow: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "AccelConfig":
        """The accelerator of a (joint) config, validated.

        Raises:
            ValueError: a missing or illegal accelerator key, named with what is allowed.
        """
        return cls(**ACCEL_SPACE.validate(config))

    def key(self) -> tuple:
        return astuple(self)


def rf_access_pj(size_bits: int, port_bits: int) -> float:
    """Energy of one register-file access (see module docstring)."""
    return 0.01 * (port_bits / 8) * math.sqrt(max(size_bits, 8) / 8)


def _port(name: str, kind: str, bw_min: int, bw_max: int, allocation: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": bw_min, "bandwidth_max": bw_max, "allocation": allocation}


def _register_file(size_bits: int, port_bits: int, operand: str) -> dict:
    if operand == "O":  # outputs: partial sums go both ways
        ports = [_port("r_port_1", "read", port_bits, port_bits, ["O, tl"]),
                 _port("r_port_2", "read", port_bits, port_bits, ["O, th"]),
                 _port("w_port_1", "write", port_bits, port_bits, ["O, fh"]),
                 _port("w_port_2", "write", port_bits, port_bits, ["O, fl"])]
    else:
        ports = [_port("r_port_1", "read", port_bits, port_bits, [f"{operand}, tl"]),
                 _port("w_port_1", "write", port_bits, port_bits, [f"{operand}, fh"])]
    cost = rf_access_pj(size_bits, port_bits)
    return {"size": size_bits, "r_cost": cost, "w_cost": cost, "area": 0.0, "latency": 1,
            "operands": [operand], "ports": ports, "served_dimensions": []}


def _sram(operands: list[str]) -> dict:
    reads = [f"{op}, tl" for op in operands] + (["O, th"] if "O" in operands else [])
    writes = [f"{op}, fh" for op in operands] + (["O, fl"] if "O" in operands else [])
    return {"size": SRAM_BITS, "r_cost": SRAM_READ_PJ, "w_cost": SRAM_WRITE_PJ, "area": 0.0, "latency": 1,
            "operands": operands, "ports": [_port("r_port_1", "read", 64, 1024, reads),
                                            _port("w_port_1", "write", 64, 1024, writes)],
            "served_dimensions": ["D1", "D2"]}


def zigzag_accelerator_dict(acc: AccelConfig) -> dict:
    """The accelerator in ZigZag's yaml schema, as a dict (validated by ZigZag before use)."""
    dram_alloc = ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"]
    return {
        "name": "coflex_meta_proto",
        "memories": {
            "rf_I": _register_file(acc.X3 // 8 * 8, acc.X6, "I1"),
            "rf_W": _register_file(acc.X4 // 8 * 8, acc.X6, "I2"),
            "rf_O": _register_file(acc.X5 // 8 * 8, acc.X6, "O"),
            "sram_W": _sram(["I2"]),
            "sram_A": _sram(["I1", "O"]),
            "dram": {"size": 10_000_000_000, "r_cost": DRAM_READ_PJ, "w_cost": DRAM_WRITE_PJ, "area": 0.0,
                     "latency": 1, "operands": ["I1", "I2", "O"],
                     "ports": [_port("rw_port_1", "read_write", 64, 64, dram_alloc)],
                     "served_dimensions": ["D1", "D2"]},
        },
        "operational_array": {"unit_energy": MAC_PJ, "unit_area": 1.0, "dimensions": ["D1", "D2"],
                              "sizes": [acc.X1, acc.X2]},
    }
