"""Offer every chapter as a notebook: at build time jupytext writes the .ipynb paired with the chapter's .py source
into the site's _sources/, and the theme's download menu links it next to the .py."""
from __future__ import annotations

from pathlib import Path

import jupytext


def add_ipynb(app, pagename, templatename, context, doctree):
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".py":
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(jupytext.read(source), target, fmt="ipynb")
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    app.connect("html-page-context", add_ipynb, priority=500)   # before the theme builds its buttons (501)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
