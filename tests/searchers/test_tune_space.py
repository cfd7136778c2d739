"""param_space conversion (coflex_ray/searchers/tune_space.py): the legal values of every Tune domain, the
entries that are rejected, and configs in the param_space's own shape, compared with what Tune's default
searcher (BasicVariantGenerator) hands a trainable, on random nested param_spaces (no Ray needed)."""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ray import tune
from ray.tune.impl.placeholder import create_resolvers_map, inject_placeholders, resolve_placeholders
from ray.tune.search import Searcher
from ray.tune.search.sample import Categorical, Domain, Float, Function, Integer, LogUniform, Quantized
from ray.tune.search.variant_generator import generate_variants
from ray.tune.utils.util import merge_dicts

from coflex_ray import BoTorchMOSearch, CoflexSearch, NSGA2Search
from coflex_ray.searchers.tune_space import from_param_space, lookup

from .helpers_tune import MO, PARAMS


def test_param_space_becomes_the_legal_values_tune_would_sample():
    space, layout = from_param_space(PARAMS, float_levels=11)
    values = {d.name: d.values for d in space.dims}
    assert values["c"] == (8, 16, 32) and values["n"] == (1, 2, 3) and values["q"] == (0, 5, 10)
    assert values["u"] == (0.0, 0.25, 0.5, 0.75, 1.0) and values["opt/m"] == ("a", "b")
    assert values["x"][0] == 0 and values["x"][-1] == 1 and len(values["x"]) == 11
    assert np.allclose(np.diff(np.log10(values["lr"])), 0.3)  # log-spaced from 1e-4 to 1e-1
    assert [k.path for k in layout.knobs] == [("c",), ("n",), ("q",), ("u",), ("x",), ("lr",), ("opt", "m")]


@pytest.mark.parametrize("domain, legal", [
    (tune.lograndint(1, 20), set(range(1, 20))),
    (tune.qlograndint(2, 64, 2), set(range(2, 65, 2))),
    (tune.qlograndint(1, 30, 1), set(range(1, 30))),
    (tune.qloguniform(0.1, 10, 0.1), {k * 0.1 for k in range(1, 101)}),
    (tune.qrandint(-6, 9, 3), {-6, -3, 0, 3, 6, 9}),
], ids=["lograndint", "qlograndint", "qlograndint-q1", "qloguniform", "qrandint"])
def test_log_and_quantized_domains_take_exactly_the_values_tune_samples(domain, legal):
    (dim,) = from_param_space({"k": domain})[0].dims
    assert set(dim.values) == legal and all(type(v) is type(next(iter(legal))) for v in dim.values)
    drawn = set(domain.sample(size=3000, random_state=np.random.default_rng(0)))
    assert drawn <= legal  # Tune's own draws are legal values, bit for bit


def test_wide_log_domains_keep_the_log_scale_in_at_most_float_levels_values():
    for domain in (tune.lograndint(1, 10**8), tune.qloguniform(1e-6, 1.0, 1e-6)):
        (dim,) = from_param_space({"k": domain}, float_levels=201)[0].dims
        v = np.array(dim.values, dtype=float)
        assert len(v) <= 201 and np.all(np.diff(v) > 0)
        assert math.isclose(v[0], domain.lower) and v[-1] <= domain.upper
        assert 0.3 < np.mean(np.log(v) < np.log(v[0] * v[-1]) / 2) < 0.7  # half of them below the geometric middle


