"""NAS-Bench-201 (NATS-Bench TSS) test accuracy of all 15,625 cells, shipped with the package.

``data/nb201_tss_test_acc_200ep.csv.gz`` holds, per official index, the official cell string and the
seed-averaged test accuracy (%) after 200 epochs on cifar10, cifar100 and ImageNet16-120, dumped
with the official API (NAS-Bench-201, Dong & Yang, ICLR 2020).  The row order *is* the official
index order, so it also defines index <-> cell string.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..spaces import NB201_SPACE, nb201_arch_str, nb201_config

NB201_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
_FILE = "nb201_tss_test_acc_200ep.csv.gz"


def packaged_cell_table(name: str) -> pd.DataFrame:
    """A shipped per-cell table (``coflex_ray/data/<name>``, gzip CSV), indexed by official arch index."""
    with resources.files("coflex_ray.data").joinpath(name).open("rb") as f:
        df = pd.read_csv(f, compression="gzip").set_index("arch_index")
    if len(df) != NB201_SPACE.size:
        raise RuntimeError(f"{name} has {len(df)} rows, expected {NB201_SPACE.size}: the package data is damaged")
    return df


@lru_cache(maxsize=1)
def nb201_table() -> pd.DataFrame:
    """The whole table, indexed by official arch index (columns arch_str + one per dataset)."""
    return packaged_cell_table(_FILE)


@lru_cache(maxsize=1)
def _str_to_index() -> dict[str, int]:
    return {s: i for i, s in nb201_table()["arch_str"].items()}


def nb201_index(arch: str | Mapping[str, Any]) -> int:
    """Official index of a cell string or NB201 config."""
    arch_str = nb201_arch_str(arch) if not isinstance(arch, str) else nb201_arch_str(nb201_config(arch))
    return _str_to_index()[arch_str]


def nb201_arch(index: int) -> str:
    """Official cell string of an index 0..15624."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= int(index) < NB201_SPACE.size:
        raise ValueError(f"NB201 index {index!r} is not allowed; allowed: integers 0..{NB201_SPACE.size - 1}")
    return str(nb201_table()["arch_str"].iat[int(index)])


def _check_dataset(dataset: str) -> None:
    if dataset not in NB201_DATASETS:
        raise ValueError(f"dataset={dataset!r} is not allowed for NAS-Bench-201; allowed: {list(NB201_DATASETS)}")


def nb201_accuracy(arch: int | str | Mapping[str, Any], dataset: str = "cifar10") -> float:
    """Test accuracy (%) after 200 epochs of an index, cell string or config."""
    _check_dataset(dataset)
    idx = int(arch) if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool) else nb201_index(arch)
    nb201_arch(idx)  # range check
    return float(nb201_table()[dataset].iat[idx])


def nb201_best(dataset: str = "cifar10") -> tuple[int, float]:
    """(index, accuracy) of the best cell on a dataset."""
    _check_dataset(dataset)
    col = nb201_table()[dataset]
    return int(col.idxmax()), float(col.max())
