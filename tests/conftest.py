"""Shared fixtures, and a deterministic hypothesis profile for CI (CI=true): the same examples on every run, so a
red CI is a reproducible bug, not a lucky draw. Locally each run draws new examples."""
import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one intra-op thread each avoids thread contention between xdist workers on 2 cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
