"""The yardstick: reference fronts, HV fraction, IGD+ to the reference, evaluations to a share of the
reference HV, rank tests; every expected value below is computed by hand."""

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coflex_ray.analysis import (check_constraints_met, constrained_view, meets_constraints, per_run_table, rank_tests,
                                 reference_metrics, summary_table)
from coflex_ray.reference_fronts import (ReferenceFront, front_name, nb201_device_front, output_connected, read_front,
                                         write_best_known)


def _run(points: list[tuple[float, float]], searcher: str = "s", seed: int = 0, feasible=None) -> pd.DataFrame:
    """A result table whose (err, log10 latency_ms) are ``points``, in completion order."""
    err, lg = zip(*points)
    return pd.DataFrame({"err": err, "latency_ms": 10.0 ** np.array(lg), "searcher": searcher, "seed": seed,
                         "feasible": feasible if feasible is not None else [True] * len(points),
                         "completed_at": np.arange(len(points), dtype=float)})


# a front from (0, 1) to (1, 0) through (0.5, 0.5): ideal (0, 0), nadir (1, 1), so normalisation is the identity
FRONT = ReferenceFront(np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [0.8, 0.9]]), "latency_ms", "exact", "hand")


def test_reference_front_keeps_only_nondominated_points_and_its_ideal_nadir():
    assert FRONT.points.tolist() == [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]  # (0.8, 0.9) is dominated
    assert FRONT.bounds == {"err": [0.0, 1.0], "log10_latency_ms": [0.0, 1.0]}
    # HV w.r.t. (1.1, 1.1): union of boxes [0,1.1]x[1,1.1], [0.5,1.1]x[0.5,1.1], [1,1.1]x[0,1.1]
    # = 1.1*0.1 + 0.6*0.5 + 0.1*0.5 = 0.11 + 0.30 + 0.05 = 0.46
    assert FRONT.hv == pytest.approx(0.46)


def test_hv_fraction_igd_plus_and_evaluations_to_reference_share():
    # one run: (1, 1) adds 0.01; then (0.5, 0.5) -> 0.36; then the two ends -> 0.46 (all of the front)
    run = _run([(1.0, 1.0), (0.5, 0.5), (2.0, 2.0), (0.0, 1.0), (1.0, 0.0)])
    m = reference_metrics(run, FRONT)
    assert m["hv_frac"] == pytest.approx(1.0)
    assert m["igd_plus_ref"] == pytest.approx(0.0)
    # 90 % of 0.46 = 0.414: after evaluation 4 HV = 0.36 + 0.05 (box of (0,1) beyond (0.5,0.5)) = 0.41 < 0.414,
    # after evaluation 5 it is 0.46
    assert m["evals_to_90pct_ref_hv"] == 5 and m["evals_to_95pct_ref_hv"] == 5
    # a run with only the middle point: HV 0.36 -> fraction 0.36/0.46; IGD+ = mean over the 3 front
    # points of the distance "above" (0.5, 0.5): (0,1): (0.5, 0) -> 0.5; (0.5,0.5): 0; (1,0): (0, 0.5) -> 0.5
    m = reference_metrics(_run([(0.5, 0.5)]), FRONT)
    assert m["hv_frac"] == pytest.approx(0.36 / 0.46)
    assert m["igd_plus_ref"] == pytest.approx(1.0 / 3)
    assert math.isnan(m["evals_to_90pct_ref_hv"])  # never reached


def test_infeasible_rows_count_as_evaluations_but_add_nothing():
    run = _run([(0.5, 0.5), (0.0, 0.0), (0.0, 1.0)], feasible=[True, False, True])
    m = reference_metrics(run, FRONT)
    assert m["hv_frac"] == pytest.approx(0.41 / 0.46)  # (0, 0) was infeasible: not counted


