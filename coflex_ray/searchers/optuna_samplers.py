"""Optuna samplers that survive Ray Tune's pickling.

Ray Tune pickles every search algorithm (``tuner.pkl``, experiment checkpoints).  Optuna 5.1's
genetic-algorithm samplers hold a ``threading.Lock`` (``_thread_lock``), so
``pickle.dumps(NSGAIISampler())`` raises ``TypeError: cannot pickle '_thread.lock' object`` and
``OptunaSearch(sampler=NSGAIISampler())`` fails in any Tune script.  The classes here are the same
samplers with a pickle protocol that drops every lock attribute and makes a new one on unpickling;
on an Optuna whose samplers hold no lock they behave exactly like Optuna's own.
"""

from __future__ import annotations

import threading
from typing import Any

from optuna.samplers import NSGAIIISampler, NSGAIISampler

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_LOCKS_KEY = "__coflex_dropped_locks__"


class _LockFreePickle:
    """Mixin: pickle ``__dict__`` without its lock attributes; unpickling makes fresh locks."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        dropped = {k: isinstance(v, type(threading.RLock())) for k, v in state.items()
                   if isinstance(v, _LOCK_TYPES)}
        for k in dropped:
            del state[k]
        state[_LOCKS_KEY] = dropped
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        dropped = state.pop(_LOCKS_KEY, {})
        self.__dict__.update(state)
        for k, reentrant in dropped.items():
            setattr(self, k, threading.RLock() if reentrant else threading.Lock())


class PicklableNSGAIISampler(_LockFreePickle, NSGAIISampler):
    """Optuna's ``NSGAIISampler``, picklable on every Optuna release (same arguments, same samples).

    Example:
        >>> import pickle
        >>> s = PicklableNSGAIISampler(seed=0, population_size=8)
        >>> type(pickle.loads(pickle.dumps(s))).__name__
        'PicklableNSGAIISampler'
    """


class PicklableNSGAIIISampler(_LockFreePickle, NSGAIIISampler):
    """Optuna's ``NSGAIIISampler``, picklable on every Optuna release (same arguments, same samples)."""