@pytest.mark.parametrize("domain, match", [
    (tune.randn(), r"tune.randn .*use bounds instead, e.g. tune.uniform"),
    (tune.qrandn(0, 1, 0.1), r"tune.qrandn .*tune.quniform"),
    (tune.grid_search([1, 2]), r"tune.grid_search.*use tune.choice"),
    (tune.choice([{"lr": tune.uniform(0, 1)}, {"lr": 0.1}]), r"conditional space"),
    (Float(0, None), r"cannot be searched; allowed: tune.choice"),
], ids=["randn", "qrandn", "grid_search", "conditional", "half-bounded"])
def test_unsupported_entry_is_one_error_naming_the_key_and_what_to_use(domain, match):
    with pytest.raises(ValueError, match=r"param_space\['opt/bad'\]"):
        CoflexSearch({"ok": tune.choice([1, 2]), "opt": {"bad": domain}}, **MO)
    s = NSGA2Search(**MO)
    with pytest.raises(ValueError, match=match):
        s.set_search_properties(None, None, {"ok": tune.choice([1, 2]), "opt": {"bad": domain}})


def test_lookup_reads_nested_and_slash_joined_configs():
    assert lookup({"opt": {"lr": 1}}, ("opt", "lr")) == 1 and lookup({"opt/lr": 2}, ("opt", "lr")) == 2
    assert lookup({"opt/lr": 3}, ("opt/lr",)) == 3 and lookup({"l": [4, 5]}, ("l", 1)) == 5
    assert lookup({"l": {"0": 6}}, ("l", 0)) == 6 and lookup({"l/0": 7}, ("l", 0)) == 7
    with pytest.raises(KeyError):
        lookup({"l": [1]}, ("l", 1))


# ---------------------------------------------------------------- random param_spaces against Tune's own generator
KEYS = st.text(alphabet="ab/ .-_", min_size=1, max_size=3)
PRIMITIVES = st.one_of(st.integers(-5, 5), st.floats(-10, 10, allow_nan=False), st.text("xyz", max_size=2),
                       st.none(), st.booleans())
CONSTANTS = st.one_of(PRIMITIVES, st.just(Fraction(1, 3)))  # a non-primitive: Tune passes it by reference
Q = st.sampled_from([0.1, 0.25, 0.5, 1.0])


def _qfloat(log: bool):
    return st.tuples(st.integers(1 if log else -4, 6), st.integers(1, 12), Q).map(
        lambda t: (tune.qloguniform if log else tune.quniform)(t[0] * t[2], (t[0] + t[1]) * t[2], t[2]))


DOMAINS = st.one_of(
    st.lists(st.one_of(PRIMITIVES, st.lists(PRIMITIVES, max_size=2)), min_size=1, max_size=4).map(tune.choice),
    st.lists(st.just(Fraction(1, 2)) | st.just(Fraction(2, 3)), min_size=1, max_size=2).map(tune.choice),
    st.tuples(st.integers(-5, 5), st.integers(1, 30)).map(lambda t: tune.randint(t[0], t[0] + t[1])),
    st.tuples(st.integers(-3, 3), st.integers(1, 6), st.integers(1, 4)).map(
        lambda t: tune.qrandint(t[0] * t[2], (t[0] + t[1]) * t[2], t[2])),
    st.tuples(st.integers(1, 50), st.integers(1, 10**6)).map(lambda t: tune.lograndint(t[0], t[0] + t[1])),
    st.tuples(st.integers(1, 5), st.integers(1, 40), st.integers(1, 4)).map(
        lambda t: tune.qlograndint(t[0] * t[2], (t[0] + t[1]) * t[2], t[2])),
    st.tuples(st.floats(-5, 5), st.floats(0.01, 10)).map(lambda t: tune.uniform(t[0], t[0] + t[1])),
    st.tuples(st.floats(1e-4, 1), st.floats(1.5, 1e4)).map(lambda t: tune.loguniform(t[0], t[0] * t[1])),
    _qfloat(False), _qfloat(True),
    st.just(tune.sample_from(lambda config: 7)),
)


def _tree(leaves, depth: int = 2, in_tuple: bool = False):
    if depth == 0:
        return leaves
    inner = _tree(leaves, depth - 1)
    in_tuple_inner = _tree(leaves, depth - 1, in_tuple=True)
    options = [leaves, st.dictionaries(KEYS, inner, max_size=3), st.lists(inner, max_size=3)]
    if not in_tuple:  # a domain in a tuple in a tuple: Tune's own generator cannot assign it
        options.append(st.lists(in_tuple_inner, max_size=3).map(tuple))
    return st.one_of(*options)