def test_outcome_constraints_keep_violating_rows_off_the_front_and_best_values():
    # (0.5, 0.5) is the best point but its latency 10**0.5 = 3.16 ms breaks latency_ms <= 3
    run = _run([(1.0, 1.0), (0.5, 0.5), (1.0, 0.0)], feasible=[True, True, False])
    cons = {"latency_ms": ("<=", 3.0)}
    assert meets_constraints(run, cons).tolist() == [False, False, False]  # 10 ms, 3.16 ms, infeasible
    assert meets_constraints(run, {"err": (">=", 0.7)}).tolist() == [True, False, False]
    assert meets_constraints(run, None).tolist() == [True, True, False]
    view = constrained_view(run, {"err": (">=", 0.7)})
    assert view["feasible"].tolist() == [True, False, False] and run["feasible"].tolist() == [True, True, False]
    assert constrained_view(run, None) is run
    m_all = per_run_table(run, FRONT.bounds).iloc[0]
    m_con = per_run_table(view, FRONT.bounds).iloc[0]
    assert m_all["best_err"] == 0.5 and m_con["best_err"] == 1.0
    assert m_con["hv"] == pytest.approx(0.01) and m_all["hv"] == pytest.approx(0.36)  # only (1, 1): 0.1^2
    with pytest.raises(ValueError, match="constraint on 'energy': no such column"):
        meets_constraints(run, {"energy": ("<=", 1.0)})


def test_a_constraint_no_probe_point_meets_is_named_with_the_probe_range():
    probe = _run([(1.0, 1.0), (0.5, 0.5), (0.2, 0.0)], feasible=[True, True, False])
    check_constraints_met(probe, {"latency_ms": ("<=", 3.2)})  # 3.16 ms meets it
    with pytest.raises(ValueError, match=r"--constraint latency_ms<=3: none of the 3 probe configurations meets it "
                                         r"\(latency_ms from 3.162 to 10 over the 2 feasible ones\)"):
        check_constraints_met(probe, {"latency_ms": ("<=", 3.0)})  # the 1 ms row is infeasible


def test_rank_tests_compare_one_searcher_with_every_other():
    rows = [{"searcher": "coflex", "seed": k, "hv_frac": 0.9 + 0.001 * k, "igd_plus_ref": 0.01} for k in range(10)]
    rows += [{"searcher": "random", "seed": k, "hv_frac": 0.5 + 0.001 * k, "igd_plus_ref": 0.2} for k in range(10)]
    rows += [{"searcher": "tie", "seed": k, "hv_frac": 0.9 + 0.001 * k, "igd_plus_ref": 0.01} for k in range(10)]
    t = rank_tests(pd.DataFrame(rows)).set_index(["other", "metric"])
    # complete separation, 10 vs 10: one-sided exact p = 1 / C(20, 10) = 1/184756
    assert t.loc[("random", "hv_frac"), "p_mannwhitney"] == pytest.approx(1 / 184756, rel=1e-3)
    assert t.loc[("random", "hv_frac"), "difference"] == pytest.approx(0.4)
    assert t.loc[("random", "igd_plus_ref"), "p_mannwhitney"] < 1e-3
    assert t.loc[("tie", "hv_frac"), "p_mannwhitney"] > 0.4  # identical samples: no evidence


def test_per_run_and_summary_tables_carry_the_reference_columns():
    results = pd.concat([_run([(0.5, 0.5), (0.0, 1.0)], "a", 0), _run([(0.5, 0.5)], "a", 1),
                         _run([(1.0, 0.0)], "b", 0)])
    results["run_wall_s"], results["suggest_s"] = 1.0, 0.0
    bounds = {"err": [0.0, 1.0], "log10_latency_ms": [0.0, 1.0]}
    per_run = per_run_table(results, bounds, FRONT)
    assert per_run.set_index(["searcher", "seed"])["hv_frac"].round(4).to_dict() == {
        ("a", 0): round(0.41 / 0.46, 4), ("a", 1): round(0.36 / 0.46, 4), ("b", 0): round(0.11 / 0.46, 4)}
    summary = summary_table(per_run)
    assert list(summary.index) == ["a", "b"]  # sorted by the median HV fraction
    assert summary.loc["a", "hv_frac_median"] == pytest.approx((0.41 + 0.36) / 2 / 0.46)


