"""``python -m benchmarks cluster-sim``: the virtual background runner, the Tune loop on a virtual clock, flags."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import cluster_sim
from coflex_ray.searchers.background import BackgroundAsker
from coflex_ray.searchers.candidates import to_cube
from coflex_ray.searchers.coflex import CoflexCore
from coflex_ray.spaces import NB201_SPACE


def test_virtual_asker_releases_a_batch_at_its_start_plus_its_real_duration():
    clock = [100.0]
    asker = cluster_sim.VirtualAsker(BackgroundAsker(CoflexCore(NB201_SPACE, 2, seed=0, n_init=4)), lambda: clock[0])
    asker.max_concurrency = 3
    assert asker.start([])
    assert asker.take() is None and asker.busy  # the job ran, its points are not out yet
    assert asker.release_at == pytest.approx(100.0 + asker.job_s)
    x = to_cube(NB201_SPACE, 0)
    asker.tell(x, np.array([1.0, 2.0]))  # a result during the job waits for the next one
    assert len(asker.inbox) == 1
    clock[0] = asker.release_at
    assert asker.take() is not None and not asker.busy
    assert asker.flush() and not asker.inbox  # told once no job runs


def test_a_short_run_completes_its_trials_and_reports_in_range():
    times = cluster_sim.eval_times("sleep:0.5")
    run = cluster_sim.simulate("random", 4, 0, 4, times, 0.1, np.inf, trials=12)
    assert len(run.ends) == 12 and run.ends == sorted(run.ends)
    assert run.clock >= 3 * 0.6  # three waves of four trials, each 0.1 s overhead + 0.5 s
    from coflex_ray.reference_fronts import nb201_device_front

    r = cluster_sim.report(run, 4, [0.05], nb201_device_front("cifar10", "pixel3"), trials=12)
    assert 0.5 < r["utilisation"] <= 1.0 and 0.0 < r["hv@0.05"] <= 1.0 and r["n@0.05"] == 12


def test_measured_tiers_come_from_the_results_files():
    assert len(cluster_sim.eval_times("zigzag-fixed")) == 30
    assert 0 < cluster_sim.eval_times("cached")[0] < 0.05
    with pytest.raises(ValueError, match="'lomas'.*allowed"):
        cluster_sim.check_tier("lomas")


@pytest.mark.parametrize("flags, named", [(["--workers", "0"], "--workers=[0]"),
                                          (["--tier", "sleep"], "'sleep'"),
                                          (["--searchers", "bogus"], "'bogus'")])
def test_bad_flags_name_the_value(flags, named, capsys, tmp_path):
    with pytest.raises(SystemExit) as err:
        cluster_sim.main(flags + ["--out", str(tmp_path / "runs.jsonl")])
    assert err.value.code == 2
    text = capsys.readouterr()
    assert named in text.err and "machine" not in text.out and not (tmp_path / "runs.jsonl").exists()
