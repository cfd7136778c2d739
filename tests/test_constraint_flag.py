"""``--constraint`` on the study command line: parsed, recorded and part of the study's identity (no Ray).

The bad flags (one ``error:`` line, nothing written) are in :mod:`tests.test_reliability`.
"""

from __future__ import annotations

import pytest

from coflex_ray.preflight import UsageError
from coflex_ray.study.config import StudyConfig, parse_args
from coflex_ray.study.identity import check_resume, identity, write


def _config(tmp_path, *flags: str, benchmark: str = "sss") -> StudyConfig:
    args = parse_args(benchmark, "doc", ["--smoke", "--out", str(tmp_path / "out"), *flags])
    return StudyConfig.from_args(benchmark, args)


def test_constraints_are_parsed_sorted_and_recorded(tmp_path):
    c = _config(tmp_path, "--constraint", "params_M <= 1.5", "--constraint", "err>=5")
    assert c.constraint == (("err", ">=", 5.0), ("params_M", "<=", 1.5))
    assert c.constraints == {"err": (">=", 5.0), "params_M": ("<=", 1.5)}
    assert c.record()["constraint"] == ["err>=5.0", "params_M<=1.5"]
    none = _config(tmp_path)
    assert none.constraint == () and none.constraints is None and none.record()["constraint"] is None


def test_device_studies_constrain_latency_not_edp(tmp_path):
    c = _config(tmp_path, "--device", "pixel3", "--constraint", "latency_ms<=20", benchmark="nb201")
    assert c.constraints == {"latency_ms": ("<=", 20.0)}
    with pytest.raises(UsageError, match="unknown metric 'edp'; allowed: err, params_M, flops_M, latency_ms"):
        _config(tmp_path, "--device", "pixel3", "--constraint", "edp<=2", benchmark="nb201")


def test_resume_refuses_another_constraint_set(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    first = _config(tmp_path, "--constraint", "err<=40")
    write(out, identity(first.record(), "sss", "src"))
    check_resume(out, identity(_config(tmp_path, "--constraint", " err <= 40.0").record(), "sss", "src"))
    for flags in (["--constraint", "err<=41"], []):
        with pytest.raises(UsageError, match="ran with --constraint \\['err<=40.0'\\]"):
            check_resume(out, identity(_config(tmp_path, *flags).record(), "sss", "src"))


def test_constraints_leave_hyperopt_out_of_the_default_searchers_only(tmp_path, capsys):
    args = parse_args("sss", "doc", ["--out", str(tmp_path / "o"), "--constraint", "err<=40"])
    c = StudyConfig.from_args("sss", args)
    assert "hyperopt" not in c.searchers and {"coflex", "optuna-gp", "random"} <= set(c.searchers)
    assert "hyperopt takes no constraints; running the other default searchers" in capsys.readouterr().out
    assert "hyperopt" in StudyConfig.from_args("sss", parse_args("sss", "doc", ["--out", str(tmp_path / "p")])).searchers
