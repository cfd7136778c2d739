"""The package's public names, and CoflexSearch's options taken once (CoflexOptions)."""

from __future__ import annotations

import pytest

import coflex_ray
from coflex_ray import CoflexOptions, CoflexSearch


def test_public_api_is_the_tune_side_and_every_name_resolves():
    assert set(coflex_ray.__all__) == {
        "CoflexSearch", "BoTorchMOSearch", "NSGA2Search", "CoflexOptions", "ScalarizedSearch",
        "FiniteObjectivesSearch", "MOASHAScheduler", "ScalarizedASHAScheduler", "pareto_results", "Space", "Dim",
        "get_space", "joint"}
    for name in coflex_ray.__all__:
        assert getattr(coflex_ray, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nb201_best'"):
        coflex_ray.nb201_best  # noqa: B018 - table lookups live in coflex_ray.evaluators


def test_options_object_and_keywords_are_one_set_of_options():
    base = CoflexOptions(beta=1.0, n_init=6)
    s = CoflexSearch(metric=["a", "b"], mode=["min", "max"], options=base, n_init=8, seed=3)
    assert s.options == CoflexOptions(beta=1.0, n_init=8) and s.seed == 3
    assert base.n_init == 6  # the caller's object is not changed
    with pytest.raises(Exception):
        base.beta = 2.0  # frozen


@pytest.mark.parametrize("kw, match", [(dict(n_init=0), "n_init=0"), (dict(beta=-1.0), "beta=-1.0"),
                                       (dict(warp="cube"), "cube"), (dict(num_inducing=1), "num_inducing=1")])
def test_a_bad_option_is_one_value_error_from_either_door(kw, match):
    with pytest.raises(ValueError, match=match):
        CoflexOptions(**kw)
    with pytest.raises(ValueError, match=match):
        CoflexSearch(**kw)


def test_an_unknown_option_names_the_allowed_ones():
    with pytest.raises(TypeError, match="unknown Coflex option 'betta'.*beta"):
        CoflexSearch(betta=1.0)
