"""RL co-exploration (Jiang et al., TCAD 2020): a REINFORCE controller as a Ray Tune Searcher.

The controller samples every knob of a :class:`coflex_ray.spaces.Space` -- network and accelerator
choices in one loop for co-exploration, the network alone for hardware-aware NAS on a fixed
accelerator, the accelerator alone for the second step of the sequential method -- from a
**factorised categorical policy**: one vector of logits per knob (torch parameters, initialised to
zero = uniform).  Knobs with more than ``max_choices`` legal values (e.g. 503 register-file sizes)
are offered ``max_choices`` evenly spaced values, so each logit vector stays learnable in a few
hundred trials.

**Reward** of a finished trial, with ``a = 1 - err / err_scale`` (the accuracy fraction for a
percent error), ``l = latency / latency_max``, ``e = energy / energy_max`` and, when ``max_pes`` is
set, ``p = pes / max_pes`` (else ``p = 0``)::

    all met (l <= 1, e <= 1, p <= 1):  R = a + w_hw * (2 - l - e) / 2
    otherwise:                          R = a - penalty * (1 + ln+(l) + ln+(e) + ln+(p))
    failed / infeasible trial:          R = -2 * penalty

where ``ln+(x) = max(0, ln x)``.  Meeting the constraints is worth more than any accuracy when
``penalty >= 1``; among designs that meet them, accuracy dominates and hardware headroom (the
efficiency term, weight ``w_hw``) breaks ties, as in the paper's weighted accuracy/efficiency reward.

**Update** (REINFORCE with a moving-average baseline): after every ``batch_size`` finished trials,
``loss = -mean((R_i - b) * log pi(a_i)) - entropy_weight * H(pi)``, one Adam step (``lr``), then
``b <- decay * b + (1 - decay) * mean(R_i)`` (``b`` starts at the first batch's mean reward).

``save``/``restore`` round-trip logits, optimiser, baseline, buffer, pending trials and the RNG.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from ray.tune.search import Searcher

from ..spaces import Space


def reward(result: Mapping[str, Any] | None, latency_max: float, energy_max: float, *, err_scale: float = 100.0,
           w_hw: float = 0.2, penalty: float = 1.0, max_pes: int | None = None, err_key: str = "err",
           latency_key: str = "latency", energy_key: str = "energy", pes_key: str = "pes",
           infeasible_key: str = "feasible") -> float:
    """The controller's reward of one result (formula in the module docstring)."""
    try:
        if not result or (infeasible_key in result and not result[infeasible_key]):
            return -2.0 * penalty
        err, lat, en = (float(result[k]) for k in (err_key, latency_key, energy_key))
        pes = float(result.get(pes_key, 0.0)) if max_pes else 0.0
    except (KeyError, TypeError, ValueError):
        return -2.0 * penalty
    if not all(math.isfinite(v) for v in (err, lat, en)) or lat <= 0 or en <= 0:
        return -2.0 * penalty
    a, l, e = 1.0 - err / err_scale, lat / latency_max, en / energy_max
    p = pes / max_pes if max_pes else 0.0
    if l <= 1 and e <= 1 and p <= 1:
        return a + w_hw * (2.0 - l - e) / 2.0
    lnp = lambda x: max(0.0, math.log(x)) if x > 0 else 0.0  # noqa: E731
    return a - penalty * (1.0 + lnp(l) + lnp(e) + lnp(p))


def choice_indices(n: int, max_choices: int) -> np.ndarray:
    """Legal-value indices offered for a knob with ``n`` values: all, or ``max_choices`` evenly spaced."""
    return np.arange(n) if n <= max_choices else np.unique(np.round(np.linspace(0, n - 1, max_choices)).astype(int))


