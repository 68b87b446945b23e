"""Where things live: the repository, the traces, the measured GPU results."""
from __future__ import annotations

import os
from pathlib import Path

from kinetics.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
DEFAULT_TRACES = DATA_DIR / "traces"
HF_TRACES = DATA_DIR / "hf-traces"   # `kinetics traces download --hf`: the jsonl traces with their text
RESULTS_DIR = DATA_DIR / "results"
TRACES_ENV = "KINETICS_TRACES"


def portable_path(path: str | Path) -> str:
    """A path as a record may name it on any machine: relative to the repository's root when inside it, else its
    last component (a scratch folder or a user's directory means nothing elsewhere)."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name


EMBEDDED = "embedded"   # a traces "directory" that names the table shipped inside the package


def _holds_traces(directory: Path) -> bool:
    return directory.is_dir() and any(p.suffix in (".csv", ".jsonl") for p in directory.rglob("*") if p.is_file())


def traces_source(path: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """Where traces come from, and how it was chosen: (directory, origin), or (None, origin) for the embedded table.

    Order: `path` (--traces DIR or a chapter's `traces` parameter), then $KINETICS_TRACES, then data/traces/ when
    `kinetics traces download` has filled it, then the AIME24 table inside the package. `path` or the variable may
    also say "embedded". A directory given explicitly must exist: a typo never falls back silently.
    """
    if path is not None:
        value, origin = str(path), "--traces"
    elif os.environ.get(TRACES_ENV):
        value, origin = os.environ[TRACES_ENV], f"${TRACES_ENV}"
    elif _holds_traces(DEFAULT_TRACES):
        return DEFAULT_TRACES, "data/traces/"
    else:
        return None, "the default: no --traces, $KINETICS_TRACES or data/traces/"
    if value == EMBEDDED:
        return None, origin
    if not Path(value).is_dir():
        state = "is a file, not a directory" if Path(value).exists() else "does not exist"
        raise InputError(f"traces directory {value!r} (from {origin}) {state}; give a directory of trace files, or "
                         f"{EMBEDDED!r} for the table inside the package")
    return Path(value), origin


def results_dir(device: str) -> Path:
    """data/results/<device>/ where measured GPU numbers are kept with their provenance."""
    return RESULTS_DIR / device
