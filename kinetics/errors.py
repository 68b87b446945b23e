"""One error type for bad user input: the CLI turns it into one line on stderr and exit code 2."""


class InputError(ValueError):
    """Bad input from a user (a file, a field, a value). The message names the problem in one line."""
