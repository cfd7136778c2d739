"""Measured inference latency (ms) of every NAS-Bench-201 cell on real devices, shipped with the package.

``data/nb201_device_latency_ms.csv.gz``: per official NB201 index (row order = index order, checked
against the accuracy table when copied), one ``lat_ms_<device>`` column per device: GPUs at batch
1/32/256 (``1080ti_1`` ...), Xeon CPUs, phones, Raspberry Pi 4, and HW-NAS-Bench's Eyeriss ASIC and
FPGA estimates.  Figures from HELP (Lee et al., NeurIPS 2021) and HW-NAS-Bench (Li et al., ICLR
2021), copied unchanged.  The copy does not record the input resolution each device was measured
at; it is the one of the original releases.

In the table, on ``pixel3`` 283 cells and on ``raspi4`` 276 cells are below
1 ms (0.003 ms and 0.011 ms at the lowest); they are cells whose output node is cut off from the
input by ``none`` edges, i.e. networks that compute (almost) nothing, and whose error is near chance.
"""

from __future__ import annotations

from functools import lru_cache
import pandas as pd

from ..spaces import NB201_SPACE
from .nb201 import packaged_cell_table

_FILE = "nb201_device_latency_ms.csv.gz"
_PREFIX = "lat_ms_"


@lru_cache(maxsize=1)
def latency_table() -> pd.DataFrame:
    """The whole table, indexed by official arch index, one column per device (ms)."""
    df = packaged_cell_table(_FILE)
    df.columns = [c.removeprefix(_PREFIX) for c in df.columns]
    return df


def devices() -> tuple[str, ...]:
    """Names of the devices with a measured latency column, e.g. ``pixel3``, ``1080ti_1``."""
    return tuple(latency_table().columns)


def check_device(device: str) -> str:
    if device not in devices():
        raise ValueError(f"unknown device {device!r}; allowed: {', '.join(devices())}")
    return device


def device_latency_ms(index: int, device: str) -> float:
    """Measured latency (ms) of the NB201 cell with official ``index`` on ``device``."""
    check_device(device)
    if not 0 <= int(index) < NB201_SPACE.size:
        raise ValueError(f"NB201 index {index!r} is not allowed; allowed: integers 0..{NB201_SPACE.size - 1}")
    return float(latency_table()[device].iat[int(index)])
