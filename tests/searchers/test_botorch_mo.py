"""The BoTorch baselines' core (qNEHVI, qEHVI, qNParEGO) on its own, without Tune."""

from __future__ import annotations

import numpy as np
import pytest

from coflex_ray.searchers.candidates import to_index

from .helpers import MIXED_SPACE as SPACE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_botorch_baselines_avoid_a_region_where_trials_failed():
    """qNParEGO's and qNEHVI's acquisitions are weighted by the feasibility classifier once trials have
    failed: on a toy whose first objective improves towards a region where every trial failed, their
    batches mostly stay out of it, and without the weight they go there (so the test can fail)."""
    from coflex_ray.searchers.botorch_mo import BoTorchCore
    from coflex_ray.spaces import Dim, Space, integer_dim

    space = Space("toy", (Dim("c", (8, 16, 32), "ordinal"), integer_dim("X", 1, 40)))

    def failed_picks(acquisition: str, weighted: bool) -> int:
        core = BoTorchCore(space, n_obj=2, seed=0, acquisition=acquisition, n_init=16, batch_size=4,
                           n_candidates=64, mc_samples=16, raw_samples=32, num_restarts=2)
        if not weighted:
            core.feasibility = lambda X: None
        for x in core.ask(16):
            xv = int(space.decode(x)["X"])
            core.tell(x, None if xv > 20 else np.array([1 - xv / 40, x[0] + xv / 80]))
        picks = [int(space.decode(x)["X"]) for x in core.ask(4)]
        assert core.n_fallbacks == 0  # the acquisition chose, not the random fallback
        return sum(v > 20 for v in picks)

    weighted = sum(failed_picks(a, True) for a in ("qnparego", "qnehvi"))
    plain = sum(failed_picks(a, False) for a in ("qnparego", "qnehvi"))
    assert weighted <= 1 < 3 <= plain  # measured: 1 of 8 weighted, 5 of 8 without


def _objectives(x: np.ndarray) -> np.ndarray:
    return np.array([x[0] + 0.1 * x[2], 1 - x[0] + (x[1] - 0.5) ** 2])


def _after_initial_design(acquisition: str, seed: int = 0, failed: tuple[int, ...] = ()):
    """A small core whose 6-point initial design is told (``failed``: which of them failed)."""
    from coflex_ray.searchers.botorch_mo import BoTorchCore

    core = BoTorchCore(SPACE, n_obj=2, seed=seed, acquisition=acquisition, n_init=6, batch_size=3, n_candidates=64,
                       mc_samples=16, raw_samples=32, num_restarts=2)
    for k, x in enumerate(core.ask(6)):
        core.tell(x, None if k in failed else _objectives(x))
    return core


@pytest.mark.parametrize("acquisition", ["qnehvi", "qehvi", "qnparego"])
def test_a_model_batch_is_legal_untried_distinct_and_of_the_batch_size(acquisition):
    core = _after_initial_design(acquisition, failed=(0,))  # a failure: the feasibility weight is on
    batch = np.array(core.ask(3))
    assert batch.shape == (3, 3) and core.n_fallbacks == 0 and core.n_batches == 2  # the model chose
    assert np.allclose(SPACE.snap(batch), batch) and len(np.unique(batch, axis=0)) == 3
    assert not set(core.results) & {to_index(SPACE, x) for x in batch}
    assert len(core.failed) == 1 and len(core.X) == 5


def test_botorch_core_is_deterministic_per_seed():
    def batch(seed: int) -> list[list[float]]:
        return [x.tolist() for x in _after_initial_design("qnehvi", seed).ask(3)]

    assert batch(0) == batch(0) != batch(1)


def test_unknown_acquisition_is_refused_and_nothing_is_weighted_before_a_failure():
    from coflex_ray.searchers.botorch_mo import BoTorchCore, feasibility_weighted

    with pytest.raises(ValueError, match="unknown acquisition 'qucb'"):
        BoTorchCore(SPACE, n_obj=2, acquisition="qucb")
    acq = object()
    assert feasibility_weighted(acq, None) is acq
    core = _after_initial_design("qnparego")
    assert core.feasibility(core.observed()[0]) is None
