#!/usr/bin/env python3
"""Browser check of the built website: open it in headless Chromium, offline, and assert that
what a reader sees actually works.

    python tests/browser_check.py _build/html          (what `make browser` runs)

Not a pytest file: it runs after the site build. Every page of the build is opened through a
local HTTP server on 127.0.0.1 (the way the site is served in production: widget scripts derive
asset URLs from their own URL, which file:// breaks). Every request that does not go to that
server is blocked and counted as a failure. On each page it checks

  (a) Chinese text is drawn with a real CJK font, not as boxes ("tofu"): Chromium reports which
      platform fonts rendered the glyphs (DevTools CSS.getPlatformFontsForNode), and distinct
      Chinese characters must also draw distinct, inked bitmaps on a canvas;
  (b) every formula was typeset by the local MathJax (mjx-container, no TeX errors, no raw
      $$ or \\( left in the text);
  (c) every stored ipywidgets view rendered (a tqdm.auto bar is a .widget-hprogress);
  (c') every attention explorer (llmbook_lib.explorer, self-contained HTML/JS) rendered and
      responds without a kernel: hovering/clicking a token changes its top-k list, a
      layer/head/temperature change redraws different weights, a view toggle switches
      heatmap/lines, the drawing has one row label per query and one column label per key
      (cross-attention views: queries and keys are different tokens), and its Chinese text is
      drawn with a CJK font;
  (d) no console errors, page errors, failed or 4xx/5xx local requests;
and (e) the Chinese search page finds the expected pages. Full-page screenshots are written
to _build/screenshots/ (next to HTML_DIR). Exit status 0 only if everything passed.

Adding a chapter: append a Page(...) to PAGES with what the page must contain. Pages of the
build that are not listed are still checked, with math/widgets/explorers detected from the HTML.

Diagnostics that show the checks can fail:
    --no-cjk-fonts         run Chromium with a fontconfig that hides every CJK font (what a
                           machine without fonts-noto-cjk looks like): check (a) must FAIL
    --force-font NAME      force `font-family: NAME` on every element of every page
"""
from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


# --------------------------------------------------------------------------------------------
# What to check. Paths are relative to HTML_DIR.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    path: str
    math: bool = False      # the page must contain formulas (all typeset by the local MathJax)
    widgets: bool = False   # the page must contain stored ipywidgets views (all rendered)
    progress: bool = False  # among them a tqdm.auto progress bar (.widget-hprogress)
    explorers: int = 0      # the page must contain this many attention explorers (.llmb-attn)


PAGES: list[Page] = [
    Page("book/preface.html", math=True),
    Page("notebooks/00_quickstart/quickstart.html", math=True, widgets=True, progress=True),
    Page("book/part1.html"),
    Page("book/part2.html"),
    Page("notebooks/02_compression/2.1_compression.html", math=True),
    Page("book/part3.html"),
    Page("notebooks/03_algorithms/3.1_transformer_architecture.html", math=True, widgets=True, progress=True),
    Page("notebooks/03_algorithms/3.2_pretraining.html", math=True, widgets=True, progress=True),
    Page("book/part4.html", math=True),
    Page("notebooks/04_math/4.1_self_attention.html", math=True, explorers=2),
    Page("notebooks/04_math/4.2_transformer_math.html", math=True, widgets=True, progress=True),
    Page("notebooks/04_math/4.3_pretraining_objectives.html", math=True, widgets=True, progress=True),
    Page("book/part5.html"),
    Page("notebooks/05_practice/5.1_transformer_pytorch.html", math=True, widgets=True, progress=True, explorers=1),
    Page("notebooks/05_practice/5.2_pretraining_gpt.html", math=True, widgets=True, progress=True),
    Page("book/part6.html"),
    Page("book/part7.html"),
    Page("notebooks/07_resources/7.2_pretrained_models.html", math=True, explorers=1),
    Page("notebooks/07_resources/7.3_synthetic_world.html"),
    Page("book/part8.html"),
    Page("book/part9.html"),
    Page("book/glossary.html", math=True),
    Page("book/references.html"),
]


@dataclass(frozen=True)
class Search:
    query: str
    expect: tuple[str, ...] = field(default_factory=tuple)  # pages that must be among the results


SEARCHES: list[Search] = [
    Search("注意力", expect=("book/preface.html",)),
    Search("压缩", expect=("book/preface.html", "book/part2.html")),
    Search("预训练", expect=("book/part3.html",)),
]

