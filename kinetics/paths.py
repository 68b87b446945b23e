"""Where things live: the repository, the traces, the measured GPU results."""
from __future__ import annotations

import os
from pathlib import Path

from kinetics.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
DEFAULT_TRACES = DATA_DIR / "traces"
RESULTS_DIR = DATA_DIR / "results"
TRACES_ENV = "KINETICS_TRACES"


def traces_dir(path: str | os.PathLike | None = None) -> Path:
    """The traces directory: `path` if given, else $KINETICS_TRACES, else data/traces/."""
    if path is not None:
        candidate, origin = Path(path), "--traces"
    elif os.environ.get(TRACES_ENV):
        candidate, origin = Path(os.environ[TRACES_ENV]), f"${TRACES_ENV}"
    else:
        candidate, origin = DEFAULT_TRACES, "the default data/traces/"
    if not candidate.is_dir():
        raise InputError(
            f"traces directory {str(candidate)!r} (from {origin}) does not exist; give one with --traces DIR, "
            f"set ${TRACES_ENV}, or put the traces in {DEFAULT_TRACES}"
        )
    return candidate


def results_dir(device: str) -> Path:
    """data/results/<device>/ where measured GPU numbers are kept with their provenance."""
    return RESULTS_DIR / device
