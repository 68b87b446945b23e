"""Shared fixtures, and a deterministic hypothesis profile for CI (CI=true): the same examples on every run, so a
red CI is a reproducible bug, not a lucky draw. Locally each run draws new examples."""
import os
from pathlib import Path

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


FULL_TRACES_BESIDE_CLONE = Path(__file__).resolve().parent.parent.parent / "shared" / "traces" / "kinetics-aime24"


def full_traces_dir() -> Path | None:
    """The authors' full AIME24 tables, when this machine has them: $KINETICS_TRACES if it holds them, else
    ../shared/traces/kinetics-aime24 beside the clone (where the project's CI keeps them). None elsewhere."""
    for candidate in (os.environ.get("KINETICS_TRACES"), FULL_TRACES_BESIDE_CLONE):
        if candidate and (Path(candidate) / "dense").is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def full_traces() -> Path:
    root = full_traces_dir()
    if root is None:
        pytest.skip("the authors' full AIME24 tables are not on this machine")
    return root
