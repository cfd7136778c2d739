"""Reader for the official NATS-Bench SSS benchmark folder, without the ``nats_bench`` package.

The official ``NATS-sss-v1_0-50262-simple`` folder holds ``meta.pickle.pbz2`` (the 32,768 channel
strings) and one bz2-compressed pickle per architecture, ``{index:06d}.pickle.pbz2``, each a dict
``hp -> {'all_results': {(dataset, seed): record}, 'dataset_seed': {dataset: [seeds]}}`` with
hp in ``01``, ``12``, ``90`` (training epochs).  A record's ``eval_acc1es`` maps
``'<split>@<epoch>'`` to top-1 accuracy in percent.

Accuracy convention of the official API, reproduced here (read at the last epoch):

* ``test``: ``ori-test`` for cifar10 (and cifar10-valid), ``x-test`` for cifar100 and ImageNet16-120;
* ``valid``: ``x-valid``; for ``cifar10`` the official API takes it from the ``cifar10-valid`` run
  (the full-train cifar10 run has no validation split).

The raw split names ``x-valid``, ``x-test`` and ``ori-test`` read that metric of the dataset's own run.

The folder comes from the NATS-Bench release (about 1 GB).  Point at it with
``NatsSSS(path)``, the ``--nats-sss PATH`` flag of the experiments, or ``NATS_SSS_PATH``.
"""

from __future__ import annotations

import bz2
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..spaces import SSS_SPACE, sss_config, sss_index

ENV_VAR = "NATS_SSS_PATH"
HPS = ("01", "12", "90")
SPLITS = ("valid", "test", "x-valid", "x-test", "ori-test")
SSS_DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
HOW_TO_GET = (
    "download NATS-sss-v1_0-50262-simple.tar from the NATS-Bench release "
    "(github.com/D-X-Y/NATS-Bench), unpack it, and pass the folder with --nats-sss PATH or set "
    f"{ENV_VAR}"
)


