"""Evaluations shared through Ray actors: a pool of layer-cost cache shards.

:class:`HardwarePool` starts ``n_shards`` Ray actors, each a :class:`LayerCostCache` (threaded actor,
``num_cpus=0``, placed with the SPREAD strategy).  A layer goes to the shard chosen by a stable hash
of its key, so every key has one owner: repeated layers across trials and across nodes are
simulated once, concurrent requests for the same key wait for one simulation, and different keys
simulate in parallel on different shards (processes).  A call with a time limit has each
simulation run in a child process of its shard that is killed when the limit passes
(:class:`LayerCostCache`), so a hung simulator does not keep the shard's core busy.  The pool object is picklable (it holds actor
handles), so trials on any node call it directly; it works unchanged on a cluster.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path
from typing import Any

from .evaluators.hardware import DEFAULT_LPF_LIMIT, check_fidelity
from .evaluators.hardware.accelerator import AccelConfig
from .evaluators.hardware.cache import LayerCostCache, read_cache_file, write_cache_file


GRACE_S = 5.0  # how long past a time limit a caller waits for the shards to report their kill


def _shard(shape: tuple, acc: AccelConfig, n: int) -> int:
    return zlib.crc32(repr((tuple(shape), acc.key())).encode()) % n


class HardwarePool:
    """Client of the shard actors: ``layer_costs(shapes, acc)`` in the order given."""

    def __init__(self, fidelity: str = "zigzag-fixed", n_shards: int | None = None,
                 lpf_limit: int = DEFAULT_LPF_LIMIT, path: str | os.PathLike | None = None,
                 simulate: Any = None) -> None:
        import ray

        check_fidelity(fidelity)
        if n_shards is None:
            n_shards = max(1, min(8, int(ray.cluster_resources().get("CPU", 1))))
        if n_shards < 1:
            raise ValueError(f"n_shards={n_shards!r} must be at least 1")
        # a shard lost with its node is restarted elsewhere (empty: it is only a cache) and the calls
        # in flight are retried on it, so trials never see a dead shard
        actor = ray.remote(num_cpus=0, max_concurrency=16, scheduling_strategy="SPREAD", max_restarts=-1,
                           max_task_retries=-1)(LayerCostCache)
        self.fidelity, self.lpf_limit, self.path = fidelity, lpf_limit, Path(path) if path else None
        self.shards = [actor.remote(fidelity, lpf_limit, simulate=simulate) for _ in range(n_shards)]
        self.loaded = self._warm_start() if self.path and self.path.is_file() else 0

    def _warm_start(self) -> int:
        import ray

        parts: list[dict] = [{} for _ in self.shards]
        for key, value in read_cache_file(self.path, self.fidelity, self.lpf_limit).items():
            parts[_shard(key[0], AccelConfig(*key[1]), len(self.shards))][key] = value
        return sum(ray.get([s.update.remote(p) for s, p in zip(self.shards, parts)]))

    def layer_costs(self, shapes: list[tuple], acc: AccelConfig, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Layer costs of ``shapes`` on ``acc``, each layer from the shard that owns its key.

        Args:
            shapes: layer shapes (cache keys).
            acc: the accelerator.
            timeout_s: time limit in seconds; ``None``: no limit.

        Returns:
            One cost dict per shape, in the order of ``shapes``.

        Raises:
            TimeoutError: ``timeout_s`` has passed (the shards kill their simulations at that limit;
                this side gives up :data:`GRACE_S` later at most).
        """
        import ray

        groups: dict[int, list[int]] = {}
        for i, shape in enumerate(shapes):
            groups.setdefault(_shard(shape, acc, len(self.shards)), []).append(i)
        sent_at = time.time()
        refs = {k: self.shards[k].get_many.remote([shapes[i] for i in idx], acc, timeout_s, sent_at)
                for k, idx in groups.items()}
        got = ray.get(list(refs.values()), timeout=None if timeout_s is None else timeout_s + GRACE_S)
        out: list[Any] = [None] * len(shapes)
        for (k, idx), res_k in zip(groups.items(), got):
            for i, res in zip(idx, res_k):
                out[i] = res
        return out

    def stats(self) -> dict[str, int]:
        import ray

        total = {"entries": 0, "hits": 0, "misses": 0, "killed": 0}
        for st in ray.get([s.stats.remote() for s in self.shards]):
            for k in total:
                total[k] += st[k]
        return total

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write every shard's finished entries to one pickle (atomically)."""
        import ray

        target = path or self.path
        if not target:
            raise ValueError("no cache file given: pass path= here or to the constructor")
        merged: dict = {}
        for part in ray.get([s.dump.remote() for s in self.shards]):
            merged.update(part)
        return write_cache_file(target, merged, self.fidelity, self.lpf_limit)
