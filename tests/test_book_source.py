"""The book's sources follow its conventions: code a page can show without scrolling, figures with a caption and
a label, typed section numbers nowhere, and every chapter closing with "What we found" and "Try it".

The checks apply to the chapters listed in check_book.CONVERTED (the rendered-page check uses the same list)."""
import json
import re
from pathlib import Path

import pytest

from check_book import CONVERTED

BOOK = Path(__file__).resolve().parent.parent / "book"
MAX_CODE_LINE = 88
CELL = re.compile(r"^# %%(?P<kind> \[markdown\])?(?P<meta>.*)$")


def cells(path: Path) -> list[dict]:
    """The cells of a jupytext percent-format file: kind ("code"/"markdown"), header metadata, lines
    (markdown without its "# "), and the 1-based line number of each line."""
    found, current = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = CELL.match(line)
        if match:
            current = {"kind": "markdown" if match["kind"] else "code", "meta": match["meta"].strip(),
                       "lines": [], "numbers": [], "start": number}
            found.append(current)
        elif current is not None:
            text = re.sub(r"^# ?", "", line) if current["kind"] == "markdown" else line
            current["lines"].append(text)
            current["numbers"].append(number)
    return found


def fenced(lines: list[str]):
    """(index, line) of every line inside a ``` fence of Markdown text."""
    inside = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            yield i, line


def code_lines(path: Path):
    """(line number, text) of every line a reader sees as code: code cells and fenced blocks."""
    if path.suffix == ".md":
        lines = path.read_text().splitlines()
        yield from ((i + 1, line) for i, line in fenced(lines))
        return
    for cell in cells(path):
        if cell["kind"] == "code":
            yield from zip(cell["numbers"], cell["lines"])
        else:
            yield from ((cell["numbers"][i], line) for i, line in fenced(cell["lines"]))


def metadata(cell: dict) -> dict:
    """The key=JSON pairs jupytext writes after "# %%" (tags=[...] mystnb={...})."""
    meta, text = {}, cell["meta"]
    for match in re.finditer(r'(\w+)=', text):
        value, _ = json.JSONDecoder().raw_decode(text[match.end():])
        meta[match[1]] = value
    return meta


CHAPTERS = [BOOK / name for name in CONVERTED]
NUMBERED = [p for p in CHAPTERS if not p.name.startswith("00_")]   # the findings page is no chapter
PAGES = CHAPTERS + sorted(BOOK.glob("*.md"))


def test_the_converted_list_names_real_chapters():
    missing = [p.name for p in CHAPTERS if not p.is_file()]
    assert not missing, f"check_book.CONVERTED names chapters that do not exist: {missing}"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_code_lines_fit_the_page(path):
    long = [f"{path.name}:{n}: {len(line)} characters" for n, line in code_lines(path)
            if len(line) > MAX_CODE_LINE]
    assert not long, f"code lines over {MAX_CODE_LINE} characters:\n" + "\n".join(long)


def test_the_kernels_the_book_lists_fit_the_page():
    """Chapter 4 shows kernels' real source (show_source("module", "name")): their lines fit the page too."""
    import importlib
    import inspect

    chapter = next(BOOK.glob("04_*.py")).read_text()
    listed = re.findall(r'show_source\("(\w+)", "(\w+)"\)', chapter)
    assert len(listed) >= 8, listed
    long = []
    for module, name in listed:
        function = getattr(importlib.import_module(f"kinetics.kernels.{module}"), name)
        source, first = inspect.getsourcelines(getattr(function, "fn", function))
        long += [f"{module}.{name}:{first + i}: {len(line.rstrip())} characters" for i, line in enumerate(source)
                 if len(line.rstrip()) > MAX_CODE_LINE]
    assert not long, f"listed kernel lines over {MAX_CODE_LINE} characters:\n" + "\n".join(long)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_linter_comments_on_the_page(path):
    hits = [f"{path.name}:{n}" for n, line in code_lines(path) if "noqa" in line]
    assert not hits, f"'noqa' shows in the book: {hits}"


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_chapter_closes_with_what_we_found_and_try_it(path):
    headings = [line for cell in cells(path) if cell["kind"] == "markdown"
                for line in cell["lines"] if re.match(r"#{1,2} ", line)]
    assert headings[-2:] == ["## What we found", "## Try it"], \
        f"{path.name} must end with '## What we found' then '## Try it'; its last headings: {headings[-3:]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_headings_and_references_carry_no_typed_numbers(path):
    """Sections are numbered by the book; a typed "1.2" in a heading or "section 2.3" in prose goes stale."""
    problems = []
    for cell in cells(path):
        if cell["kind"] != "markdown":
            continue
        for n, line in zip(cell["numbers"], cell["lines"]):
            if re.match(r"#+ \d", line):
                problems.append(f"{path.name}:{n}: numbered heading {line!r}")
            for hit in re.finditer(r"\b(section|chapter|figure|table|fig\.)s? \d", line, re.I):
                if not re.search(r"(paper|their|authors)('s)?\W*$", line[max(0, hit.start() - 20):hit.start()]):
                    problems.append(f"{path.name}:{n}: typed reference in {line!r}")  # not the paper's
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_cell_has_a_caption_and_a_label(path):
    problems = []
    for cell in cells(path):
        draws = cell["kind"] == "code" and any(re.match(r"fig\w* = ", line) for line in cell["lines"])
        figure = metadata(cell).get("mystnb", {}).get("figure", {})
        if draws and not (figure.get("caption") and str(figure.get("name", "")).startswith("fig-")):
            problems.append(f"{path.name}:{cell['start']}: a figure cell without a caption and a fig- name")
    assert not problems, "\n".join(problems)


def test_cells_parse_with_their_metadata():
    """The helpers above read what jupytext writes (a check that the checks can fail)."""
    chapter = BOOK / CONVERTED[0]
    parsed = cells(chapter)
    assert parsed[0]["kind"] == "markdown" and any(c["kind"] == "code" for c in parsed)
    tagged = [metadata(c) for c in parsed if c["meta"]]
    assert any("parameters" in m.get("tags", []) for m in tagged)
    assert list(fenced(["x", "```", "inside", "```", "y"])) == [(2, "inside")]


def test_the_page_check_finds_a_broken_link(tmp_path):
    from check_book import broken_link

    (tmp_path / "a.html").write_text('<h1 id="top">A</h1>')
    ids = {}
    assert broken_link((tmp_path / "a.html").as_uri() + "#top", tmp_path, ids) is None
    assert "no anchor #gone" in broken_link((tmp_path / "a.html").as_uri() + "#gone", tmp_path, ids)
    assert "no such page" in broken_link((tmp_path / "b.html").as_uri(), tmp_path, ids)
