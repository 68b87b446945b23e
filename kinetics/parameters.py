"""A chapter's parameters, checked before the chapter computes anything.

Every chapter has one cell tagged `parameters` (papermill's convention); a rerun with `papermill -p NAME VALUE`
inserts an `injected-parameters` cell after it. The cell right after calls `check_parameters(globals(), CHAPTER,
...)`, which
- names any parameter the chapter does not have (papermill itself only warns and runs the chapter unchanged),
- checks each value's type against the default's type in the parameters cell (an int stays an int, a flag a bool),
- checks the rules the chapter states: positive numbers, a fixed set of choices, powers of two, multiples of another
  parameter, and "True needs a CUDA GPU".
A bad value is one InputError naming the chapter, the parameter and the value.
"""
from __future__ import annotations

import ast
import math
import re
from typing import Iterable, Mapping

from kinetics.errors import InputError
from kinetics.paths import REPO_ROOT

BOOK_DIR = REPO_ROOT / "book"
# what IPython puts in a notebook's namespace
_NOTEBOOK_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_CELL = re.compile(r"^# %%(.*)$", re.MULTILINE)


def chapter_cells(chapter: str) -> list[tuple[str, str]]:
    """(header, source) of every cell of a jupytext percent-format chapter."""
    text = (BOOK_DIR / chapter).read_text(encoding="utf-8")
    marks = list(_CELL.finditer(text))
    return [(m.group(1), text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)])
            for i, m in enumerate(marks)]


def parameters_cell(chapter: str, after: int = 0) -> str:
    """The source of the chapter's cell tagged `parameters` (after=1: the cell after it, which checks them)."""
    cells = chapter_cells(chapter)
    for i, (header, _) in enumerate(cells):
        if '"parameters"' in header:
            return cells[i + after][1]
    raise InputError(f"{chapter}: no cell tagged parameters")


def _defaults(source: str) -> dict[str, object]:
    """name -> default value of each plain assignment `name = literal` in a parameters cell."""
    defaults = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            defaults[node.targets[0].id] = ast.literal_eval(node.value)
    return defaults


def _kind(value) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a non-empty list"
    return "anything"


def _fits(value, default) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple)) and len(value) > 0
    return True


def check_parameters(namespace: Mapping, chapter: str, positive: Iterable[str] = (),
                     choices: Mapping[str, Iterable] | None = None, power_of_two: Iterable[str] = (),
                     multiple_of: Mapping[str, str] | None = None, needs_cuda: Iterable[str] = ()) -> None:
    """Check the parameters in `namespace` (the notebook's globals) against `chapter`'s parameters cell and rules.

    positive: numbers (or lists of numbers) that must be finite and > 0 when set (None stays allowed where it is
    the default). choices: name -> the allowed values. power_of_two: integers (or lists) that must be powers of two.
    multiple_of: name -> the parameter it must be a multiple of. needs_cuda: parameters whose True needs a GPU.
    """
    declared = _defaults(parameters_cell(chapter))
    known = set(declared) | _NOTEBOOK_NAMES
    unknown = sorted(name for name, value in namespace.items()
                     if not name.startswith("_") and name not in known and not _is_module(value))
    if unknown:
        raise InputError(f"{chapter}: unknown parameter {unknown[0]!r} (papermill -p {unknown[0]} ...); this "
                         f"chapter's parameters are {', '.join(declared)}")
    choices = {name: list(allowed) for name, allowed in (choices or {}).items()}
    ruled = [*positive, *choices, *power_of_two, *(multiple_of or {}), *(multiple_of or {}).values(), *needs_cuda]
    stale = [name for name in ruled if name not in declared]
    if stale:   # a rule about a parameter the chapter no longer has would check nothing
        raise InputError(f"{chapter}: the parameter check names {stale[0]!r}, which the parameters cell does not "
                         f"declare")

    def bad(name, wanted):
        return InputError(f"{chapter}: parameter {name} must be {wanted}, got {namespace[name]!r}")

    for name, default in declared.items():
        value = namespace.get(name, default)
        if name in choices:
            if not any(value == c and type(value) is type(c) for c in choices[name]):
                raise bad(name, f"one of {', '.join(map(repr, choices[name]))}")
            continue
        if not _fits(value, default):
            raise bad(name, _kind(default))
    for name in positive:
        value = namespace.get(name)
        if value is None and declared.get(name) is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                   for v in values):
            raise bad(name, "a finite number > 0")
    for name in power_of_two:
        value = namespace.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, int) and v > 0 and v & (v - 1) == 0 for v in values):
            raise bad(name, "a power of two (or a list of them)")
    for name, base in (multiple_of or {}).items():
        if namespace.get(name) % namespace.get(base):
            raise bad(name, f"a multiple of {base} ({namespace.get(base)})")
    for name in needs_cuda:
        if namespace.get(name) is True:
            import torch

            if not torch.cuda.is_available():
                raise InputError(f"{chapter}: parameter {name}=True needs a CUDA GPU and there is none here; use "
                                 f"'auto' (measure when a GPU is present) or False")


def _is_module(value) -> bool:
    return type(value).__name__ == "module"