class NatsDataError(RuntimeError):
    """The official data folder or one of its files is missing or unreadable."""


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The SSS folder from an explicit path or ``$NATS_SSS_PATH``; clear error if neither exists."""
    raw = path if path is not None else os.environ.get(ENV_VAR)
    if not raw:
        raise NatsDataError(f"no NATS-Bench SSS folder given (flag --nats-sss or ${ENV_VAR}); {HOW_TO_GET}")
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise NatsDataError(f"NATS-Bench SSS folder {str(folder)!r} does not exist; {HOW_TO_GET}")
    if not (folder / "meta.pickle.pbz2").is_file():
        raise NatsDataError(f"{str(folder)!r} has no meta.pickle.pbz2, so it is not an official SSS folder; {HOW_TO_GET}")
    return folder


def _load_pbz2(path: Path) -> Any:
    try:
        with bz2.open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        raise
    except Exception as e:  # corrupt bz2 or pickle
        raise NatsDataError(f"cannot read {str(path)!r} ({type(e).__name__}: {e}); the file is corrupt: {HOW_TO_GET}") from e


class NatsSSS:
    """Lookups into the official SSS folder: accuracy, params, FLOPs and GPU latency per architecture."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = resolve_path(path)
        meta = _load_pbz2(self.path / "meta.pickle.pbz2")
        if not isinstance(meta, dict) or "meta_archs" not in meta:
            raise NatsDataError(f"{str(self.path / 'meta.pickle.pbz2')!r} is not an SSS meta file (no 'meta_archs')")
        self.meta_archs: list[str] = list(meta["meta_archs"])
        if len(self.meta_archs) != SSS_SPACE.size:
            raise NatsDataError(f"meta lists {len(self.meta_archs)} architectures, expected {SSS_SPACE.size}")
        self._records = lru_cache(maxsize=4096)(self._load_arch)

    def __repr__(self) -> str:
        return f"NatsSSS({str(self.path)!r})"

    def _load_arch(self, index: int) -> dict:
        file = self.path / f"{index:06d}.pickle.pbz2"
        if not file.is_file():
            raise NatsDataError(f"architecture {index} ({self.meta_archs[index]}) has no file {str(file)!r}; {HOW_TO_GET}")
        return _load_pbz2(file)

    def index(self, arch: int | str | dict) -> int:
        """Official index of an index, channel string or config; checks it against the meta file."""
        idx = int(arch) if isinstance(arch, (int, np.integer)) else sss_index(arch if isinstance(arch, dict) else sss_config(arch))
        sss_config(idx)  # range check with a clear message
        expected = ":".join(str(v) for v in sss_config(idx).values())
        if self.meta_archs[idx] != expected:
            raise NatsDataError(f"meta file lists {self.meta_archs[idx]!r} at index {idx}, expected {expected!r}")
        return idx

    def _hp_block(self, idx: int, hp: str | int) -> dict:
        hp = f"{hp:02d}" if isinstance(hp, int) else hp
        if hp not in HPS:
            raise ValueError(f"hp={hp!r} is not allowed; allowed: {list(HPS)} (training epochs)")
        data = self._records(idx)
        if hp not in data:
            raise NatsDataError(f"architecture {idx} has no hp {hp!r} in its file; present: {sorted(data)}")
        return data[hp]

    def seeds(self, arch: int | str | dict, dataset: str, hp: str = "90") -> list[int]:
        _check_dataset(dataset)
        return list(self._hp_block(self.index(arch), hp)["dataset_seed"][dataset])

    def record(self, arch: int | str | dict, dataset: str, hp: str, seed: int) -> dict:
        """The raw official record of one (architecture, dataset, hp, seed) run."""
        _check_dataset(dataset)
        block = self._hp_block(self.index(arch), hp)
        key = (dataset, int(seed))
        if key not in block["all_results"]:
            raise ValueError(f"seed={seed!r} is not available for {dataset} hp {hp}; allowed: {block['dataset_seed'][dataset]}")
        return block["all_results"][key]

    def accuracy(self, arch: int | str | dict, dataset: str = "cifar10", hp: str = "90",
                 split: str = "test", seed: int | None = None) -> float:
        """Top-1 accuracy (%) at the last epoch; ``seed=None`` averages over the available seeds."""
        _check_dataset(dataset)
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed; allowed: {list(SPLITS)}")
        source, metric = _split_source(dataset, split)
        seeds = self.seeds(arch, source, hp) if seed is None else [seed]
        values = []
        for s in seeds:
            rec = self.record(arch, source, hp, s)
            key = f"{metric}@{int(rec['epochs']) - 1}"
            if key not in rec["eval_acc1es"]:
                raise ValueError(f"split={split!r} does not exist for {source}; it has {rec['eval_names']}")
            values.append(float(rec["eval_acc1es"][key]))
        return float(np.mean(values))

    def at_epoch(self, arch: int | str | dict, epoch: int, dataset: str = "cifar10", hp: str = "90",
                 split: str = "test") -> dict[str, float]:
        """The learning curve after ``epoch`` training epochs (1-based; the record's ``<split>@<epoch-1>``):
        top-1 accuracy (%) and the simulated training time (s, the record's ``train_times`` summed over
        those epochs), each averaged over the available seeds.  ``epoch`` = the schedule's length gives
        exactly :meth:`accuracy`."""
        _check_dataset(dataset)
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed; allowed: {list(SPLITS)}")
        source, metric = _split_source(dataset, split)
        accs, times = [], []
        for s in self.seeds(arch, source, hp):
            rec = self.record(arch, source, hp, s)
            if not 1 <= int(epoch) <= int(rec["epochs"]):
                raise ValueError(f"epoch={epoch!r} is outside the {rec['epochs']}-epoch schedule of hp {hp}")
            key = f"{metric}@{int(epoch) - 1}"
            if key not in rec["eval_acc1es"]:
                raise ValueError(f"split={split!r} does not exist for {source}; it has {rec['eval_names']}")
            accs.append(float(rec["eval_acc1es"][key]))
            times.append(float(sum(rec["train_times"][e] for e in range(int(epoch)))))
        return {"accuracy": float(np.mean(accs)), "train_time_s": float(np.mean(times))}

    def cost(self, arch: int | str | dict, dataset: str = "cifar10", hp: str = "90") -> dict[str, float]:
        """Official params (M), FLOPs (M) and measured GPU latency (s) of an architecture."""
        seed = self.seeds(arch, dataset, hp)[0]
        rec = self.record(arch, dataset, hp, seed)
        return {"params_M": float(rec["params"]), "flops_M": float(rec["flop"]), "latency_s": float(np.mean(rec["latency"]))}


def _check_dataset(dataset: str) -> None:
    if dataset not in SSS_DATASETS:
        raise ValueError(f"dataset={dataset!r} is not allowed for NATS-Bench SSS; allowed: {list(SSS_DATASETS)}")


def _split_source(dataset: str, split: str) -> tuple[str, str]:
    """(dataset run to read, eval metric name) of the official convention."""
    if split not in ("valid", "test"):
        return dataset, split
    if split == "valid":
        return ("cifar10-valid" if dataset == "cifar10" else dataset), "x-valid"
    return dataset, ("ori-test" if dataset in ("cifar10", "cifar10-valid") else "x-test")
