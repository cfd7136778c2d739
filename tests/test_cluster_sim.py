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
                                          (["--searchers", "bogus"], "'bogus'"),
                                          (["--values", "sss"], "'sss'")])
def test_bad_flags_name_the_value(flags, named, capsys, tmp_path):
    with pytest.raises(SystemExit) as err:
        cluster_sim.main(flags + ["--out", str(tmp_path / "runs.jsonl")])
    assert err.value.code == 2
    text = capsys.readouterr()
    assert named in text.err and "machine" not in text.out and not (tmp_path / "runs.jsonl").exists()


def test_codesign_values_are_the_ground_truth_and_its_exact_front(tmp_path):
    from coflex_ray.codesign.groundtruth import accelerator_name, build_ground_truth
    from coflex_ray.searchers.pareto import nondominated
    from coflex_ray.spaces import nb201_arch_str

    values = cluster_sim.nb201_zz_values(2, cache_dir=tmp_path)  # every cell on 2 sampled accelerators
    gt = build_ground_truth(2, cache_dir=tmp_path)
    names = [accelerator_name(a) for a in gt.accelerators]
    assert values.hw == "edp" and set(values.param_space["accelerator"].categories) == set(names)
    edp = gt.energy * 1e-6 * gt.latency / 1e6  # uJ x ms at 1 GHz
    rng = np.random.default_rng(0)
    for _ in range(20):
        cfg = {k: str(rng.choice(d.categories)) for k, d in values.param_space.items()}
        j, k = gt.archs.index(nb201_arch_str(cfg)), names.index(cfg["accelerator"])
        assert values.evaluate(cfg) == pytest.approx({"err": 100.0 - gt.accuracy[j], "edp": edp[k, j]})
    Y = np.column_stack([np.tile(100.0 - gt.accuracy, 2), np.log10(edp).ravel()])
    brute = np.unique(Y[nondominated(Y)], axis=0)  # the front of every pair, found the slow way
    assert np.allclose(np.unique(values.front.points, axis=0), brute)


def test_a_codesign_run_reports_its_own_objective(tmp_path):
    from coflex_ray.codesign.groundtruth import build_ground_truth

    values = cluster_sim.nb201_zz_values(2, cache_dir=tmp_path)
    run = cluster_sim.simulate("random", 4, 0, 4, cluster_sim.eval_times("sleep:0.5"), 0.1, np.inf, trials=8,
                               values=values)
    gt = build_ground_truth(2, cache_dir=tmp_path)
    pairs = np.column_stack([np.tile(100.0 - gt.accuracy, 2), np.log10(gt.energy * gt.latency * 1e-12).ravel()])
    assert len(run.Y) == 8  # each (err, log10 edp) is one of the 2 x 15,625 pairs, edp in uJ x ms
    assert all(np.isclose(pairs, y).all(axis=1).any() for y in run.Y)
    old = {"searcher": "coflex", "workers": 8, "seed": 0, "tier": "zigzag-fixed", "overhead_s": 0.16, "n_init": 10,
           "minutes": [1.0]}  # a row written before --values existed is an nb201-pixel3 row
    assert cluster_sim._key(old) == cluster_sim._key({**old, "values": "nb201-pixel3"}) != \
        cluster_sim._key({**old, "values": "nb201-zz"})
