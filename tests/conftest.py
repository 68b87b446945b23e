"""Shared fixtures."""
import pytest


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one intra-op thread each avoids thread contention between xdist workers on 2 cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
