"""The documentation cannot drift from its sources, and reads as a product's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK_LOG = re.compile(r"\bsession[- ]\d|\bdev (harness|script)|\bour machines?\b|\b(internal )?issue #?\d", re.I)


def test_every_tagged_number_in_the_results_document_matches_its_output_file():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "check_results.py")], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " 0 problems" in proc.stdout


def test_no_work_log_wording_in_docs_code_or_results():
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *ROOT.glob("docs/*.md"), *ROOT.glob("coflex_ray/**/*.py"),
             *ROOT.glob("benchmarks/*.py"), *ROOT.glob("experiments/*.py"), *ROOT.glob("benchmarks/results/**/*.txt"),
             *ROOT.glob("benchmarks/results/**/*.md")]
    hits = [f"{f.relative_to(ROOT)}:{i}: {m.group(0)}" for f in files
            for i, line in enumerate(f.read_text().splitlines(), 1) for m in [WORK_LOG.search(line)] if m]
    assert not hits, "\n".join(hits[:20])


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    assert "./run.sh main" in text and "./run.sh test" in text
    assert text.index("## Quick start") < 2000  # on the first screen
    assert not re.search(r"^\s*ray stop\s*$", text, re.M)  # stops every Ray process on the host
