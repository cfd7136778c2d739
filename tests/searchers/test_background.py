"""Background mode (``background=True``, coflex_ray/searchers/background.py): ``suggest`` never waits for a
fit, results that arrive during a fit reach the next one, the searcher pickles and restores mid-fit, a
failing fit falls back to random points, Tune's concurrency sizes the batches (and random points fill
the slots the initial design leaves free), the next batch starts while the last is handed out, and an
exhausted space still ends the search.  A gate on ``CoflexCore.propose`` makes a fit last as long as a test needs."""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
import warnings
from types import SimpleNamespace
from typing import Any, Callable

import pytest
import ray.cloudpickle as cloudpickle
from ray.tune.search import ConcurrencyLimiter, Searcher

from coflex_ray import CoflexSearch, NSGA2Search
from coflex_ray.searchers.background import BATCH_CAP
from coflex_ray.searchers.coflex import CoflexCore
from coflex_ray.spaces import Dim, Space, integer_dim

SPACE = Space("toy", (Dim("c1", (8, 16, 24, 32, 40, 48, 56, 64), "ordinal"),
                      Dim("op", ("none", "skip", "conv"), "categorical"), integer_dim("X1", 1, 64)))
MO = dict(metric=["f1", "f2"], mode=["min", "min"])
FAST = 0.05  # seconds: a generous bound on a suggest or a result that must not wait for a fit


def result(cfg: dict) -> dict:
    a = (cfg["c1"] / 64 + cfg["X1"] / 64) / 2 + ("none", "skip", "conv").index(cfg["op"]) / 10
    return {"f1": a, "f2": 1 - math.sqrt(a)}


SMALL = dict(n_init=4, batch_size=4, n_candidates=64, global_candidates=64, proposals_per_objective=4,
             n_directions=4, local_steps=0, additive=False, seed=0)  # quick fits


def make(**kw: Any) -> CoflexSearch:
    return CoflexSearch(SPACE, **MO, **SMALL, background=True, **kw)


