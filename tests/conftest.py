"""Shared test fixtures: where the reference data beside the checkout lives."""

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _missing(path: Path) -> None:
    """Skip locally, but fail in CI, where ../shared is always present."""
    msg = f"reference data not found at {path}"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def sss_samples() -> Path:
    """The official NATS-Bench SSS sample folder (three architectures + meta) from ../shared/data."""
    path = SHARED / "nats_sss_official_samples"
    if not path.is_dir():
        _missing(path)
    return path


@pytest.fixture(scope="session")
def sss_tidy():
    """The official SSS sample records in tidy form (params, FLOPs, accuracies)."""
    import pandas as pd

    path = SHARED / "sss_official_samples_tidy.csv"
    if not path.is_file():
        _missing(path)
    return pd.read_csv(path, dtype={"hp": str})