class ReinforceSearch(Searcher):
    """Ray Tune Searcher: REINFORCE over a factorised categorical policy (module docstring)."""

    def __init__(self, space: Space, latency_max: float, energy_max: float, *, max_pes: int | None = None,
                 err_scale: float = 100.0, w_hw: float = 0.2, penalty: float = 1.0, lr: float = 0.1,
                 batch_size: int = 4, baseline_decay: float = 0.8, entropy_weight: float = 0.0,
                 max_choices: int = 16, seed: int = 0, metric: str = "err") -> None:
        if not isinstance(space, Space):
            raise ValueError(f"space must be a coflex_ray.spaces.Space, got {type(space).__name__}")
        if not (latency_max > 0 and energy_max > 0):
            raise ValueError(f"latency_max={latency_max!r} and energy_max={energy_max!r} must be positive")
        if batch_size < 1 or max_choices < 2 or not 0 <= baseline_decay < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1, max_choices={max_choices} >= 2, "
                             f"baseline_decay={baseline_decay} in [0, 1)")
        super().__init__(metric=metric, mode="min")
        self.space, self.seed = space, seed
        self.reward_kw = dict(err_scale=err_scale, w_hw=w_hw, penalty=penalty, max_pes=max_pes)
        self.latency_max, self.energy_max = float(latency_max), float(energy_max)
        self.batch_size, self.decay, self.entropy_weight = batch_size, baseline_decay, entropy_weight
        self.choices = [choice_indices(d.n, max_choices) for d in space.dims]
        torch.manual_seed(seed)
        self.logits = [torch.zeros(len(c), requires_grad=True) for c in self.choices]
        self.opt = torch.optim.Adam(self.logits, lr=lr)
        self.rng = np.random.default_rng(seed)
        self.baseline: float | None = None
        self.pending: dict[str, tuple[int, ...]] = {}
        self.buffer: list[tuple[tuple[int, ...], float]] = []
        self.history: list[float] = []  # rewards in completion order
        self.n_updates = 0

    # ------------------------------------------------------------------ policy
    def probs(self) -> list[np.ndarray]:
        """Current choice probabilities per knob (over the offered values)."""
        with torch.no_grad():
            return [torch.softmax(l, 0).double().numpy() for l in self.logits]

    def greedy(self) -> dict[str, Any]:
        """The most probable config under the current policy."""
        return self._config(tuple(int(np.argmax(p)) for p in self.probs()))

    def _config(self, actions: tuple[int, ...]) -> dict[str, Any]:
        return self.space.from_indices([int(c[a]) for c, a in zip(self.choices, actions)])

    def _update(self) -> None:
        acts = torch.tensor([a for a, _ in self.buffer])
        rewards = torch.tensor([r for _, r in self.buffer], dtype=torch.float32)
        if self.baseline is None:
            self.baseline = float(rewards.mean())
        logp = sum(torch.log_softmax(l, 0)[acts[:, i]] for i, l in enumerate(self.logits))
        entropy = sum(-(torch.softmax(l, 0) * torch.log_softmax(l, 0)).sum() for l in self.logits)
        loss = -((rewards - self.baseline) * logp).mean() - self.entropy_weight * entropy
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.baseline = self.decay * self.baseline + (1 - self.decay) * float(rewards.mean())
        self.buffer.clear()
        self.n_updates += 1

    # ------------------------------------------------------------------ Tune API
    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict | None:
        actions = tuple(int(self.rng.choice(len(p), p=p / p.sum())) for p in self.probs())
        self.pending[trial_id] = actions
        return self._config(actions)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        actions = self.pending.pop(trial_id, None)
        if actions is None:
            return
        r = reward(None if error else result, self.latency_max, self.energy_max, **self.reward_kw)
        self.history.append(r)
        self.buffer.append((actions, r))
        if len(self.buffer) >= self.batch_size:
            self._update()

    def get_state(self) -> dict:
        return {"logits": [l.detach().clone() for l in self.logits], "opt": self.opt.state_dict(),
                "rng": self.rng.bit_generator.state, "baseline": self.baseline, "pending": dict(self.pending),
                "buffer": list(self.buffer), "history": list(self.history), "n_updates": self.n_updates}

    def set_state(self, state: dict) -> None:
        with torch.no_grad():
            for l, v in zip(self.logits, state["logits"]):
                l.copy_(v)
        self.opt.load_state_dict(state["opt"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
        self.baseline, self.pending, self.buffer = state["baseline"], dict(state["pending"]), list(state["buffer"])
        self.history, self.n_updates = list(state["history"]), state["n_updates"]

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(pickle.loads(Path(checkpoint_path).read_bytes()))
