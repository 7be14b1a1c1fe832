#!/usr/bin/env python3
"""Browser check of the built website: open it in headless Chromium, offline, and assert that
what a reader sees actually works.

    python tests/browser_check.py _build/html          (what `make browser` runs)

Not a pytest file: it runs after the site build. Pages are opened through a local HTTP server on
127.0.0.1 (the way the site is served in production: widget scripts derive asset URLs from their
own URL, which file:// breaks). Every request that does not go to that server is blocked and
counted as a failure.

The cost must not grow much with every chapter (`make test` has to stay under 30 minutes as the
book grows to ~30 notebooks), so the checks come in two tiers.

Every page of the build (cheap, ~2 s a page, almost all of it the page load itself):
  (d) no console errors, page errors, failed or 4xx/5xx local requests, no non-local requests
      (the root index.html too, which is also a reader's first visit: an empty localStorage);
  (b) every formula was typeset by the local MathJax (mjx-container, no TeX errors, no raw $$
      or \\( left in the text). Kept on every page because it costs ~20 ms once the page is
      loaded and a TeX error belongs to one page;
  and, from the HTML file alone, what PAGES promises (formulas, widget views, explorers).

A sample chosen by kind (the expensive checks; `--full` runs them on every page):
  - every page with stored widgets: (c) every ipywidgets view rendered (a tqdm.auto bar is a
    .widget-hprogress), and (m) at 390 px every progress bar keeps a visible width, has a
    visible label beside it, and nothing in its row runs past the row;
  - every page with an attention explorer: (c') every explorer (llmbook_lib.viz.explorer,
    self-contained HTML/JS) rendered and responds without a kernel: hovering/clicking a token
    changes its top-k list, a layer/head/temperature change redraws different weights, a view
    toggle switches heatmap/lines, one row label per query and one column label per key
    (cross-attention: queries and keys are different tokens), Chinese text in a CJK font;
  - one prose page (the first page under book/): (a) Chinese text is drawn with a real CJK
    font, not as boxes ("tofu"): Chromium reports which platform fonts rendered the glyphs
    (DevTools CSS.getPlatformFontsForNode), and distinct Chinese characters must draw distinct,
    inked bitmaps on a canvas; (n) navigation: at 390 px (a phone) a tap on ☰ opens the
    sidebar with the nine numbered part captions visible and closing it puts the sidebar back;
    at 1280 px ☰ collapses the sidebar and a second click brings it back; screenshots at both
    widths;
  - one notebook with math (the first one that is not already sampled for its widgets or
    explorers): (a) as above; (n) at 390 px the contents button opens the page's table of
    contents; screenshots at both widths;
  - the search page: (e) the Chinese search finds the expected pages.
Screenshots are written to _build/screenshots/ (next to HTML_DIR). Exit status 0 only if
everything passed.

Adding a chapter needs nothing here: its page is found in the build and sampled by what its
HTML contains. List it in PAGES only to promise what it must contain (math, widgets, a progress
bar, n explorers), so that losing them fails.

Diagnostics that show the checks can fail:
    --no-cjk-fonts         run Chromium with a fontconfig that hides every CJK font (what a
                           machine without fonts-noto-cjk looks like): check (a) must FAIL
    --force-font NAME      force `font-family: NAME` on every element of every page
    --full                 run the expensive checks on every page, not on the sample
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
    Page("notebooks/01_background/1.1_history_of_ai.html", math=True),
    Page("notebooks/01_background/1.2_emergence_of_llms.html", math=True),
    Page("notebooks/01_background/1.3_agi_vision.html", math=True),
    Page("book/part2.html"),
    Page("notebooks/02_compression/2.1_compression.html", math=True),
    Page("notebooks/02_compression/2.2_core_concepts.html", math=True, widgets=True, progress=True),
    Page("notebooks/02_compression/2.3_llm_and_agi.html"),
    Page("notebooks/02_compression/2.3.2_length_generalisation.html"),
    Page("book/part3.html"),
    Page("notebooks/03_algorithms/3.1_transformer_architecture.html", math=True, widgets=True, progress=True),
    Page("notebooks/03_algorithms/3.2_pretraining.html", math=True, widgets=True, progress=True),
    Page("notebooks/03_algorithms/3.3_finetuning.html", math=True, widgets=True, progress=True),
    Page("notebooks/03_algorithms/3.3.2_few_shot.html", math=True, widgets=True, progress=True),
    Page("notebooks/03_algorithms/3.3.3_prompt_learning.html", math=True, widgets=True, progress=True),
    Page("book/part4.html", math=True),
    Page("notebooks/04_math/4.1_self_attention.html", math=True, explorers=2),
    Page("notebooks/04_math/4.2_transformer_math.html", math=True, widgets=True, progress=True),
    Page("notebooks/04_math/4.3_pretraining_objectives.html", math=True, widgets=True, progress=True),
    Page("book/part5.html"),
    Page("notebooks/05_practice/5.1_transformer_pytorch.html", math=True, widgets=True, progress=True, explorers=1),
    Page("notebooks/05_practice/5.2.0_gpt_from_scratch.html", math=True, widgets=True, progress=True),
    Page("notebooks/05_practice/5.2_pretraining_gpt.html", math=True, widgets=True, progress=True),
    Page("notebooks/05_practice/5.3_finetuning_applications.html", math=True, widgets=True, progress=True),
    Page("notebooks/05_practice/5.3.3_question_answering.html", math=True, widgets=True, progress=True),
    Page("book/part6.html"),
    Page("notebooks/06_applications/6.1.1_machine_translation.html", math=True, widgets=True, progress=True),
    Page("notebooks/06_applications/6.1.2_sentiment_practice.html", math=True),
    Page("notebooks/06_applications/6.1.3_summarisation.html", math=True, widgets=True, progress=True),
    Page("notebooks/06_applications/6.2.1_entity_linking.html", math=True, widgets=True, progress=True),
    Page("notebooks/06_applications/6.2.2_relation_extraction.html", math=True),
    Page("notebooks/06_applications/6.2.3_knowledge_reasoning.html", math=True),
    Page("notebooks/06_applications/6.2.3_lm_knowledge_base.html", math=True),
    Page("notebooks/06_applications/6.2.3_multi_hop.html", math=True, widgets=True, progress=True),
    Page("notebooks/06_applications/6.3.1_task_oriented_dialogue.html", math=True, widgets=True, progress=True),
    Page("notebooks/06_applications/6.3.2_open_domain_dialogue.html", math=True, widgets=True, progress=True),
    Page("notebooks/06_applications/6.3.3_persona_dialogue.html", widgets=True, progress=True),
    Page("book/part7.html"),
    Page("notebooks/07_resources/7.1_open_source_toolkits.html", math=True),
    Page("notebooks/07_resources/7.2_pretrained_models.html", math=True, explorers=1),
    Page("notebooks/07_resources/7.3_datasets.html", math=True),
    Page("notebooks/07_resources/7.3_synthetic_world.html"),
    Page("book/part8.html"),
    Page("notebooks/08_trends/8.1.1_scaling_laws.html", math=True, widgets=True, progress=True),
    Page("notebooks/08_trends/8.1.2_multimodal.html", math=True, widgets=True, progress=True),
    Page("notebooks/08_trends/8.1.3_knowledge_augmentation.html", math=True),
    Page("notebooks/08_trends/8.2.1_interpretability.html", math=True, widgets=True, progress=True,
         explorers=1),
    Page("notebooks/08_trends/8.2.2_robustness.html", math=True, widgets=True, progress=True),
    Page("notebooks/08_trends/8.2.3_ethics_and_safety.html", math=True),
    Page("notebooks/08_trends/8.3.1_efficient_pretraining.html", math=True, widgets=True, progress=True),
    Page("notebooks/08_trends/8.3.3_human_ai_collaboration.html", math=True),
    Page("book/part9.html"),
    Page("notebooks/09_faq/9.1_llm_vs_traditional_nlp.html", math=True, widgets=True, progress=True),
    Page("notebooks/09_faq/9.2_compute_requirements.html", math=True, widgets=True),
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
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}     # an iPhone 12-15 in CSS pixels
MIN_BAR_PX = 40                           # a progress bar narrower than this is not readable
# The numbered part captions of the sidebar (_toc.yml): "1 背景介绍" … "9 附录：常见问题与解答".
PART_CAPTIONS = [str(i) for i in range(1, 10)]


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

# State of every attention explorer on the page (see llmbook_lib/viz/static/attention_explorer.js).
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

# Each progress bar at the current (phone) width: its width, the visible text labelling it
# (tqdm: "desc: 42%" in the HTML widget before the bar; ipywidgets: the bar's own description),
# and whatever in its row runs past the row's right edge.
JS_PROGRESS_LAYOUT = r"""
() => Array.from(document.querySelectorAll('.widget-hprogress')).map(p => {
  const shown = e => { const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && cs.visibility === 'visible' && cs.display !== 'none'; };
  const row = p.parentElement.classList.contains('widget-hbox') ? p.parentElement : p;
  const rr = row.getBoundingClientRect();
  const texts = [p.querySelector('.widget-label')]
    .concat(Array.from(row.children).slice(0, Array.from(row.children).indexOf(p)))
    .filter(e => e && shown(e)).map(e => e.textContent.replace(/\s+/g, ' ').trim());
  // the label proper: what is left once the percentage is taken away
  const label = texts.join(' ').replace(/\d+(\.\d+)?\s*%/g, '').replace(/[:：|\s]+/g, ' ').trim();
  const over = Array.from(row.children).filter(c => shown(c) && c.getBoundingClientRect().right > rr.right + 1)
    .map(c => c.textContent.trim().slice(0, 30));
  return {w: Math.round(p.getBoundingClientRect().width), label, text: texts.join(' ').slice(0, 40),
          over, right: Math.round(rr.right), vw: window.innerWidth};
})
"""

# The sidebar dialog of pydata-sphinx-theme (#pst-primary-sidebar-modal or
# #pst-secondary-sidebar-modal): is it open and on screen, which part captions and how many
# links does it show.
JS_DIALOG_STATE = r"""
(id) => {
  const d = document.getElementById(id);
  if (!d) return null;
  const shown = e => { const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && cs.visibility === 'visible' && cs.display !== 'none'; };
  const r = d.getBoundingClientRect();
  return {open: d.open, shown: d.open && shown(d) && r.left < window.innerWidth && r.right > 0,
          width: Math.round(r.width),
          captions: Array.from(d.querySelectorAll('p.caption')).filter(shown).map(c => c.textContent.trim()),
          links: Array.from(d.querySelectorAll('a')).filter(shown).length};
}
"""

# The primary sidebar on a wide screen: shown or collapsed, and how wide the article is.
JS_PRIMARY_SIDEBAR = r"""
() => {
  const s = document.getElementById('pst-primary-sidebar');
  const a = document.querySelector('.bd-article-container') || document.querySelector('main');
  const cs = s ? getComputedStyle(s) : null;
  return {exists: !!s, visible: !!cs && cs.visibility === 'visible' && cs.display !== 'none' &&
                                s.getBoundingClientRect().width > 0 && parseFloat(cs.opacity) > 0.5,
          hidden: !!cs && (cs.visibility === 'hidden' || cs.display === 'none'),
          captions: s ? s.querySelectorAll('p.caption').length : 0,
          article: a ? Math.round(a.getBoundingClientRect().width) : 0,
          dialog: !!document.querySelector('#pst-primary-sidebar-modal[open]')};
}
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


