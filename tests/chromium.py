"""Documents as a reader's browser shows them, through headless Chromium:
how many A4 pages a document prints on (print-to-PDF, counted by pdfinfo),
and which elements stick out of a phone-wide (375 px) screen. Tests using it
skip only when chromium (or pdfinfo) is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

# Which elements of a document stick out of its width, or are clipped: one
# function, used in the iframe harness below and on pages a Playwright test has
# open at a 375 px viewport (tests/browser).
MEASURE = """function (d) {
  var w = d.documentElement.clientWidth, out = [];
  d.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width && (r.right > w + 0.5 || r.left < -0.5)) out.push(el.tagName.toLowerCase());
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      out.push(el.tagName.toLowerCase() + '(clipped)');
  });
  return {width: w, scroll_width: d.documentElement.scrollWidth, out: out};
}"""

# The document in an iframe exactly `width` px wide (a headless window is at
# least 500 px wide, an iframe is not), measured once it has loaded.
HARNESS = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="doc" src="doc.html" style="width:{width}px;height:900px;border:0"></iframe>
<script>
document.getElementById('doc').addEventListener('load', function () {{
  var m = ({measure})(this.contentDocument);
  document.body.setAttribute('data-width', m.width);
  document.body.setAttribute('data-scroll', m.scroll_width);
  document.body.setAttribute('data-out', m.out.join(' '));
}});
</script></body></html>"""


def _run(args: list[str]) -> str:
    done = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120)
    return done.stdout


def pdf_pages(html: str, workdir: Path) -> int:
    """How many A4 pages `html` prints on."""
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    page, pdf = workdir / "doc.html", workdir / "doc.pdf"
    page.write_text(html, encoding="utf-8")
    _run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri()])
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def overflow(html: str, workdir: Path, width: int = 375) -> dict:
    """{width, scroll_width, out: [tags of elements past the edge or clipped]}
    of `html` on a screen `width` px wide."""
    (workdir / "doc.html").write_text(html, encoding="utf-8")
    harness = workdir / "harness.html"
    harness.write_text(HARNESS.format(width=width, measure=MEASURE), encoding="utf-8")
    dom = _run(["--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
                harness.as_uri()])
    body = re.search(r'<body[^>]*data-width="(\d+)"[^>]*data-scroll="(\d+)"[^>]*data-out="([^"]*)"',
                     dom)
    assert body, "the page was not measured"
    return {"width": int(body.group(1)), "scroll_width": int(body.group(2)),
            "out": body.group(3).split()}
