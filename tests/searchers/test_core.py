"""What every core shares (no Tune): no Ray imports, the initial design then model batches, the
queue, waiting, the additive kernel part of model-based cores."""

from __future__ import annotations

import numpy as np
import pytest

from coflex_ray.searchers.coflex import CoflexCore

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
