"""``python -m benchmarks constrained``: problems with exact optima, runs, metrics and resume (small
budgets, no Ray)."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import constrained as C
from coflex_ray.analysis import meets_constraints


def test_nb201_problem_optimum_is_the_best_cell_within_the_latency_bound():
    from coflex_ray.evaluators.device import latency_table
    from coflex_ray.evaluators.nb201 import nb201_table

    p = C.problems()["nb201-pixel3-p10"]()
    lat, acc = latency_table()["pixel3"].to_numpy(), nb201_table()["cifar10"].to_numpy()
    bound = p.constraints["latency_ms"][1]
    assert bound == pytest.approx(np.percentile(lat, 10))
    assert p.optimum == acc[lat <= bound].max() < acc.max()  # the bound binds
    r = p.evaluate({f"edge_{i}_{j}": "nor_conv_3x3" for i in (1, 2, 3) for j in range(i)})
    assert r["latency_ms"] > bound and meets_constraints(pd.DataFrame([r]), p.constraints).tolist() == [False]


def test_metrics_of_a_hand_made_run():
    run = {"budget": 5, "n_init": 2, "optimum": 90.0, "searcher_s": 1.0,
           "accuracy": [95.0, 80.0, 85.0, 90.0, 70.0], "meets": [False, True, True, True, False]}
    assert C.regret_curve(run).tolist() == [np.inf, 10.0, 5.0, 0.0, 0.0]
    m = C.run_metrics(run)
    assert m["evals_to_optimum"] == 4 and m["violating_share"] == pytest.approx(1 / 3)
    assert "regret@10" not in m  # beyond the budget


def test_runs_are_appended_and_a_repeated_command_resumes(tmp_path, capsys):
    args = ["--problems", "nb201-raspi4-p30", "--searchers", "random", "coflex", "--seeds", "0", "--budget", "12",
            "--n-init", "5", "--out", str(tmp_path)]
    C.main(args)
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    runs = [json.loads(line) for line in lines]
    assert sorted(r["searcher"] for r in runs) == ["coflex", "random"]
    assert all(len(r["accuracy"]) == len(r["meets"]) == 12 for r in runs)
    out = capsys.readouterr().out
    assert "2 runs to do" in out and "nb201-raspi4-p30" in (tmp_path / "summary.txt").read_text()
    C.main(args)
    assert (tmp_path / "runs.jsonl").read_text().splitlines() == lines
    assert "0 runs to do (2 already" in capsys.readouterr().out


def test_bad_flags_name_the_value_and_what_is_allowed(capsys):
    with pytest.raises(SystemExit):
        C.parse_args(["--searchers", "hyperopt"])
    assert "--searchers 'hyperopt' is not allowed; allowed: coflex" in capsys.readouterr().err
