"""Objectives as the cores see them: every metric minimised, log metrics, bounds, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coflex_ray.searchers.normalise import Objectives, as_list, check_bounds, frozen_bounds

# a minimised, a maximised and a log-modelled metric
OBJ = Objectives(("err", "acc", "edp"), ("min", "max", "min"), log_metrics=("edp",))


def test_as_list():
    assert as_list(None) == [] and as_list("err") == ["err"] and as_list(("err", "edp")) == ["err", "edp"]


def test_every_metric_becomes_a_minimised_entry():
    assert OBJ.vector({"err": 0.25, "acc": 0.9, "edp": math.e**2, "other": 7}).tolist() == pytest.approx([0.25, -0.9, 2.0])
    assert OBJ.transform("acc", 0.95) < OBJ.transform("acc", 0.9)  # better is smaller, whatever the mode
    assert OBJ.transform("edp", 10.0) < OBJ.transform("edp", 100.0)
    # the scalarisation wrapper's base-10 logs, on a maximised log metric
    assert Objectives(("thr",), ("max",), ("thr",), log=math.log10).transform("thr", 1000.0) == pytest.approx(-3.0)


def test_bounds_go_to_the_minimised_scale_sorted():
    want = [[0.0, 1.0], [-1.0, -0.5], [0.0, math.log(1e3)]]
    assert OBJ.internal_bounds([[0.0, 1.0], [0.5, 1.0], [1.0, 1e3]]) == pytest.approx(np.array(want))
    by_name = OBJ.internal_bounds({"edp": (1.0, 1e3), "err": (0.0, 1.0), "acc": (0.5, 1.0)})
    assert by_name == pytest.approx(np.array(want))
    assert OBJ.internal_bounds(None) is None


@pytest.mark.parametrize("bounds, match", [
    ({"err": (0, 1), "acc": (0, 1)}, "keys"),
    ({"err": (0, 1), "acc": (0, 1), "edp": (1, 2), "lat": (0, 1)}, "keys"),
    ([[0, 1], [0, 1]], "lo < hi"),
    ([[0, 1], [1, 1], [1, 2]], "lo < hi"),
    ([[0, 1], [0, 1], [2, 1]], "lo < hi"),
], ids=["key-missing", "key-extra", "shape", "lo-equals-hi", "lo-above-hi"])
def test_bad_bounds_are_refused(bounds, match):
    with pytest.raises(ValueError, match=match):
        OBJ.internal_bounds(bounds)


@pytest.mark.parametrize("kwargs, match", [
    (dict(metrics=("a", "b"), modes=("min",)), "one mode per metric"),
    (dict(metrics=(), modes=()), "one mode per metric"),
    (dict(metrics=("a",), modes=("maximize",)), "'maximize' is not allowed"),
    (dict(metrics=("a", "a"), modes=("min", "min")), "must differ"),
    (dict(metrics=("a",), modes=("min",), log_metrics=("b",)), "not among metrics"),
])
def test_bad_objectives_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Objectives(**kwargs)


def test_check_bounds_shape_and_order():
    assert check_bounds(None, 2) is None
    b = check_bounds([[0, 1], [2, 3]], 2)
    assert b.dtype == float and b.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    for bad in ([[0, 1], [2, 3]], [[0, 1], [3, 3], [0, 1]]):
        with pytest.raises(ValueError, match="per objective \\(3\\) with lo < hi"):
            check_bounds(bad, 3)


def test_frozen_bounds_are_given_or_the_datas_range():
    given = np.array([[0.0, 1.0], [0.0, 2.0]])
    assert frozen_bounds(given, np.zeros((3, 2))) is given
    Y = np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]])
    assert frozen_bounds(None, Y).tolist() == [[1.0, 3.0], [5.0, 6.0]]  # a constant objective gets width 1
