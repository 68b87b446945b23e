"""Result tables as numbered, captioned MyST tables: a chapter cell returns `numbered_table(...)`, the book
renders "Table 1.2" with its caption, and the prose links to it with {numref}`name`."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

Format = str | Callable[[object], str]


def as_given(value) -> str:
    """A value as the cell computed it (already rounded), integers with thousands separators: for tables whose
    rows mix quantities, such as a transposed one whose columns are settings."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    return "—" if np.isnan(value) else f"{value:,.10g}"


def rounded(digits: int) -> Callable[[object], str]:
    """Floats to `digits` decimals (a nonzero float too small for them in scientific notation), integers with
    thousands separators, anything else as text: one format for the mixed rows of a transposed table."""
    def fmt(value) -> str:
        if isinstance(value, (float, np.floating)) and not np.isnan(value):
            return f"{value:.1e}" if 0 < abs(value) < 10 ** -digits else f"{value:,.{digits}f}"
        return as_given(value)
    return fmt


def for_floats(frame: pd.DataFrame, fmt: Format) -> dict[str, Format]:
    """One format for the float columns only (counts such as batch or context stay integers)."""
    return {c: fmt for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}


def _cell(value, fmt: Format | None) -> str:
    if callable(fmt):
        text = fmt(value)
    elif isinstance(value, (float, np.floating)) and np.isnan(value):
        text = "—"
    elif fmt is None:
        text = f"{value:,.3g}" if isinstance(value, (float, np.floating)) else str(value)
    else:
        text = fmt.format(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(frame: pd.DataFrame, caption: str, name: str,
                   formats: Mapping[str, Format] | Format | None = None, index: bool = True) -> str:
    """The MyST source of a numbered table: `formats` maps a column to a format string ("{:,.0f}") or a
    function, or gives one format for every numeric column; the index becomes the first column when `index`."""
    if not name.startswith("tab-"):
        raise ValueError(f"table names start with 'tab-' (got {name!r}), so links read as tables")
    if isinstance(frame.columns, pd.MultiIndex):   # e.g. (model, attention) after a transpose: "model, attention"
        flat = {c: ", ".join(map(str, c)) for c in frame.columns}
        frame = frame.set_axis(list(flat.values()), axis=1)
        if isinstance(formats, Mapping):
            formats = {flat.get(c, c): f for c, f in formats.items()}
    frame = frame.reset_index() if index else frame
    columns = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    if not isinstance(formats, Mapping):   # one format for every numeric column
        formats = {c: formats for c, n in zip(columns, numeric) if n}
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in columns) + " |",
             "|" + "|".join("--:" if n else ":--" for n in numeric) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, formats.get(c)) for c, v in zip(columns, row)) + " |")
    body = "\n".join(lines)
    return f"```{{table}} {caption}\n:name: {name}\n\n{body}\n```"


def numbered_table(frame: pd.DataFrame, caption: str, name: str,
                   formats: Mapping[str, Format] | Format | None = None, index: bool = True):
    """`table_markdown` as a Markdown output, which the book parses as MyST (nb_render_markdown_format)."""
    from IPython.display import Markdown

    return Markdown(table_markdown(frame, caption, name, formats, index))
