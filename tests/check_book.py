"""Open every page of the rendered book in headless Chromium and check what a reader would see.

For each HTML page, with every request that leaves the local files blocked (the book must read offline): it
loads, every image on it loads (decoded, non-zero width), no output cell shows a Python traceback, every internal link
resolves (its page exists, and so does the anchor it points to), no text outside code shows raw TeX (`\\(`, `\\[` or
`$$`: the math was not typeset), and a page with math holds typeset math (MathJax, served from the book itself).
On the chapters in CONVERTED, also: every image an output cell draws sits in a figure with a number and a caption,
every figure and table number reads "Fig. <chapter>.<n>" / "Table <chapter>.<n>" ("Fig. <n>" off the chapters), and
no code line is wider than its cell (nothing scrolls sideways at the reader's window size, WINDOW). Uses Debian's
Chromium through Playwright (no browser download).

    python tests/check_book.py _build/html [--shots DIR]   # --shots: also save a screenshot of each page
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKIP = {"genindex.html", "search.html"}
# Chapters that follow the book's conventions (numbered captioned figures, code that fits the page, closing
# sections); tests/test_book_source.py checks their sources against the same list.
CONVERTED = ["00_findings.py", "01_cost_model.py", "02_scaling_laws.py", "03_sparse_scaling.py",
             "04_block_topk_kernels.py", "05_engine_on_traces.py", "06_scale_out.py"]
# chapters whose result tables are all numbered and captioned (an unnumbered output table there is a problem)
TABLES_NUMBERED = ["01_cost_model.py", "02_scaling_laws.py", "03_sparse_scaling.py", "04_block_topk_kernels.py",
                   "05_engine_on_traces.py", "06_scale_out.py"]
WINDOW = {"width": 1280, "height": 900}   # a laptop browser window

IMAGES_JS = """() => Array.from(document.images).map(img => ({src: img.currentSrc || img.src,
    ok: img.complete && img.naturalWidth > 0}))"""
FIGURES_JS = r"""(tablesNumbered) => {
  const problems = [];
  if (tablesNumbered) document.querySelectorAll('.cell_output table').forEach(table => {
    const number = table.querySelector('caption .caption-number');
    if (!number) problems.push('an output table without a numbered caption: '
                               + (table.innerText || '').trim().slice(0, 80).replace(/\s+/g, ' '));
  });
  document.querySelectorAll('.cell_output img').forEach(img => {
    const figure = img.closest('figure');
    const number = figure && figure.querySelector('figcaption .caption-number');
    const text = figure && figure.querySelector('figcaption .caption-text');
    if (!number || !text || !text.textContent.trim())
      problems.push('an output image without a numbered caption: ' + (img.alt || img.src).slice(0, 80));
  });
  const captions = [];
  document.querySelectorAll('figcaption .caption-text').forEach(el => {
    const text = el.textContent.trim();
    if (captions.includes(text)) problems.push('two figures with one caption (a cell drew twice?): ' + text.slice(0, 60));
    captions.push(text);
  });
  const numbers = [];
  document.querySelectorAll('figcaption .caption-number, table caption .caption-number').forEach(el => {
    const label = el.textContent.trim();
    if (!/^(Fig|Table)\.? \d+(\.\d+)?$/.test(label)) problems.push('a caption numbered ' + JSON.stringify(label));
    if (numbers.includes(label)) problems.push('two captions numbered ' + label);
    numbers.push(label);
  });
  return {problems, count: numbers.length};
}"""
# folded cells count too: a reader who unfolds one should not have to scroll it
OVERFLOW_JS = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  return Array.from(document.querySelectorAll('div.highlight pre'))
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 100));
}"""
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)
  .filter(href => href.startsWith('file:'))"""
TRACEBACK_JS = """() => {
  const hits = [];
  document.querySelectorAll('.cell_output, .output').forEach(el => {
    const text = el.innerText || '';
    if (el.classList.contains('traceback') || text.includes('Traceback (most recent call last)'))
      hits.push(text.slice(0, 300));
  });
  return hits;
}"""
# text outside code, scripts and typeset math that still holds TeX delimiters
RAW_TEX_JS = r"""() => {
  const hits = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight')) continue;
    const text = node.textContent;
    if (['\\(', '\\[', '$$'].some(t => text.includes(t))) hits.push(text.trim().slice(0, 80));
  }
  return hits;
}"""
# after MathJax has finished: how many math elements the page has, and how many were typeset
MATH_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  return {math: document.querySelectorAll('.math').length, typeset: document.querySelectorAll('mjx-container').length};
}"""

# typeset display equations that stick out of the text column (cut off for the reader), with their TeX
WIDE_MATH_JS = """() => {
  return Array.from(document.querySelectorAll('mjx-container[display="true"] mjx-math'))
    .filter(el => el.getBoundingClientRect().right > (el.closest('article') || document.body).getBoundingClientRect().right + 1)
    .map(el => {
      const item = MathJax.startup.document.getMathItemsWithin(el.parentElement)[0];
      return (item ? item.math : el.textContent).trim().slice(0, 80);
    });
}"""


def find_browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_book: no Chromium found; install Debian's package: apt-get install chromium")