@dataclass(frozen=True)
class Features:
    """What a page's HTML file holds, read without a browser."""
    math: int        # formulas (span.math / div.math)
    widgets: int     # stored ipywidgets views
    explorers: int   # attention explorers (.llmb-attn)
    notebook: bool   # a notebook page (everything under notebooks/)


def page_features(html_dir: Path, rel: str) -> Features:
    html = (html_dir / rel).read_text(encoding="utf-8", errors="replace")
    return Features(math=len(re.findall(r'<(?:span|div) class="math[ "]', html)),
                    widgets=html.count('type="application/vnd.jupyter.widget-view+json"'),
                    explorers=len(re.findall(r'class="llmb-attn"', html)),
                    notebook=rel.startswith("notebooks/"))


def choose_sample(pages: list[str], feats: dict[str, Features], full: bool) -> dict[str, set[str]]:
    """Pages that get the expensive checks, each with the kinds it stands for."""
    sample: dict[str, set[str]] = {}
    for path in pages:
        f = feats[path]
        if f.widgets:
            sample.setdefault(path, set()).add("widgets")
        if f.explorers:
            sample.setdefault(path, set()).add("explorers")
        if full:
            sample.setdefault(path, set()).add("notebook" if f.notebook else "prose")
    if not full:
        prose = [p for p in pages if p.startswith("book/")]
        if prose:
            sample.setdefault(prose[0], set()).add("prose")
        with_math = [p for p in pages if feats[p].notebook and feats[p].math]
        fresh = [p for p in with_math if p not in sample]
        if with_math:
            sample.setdefault((fresh or with_math)[0], set()).add("notebook")
    return sample


