"""One error type for bad user input: the CLI turns it into one line on stderr and exit code 2."""
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