# The site root redirects (meta refresh) to the first page of the book.
ROOT_REDIRECT = ("index.html", "book/preface.html")

# Generated pages that are not book content.
SKIP_DISCOVERED = {"search.html", "genindex.html", "py-modindex.html"}

# Families that contain CJK glyphs (matched against the platform font names Chromium reports).
CJK_FONT_RE = re.compile(
    r"CJK|Source Han|Noto (Sans|Serif) (SC|TC|HK|JP|KR)\b|WenQuanYi|Droid Sans Fallback|"
    r"AR PL|PingFang|Hiragino|Heiti|Songti|YaHei|SimSun|SimHei|Sarasa",
    re.IGNORECASE,
)
CJK_CHAR_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE_TIMEOUT_MS = 30_000
WIDGET_TIMEOUT_MS = 20_000


# --------------------------------------------------------------------------------------------
# Scripts evaluated in the page
# --------------------------------------------------------------------------------------------
# Marks up to `max` elements in the main content whose own text holds Chinese characters, and
# returns [{index, cjk, text, font}] for them.
JS_MARK_CJK_ELEMENTS = r"""
(max) => {
  const re = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/g;
  const root = document.querySelector('main article, article.bd-article, main') || document.body;
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
  let el = root;
  while (el && out.length < max) {
    const own = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('');
    const cjk = (own.match(re) || []).length;
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    const visible = r.width > 0 && r.height > 0 && cs.visibility === 'visible' && cs.display !== 'none';
    if (cjk >= 2 && visible && !el.closest('script, style, mjx-container, .jupyter-widgets')) {
      el.setAttribute('data-cjk-check', String(out.length));
      out.push({index: out.length, cjk, text: own.trim().slice(0, 40),
                font: getComputedStyle(el).fontFamily});
    }
    el = walker.nextNode();
  }
  return out;
}
"""

# Draws Chinese characters and two unassigned code points (the "missing glyph" reference) in
# the given font on a canvas; returns a hash and the ink count of each bitmap.
JS_CANVAS_GLYPHS = r"""
(fontFamily) => {
  const chars = ['中', '文', '注', '意', '力', '压', '缩', '智', '能', '型'];
  const missing = ['\u0378', '\u0379'];
  const c = document.createElement('canvas');
  c.width = 64; c.height = 64;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = `40px ${fontFamily}`;
    ctx.textBaseline = 'top';
    ctx.fillStyle = '#000';
    ctx.fillText(ch, 8, 8);
    const d = ctx.getImageData(0, 0, 64, 64).data;
    let h = 2166136261, ink = 0;
    for (let i = 3; i < d.length; i += 4) {
      h = Math.imul(h ^ d[i], 16777619) >>> 0;
      if (d[i] > 0) ink++;
    }
    return {ch, hash: h, ink};
  };
  return {glyphs: chars.map(draw), missing: missing.map(draw)};
}
"""

JS_MATH_STATE = r"""
async () => {
  const mj = window.MathJax;
  let version = null, ready = false;
  if (mj && mj.startup && mj.startup.promise) {
    await mj.startup.promise;
    ready = true;
    version = mj.version || null;
  }
  const scripts = Array.from(document.scripts).map(s => s.src).filter(s => /mathjax/i.test(s));
  const blocks = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = blocks.filter(b => !b.querySelector('mjx-container')).map(b => b.textContent.slice(0, 60));
  const containers = document.querySelectorAll('mjx-container').length;
  const errors = Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent.slice(0, 60));
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea').forEach(n => n.remove());
  const text = main.textContent;
  const raw = [];
  for (const pat of ['$$', '\\(', '\\)', '\\[', '\\]', '\\begin{', '\\frac', '\\sum']) {
    const i = text.indexOf(pat);
    if (i >= 0) raw.push(text.slice(Math.max(0, i - 30), i + 30).replace(/\s+/g, ' '));
  }
  return {ready, version, scripts, blocks: blocks.length, untypeset, containers, errors, raw};
}
"""