def check_promises(report: Report, spec: Page, f: Features) -> None:
    """What PAGES promises for a page, checked in its HTML file (every page, no browser)."""
    problems = []
    if spec.math and not f.math:
        problems.append("listed with math=True but its HTML has no formulas")
    if (spec.widgets or spec.progress) and not f.widgets:
        problems.append("listed with widgets=True but its HTML stores no widget views")
    if spec.explorers and f.explorers != spec.explorers:
        problems.append(f"listed with {spec.explorers} attention explorers, its HTML has {f.explorers}")
    report.add(spec.path, "contents", not problems,
               "; ".join(problems) if problems else
               f"{f.math} formulas, {f.widgets} widget views, {f.explorers} explorers")


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
        root.screenshot(path=str(shots / (shot_name(name) + f"__explorer{i + 1}.png")))
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


def check_progress_phone(page, report: Report, name: str, shots: Path) -> None:
    """(m) At phone width every progress bar keeps a visible width and a visible label."""
    page.set_viewport_size(PHONE)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    bars = page.evaluate(JS_PROGRESS_LAYOUT)
    if not bars:
        page.set_viewport_size(DESKTOP)
        return
    problems = []
    for i, b in enumerate(bars):
        tag = f"bar {i + 1} ({b['text']!r})"
        if b["w"] < MIN_BAR_PX:
            problems.append(f"{tag} is {b['w']} px wide at {PHONE['width']} px (needs {MIN_BAR_PX})")
        if not b["label"]:
            problems.append(f"{tag} has no visible label (tqdm.auto(desc=...))")
        if b["over"]:
            problems.append(f"{tag}: {b['over']} runs past the right edge of its row")
    first = page.query_selector(".widget-hprogress")
    first.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(shots / (shot_name(name) + "__phone-progress.png")))
    page.set_viewport_size(DESKTOP)
    report.add(name, "progress@390px", not problems,
               "; ".join(problems[:4]) + (f" (+{len(problems) - 4} more)" if len(problems) > 4 else "")
               if problems else
               f"{len(bars)} bars, {min(b['w'] for b in bars)}-{max(b['w'] for b in bars)} px wide, "
               f"all labelled (e.g. {bars[0]['label']!r})")


