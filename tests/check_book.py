"""Open every page of the rendered book in headless Chromium and check what a reader would see.

For each HTML page, with every request that leaves the local files blocked (the book must read offline): it loads,
every image on it loads (decoded, non-zero width), no output cell shows a Python traceback, no text outside code
shows raw TeX (`\\(`, `\\[` or `$$`: the math was not typeset), and a page with math holds typeset math (MathJax,
served from the book itself). Uses Debian's Chromium through Playwright (no browser download).

    python tests/check_book.py _build/html
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKIP = {"genindex.html", "search.html"}

IMAGES_JS = """() => Array.from(document.images).map(img => ({src: img.currentSrc || img.src,
    ok: img.complete && img.naturalWidth > 0}))"""
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


def check(html_dir: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    pages = sorted(p for p in html_dir.rglob("*.html") if p.name not in SKIP and "_static" not in p.parts)
    if not pages:
        return [f"no HTML pages under {html_dir}"]
    problems, images, maths, warnings, blocked = [], 0, 0, set(), set()

    def offline(route):   # the network is blocked: only the book's own files load
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.add(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_browser(), args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page()
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
    print(f"check_book: {len(pages)} pages, {images} images and {maths} math elements checked offline, {raw} raw TeX "
          f"findings, {len(problems)} problems")
    return problems


def main() -> int:
    html_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    if not html_dir.is_dir():
        print(f"check_book: {html_dir} does not exist; build the book first (make book)", file=sys.stderr)
        return 2
    problems = check(html_dir)
    for problem in problems:
        print(f"  FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
