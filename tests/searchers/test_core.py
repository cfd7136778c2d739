"""What every core shares (no Tune): no Ray imports, the initial design then model batches, the
queue, waiting, the additive kernel part of model-based cores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coflex_ray.searchers.candidates import to_cube, to_index
from coflex_ray.searchers.coflex import CoflexCore
from coflex_ray.searchers.core import Core
from coflex_ray.spaces import Dim, Space

from .helpers import CUBE_SPACE as SPACE
from .helpers import cube_zdt1 as f


def test_cores_import_without_ray():
    import subprocess
    import sys

    code = ("import sys; import coflex_ray.searchers.coflex, coflex_ray.searchers.botorch_mo, "
            "coflex_ray.searchers.nsga2; print(sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_coflex_core_initial_design_then_a_model_batch():
    core = CoflexCore(SPACE, n_obj=2, seed=1, n_init=5, batch_size=3, n_candidates=64, num_inducing=8)
    init = core.ask(5)
    assert len(init) == 5 and core.ask(1) == []  # no model until the initial design is told
    for x in init[:-1]:
        core.tell(x, f(x))
    core.tell(init[-1], failed=True)
    batch = core.ask(2, pending=[])
    assert len(batch) == 2 and core.n_batches == 2 and core.n_fallbacks == 0
    told = {tuple(x) for x in init}
    assert not told & {tuple(x) for x in batch} and len({tuple(x) for x in batch}) == 2
    assert len(core.queue) == 1  # the third proposal of the batch waits for the next ask
    with pytest.raises(ValueError, match="2 finite objective values"):
        core.tell(batch[0], [np.nan, 1.0])


def test_coflex_core_uses_the_additive_kernel_part_up_to_its_limit(monkeypatch):
    """Objective and feasibility models get the additive part while n <= ADDITIVE_MAX_N, never beyond,
    and never with additive=False."""
    from coflex_ray.searchers import coflex, models

    seen: list[tuple[int, bool]] = []
    real = models.fit_sparse_gp

    def spy(X, y, *args, **kwargs):
        seen.append((len(X), kwargs.get("additive", False)))
        return real(X, y, *args, **kwargs)

    monkeypatch.setattr(coflex, "fit_sparse_gp", spy)
    monkeypatch.setattr(models, "fit_sparse_gp", spy)  # the feasibility classifier's fit
    monkeypatch.setattr(models, "ADDITIVE_MAX_N", 6)
    core = CoflexCore(SPACE, n_obj=2, seed=0, n_init=5, batch_size=2, n_candidates=64, num_inducing=8)
    assert core.additive and core.additive_for(6) and not core.additive_for(7)
    init = core.ask(5)
    for x in init[:-1]:
        core.tell(x, f(x))
    core.tell(init[-1], failed=True)  # 4 good + 1 failed: the feasibility model is fitted too
    while len(core.results) < 9:
        for x in core.ask(2):
            core.tell(x, f(x))
    assert seen and all(add == (n <= 6) for n, add in seen)
    assert {add for _, add in seen} == {True, False}
    assert not CoflexCore(SPACE, n_obj=2, additive=False).additive_for(3)


def test_coflex_core_leaves_the_additive_part_out_on_a_two_input_space():
    from coflex_ray.searchers.models import ADDITIVE_MIN_D

    two = Space("two", SPACE.dims[:2])
    assert ADDITIVE_MIN_D == 3 and SPACE.ndim >= ADDITIVE_MIN_D
    assert CoflexCore(SPACE, n_obj=2).additive_for(3)
    assert not CoflexCore(two, n_obj=2).additive_for(3)


class _InOrder(Core):
    """A core that proposes the untaken legal points in index order, two at a time."""

    def next_batch(self, running):
        return [i for i in itertools.product(*(range(d.n) for d in self.space.dims)) if i not in self.taken][:2]


def test_a_core_never_repeats_a_point_and_says_when_every_point_is_taken():
    tiny = Space("tiny", (Dim("a", (1, 2)), Dim("b", ("x", "y", "z"), "categorical")))
    core = _InOrder(tiny, n_obj=1)
    core.tell(to_cube(tiny, (0, 0)), [1.0])  # a warm start: told, never asked
    asked = core.ask(3)
    assert [to_index(tiny, x) for x in asked] == [(0, 1), (0, 2), (1, 0)]
    assert core.outstanding == [(0, 1), (0, 2), (1, 0)]
    core.tell(asked[0], failed=True)
    assert core.failed == [(0, 1)] and core.results[(0, 1)] is None and (0, 1) not in core.outstanding
    rest = core.ask(5)
    assert [to_index(tiny, x) for x in rest] == [(1, 1), (1, 2)] and core.exhausted and core.ask(1) == []
    with pytest.raises(ValueError, match="1 finite objective values"):
        core.tell(rest[0], [1.0, 2.0])


def test_a_core_needs_a_space_and_an_objective():
    with pytest.raises(ValueError, match="must be a coflex_ray.spaces.Space"):
        _InOrder({"a": [1, 2]}, n_obj=1)
    with pytest.raises(ValueError, match="n_obj=0 must be at least 1"):
        _InOrder(SPACE, n_obj=0)