def open_dialog(page, toggle: str, dialog: str) -> dict | None:
    """Tap the visible `toggle` button (as a finger would) and return the state of `dialog`."""
    button = page.locator(f"button.{toggle}:visible").first
    button.tap(timeout=5_000)
    try:
        page.wait_for_function(f"() => !!document.querySelector('#{dialog}[open]')", timeout=5_000)
        page.wait_for_timeout(300)  # let the theme move the sidebar into the dialog
    except Exception:
        pass
    return page.evaluate(JS_DIALOG_STATE, dialog)


def check_nav_phone_primary(page, report: Report, name: str, shots: Path) -> None:
    """(n) At phone width ☰ opens the book's navigation with the nine part captions."""
    problems = []
    try:
        st = open_dialog(page, "primary-toggle", "pst-primary-sidebar-modal")
    except Exception as e:  # no visible button to tap
        report.add(name, "nav ☰@390px", False, f"could not tap ☰: {str(e).splitlines()[0]}")
        return
    numbered = sorted({c.split()[0] for c in (st or {}).get("captions", []) if c.split()[0] in PART_CAPTIONS})
    if not st or not st["shown"]:
        problems.append("tapping ☰ opened no sidebar")
    elif numbered != PART_CAPTIONS:
        problems.append(f"the sidebar shows part captions {numbered}, not 1-9 (all captions: {st['captions']})")
    page.screenshot(path=str(shots / (shot_name(name) + "__phone-menu.png")))
    page.keyboard.press("Escape")
    try:
        page.wait_for_function("() => !document.querySelector('#pst-primary-sidebar-modal[open]')", timeout=5_000)
    except Exception:
        problems.append("Escape did not close the sidebar")
    back = page.evaluate(JS_PRIMARY_SIDEBAR)
    if not back["captions"]:
        problems.append("after closing, the navigation is gone from the page's sidebar")
    report.add(name, "nav ☰@390px", not problems,
               "; ".join(problems) if problems else
               f"tap on ☰ opened the sidebar ({st['width']} px): {len(st['captions'])} captions, "
               f"parts 1-9 visible; Escape closed it")


