"""One error type for bad user input (the CLI turns it into one line on stderr and exit code 2), and the checks and
file readers that raise it."""
import math


class InputError(ValueError):
    """Bad input from a user (a file, a field, a value). The message names the problem in one line."""


def check_positive(what: str, value) -> None:
    """Raise InputError unless `value` is a finite number > 0 (NaN, inf, zero, negatives and non-numbers fail)."""
    try:
        ok = math.isfinite(float(value)) and float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{what} must be a finite positive number, got {value!r}")


def read_text(path, what: str = "file") -> str:
    """A user's text file, every fault (missing, a directory, unreadable, not UTF-8) one InputError naming it."""
    from pathlib import Path

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} {str(path)!r} is a directory, not a file") from None
    except OSError as error:
        raise InputError(f"{what} {str(path)!r} cannot be read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start})") from None


def read_json(path, what: str = "file"):
    """A user's JSON file, parsed; bad UTF-8 or bad JSON is one InputError naming the file, line and reason."""
    import json

    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
