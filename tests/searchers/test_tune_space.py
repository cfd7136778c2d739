"""A Tune ``param_space`` as a searchable space: the legal values Tune would sample, and one error
naming the key for a domain that cannot be searched."""

from __future__ import annotations

import numpy as np
import pytest
from ray import tune

from coflex_ray import CoflexSearch, NSGA2Search
from coflex_ray.searchers.tune_space import from_param_space

from .helpers_tune import MO, PARAMS


def test_param_space_becomes_the_legal_values_tune_would_sample():
    space, constants, floats = from_param_space(PARAMS, float_levels=11)
    values = {d.name: d.values for d in space.dims}
    assert values["c"] == (8, 16, 32) and values["n"] == (1, 2, 3) and values["q"] == (0, 5, 10)
    assert values["u"] == (0.0, 0.25, 0.5, 0.75, 1.0) and values["opt/m"] == ("a", "b")
    assert values["x"][0] == 0 and values["x"][-1] == 1 and len(values["x"]) == 11
    assert np.allclose(np.diff(np.log10(values["lr"])), 0.3)  # log-spaced from 1e-4 to 1e-1
    assert constants == {"tag": "zdt", "opt/name": "sgd"} and set(floats) == {"x", "lr"}


@pytest.mark.parametrize("domain", [tune.randn(), tune.lograndint(1, 100), tune.qloguniform(1, 100, 1),
                                    tune.sample_from(lambda _: 1), tune.grid_search([1, 2])],
                         ids=["randn", "lograndint", "qloguniform", "sample_from", "grid_search"])
def test_unsupported_domain_is_one_error_naming_the_key(domain):
    with pytest.raises(ValueError, match=r"param_space\['bad'\].*allowed: tune.choice"):
        CoflexSearch({"ok": tune.choice([1, 2]), "bad": domain}, **MO)
    s = NSGA2Search(**MO)
    with pytest.raises(ValueError, match=r"param_space\['bad'\]"):
        s.set_search_properties(None, None, {"ok": tune.choice([1, 2]), "bad": domain})