def until(fn: Callable[[], Any], timeout: float = 8.0) -> Any:
    """Call ``fn`` until it returns something other than ``None`` (as Tune asks again)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = fn()
        if out is not None:
            return out
        time.sleep(0.01)
    raise AssertionError(f"nothing after {timeout} s")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@pytest.fixture
def gate(monkeypatch):
    """``CoflexCore.propose`` waits while the gate is closed (it starts open)."""
    is_open, entered = threading.Event(), threading.Event()
    is_open.set()
    propose = CoflexCore.propose

    def gated(self, n, pending):
        entered.set()
        is_open.wait(20)
        return propose(self, n, pending)

    monkeypatch.setattr(CoflexCore, "propose", gated)
    yield SimpleNamespace(open=is_open.set, close=is_open.clear, entered=entered)
    is_open.set()


def past_initial_design(s: CoflexSearch) -> list[dict]:
    """Run the initial design (4 points), then hand out the first model batch (4 points: m0..m3)."""
    for t in range(4):
        s.on_trial_complete(f"i{t}", result(until(lambda: s.suggest(f"i{t}"))))
    return [until(lambda: s.suggest(f"m{t}")) for t in range(4)]


def fit_running_with_results_waiting(s: CoflexSearch, gate) -> None:
    """Tell m0 and m1, start a gated fit (m2, m3 running), then tell m2 and m3 during it."""
    first = past_initial_design(s)
    for t in (0, 1):
        s.on_trial_complete(f"m{t}", result(first[t]))
    gate.close()
    gate.entered.clear()
    out, took = timed(lambda: s.suggest("n0"))
    assert out is None and took < FAST  # the fit runs in the background
    assert gate.entered.wait(5) and s._runner.busy
    for t in (2, 3):
        _, took = timed(lambda: s.on_trial_complete(f"m{t}", result(first[t])))
        assert took < FAST
    assert len(s._runner.inbox) == 2 and len(s.core.results) == 6  # queued for the next fit


def test_suggest_never_waits_for_a_fit_and_results_are_not_lost(gate, one_torch_thread):
    s = make()
    fit_running_with_results_waiting(s, gate)
    out, took = timed(lambda: s.suggest("n0"))
    assert out is None and took < FAST and s._runner.busy  # still nothing ready
    gate.open()  # the fit now runs for real, and suggest still answers at once
    slowest, calls, end = 0.0, 0, time.monotonic() + 8
    while (out := timed(lambda: s.suggest("n0")))[0] is None and time.monotonic() < end:
        slowest, calls = max(slowest, out[1]), calls + 1
        time.sleep(0.01)
    cfg = out[0]
    assert cfg is not None and calls > 0 and slowest < FAST
    assert s.stale_proposals == 1  # made before m2 and m3 were told
    s.on_trial_complete("n0", result(cfg))
    assert s.settle(10)
    assert len(s.core.results) == 9 and not s._runner.inbox  # 4 initial + 4 + n0: every result told
    assert len({str(c) for c, _, _ in s.evaluated}) == 9


def test_pickle_save_and_restore_mid_fit(gate, one_torch_thread, tmp_path):
    s = make()
    fit_running_with_results_waiting(s, gate)
    blob, took = timed(lambda: pickle.dumps(s))
    assert took < 2.0 and s._runner.busy  # did not wait for the fit
    s.save(str(tmp_path / "ckpt"))
    restored = CoflexSearch()
    restored.restore(str(tmp_path / "ckpt"))
    copies = [pickle.loads(blob), cloudpickle.loads(cloudpickle.dumps(s)), restored]
    gate.open()
    for c in copies:  # the fit's starting state, with the two results received since
        assert c.background and not c._runner.busy and not c._runner.ready and not c.pending
        assert len(c.core.results) == 6 and len(c._runner.inbox) == 2
    for c in (copies[0], restored):  # each searches on
        cfg = until(lambda: c.suggest("n0"))
        c.on_trial_complete("n0", result(cfg))
        assert c.settle(10) and len(c.core.results) == 9
        assert cfg not in [k for k, _, _ in c.evaluated[:-1]]


@pytest.mark.parametrize("where", ["propose", "ask"])
def test_a_failing_fit_falls_back_to_random_points(where, monkeypatch, caplog, one_torch_thread):
    s = make()
    for t in range(4):
        s.on_trial_complete(f"i{t}", result(until(lambda: s.suggest(f"i{t}"))))

    def broken(self, *args, **kwargs):
        raise RuntimeError("cannot fit")

    monkeypatch.setattr(CoflexCore, where, broken)
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfgs = [until(lambda: s.suggest(f"m{t}")) for t in range(4)]
    assert s.n_fallbacks == 1 and s._runner.n_errors == (where == "ask")
    if where == "ask":
        assert "fell back to random points after RuntimeError: cannot fit" in caplog.text
    for t, cfg in enumerate(cfgs):
        s.on_trial_complete(f"m{t}", result(cfg))
    assert s.settle(10) and len(s.core.results) == 8


def test_concurrency_sizes_the_batch(one_torch_thread):
    s = make()
    limiter = ConcurrencyLimiter(s, max_concurrent=8)  # calls set_max_concurrency(8)
    assert s.max_concurrency == 8 and limiter._limit_concurrency  # the limiter still limits the trials
    cfgs = [until(lambda: s.suggest(f"i{t}")) for t in range(8)]  # 4 design points + 4 random ones for the free slots
    assert s.suggest("i8") is None and s.core.n_batches == 1  # every slot busy: nothing until results arrive
    for t, cfg in enumerate(cfgs):
        s.on_trial_complete(f"i{t}", result(cfg))
    until(lambda: s.suggest("m0"))
    assert s.core.batch_size == 8 and len(s._runner.ready) == 7  # one model batch of 8, 1 handed out
    assert not s.set_max_concurrency(1000) and s._runner.batch_size() == BATCH_CAP
    assert s.set_max_concurrency(2) is False and s._runner.batch_size() == 4  # never below batch_size


def test_synchronous_mode_is_the_default_and_ignores_concurrency():
    """Concurrency changes nothing without background mode: the same seed suggests the same points."""
    plain, limited = CoflexSearch(SPACE, **MO, **SMALL), CoflexSearch(SPACE, **MO, **SMALL)
    assert not plain.background and plain._runner is None
    limited.set_max_concurrency(8)
    seqs = []
    for s in (plain, limited):
        seq = []
        for t in range(6):
            seq.append(s.suggest(str(t)))
            s.on_trial_complete(str(t), result(seq[-1]))
        seqs.append(seq)
    assert seqs[0] == seqs[1] and limited.core.batch_size == 4


def test_an_exhausted_space_finishes_the_search():
    tiny = Space("tiny", (Dim("a", (1, 2, 3), "ordinal"), Dim("b", ("x", "y"), "categorical")))
    s = NSGA2Search(tiny, **MO, pop_size=2, seed=0, background=True)
    seen = []
    for t in range(50):
        cfg = until(lambda: s.suggest(str(t)))
        if cfg == Searcher.FINISHED:
            break
        seen.append((cfg["a"], cfg["b"]))
        s.on_trial_complete(str(t), {"f1": cfg["a"], "f2": -cfg["a"]})
    assert sorted(seen) == sorted((a, b) for a in (1, 2, 3) for b in ("x", "y"))


def test_the_next_batch_starts_while_the_last_is_handed_out(gate, one_torch_thread):
    """Fewer than half a batch ready and a new result: the next fit starts, the ready point pending for it."""
    s = make()
    for t in range(4):
        s.on_trial_complete(f"i{t}", result(until(lambda: s.suggest(f"i{t}"))))
    m = [until(lambda: s.suggest("m0")), s.suggest("m1")]  # the first model batch: 2 of 4 handed out
    assert s._runner.wait(10) and len(s._runner.ready) == 2
    assert s.suggest("m2") is not None and not s._runner.busy  # no result since that fit started
    s.on_trial_complete("m0", result(m[0]))
    gate.close()
    gate.entered.clear()
    (cfg, took) = timed(lambda: s.suggest("m3"))
    assert cfg is not None and took < FAST  # the last ready point, at once
    assert gate.entered.wait(5) and s._runner.busy  # and the next fit is running
    gate.open()
    assert s._runner.wait(10) and len(s._runner.ready) == 4
    new = {tuple(sorted(s._config(x).items())) for x, _ in s._runner.ready}
    assert tuple(sorted(cfg.items())) not in new  # the pending point is not proposed again
