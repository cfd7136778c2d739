"""Search spaces: codecs round-trip every legal value, bins are equal, bad configs are named."""

import numpy as np
import pytest

from coflex_ray.spaces import (ACCEL_SPACE, NB201_SPACE, SSS_SPACE, get_space, joint, nb201_arch_str,
                               nb201_config, sss_arch_str, sss_config, sss_index)

ALL = [SSS_SPACE, NB201_SPACE, ACCEL_SPACE]


@pytest.mark.parametrize("space", ALL, ids=lambda s: s.name)
def test_every_legal_value_round_trips(space):
    for k, d in enumerate(space.dims):
        base = space.from_indices([0] * space.ndim)
        for v in d.values:
            cfg = dict(base, **{d.name: v})
            x = space.encode(cfg)
            assert np.all((x > 0) & (x < 1))
            assert space.decode(x) == cfg


@pytest.mark.parametrize("space", ALL, ids=lambda s: s.name)
def test_bins_have_equal_width(space):
    # an even grid of 16 points per legal value along each axis must split exactly 16/16/.../16
    for k, d in enumerate(space.dims):
        x = np.full((space.ndim,), 0.5)
        counts: dict = {}
        for u in (np.arange(16 * d.n) + 0.5) / (16 * d.n):
            x[k] = u
            v = space.decode(x)[d.name]
            counts[v] = counts.get(v, 0) + 1
        assert set(counts) == set(d.values), f"{d.name}: some values unreachable"
        assert set(counts.values()) == {16}, f"{d.name}: unequal bins"


def test_extremes_decode_to_end_values():
    assert SSS_SPACE.decode(np.ones(5)) == {k: 64 for k in SSS_SPACE.keys}
    assert SSS_SPACE.decode(np.zeros(5)) == {k: 8 for k in SSS_SPACE.keys}
    top = ACCEL_SPACE.decode(np.ones(ACCEL_SPACE.ndim))
    assert (top["X1"], top["X3"], top["X6"], top["dataflow"]) == (64, 512, 512, "is")


def test_uniform_sampling_reaches_64_channels():
    rng = np.random.default_rng(0)
    u = rng.random((4000, 5))
    values = [SSS_SPACE.decode(row)["c5"] for row in u]
    counts = np.bincount([v // 8 - 1 for v in values], minlength=8)
    assert counts.min() > 400  # each of 8 values expects 500


def test_sss_index_order_is_base8_last_fastest():
    assert sss_index("8:8:8:8:8") == 0
    assert sss_index("64:64:64:64:64") == 32767
    assert sss_index("8:8:8:8:16") == 1
    assert sss_index("16:8:8:8:8") == 8**4
    assert sss_index("8:8:40:32:40") == 284
    for i in [0, 1, 11, 284, 4095, 32767]:
        assert sss_index(sss_config(i)) == i
        assert sss_config(sss_arch_str(sss_config(i))) == sss_config(i)


def test_nb201_arch_string_round_trip():
    s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    cfg = nb201_config(s)
    assert cfg["edge_3_0"] == "skip_connect" and nb201_arch_str(cfg) == s


@pytest.mark.parametrize("space,cfg,needle", [
    (SSS_SPACE, {"c1": 12, "c2": 8, "c3": 8, "c4": 8, "c5": 8}, "c1=12"),
    (ACCEL_SPACE, dict(ACCEL_SPACE.from_indices([0] * 7), X1=0), "X1=0"),
    (ACCEL_SPACE, dict(ACCEL_SPACE.from_indices([0] * 7), X1=65), "integers 1..64"),
    (ACCEL_SPACE, dict(ACCEL_SPACE.from_indices([0] * 7), dataflow="xs"), "'xs'"),
    (NB201_SPACE, dict(NB201_SPACE.from_indices([0] * 6), edge_1_0="conv"), "edge_1_0='conv'"),
    (SSS_SPACE, {"c1": 8}, "lacks key 'c2'"),
])
def test_invalid_config_names_key_value_and_allowed(space, cfg, needle):
    with pytest.raises(ValueError) as e:
        space.validate(cfg)
    msg = str(e.value)
    assert needle in msg and "allowed" in msg


def test_bad_strings_and_indices():
    with pytest.raises(ValueError, match="32767"):
        sss_config(32768)
    with pytest.raises(ValueError, match="c3=12"):
        sss_config("8:8:12:8:8")
    with pytest.raises(ValueError, match="unknown space"):
        get_space("sss+gpu")


def test_joint_space_and_param_space():
    space = get_space("sss+accel")
    assert space.ndim == 12 and space.size == SSS_SPACE.size * ACCEL_SPACE.size
    ps = space.param_space()
    assert set(ps) == set(SSS_SPACE.keys) | set(ACCEL_SPACE.keys)
    rng = np.random.default_rng(1)
    for cfg in space.sample(rng, 50):
        assert space.validate(cfg) == cfg
    with pytest.raises(ValueError, match="duplicate"):
        joint(SSS_SPACE, SSS_SPACE)
