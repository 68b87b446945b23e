"""Provenance of a measurement: which machine, which software, which commit, when, by which command."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

from kinetics.errors import InputError
from kinetics.paths import REPO_ROOT, portable_path


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


COMMIT_ENV = "KINETICS_COMMIT"


def git_commit() -> str:
    """This project's commit: $KINETICS_COMMIT when given (a copy without .git, e.g. on a GPU machine), else the
    commit of the git checkout whose top level is this repository (with '+dirty' for uncommitted changes), else
    'unknown'. A checkout that merely encloses the tree (another repository) is never asked."""
    given = os.environ.get(COMMIT_ENV, "").strip()
    if given:
        if not re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?", given):
            raise InputError(f"${COMMIT_ENV} must be a git commit (7-40 hex digits), got {given!r}")
        return given
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()

        if Path(git("rev-parse", "--show-toplevel")).resolve() != REPO_ROOT.resolve():
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return git("rev-parse", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _gpu() -> dict:
    try:
        import torch
    except ImportError:
        return {"name": None}
    if not torch.cuda.is_available():
        return {"name": None, "torch": torch.__version__}
    props = torch.cuda.get_device_properties(0)
    info = {"name": props.name, "multiprocessors": props.multi_processor_count,
            "memory_bytes": props.total_memory, "torch": torch.__version__, "cuda": torch.version.cuda}
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, check=True).stdout.strip()
        info["driver"] = out.splitlines()[0] if out else None
    except (OSError, subprocess.CalledProcessError):
        info["driver"] = None
    return info


def device_slug(name: str | None = None) -> str:
    """A folder name for a device: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'; 'cpu' without a GPU."""
    if name is None:
        name = _gpu().get("name") or "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def portable_command(command: str) -> str:
    """The command as a reader can rerun it: paths inside the repository relative to its root, any other
    absolute path (a scratch or output folder of the machine that ran it) reduced to its file name."""
    return " ".join(portable_path(word) if word.startswith("/") else word for word in command.split(" "))


def provenance(command: str) -> dict:
    """Everything a reader needs to trust (or redo) a measurement."""
    gpu = _gpu()
    return {
        "device": gpu.get("name") or "cpu",
        "gpu": gpu,
        "host": {"platform": platform.platform(), "python": platform.python_version(),
                 "processor": platform.processor()},
        "versions": {p: _version(p) for p in ("torch", "triton", "flashinfer-python", "transformers", "numpy", "kinetics")},
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": portable_command(command),
    }