JS_WIDGET_STATE = r"""
() => {
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const state = document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]').length;
  const unrendered = views.filter(v => {
    const prev = v.previousElementSibling;
    return !(prev && prev.classList.contains('widget-subarea') && prev.querySelector('.jupyter-widgets'));
  }).length;
  // ipywidgets 8 renders IntProgress/FloatProgress as .widget-hprogress (.widget-vprogress);
  // older versions as .widget-progress. The filled part is .progress-bar.
  const progress = Array.from(document.querySelectorAll('.widget-hprogress, .widget-vprogress, .widget-progress')).map(p => {
    const r = p.getBoundingClientRect();
    const bar = p.querySelector('.progress-bar');
    const b = bar ? bar.getBoundingClientRect() : {width: 0, height: 0};
    return {w: r.width, h: r.height, bar_w: b.width, bar_h: b.height};
  });
  return {views: views.length, state, unrendered,
          rendered: document.querySelectorAll('.widget-subarea .jupyter-widgets').length,
          progress};
}
"""

# State of every attention explorer on the page (see llmbook_lib/static/attention_explorer.js).
JS_EXPLORER_STATE = r"""
() => Array.from(document.querySelectorAll('.llmb-attn')).map(r => {
  const svg = r.querySelector('svg.llmb-attn-svg');
  const drawn = Array.from(r.querySelectorAll('.llmb-attn-cellrect, .llmb-attn-line'));
  const data = r.querySelector('script[type="application/json"]');
  const sen = data ? JSON.parse(data.textContent).sentences[+(r.getAttribute('data-state') || '0').split('|')[0]] : null;
  return {id: r.id, mounted: r.getAttribute('data-mounted') === '1', state: r.getAttribute('data-state'),
          fallback: !!r.querySelector('.llmb-attn-fallback'),
          view: svg ? svg.getAttribute('data-view') : null,
          labels: r.querySelectorAll('text.llmb-attn-qlabel').length,
          keys: r.querySelectorAll('text.llmb-attn-klabel').length,
          cross: r.getAttribute('data-cross') === '1',
          expect: sen ? {queries: (sen.queries || sen.tokens).length, keys: sen.tokens.length, cross: !!sen.queries} : null,
          drawn: drawn.length,
          weights: drawn.map(e => e.getAttribute('data-q') + ':' + e.getAttribute('data-k') + '=' +
                                   e.getAttribute('data-w')).join(','),
          rowsums: svg && svg.getAttribute('data-view') === 'heatmap'
            ? Object.values(drawn.reduce((s, e) => { const q = e.getAttribute('data-q');
                s[q] = (s[q] || 0) + parseFloat(e.getAttribute('data-w')); return s; }, {})) : [],
          pinned: !!r.querySelector('.llmb-attn-pin'),
          topk: Array.from(r.querySelectorAll('ol.llmb-attn-topk li')).map(li => li.textContent)};
})
"""

JS_SEARCH_STATE = r"""
() => {
  const summary = document.querySelector('#search-results .search-summary, p.search-summary');
  const items = Array.from(document.querySelectorAll('#search-results ul.search li a, ul.search li a'));
  return {summary: summary ? summary.textContent.trim() : '',
          links: items.map(a => a.getAttribute('href'))};
}
"""


# --------------------------------------------------------------------------------------------
# Infrastructure
# --------------------------------------------------------------------------------------------
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the report readable
        pass


