"""Open every page of the rendered book in headless Chromium and check what a reader would see.

For each HTML page: it loads, every image on it loads (decoded, non-zero width), and no output cell shows a
Python traceback. Uses Debian's Chromium through Playwright (no browser download).

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
    problems, images, warnings = [], 0, set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_browser(), args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page()
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
            # the theme's own scripts (sphinx-thebe declared twice by jupyter-book 1.0.4) raise harmless errors:
            # shown, not failed on, since the reader-facing checks above are what the page must pass
            warnings.update(f"JavaScript error (not failed on): {e}" for e in js_errors)
        browser.close()
    for warning in sorted(warnings):
        print(f"check_book: {warning}")
    print(f"check_book: {len(pages)} pages, {images} images checked, {len(problems)} problems")
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