def check_nav_phone_contents(page, report: Report, name: str, shots: Path) -> None:
    """(n) At phone width the contents button opens the page's table of contents."""
    problems = []
    try:
        st = open_dialog(page, "secondary-toggle", "pst-secondary-sidebar-modal")
    except Exception as e:
        report.add(name, "nav contents@390px", False,
                   f"could not tap the contents button: {str(e).splitlines()[0]}")
        return
    if not st or not st["shown"]:
        problems.append("tapping the contents button opened nothing")
    elif st["links"] < 2:
        problems.append(f"the contents sidebar shows {st['links']} links")
    page.screenshot(path=str(shots / (shot_name(name) + "__phone-contents.png")))
    page.keyboard.press("Escape")
    report.add(name, "nav contents@390px", not problems,
               "; ".join(problems) if problems else
               f"tap on the contents button opened the page's contents ({st['links']} links)")


def _click_toggle_and_wait(page, button, visibility: str) -> dict:
    """Click ☰, wait until the primary sidebar's visibility is ``visibility``, return its state."""
    try:
        button.click(timeout=5_000)
        page.wait_for_function("() => getComputedStyle(document.getElementById('pst-primary-sidebar'))"
                               f".visibility === '{visibility}'", timeout=5_000)
    except Exception:
        pass
    page.wait_for_timeout(400)  # the theme animates margin and opacity for 0.25 s
    return page.evaluate(JS_PRIMARY_SIDEBAR)


def check_nav_desktop(page, report: Report, name: str) -> None:
    """(n) At desktop width ☰ collapses the primary sidebar and a second click restores it."""
    button = page.locator("button.primary-toggle:visible").first
    before = page.evaluate(JS_PRIMARY_SIDEBAR)
    problems = []
    if not before["visible"]:
        problems.append("the sidebar is not shown before ☰ is clicked")
    collapsed = _click_toggle_and_wait(page, button, "hidden")
    if not collapsed["hidden"] or collapsed["dialog"]:
        problems.append("clicking ☰ did not collapse the sidebar"
                        + (" (it opened the phone dialog instead)" if collapsed["dialog"] else ""))
    elif collapsed["article"] <= before["article"]:
        problems.append(f"the article did not get wider ({before['article']} -> {collapsed['article']} px)")
    again = _click_toggle_and_wait(page, button, "visible")
    if not again["visible"]:
        problems.append("a second click on ☰ did not bring the sidebar back")
    report.add(name, f"nav ☰@{DESKTOP['width']}px", not problems,
               "; ".join(problems) if problems else
               f"☰ collapsed the sidebar (article {before['article']} -> {collapsed['article']} px) "
               f"and a second click restored it")


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


def shot_name(rel: str) -> str:
    return rel.replace("/", "__").replace(".html", "")


def screenshot(page, shots: Path, rel: str, suffix: str = "", full_page: bool = True) -> None:
    page.screenshot(path=str(shots / (shot_name(rel) + suffix + ".png")), full_page=full_page)


def new_context(browser, viewport: dict, gate, force_font: str | None, phone: bool = False):
    kw = dict(is_mobile=True, has_touch=True, device_scale_factor=2) if phone else {}
    context = browser.new_context(viewport=viewport, locale="zh-CN", service_workers="block", **kw)
    context.route("**/*", gate)
    if force_font:
        context.add_init_script(
            "document.addEventListener('DOMContentLoaded', () => {"
            "const s = document.createElement('style');"
            f"s.textContent = '* {{ font-family: \"{force_font}\" !important; }}';"
            "document.head.appendChild(s); });")
    return context