def start_server(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def fontconfig_without_cjk(tmp: Path) -> Path:
    """A fontconfig file that exposes only the fonts without CJK glyphs (diagnostic)."""
    dirs = [d for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
            if Path(d).is_dir()]
    conf = tmp / "fonts-no-cjk.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        + "".join(f"  <dir>{d}</dir>\n" for d in dirs)
        + f"  <cachedir>{tmp}/fc-cache</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


def discover_pages(html_dir: Path) -> list[str]:
    pages = []
    for p in sorted(html_dir.rglob("*.html")):
        rel = p.relative_to(html_dir).as_posix()
        if rel.split("/")[0] in {"_static", "_sources", "_images"} or rel in SKIP_DISCOVERED:
            continue
        if rel == ROOT_REDIRECT[0]:
            continue
        pages.append(rel)
    return pages


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, bool, str]] = []  # (page, check, ok, detail)

    def add(self, page: str, check: str, ok: bool, detail: str = "") -> None:
        self.rows.append((page, check, ok, detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  [{mark}] {check}: {detail}" if detail else f"  [{mark}] {check}", flush=True)

    @property
    def failures(self) -> list[tuple[str, str, bool, str]]:
        return [r for r in self.rows if not r[2]]


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def check_cjk(page, cdp, report: Report, name: str) -> None:
    """(a) Chinese glyphs come from a CJK font and are real, distinct glyphs."""
    marked = page.evaluate(JS_MARK_CJK_ELEMENTS, 6)
    if not marked:
        report.add(name, "cjk-font", False, "no visible element with Chinese text found")
        return
    doc = cdp.send("DOM.getDocument", {"depth": -1})
    problems, used = [], set()
    for m in marked:
        node = cdp.send("DOM.querySelector",
                        {"nodeId": doc["root"]["nodeId"], "selector": f'[data-cjk-check="{m["index"]}"]'})
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        cjk_glyphs = sum(f["glyphCount"] for f in fonts if CJK_FONT_RE.search(f["familyName"]))
        used.update(f'{f["familyName"]}' for f in fonts)
        if cjk_glyphs < m["cjk"]:
            problems.append(f'"{m["text"]}": {m["cjk"]} Chinese characters but {cjk_glyphs} glyphs '
                            f'from CJK fonts (fonts used: '
                            + ", ".join(f'{f["familyName"]}×{f["glyphCount"]}' for f in fonts) + ")")
    # Independent of font names: distinct characters must give distinct, inked bitmaps that
    # differ from the missing-glyph bitmap.
    canvas = page.evaluate(JS_CANVAS_GLYPHS, marked[0]["font"])
    glyphs, missing = canvas["glyphs"], canvas["missing"]
    hashes = {g["hash"] for g in glyphs}
    tofu = {m["hash"] for m in missing}
    if any(g["ink"] == 0 for g in glyphs):
        problems.append("canvas: some Chinese characters draw no pixels")
    if len(hashes) < len(glyphs):
        problems.append(f"canvas: {len(glyphs)} different Chinese characters draw only "
                        f"{len(hashes)} different bitmaps (boxes?)")
    if hashes & tofu:
        problems.append("canvas: Chinese characters draw the same bitmap as an unassigned code point")
    if problems:
        report.add(name, "cjk-font", False, "; ".join(problems))
    else:
        report.add(name, "cjk-font", True,
                   f"{sum(m['cjk'] for m in marked)} Chinese characters in {len(marked)} elements "
                   f"rendered by: {', '.join(sorted(used))}")


def check_math(page, report: Report, name: str, expected: bool) -> None:
    """(b) All formulas typeset by the MathJax served from this site."""
    st = page.evaluate(JS_MATH_STATE)
    if st["blocks"] == 0 and not expected:
        return
    problems = []
    if expected and st["blocks"] == 0:
        problems.append("page is listed with math=True but contains no formulas")
    if not st["ready"]:
        problems.append("MathJax did not start")
    if not st["scripts"] or any("_static/mathjax/" not in s for s in st["scripts"]):
        problems.append(f"MathJax not loaded from _static/mathjax/: {st['scripts']}")
    if st["untypeset"]:
        problems.append(f"{len(st['untypeset'])} formulas not typeset, e.g. {st['untypeset'][0]!r}")
    if st["errors"]:
        problems.append(f"TeX errors: {st['errors'][:3]}")
    if st["raw"]:
        problems.append(f"raw TeX left in the text: {st['raw'][:3]}")
    report.add(name, "math", not problems,
               "; ".join(problems) if problems else
               f"{st['blocks']} formulas -> {st['containers']} mjx-container (MathJax {st['version']}, local)")


def check_widgets(page, report: Report, name: str, expected: bool, progress: bool) -> None:
    """(c) Every stored widget view rendered by the local embed script."""
    st = page.evaluate(JS_WIDGET_STATE)
    if st["views"] == 0 and not expected:
        return
    if st["views"]:
        try:
            page.wait_for_function(
                """() => Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'))
                      .every(v => v.previousElementSibling && v.previousElementSibling.querySelector('.jupyter-widgets'))""",
                timeout=WIDGET_TIMEOUT_MS)
        except Exception:
            pass
        st = page.evaluate(JS_WIDGET_STATE)
    problems = []
    if expected and st["views"] == 0:
        problems.append("page is listed with widgets=True but stores no widget views")
    if st["views"] and not st["state"]:
        problems.append("widget views without a widget-state script")
    if st["unrendered"]:
        problems.append(f"{st['unrendered']} of {st['views']} widget views did not render")
    if progress and not any(p["w"] > 0 and p["h"] > 0 and p["bar_w"] > 0 for p in st["progress"]):
        problems.append("no visible, filled progress bar (.widget-hprogress .progress-bar, the "
                        "tqdm.auto bar)")
    report.add(name, "widgets", not problems,
               "; ".join(problems) if problems else
               f"{st['views']} views rendered, {len(st['progress'])} progress bars")


def check_explorers(page, cdp, report: Report, name: str, expected: int, shots: Path) -> None:
    """(c') Attention explorers: rendered, interactive without a kernel, Chinese glyphs drawn."""
    roots = page.query_selector_all(".llmb-attn")
    if not roots and not expected:
        return
    problems: list[str] = []
    if expected and len(roots) != expected:
        problems.append(f"expected {expected} attention explorers, found {len(roots)}")
    try:
        page.wait_for_function("() => Array.from(document.querySelectorAll('.llmb-attn'))"
                               ".every(r => r.getAttribute('data-mounted') === '1')", timeout=WIDGET_TIMEOUT_MS)
    except Exception:
        pass
    states = page.evaluate(JS_EXPLORER_STATE)
    if len({s["id"] for s in states}) != len(states):
        problems.append("explorer element ids are not unique")

    def state(i):
        return page.evaluate(JS_EXPLORER_STATE)[i]

    done = []
    for i, root in enumerate(roots):
        tag = f"explorer {i + 1}"
        st = states[i]
        if not st["mounted"] or st["fallback"] or not st["drawn"] or not st["topk"]:
            problems.append(f"{tag} did not render (mounted={st['mounted']}, drawn={st['drawn']}, "
                            f"top-k items={len(st['topk'])})")
            continue
        bad = [x for x in st["rowsums"] if abs(x - 1) > 0.02]
        if bad:
            problems.append(f"{tag}: heatmap rows do not sum to 1: {bad[:3]}")
        # one row label per query, one column label per key, a cell for each (cross-attention too)
        ex = st["expect"] or {}
        if (st["labels"], st["keys"], st["cross"]) != (ex.get("queries"), ex.get("keys"), ex.get("cross")):
            problems.append(f"{tag}: drew {st['labels']} query and {st['keys']} key labels (cross={st['cross']}), "
                            f"the data has {ex.get('queries')} queries and {ex.get('keys')} keys (cross={ex.get('cross')})")
        elif st["view"] == "heatmap" and st["drawn"] != ex["queries"] * ex["keys"]:
            problems.append(f"{tag}: heatmap has {st['drawn']} cells, not {ex['queries']} x {ex['keys']}")
        # hover two different query tokens: the top-k list follows the mouse
        n = st["labels"]
        labels = root.query_selector_all("text.llmb-attn-qlabel")
        labels[1].hover()
        first = state(i)["topk"]
        labels[n // 2].hover()
        second = state(i)["topk"]
        if first == second or first == st["topk"]:
            problems.append(f"{tag}: hovering tokens 2 and {n // 2 + 1} did not change the top-k list")
        # click pins a row; moving away keeps it; clicking again unpins
        labels[1].click()
        page.mouse.move(1, 1)
        pinned = state(i)
        if not pinned["pinned"] or pinned["topk"] != first:
            problems.append(f"{tag}: clicking token 2 did not pin its top-k list")
        labels[1].click()
        page.mouse.move(1, 1)
        if state(i)["pinned"]:
            problems.append(f"{tag}: a second click did not unpin the row")
        # layer, head, temperature and view: each redraws different weights
        before = state(i)
        sel = root.query_selector('select[data-role="layer"]')
        options = [o.get_attribute("value") for o in sel.query_selector_all("option")]
        current = sel.evaluate("e => e.value")
        if len(options) > 1:
            sel.select_option(next(o for o in options if o != current))
            after = state(i)
            if after["weights"] == before["weights"] or after["state"] == before["state"]:
                problems.append(f"{tag}: changing the layer did not change the drawn weights")
            before = after
        sel = root.query_selector('select[data-role="head"]')
        current = sel.evaluate("e => e.value")
        sel.select_option("0" if current == "mean" else "mean")
        after = state(i)
        if after["weights"] == before["weights"]:
            problems.append(f"{tag}: changing the head did not change the drawn weights")
        before = after
        root.query_selector('input[data-role="temperature"]').evaluate(
            "e => { e.value = '-0.5'; e.dispatchEvent(new Event('input', {bubbles: true})); }")
        after = state(i)
        if after["weights"] == before["weights"] or "|0.32|" not in (after["state"] or ""):
            problems.append(f"{tag}: the temperature slider (τ = 0.32) did not change the drawn weights")
        if any(abs(x - 1) > 0.02 for x in after["rowsums"]):
            problems.append(f"{tag}: rows do not sum to 1 after a temperature change")
        other = "lines" if after["view"] == "heatmap" else "heatmap"
        root.query_selector(f'button[data-view="{other}"]').click()
        after = state(i)
        if after["view"] != other or not after["drawn"]:
            problems.append(f"{tag}: the view toggle did not switch to {other}")
        root.query_selector(f'button[data-view="{st["view"]}"]').click()      # back to the start view
        root.query_selector('button[data-role="reset-temperature"]').click()
        root.scroll_into_view_if_needed()
        root.screenshot(path=str(shots / (name.replace("/", "__").replace(".html", "") + f"__explorer{i + 1}.png")))
        done.append(f"{st['labels']} x {st['keys']} cross-attention, {st['view']}" if st["cross"]
                    else f"{st['labels']} tokens, {st['view']}")
    # Chinese glyphs inside the explorers (side panel and SVG token labels) come from a CJK font
    marked = page.evaluate("""() => {
        const re = /[\u3400-\u9fff]/;
        const els = Array.from(document.querySelectorAll('.llmb-attn .llmb-attn-query span, .llmb-attn text'))
          .filter(e => re.test(e.textContent));
        els.slice(0, 8).forEach((e, i) => e.setAttribute('data-explorer-cjk', String(i)));
        return els.slice(0, 8).map(e => (e.textContent.match(/[\u3400-\u9fff]/g) || []).length);
    }""")
    if any(s["mounted"] for s in states) and not marked:
        problems.append("no Chinese text found in the explorers")
    doc = cdp.send("DOM.getDocument", {"depth": -1})
    for k, n_cjk in enumerate(marked):
        node = cdp.send("DOM.querySelector",
                        {"nodeId": doc["root"]["nodeId"], "selector": f'[data-explorer-cjk="{k}"]'})
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        glyphs = sum(f["glyphCount"] for f in fonts if CJK_FONT_RE.search(f["familyName"]))
        if glyphs < n_cjk:
            problems.append(f"explorer text {k}: {n_cjk} Chinese characters but {glyphs} glyphs from CJK "
                            "fonts (" + ", ".join(f'{f["familyName"]}×{f["glyphCount"]}' for f in fonts) + ")")
            break
    report.add(name, "explorers", not problems,
               "; ".join(problems) if problems else
               f"{len(roots)} explorers ({'; '.join(done)}): hover, pin, layer, head, temperature and "
               f"view all redraw; {len(marked)} Chinese labels in CJK fonts")


def open_page(context, url: str):
    """Open url, collecting console errors, page errors and failed local requests."""
    page = context.new_page()
    events: list[str] = []
    page.on("console", lambda m: events.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: events.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: events.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: events.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    try:
        page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)
    except Exception:
        events.append("network did not go idle within the timeout")
    return page, events


def screenshot(page, shots: Path, rel: str) -> None:
    target = shots / (rel.replace("/", "__").replace(".html", "") + ".png")
    page.screenshot(path=str(target), full_page=True)


def run(html_dir: Path, shots: Path, no_cjk: bool, force_font: str | None) -> Report:
    from playwright.sync_api import sync_playwright

    report = Report()
    blocked: list[str] = []
    server, base = start_server(html_dir)
    tmp = Path(tempfile.mkdtemp(prefix="browser-check-"))
    env = None
    if no_cjk:
        import os
        env = dict(os.environ, FONTCONFIG_FILE=str(fontconfig_without_cjk(tmp)))
    listed = {p.path: p for p in PAGES}
    discovered = discover_pages(html_dir)
    missing = [p for p in listed if not (html_dir / p).is_file()]
    for p in missing:
        report.add(p, "exists", False, "listed in PAGES but not in the build")
    unlisted = [p for p in discovered if p not in listed]
    pages = [listed[p] for p in listed if p not in missing] + [Page(p) for p in unlisted]

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True, env=env)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                          service_workers="block")

            def gate(route):
                url = route.request.url
                if url.startswith(base) or url.startswith(("data:", "blob:")):
                    route.continue_()
                else:
                    blocked.append(url)
                    route.abort()

            context.route("**/*", gate)
            if force_font:
                context.add_init_script(
                    "document.addEventListener('DOMContentLoaded', () => {"
                    "const s = document.createElement('style');"
                    f"s.textContent = '* {{ font-family: \"{force_font}\" !important; }}';"
                    "document.head.appendChild(s); });")

            # root redirect
            src, dst = ROOT_REDIRECT
            print(f"\n{src}", flush=True)
            page, events = open_page(context, base + src)
            try:
                page.wait_for_url(base + dst, timeout=PAGE_TIMEOUT_MS)
                report.add(src, "redirect", True, f"-> {dst}")
            except Exception:
                report.add(src, "redirect", False, f"did not redirect to {dst} (at {page.url})")
            page.close()

            for spec in pages:
                note = "" if spec.path in listed else "   (not in PAGES: features detected from the HTML)"
                print(f"\n{spec.path}{note}", flush=True)
                n_blocked = len(blocked)
                page, events = open_page(context, base + spec.path)
                cdp = context.new_cdp_session(page)
                cdp.send("DOM.enable")
                cdp.send("CSS.enable")
                check_cjk(page, cdp, report, spec.path)
                check_math(page, report, spec.path, spec.math)
                check_widgets(page, report, spec.path, spec.widgets, spec.progress)
                check_explorers(page, cdp, report, spec.path, spec.explorers, shots)
                page.wait_for_timeout(300)  # late console errors
                report.add(spec.path, "console", not events,
                           "; ".join(events[:5]) if events else "no errors")
                new_blocked = blocked[n_blocked:]
                report.add(spec.path, "offline", not new_blocked,
                           f"blocked {len(new_blocked)} non-local requests: {new_blocked[:3]}"
                           if new_blocked else "no non-local requests")
                screenshot(page, shots, spec.path)
                page.close()

            for s in SEARCHES:
                rel = f"search.html?q={s.query}"
                print(f"\n{rel}", flush=True)
                page, events = open_page(context, base + rel)
                st = {"summary": "", "links": []}
                try:
                    page.wait_for_function(
                        "() => { const s = document.querySelector('.search-summary');"
                        " return s && s.textContent.trim().length > 0; }", timeout=PAGE_TIMEOUT_MS)
                except Exception:
                    pass
                st = page.evaluate(JS_SEARCH_STATE)
                hits = [re.sub(r"[?#].*$", "", h or "") for h in st["links"]]
                lacking = [e for e in s.expect if e not in hits]
                ok = bool(hits) and not lacking and not events
                detail = f"{len(hits)} results" + (f", missing {lacking}" if lacking else "") \
                    + (f"; {events[:3]}" if events else "") + f" ({st['summary'][:60]})"
                report.add(rel, "search", ok, detail)
                screenshot(page, shots, f"search_{s.query}")
                page.close()
            context.close()
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    if blocked:
        report.add("(all)", "offline", False, f"{len(blocked)} non-local requests blocked in total")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html_dir", type=Path, help="the built site, e.g. _build/html")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="where to write screenshots (default: HTML_DIR/../screenshots)")
    ap.add_argument("--no-cjk-fonts", action="store_true",
                    help="diagnostic: hide all CJK fonts from Chromium; the CJK check must fail")
    ap.add_argument("--force-font", metavar="NAME", default=None,
                    help="diagnostic: force font-family NAME on every element")
    args = ap.parse_args()

    html_dir = args.html_dir.resolve()
    if not (html_dir / ROOT_REDIRECT[0]).is_file():
        print(f"browser_check: {html_dir}/index.html not found; build the site first (make html)",
              file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(f"browser_check: {CHROMIUM} not found; install it: sudo apt-get install -y chromium "
              "fonts-noto-cjk", file=sys.stderr)
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("browser_check: the playwright package is missing (pip install playwright)",
              file=sys.stderr)
        return 2
    shots = (args.screenshots or html_dir.parent / "screenshots").resolve()
    shots.mkdir(parents=True, exist_ok=True)

    t0 = time.monotonic()
    report = run(html_dir, shots, args.no_cjk_fonts, args.force_font)
    failures = report.failures
    pages = len({r[0] for r in report.rows})
    print("\n" + "=" * 78)
    if failures:
        print(f"FAIL: {len(failures)} of {len(report.rows)} checks failed on {pages} pages "
              f"({time.monotonic() - t0:.0f} s)")
        for page, check, _, detail in failures:
            print(f"  {page} [{check}] {detail}")
    else:
        print(f"PASS: all {len(report.rows)} checks on {pages} pages "
              f"({time.monotonic() - t0:.0f} s); screenshots in {shots}")
    print("=" * 78)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