PARAM_SPACES = st.dictionaries(KEYS, _tree(st.one_of(DOMAINS, CONSTANTS)), min_size=1, max_size=4)


def _through_tune(param_space: dict, make_config) -> dict:
    """What a trainable gets: Tune swaps sample_from and non-primitive values for placeholders, the searcher
    sees that, its suggestion is merged into the param_space, and the trial's config is resolved."""
    resolvers = create_resolvers_map()
    injected = inject_placeholders(copy.deepcopy(param_space), resolvers)
    config = make_config(injected)
    resolve_placeholders(config, resolvers)
    return config


def _bvg(param_space: dict) -> dict:
    return next(generate_variants({"config": param_space}))[1]["config"]


def _check(ours, theirs, spec, path=()):
    """Same structure as Tune's generator: types, keys (in order), lengths, constants; sampled values legal."""
    if isinstance(spec, Domain):
        _in_domain(ours, spec, path)
        assert isinstance(spec, Categorical) or type(ours) is type(theirs), (path, ours, theirs)
    elif isinstance(spec, dict):
        assert type(ours) is type(theirs) is dict and list(ours) == list(theirs) == list(spec), path
        for k in spec:
            _check(ours[k], theirs[k], spec[k], path + (k,))
    elif isinstance(spec, (list, tuple)):
        assert type(ours) is type(theirs) is type(spec) and len(ours) == len(theirs) == len(spec), path
        for i, s in enumerate(spec):
            _check(ours[i], theirs[i], s, path + (i,))
    else:
        assert type(ours) is type(spec) and ours == theirs == spec, (path, ours, theirs, spec)


def _in_domain(v, domain, path):
    sampler = domain.get_sampler()
    q = sampler.q if isinstance(sampler, Quantized) else None
    if isinstance(domain, Function):
        assert v == 7, path
    elif isinstance(domain, Categorical):
        assert any(type(c) is type(v) and c == v for c in domain.categories), (path, v, domain.categories)
    elif isinstance(domain, Integer):
        top = domain.upper - 1 if q in (None, 1) else domain.upper
        assert type(v) is int and domain.lower <= v <= top and v % (q or 1) == 0, (path, v)
    else:
        assert isinstance(domain, Float) and type(v) is float and domain.lower <= v <= domain.upper, (path, v)
        assert q is None or math.isclose(v / q, round(v / q)), (path, v, q)
        if isinstance(sampler, LogUniform) or isinstance(getattr(sampler, "sampler", None), LogUniform):
            assert v > 0


SEARCHERS = [lambda **kw: CoflexSearch(**kw), lambda **kw: BoTorchMOSearch(**kw), lambda **kw: NSGA2Search(**kw)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(param_space=PARAM_SPACES, seed=st.integers(0, 3))
def test_configs_have_the_shape_tune_gives_the_trainable(param_space, seed):
    try:
        expected = _through_tune(param_space, _bvg)
    except (TypeError, ValueError):  # a space Tune's own generator cannot resolve either
        assume(False)
    assume(from_param_space(param_space)[0] is not None)  # something to search
    for make in SEARCHERS:
        searcher = make(**MO, seed=seed)

        def suggest(injected, s=searcher):
            assert s.set_search_properties(None, None, injected)  # as the Tuner calls it
            return merge_dicts(injected, copy.deepcopy(s.suggest("t0")))  # as Tune's SearchGenerator merges

        _check(_through_tune(param_space, suggest), expected, param_space)
        # the same space given to the searcher itself (no Tuner): sample_from evaluated by the searcher
        own = make(space=copy.deepcopy(param_space), **MO, seed=seed)
        for t in range(2):
            config = own.suggest(str(t))
            if config is None or config == Searcher.FINISHED:
                break
            _check(config, _bvg(copy.deepcopy(param_space)), param_space)