def run(html_dir: Path, shots: Path, no_cjk: bool, force_font: str | None, full: bool = False) -> Report:
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
    feats = {spec.path: page_features(html_dir, spec.path) for spec in pages}
    sample = choose_sample([spec.path for spec in pages], feats, full)
    print(f"{len(pages)} pages; expensive checks on {len(sample)}: "
          + ", ".join(f"{p} ({'+'.join(sorted(k))})" for p, k in sample.items()), flush=True)

    def gate(route):
        url = route.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    def report_events(name: str, events: list[str], n_blocked: int, check: str = "console") -> None:
        report.add(name, check, not events, "; ".join(events[:5]) if events else "no errors")
        new_blocked = blocked[n_blocked:]
        report.add(name, "offline", not new_blocked,
                   f"blocked {len(new_blocked)} non-local requests: {new_blocked[:3]}"
                   if new_blocked else "no non-local requests")

    spent = {"every page": 0.0, "sample": 0.0}  # seconds, to watch the budget as the book grows
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True, env=env)
            context = new_context(browser, DESKTOP, gate, force_font)

            # root redirect: also a reader's first visit (nothing in localStorage yet)
            src, dst = ROOT_REDIRECT
            print(f"\n{src}", flush=True)
            n_blocked = len(blocked)
            page, events = open_page(context, base + src)
            try:
                page.wait_for_url(base + dst, timeout=PAGE_TIMEOUT_MS)
                report.add(src, "redirect", True, f"-> {dst}")
            except Exception:
                report.add(src, "redirect", False, f"did not redirect to {dst} (at {page.url})")
            report_events(src, events, n_blocked)
            page.close()

            for spec in pages:
                kinds = sample.get(spec.path, set())
                note = "" if spec.path in listed else "   (not in PAGES: features detected from the HTML)"
                print(f"\n{spec.path}{note}" + (f"   [sample: {', '.join(sorted(kinds))}]" if kinds else ""),
                      flush=True)
                n_blocked = len(blocked)
                t0 = time.monotonic()
                check_promises(report, spec, feats[spec.path])
                page, events = open_page(context, base + spec.path)
                check_math(page, report, spec.path, spec.math)
                t1 = time.monotonic()
                if kinds:
                    cdp = context.new_cdp_session(page)
                    cdp.send("DOM.enable")
                    cdp.send("CSS.enable")
                    if kinds & {"prose", "notebook"}:
                        check_cjk(page, cdp, report, spec.path)
                    if "widgets" in kinds:
                        check_widgets(page, report, spec.path, spec.widgets, spec.progress)
                    if "explorers" in kinds:
                        check_explorers(page, cdp, report, spec.path, spec.explorers, shots)
                    if kinds & {"prose", "notebook"}:
                        screenshot(page, shots, spec.path)
                    if "prose" in kinds:
                        check_nav_desktop(page, report, spec.path)
                    if "widgets" in kinds:
                        check_progress_phone(page, report, spec.path, shots)
                    page.wait_for_timeout(300)  # late console errors
                t2 = time.monotonic()
                report_events(spec.path, events, n_blocked)
                page.close()
                spent["every page"] += t1 - t0 + time.monotonic() - t2
                spent["sample"] += t2 - t1

            # the phone: a fresh context (a first visit again), touch, 390 px wide
            phone_pages = [p for p, k in sample.items() if k & {"prose", "notebook"}]
            t0 = time.monotonic()
            if phone_pages:
                phone = new_context(browser, PHONE, gate, force_font, phone=True)
                for path in phone_pages:
                    kinds = sample[path]
                    print(f"\n{path}   [phone {PHONE['width']} px]", flush=True)
                    n_blocked = len(blocked)
                    page, events = open_page(phone, base + path)
                    screenshot(page, shots, path, "__phone", full_page=False)
                    if "prose" in kinds:
                        check_nav_phone_primary(page, report, path, shots)
                    if "notebook" in kinds:
                        check_nav_phone_contents(page, report, path, shots)
                    page.wait_for_timeout(300)
                    report_events(path, events, n_blocked, f"console@{PHONE['width']}px")
                    page.close()
                phone.close()

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
                screenshot(page, shots, f"search_{s.query}", full_page=False)
                page.close()
            spent["sample"] += time.monotonic() - t0
            context.close()
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    if blocked:
        report.add("(all)", "offline", False, f"{len(blocked)} non-local requests blocked in total")
    print(f"\ntime: {spent['every page']:.0f} s on the checks of every page ({len(pages)} pages), "
          f"{spent['sample']:.0f} s on the sample ({len(sample)} pages, phone, search)", flush=True)
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
    ap.add_argument("--full", action="store_true",
                    help="run the expensive checks on every page, not only on the sample")
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
    for old in shots.glob("*.png"):  # only this run's pictures: pages outside the sample get none
        old.unlink()

    t0 = time.monotonic()
    report = run(html_dir, shots, args.no_cjk_fonts, args.force_font, args.full)
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
