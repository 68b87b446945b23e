"""Kernel source on a book page, as the Triton tutorials show it: highlighted code, read from the module itself
(never copied), with the lines that say what one program owns (`tl.program_id`) emphasised."""
from __future__ import annotations

import inspect

OWNERSHIP = "tl.program_id"


def source_of(function) -> str:
    """The source of a function, or of the Python function behind a `@triton.jit` kernel."""
    return inspect.getsource(getattr(function, "fn", function))


def ownership_lines(source: str) -> list[int]:
    """1-based numbers of the lines that read a program id: where a program learns what it owns."""
    return [i for i, line in enumerate(source.splitlines(), 1) if OWNERSHIP in line]


def listing_html(function) -> str:
    """Highlighted HTML of a function's source, its program-id lines emphasised (pygments' `hll` class)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    source = source_of(function)
    formatter = HtmlFormatter(cssclass="highlight", hl_lines=ownership_lines(source), wrapcode=True)
    return highlight(source, PythonLexer(), formatter)


def kernel_listing(function):
    """`listing_html` as a cell output."""
    from IPython.display import HTML

    return HTML(listing_html(function))
