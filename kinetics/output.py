"""Writing a user's output without losing anything they had.

Every command that writes a file goes through here:
1. `check_output` before the work starts: the folder exists, the path is not a folder, the extension is one the
   writer knows, and an existing file is only replaced with `--force` (commands that keep every run, like `eval --out
   DIR`, pick a numbered sibling instead). Hours of GPU time are never spent before a bad --out is noticed.
2. `atomic_write` / `atomic_path` when the work is done: the data goes to a temporary file in the same folder and is
   renamed over the target in one step (os.replace), so a crash or a full disk never leaves half a file where the
   old one was.
3. `on_interrupt` lets a long command say, when Ctrl-C stops it, what it saved and how to resume.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

from kinetics.errors import InputError

#: what matplotlib's savefig writes without extra packages
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_output(path: str | os.PathLike, option: str = "--out", force: bool = False,
                 suffixes: Iterable[str] | None = None, create_parent: bool = False) -> Path:
    """`path` as a Path, if writing there can succeed and loses nothing; else InputError naming option and path.
    The folder must exist, unless create_parent (then the writer makes it, and its nearest existing ancestor must
    be a writable folder)."""
    path = Path(path)
    suffixes = tuple(suffixes or ())
    if path.is_dir():
        raise InputError(f"{option} {str(path)!r} is a directory; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{option} {str(path)!r}: unknown extension {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(suffixes)}")
    check_directory(path.parent, option)
    if not create_parent and not path.parent.is_dir():
        raise InputError(f"{option} {str(path)!r}: directory {str(path.parent)!r} does not exist")
    if path.exists() and not force:
        raise InputError(f"{option} {str(path)!r} already exists; pass --force to replace it, or choose another name")
    return path


def check_directory(path: str | os.PathLike, option: str = "--out") -> Path:
    """A directory that exists or can be made: its nearest existing ancestor is a writable directory."""
    path = Path(path)
    existing = next(p for p in [path, *path.parents] if p.exists())
    if not existing.is_dir():
        raise InputError(f"{option} {str(path)!r}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {str(path)!r}: directory {str(existing)!r} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """A temporary path next to `path` for a writer that wants a file name; renamed to `path` when the block ends
    without an error, removed otherwise. OS errors (disk full, permissions) become one InputError naming `path`."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp)
    try:
        yield temp
        os.replace(temp, path)
    except OSError as error:
        raise InputError(f"{option} {str(path)!r}: cannot write ({error.strerror or error}); "
                         f"nothing was replaced") from None
    finally:
        temp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes, option: str = "--out") -> Path:
    """Write `data` to `path` atomically (temporary file, flushed to disk, then renamed)."""
    path = Path(path)
    with atomic_path(path, option) as temp:
        with open(temp, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
    return path


# ---- Ctrl-C: what was saved, how to resume -------------------------------------------------------------------------

@contextlib.contextmanager
def on_interrupt(note: Callable[[], str]) -> Iterator[None]:
    """Ctrl-C during the block ends the command with `note()`: one sentence on what was saved and how to resume
    (the innermost block's note wins; the CLI prints it, see `interrupt_note`)."""
    try:
        yield
    except KeyboardInterrupt as stop:
        if not hasattr(stop, "kinetics_note"):
            stop.kinetics_note = note()
        raise


def interrupt_note(stop: KeyboardInterrupt) -> str:
    """What the interrupted command said it saved; a command that said nothing wrote nothing."""
    return getattr(stop, "kinetics_note", "nothing was written")
