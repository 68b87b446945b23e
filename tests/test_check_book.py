"""The page check fails on a page that shows raw TeX, and passes the same math typeset by the offline MathJax the
book ships (network blocked in both)."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import check_book  # noqa: E402

pytest.importorskip("playwright")
if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
    pytest.skip("no Chromium here (Debian's chromium package runs the page check)", allow_module_level=True)

PAGE = """<!DOCTYPE html><html><head><title>planted</title>{script}</head><body>
<p>Cost: <span class="math notranslate nohighlight">\\(C = 2PL\\)</span></p>
<div class="math notranslate nohighlight">\\[S = \\sum_t \\min(B, t)\\]</div>
<pre>a code block may say $$ or \\( freely</pre>
</body></html>"""


def _mathjax_dir() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None:
        pytest.skip("sphinx-mathjax-offline is not installed")
    return Path(spec.origin).parent / "static" / "mathjax"


def test_a_page_with_raw_tex_fails(tmp_path, capsys):
    (tmp_path / "page.html").write_text(PAGE.format(script=""))
    problems = check_book.check(tmp_path)
    assert sum("raw TeX" in p for p in problems) == 2
    assert any("no typeset math" in p for p in problems)
    assert "2 raw TeX findings" in capsys.readouterr().out


def test_the_same_page_passes_with_the_shipped_mathjax_and_no_network(tmp_path, capsys):
    shutil.copytree(_mathjax_dir(), tmp_path / "_static" / "mathjax")
    script = ('<script src="https://cdn.example.invalid/never-fetched.js"></script>'
              '<script defer src="_static/mathjax/tex-chtml.js"></script>')
    (tmp_path / "page.html").write_text(PAGE.format(script=script))
    assert check_book.check(tmp_path) == []
    out = capsys.readouterr().out
    assert "blocked a request to the network" in out and "0 raw TeX findings" in out


def test_an_equation_wider_than_the_page_fails(tmp_path):
    shutil.copytree(_mathjax_dir(), tmp_path / "_static" / "mathjax")
    wide = " + ".join(f"x_{{{i}}}" for i in range(200))
    page = PAGE.format(script='<script defer src="_static/mathjax/tex-chtml.js"></script>').replace(
        "</body>", f'<article style="width: 600px"><div class="math">\\[{wide}\\]</div></article></body>')
    (tmp_path / "page.html").write_text(page)
    problems = check_book.check(tmp_path)
    assert len(problems) == 1 and "wider than the page" in problems[0] and "x_{0} + x_{1}" in problems[0]


def test_an_unnumbered_output_table_fails_on_a_chapter_that_numbers_its_tables(tmp_path):
    numbered = ('<table><caption><span class="caption-number">Table 2.1 </span>'
                '<span class="caption-text">runs</span></caption><tr><td>1</td></tr></table>')
    plain = "<table><tr><td>mean tokens</td><td>14,245</td></tr></table>"
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / f"{Path(check_book.TABLES_NUMBERED[1]).stem}.html"
    for output, expected in ((numbered, []), (plain + numbered, ["without a numbered caption: mean tokens 14,245"])):
        page.write_text(f'<!DOCTYPE html><html><head><title>t</title></head><body>'
                        f'<div class="cell_output">{output}</div></body></html>')
        problems = [p for p in check_book.check(tmp_path) if "listed in CONVERTED" not in p]
        assert [p.split("table ", 1)[1] for p in problems] == expected, problems