def converted_pages() -> set[str]:
    return {f"book/{Path(name).stem}.html" for name in CONVERTED}


def broken_link(href: str, html_dir: Path, ids: dict[Path, set[str]]) -> str | None:
    """Why a link inside the book does not resolve, or None when it does."""
    url = urlparse(href)
    target = Path(unquote(url.path))
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"no such page {target.relative_to(html_dir) if target.is_relative_to(html_dir) else target}"
    if url.fragment and target.suffix == ".html":
        if target not in ids:
            ids[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text(errors="replace")))
        if unquote(url.fragment) not in ids[target]:
            return f"no anchor #{url.fragment} in {target.name}"
    return None


def check(html_dir: Path, shots: Path | None = None) -> list[str]:
    from playwright.sync_api import sync_playwright

    pages = sorted(p for p in html_dir.rglob("*.html") if p.name not in SKIP and "_static" not in p.parts)
    if not pages:
        return [f"no HTML pages under {html_dir}"]
    problems, images, maths, warnings, figures, links = [], 0, 0, set(), 0, 0
    converted, ids, blocked = converted_pages(), {}, set()
    tables_numbered = {f"book/{Path(name).stem}.html" for name in TABLES_NUMBERED}

    def offline(route):   # the network is blocked: only the book's own files load
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.add(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_browser(), args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport=WINDOW)
        page.route("**/*", offline)
        js_errors: list[str] = []
        page.on("pageerror", lambda error: js_errors.append(str(error)))
        for path in pages:
            name = path.relative_to(html_dir)
            js_errors.clear()
            try:
                page.goto(path.resolve().as_uri(), wait_until="load", timeout=60_000)
                page.wait_for_load_state("networkidle")
            except Exception as error:  # a page that does not load is the failure we report
                problems.append(f"{name}: does not load ({error})")
                continue
            if page.url != path.resolve().as_uri():  # a redirect page (index.html): check where it lands
                page.wait_for_load_state("load")
            if not page.title():
                problems.append(f"{name}: page has no title")
            for img in page.evaluate(IMAGES_JS):
                images += 1
                if not img["ok"]:
                    problems.append(f"{name}: image does not load: {img['src']}")
            for text in page.evaluate(TRACEBACK_JS):
                problems.append(f"{name}: an output cell shows a traceback: {text!r}")
            for href in sorted(set(page.evaluate(LINKS_JS))):
                links += 1
                why = broken_link(href, html_dir.resolve(), ids)
                if why:
                    problems.append(f"{name}: link {href.rsplit('/', 1)[-1]!r} does not resolve: {why}")
            if shots is not None:
                shot = shots / (str(name).replace("/", "_").removesuffix(".html") + ".png")
                page.screenshot(path=str(shot), full_page=True)
            if str(name) in converted:
                result = page.evaluate(FIGURES_JS, str(name) in tables_numbered)
                figures += result["count"]
                problems.extend(f"{name}: {problem}" for problem in result["problems"])
                for line in page.evaluate(OVERFLOW_JS):
                    problems.append(f"{name}: a code line is wider than its cell: {line!r}")
            math = page.evaluate(MATH_JS)
            maths += math["math"]
            for text in page.evaluate(RAW_TEX_JS):
                problems.append(f"{name}: raw TeX on the page (math not typeset): {text!r}")
            for tex in page.evaluate(WIDE_MATH_JS) if math["typeset"] else []:
                problems.append(f"{name}: an equation is wider than the page and cut off: {tex!r}")
            if math["math"] and not math["typeset"]:
                problems.append(f"{name}: {math['math']} math elements and no typeset math (MathJax did not run)")
            # the theme's own scripts (sphinx-thebe declared twice by jupyter-book 1.0.4) raise harmless errors:
            # shown, not failed on, since the reader-facing checks above are what the page must pass
            warnings.update(f"JavaScript error (not failed on): {e}" for e in js_errors)
        browser.close()
    for warning in sorted(warnings):
        print(f"check_book: {warning}")
    for url in sorted(blocked):
        print(f"check_book: blocked a request to the network (the page worked without it): {url}")
    raw = sum("raw TeX" in problem for problem in problems)
    print(f"check_book: {len(pages)} pages, {images} images, {maths} math elements checked offline, {raw} raw TeX "
          f"findings, {links} internal links, {figures} numbered figures and tables, {len(problems)} problems")
    return problems


def main() -> int:
    args = sys.argv[1:]
    shots = None
    if "--shots" in args:
        at = args.index("--shots")
        shots = Path(args[at + 1]) if at + 1 < len(args) else None
        if shots is None:
            print("check_book: error: --shots needs a directory", file=sys.stderr)
            return 2
        del args[at:at + 2]
        shots.mkdir(parents=True, exist_ok=True)
    html_dir = Path(args[0] if args else "_build/html")
    if not html_dir.is_dir():
        print(f"check_book: {html_dir} does not exist; build the book first (make book)", file=sys.stderr)
        return 2
    problems = check(html_dir, shots)
    rendered = {str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html")}
    problems.extend(f"{name}: listed in CONVERTED but not rendered" for name in sorted(converted_pages() - rendered))
    for problem in problems:
        print(f"  FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
