"""``python -m benchmarks concurrency``: its flags are checked before Ray starts."""

from __future__ import annotations

import pytest

from benchmarks import concurrency


@pytest.mark.parametrize("flags, named", [(["--concurrency", "0"], "concurrency=0"),
                                          (["--trials", "5"], "trials=5"),
                                          (["--sleep", "-1"], "sleep=-1.0")])
def test_bad_flags_name_the_value(flags, named, capsys):
    with pytest.raises(SystemExit) as err:
        concurrency.main(flags)
    assert err.value.code == 2
    text = capsys.readouterr()
    assert named in text.err and "machine" not in text.out  # nothing ran