def test_nb201_device_front_is_exact_and_leaves_out_cells_that_compute_nothing():
    from coflex_ray.evaluators.device import latency_table
    from coflex_ray.evaluators.nb201 import nb201_table

    assert output_connected("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # 0 -> 3 by a skip
    assert not output_connected("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert output_connected("|none~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    front = nb201_device_front("cifar10", "pixel3")
    table, lat = nb201_table(), latency_table()["pixel3"]
    live = np.array([output_connected(a) for a in table["arch_str"]])
    Y = np.column_stack([100 - table["cifar10"].to_numpy(), np.log10(lat.to_numpy())])[live]
    # no connected cell dominates a front point, and every front point is a real cell
    for p in front.points:
        assert not np.any(np.all(Y <= p, axis=1) & np.any(Y < p, axis=1))
        assert np.any(np.all(np.isclose(Y, p), axis=1))
    assert front.kind == "exact" and front.bounds["err"][0] == pytest.approx(100 - 94.373333, abs=1e-4)


def test_best_known_front_round_trips_and_only_improves(tmp_path):
    path = tmp_path / "front.json"
    first = write_best_known(_run([(0.5, 0.5), (0.9, 0.9)]), "latency_ms", path, "hand run 1")
    assert first.points.tolist() == [[0.5, 0.5]]
    second = write_best_known(_run([(0.0, 1.0)]), "latency_ms", path, "hand run 2", previous=read_front(path))
    assert read_front(path).points.tolist() == second.points.tolist() == [[0.0, 1.0], [0.5, 0.5]]
    path.write_text("{broken")
    with pytest.raises(ValueError, match="cannot read a reference front"):
        read_front(path)


def test_anytime_table_on_a_hand_computed_run():
    """``python -m benchmarks anytime``: HV at wall-clock and evaluation checkpoints.

    Bounds err [0, 10], log10 edp [0, 1] (edp 1..10), reference 1.1.  Run: t=1 s (err 5, edp 10**0.5)
    -> normalised (0.5, 0.5), HV 0.36; t=3 s an infeasible trial; t=4 s (0, 10**1) -> (0, 1.0),
    HV 0.36 + 0.5 * 0.1 = 0.41.  Scaled by 0.5 (a reference front's HV)."""
    from benchmarks.anytime import at_times, run_curves, table

    bounds = {"err": [0.0, 10.0], "log10_edp": [0.0, 1.0]}
    run = pd.DataFrame({"err": [5.0, 1.0, 0.0], "edp": [10 ** 0.5, float("inf"), 10.0],
                        "feasible": [True, False, True], "completed_at": [1.0, 3.0, 4.0],
                        "searcher": "coflex", "seed": 0})
    t = table(run_curves(run, bounds, 0.5), seconds=(0.5, 2.0, 4.0, 100.0), evals=(1, 3, 5), limit=60.0)
    row = t.iloc[0]
    assert np.isnan(row["t0.5s"]) and row["t2.0s"] == pytest.approx(0.72) and row["t4.0s"] == pytest.approx(0.82)
    assert np.isnan(row["t100.0s"])  # beyond the 60 s limit per run: no claim
    assert row["n1"] == pytest.approx(0.72) and row["n3"] == pytest.approx(0.82) and np.isnan(row["n5"])
    assert row["evaluations"] == 3 and row["run_s"] == 4.0
    # without a limit a run that reached its budget keeps its final value
    assert at_times(np.array([0.1, 0.2]), np.array([1.0, 2.0]), (5.0,), None) == [0.2]


@pytest.mark.parametrize("benchmark, dataset, source", [("sss", "ImageNet16-120", "sss-surrogate"),
                                                        ("nb201", "cifar10", None)])
def test_shipped_best_known_fronts_load_with_their_provenance(benchmark, dataset, source):
    """Every shipped best-known front is found by its study's key, is non-dominated as stored, and
    names the commands and the number of evaluations that made it."""
    import json

    from coflex_ray.reference_fronts import reference_front_for

    front = reference_front_for(benchmark, dataset, "zigzag-fixed", accuracy_source=source)
    assert front is not None and front.kind == "best-known" and front.hw == "edp"
    meta = front.meta
    assert meta["benchmark"] == benchmark and meta["dataset"] == dataset and meta["evaluations"] > len(front.points)
    assert meta["commands"] and all(c.startswith(f"python experiments/{benchmark}.py") for c in meta["commands"])
    stored = json.loads((Path(str(resources.files("coflex_ray"))) / "data" / "fronts" /
                         f"{front_name(benchmark, dataset, 'zigzag-fixed', meta['accuracy_source'])}.json").read_text())
    assert len(stored["points"]) == len(front.points)  # nothing dominated was shipped
    assert 0.0 < front.hv


def _study(folder, rows, bounds=((5.0, 20.0), (-0.3, 2.0)), budget=100, front="best-known front X"):
    import json

    folder.mkdir()
    pd.DataFrame([{"searcher": s, "seed": seed, "hv": 0.5, "igd": 0.1, "igd_plus": 0.1, "best_err": 6.0,
                   "best_edp": 1.0, "evals_to_95pct_hv": 50, "wall_s": 10.0, "suggest_s": 5.0, "n_trials": 100,
                   "n_infeasible": 3, "hv_frac": hv, "igd_plus_ref": igd, "evals_to_90pct_ref_hv": 60.0,
                   "evals_to_95pct_ref_hv": 80.0} for s, seed, hv, igd in rows]).to_csv(folder / "per_run.csv",
                                                                                       index=False)
    (folder / "run_info.json").write_text(json.dumps({"benchmark": "nb201", "accuracy_source": "nb201-table",
                                                      "reference_front": front,
                                                      "args": {"budget": budget, "concurrency": 2}}))
    (folder / "bounds.json").write_text(json.dumps({"bounds": {"err": list(bounds[0]), "log10_edp": list(bounds[1])}}))
    return folder


def test_merge_studies_joins_runs_and_refuses_incomparable_ones(tmp_path, capsys):
    from benchmarks.merge_studies import main, merge

    a = _study(tmp_path / "a", [("coflex", s, 0.9 + 0.001 * s, 0.04) for s in range(10)]
               + [("random", s, 0.6, 0.15) for s in range(10)])
    b = _study(tmp_path / "b", [("qnehvi", s, 0.8, 0.07) for s in range(10)])
    joint = merge([a, b])
    assert sorted(joint.searcher.unique()) == ["coflex", "qnehvi", "random"] and len(joint) == 30
    assert joint["igd"].isna().all() and joint["igd_plus"].isna().all()  # study-relative: not comparable
    assert (joint["hv_frac"] > 0).all()
    main([str(a), str(b), "--out", str(tmp_path / "out")])
    tests = pd.read_csv(tmp_path / "out" / "rank_tests.csv")
    assert set(tests.other) == {"random", "qnehvi"} and (tests.p_mannwhitney < 0.001).all()
    assert "qnehvi 970 / 1000" in capsys.readouterr().out
    with pytest.raises(ValueError, match="budget"):
        merge([a, _study(tmp_path / "c", [("qnehvi", 0, 0.8, 0.07)], budget=30)])
    with pytest.raises(ValueError, match="bounds"):
        merge([a, _study(tmp_path / "d", [("qnehvi", 0, 0.8, 0.07)], bounds=((5.0, 21.0), (-0.3, 2.0)))])
    with pytest.raises(ValueError, match="reference_front"):
        merge([a, _study(tmp_path / "e", [("qnehvi", 0, 0.8, 0.07)], front="another front")])
    with pytest.raises(ValueError, match="'random' seed 3 is in more than one study"):
        merge([a, _study(tmp_path / "f", [("random", 3, 0.6, 0.15)])])
    with pytest.raises(ValueError, match="not a finished study"):
        merge([a, tmp_path / "nothing"])
