"""The failure policy: which results count as failed and why, the penalty vector, fidelity rungs."""

from __future__ import annotations

import numpy as np
import pytest

from coflex_ray.searchers.failures import failure_reason, fidelity_below_top, penalty
from coflex_ray.searchers.normalise import Objectives

OBJ = Objectives(("err", "edp"), ("min", "min"), log_metrics=("edp",))


def test_good_results_have_no_reason():
    for good in ({"err": 0.1, "edp": 2.0}, {"err": np.float32(0.1), "edp": np.int64(3), "feasible": True},
                 {"err": 0, "edp": 1e-9, "feasible": 1, "note": None}):
        assert failure_reason(good, False, OBJ) == ""


@pytest.mark.parametrize("result, error, reason", [
    ({"err": 0.1, "edp": 2.0}, True, "trial error"),
    (None, False, "no result"),
    ({}, False, "no result"),
    ({"err": 0.1, "edp": 2.0, "feasible": False, "error": "array too large"}, False, "infeasible: array too large"),
    ({"err": 0.1, "edp": 2.0, "feasible": 0}, False, "infeasible: "),
    ({"edp": 2.0}, False, "metric 'err' missing or non-finite: None"),
    ({"err": float("nan"), "edp": 2.0}, False, "metric 'err' missing or non-finite: nan"),
    ({"err": 0.1, "edp": float("-inf")}, False, "metric 'edp' missing or non-finite: -inf"),
    ({"err": True, "edp": 2.0}, False, "metric 'err' missing or non-finite: True"),
    ({"err": "0.1", "edp": 2.0}, False, "metric 'err' missing or non-finite: '0.1'"),
    ({"err": 0.1, "edp": 0.0}, False, "metric 'edp'=0.0 is not positive (modelled in log space)"),
    ({"err": -0.1, "edp": -2}, False, "metric 'edp'=-2 is not positive (modelled in log space)"),
])
def test_failure_reasons(result, error, reason):
    assert failure_reason(result, error, OBJ) == reason


def test_the_infeasible_flag_is_read_under_its_key_only():
    r = {"err": 0.1, "edp": 2.0, "ok": False, "error": "x" * 500}
    assert failure_reason(r, False, OBJ, infeasible_key="ok") == "infeasible: " + "x" * 200  # message cut at 200
    assert failure_reason(r, False, OBJ) == ""  # no "feasible" column: nothing to check
    assert failure_reason(r, False, OBJ, infeasible_key=None) == ""


def test_penalty_is_dominated_by_every_good_point():
    good = np.array([[1.0, 5.0], [3.0, 2.0]])
    assert penalty(good, 2).tolist() == [3.0 + 2.0 + 1.0, 5.0 + 3.0 + 1.0]  # worst + range + 1
    assert penalty(np.zeros((0, 3)), 3).tolist() == [1e6] * 3
    Y = np.random.default_rng(0).normal(size=(50, 3))
    assert np.all(penalty(Y, 3) > Y.max(axis=0))


def test_fidelity_below_top():
    for final in (None, {}, {"err": 0.1}, {"fidelity_level": 2}, {"fidelity_level": 3, "fidelity_max_level": 3},
                  {"fidelity_level": None, "fidelity_max_level": 3}):
        assert fidelity_below_top(final) is None
    assert fidelity_below_top({"fidelity_level": 1, "fidelity_max_level": 3}) == 1
    assert fidelity_below_top({"fidelity_level": "2", "fidelity_max_level": "3"}) == 2
