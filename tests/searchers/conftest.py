"""Fixtures shared by the test modules of ``tests/searchers``."""

import pytest


@pytest.fixture
def one_torch_thread():
    """Small fits: one torch thread is faster, and much faster on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
