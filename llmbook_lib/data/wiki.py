"""Reading a MediaWiki XML dump and turning wikitext into plain text.

A Wikipedia dump (``*-pages-articles.xml.bz2``) is one XML document: a ``<siteinfo>`` header,
then one ``<page>`` per article with its title, namespace number (0 = articles, 4 = Wikipedia:
project pages, 14 = Category: ...), an optional ``<redirect>`` and the last revision's wikitext.
``iter_pages`` streams it with ``xml.etree.ElementTree.iterparse`` (constant memory: each page
is cleared once read); ``clean_wikitext`` applies a short list of rules, innermost structures
first, then the book's ``cleaning.normalize``.

The dumps read here are the excerpts in gensim's test data (CC BY-SA, via the gensim wheel; the
package itself is never imported): ``gensim_dump(name)`` finds one and checks its sha256.
"""

from __future__ import annotations

import bz2
import hashlib
import html
import importlib.metadata
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from .cleaning import normalize

# The excerpts in gensim 4.3.3's test data and the sha256 of the files this module was written on.
GENSIM_DUMPS = {
    "enwiki": ("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
               "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"),
    "bgwiki": ("bgwiki-latest-pages-articles-shortened.xml.bz2",
               "8c67571ec18cb8f0f77a91ab2ee4a04c9368684358e40b94d95670f909210355"),
    "enwiki-tables": ("enwiki-table-markup.xml.bz2",
                      "81415636d4dc79c99147ee52098d9a1b1d977d5727543a81227d85ce5cca9383"),
}


def gensim_dump(name: str = "enwiki") -> Path:
    """Path of a dump excerpt shipped in the gensim wheel, after checking its sha256."""
    if name not in GENSIM_DUMPS:
        raise ValueError(f"unknown dump {name!r}; choose one of {sorted(GENSIM_DUMPS)}")
    filename, want = GENSIM_DUMPS[name]
    try:
        dist = importlib.metadata.distribution("gensim")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError("the gensim wheel is not installed; run: "
                                "pip install --no-deps gensim==4.3.3 (only its test data is read)") from None
    path = Path(str(dist.locate_file(f"gensim/test/test_data/{filename}")))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall: pip install --no-deps gensim==4.3.3")
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != want:
        raise ValueError(f"{path.name}: sha256 {got} differs from the recorded {want}; "
                         "a different gensim version? install gensim==4.3.3")
    return path


class Page(NamedTuple):
    title: str
    ns: int                  # namespace number: 0 is the article namespace
    id: int
    redirect: str | None     # target title of a redirect page, else None
    text: str                # wikitext of the stored revision


def iter_pages(source: str | Path | BinaryIO) -> Iterator[Page]:
    """Stream the pages of a MediaWiki XML dump (a path to .xml or .xml.bz2, or a binary file).

    The export schema's XML namespace (``http://www.mediawiki.org/xml/export-0.10/``) differs
    between dump versions, so it is read from the root element rather than assumed.
    """
    if isinstance(source, (str, Path)):
        opener = bz2.open if str(source).endswith(".bz2") else open
        with opener(source, "rb") as f:
            yield from iter_pages(f)
        return
    xmlns = ""
    for event, el in ET.iterparse(source, events=("start", "end")):
        if event == "start":
            if not xmlns and el.tag.startswith("{"):
                xmlns = el.tag[:el.tag.index("}") + 1]
            continue
        if el.tag != xmlns + "page":
            continue
        redirect = el.find(xmlns + "redirect")
        yield Page(title=el.findtext(xmlns + "title") or "",
                   ns=int(el.findtext(xmlns + "ns") or 0),
                   id=int(el.findtext(xmlns + "id") or 0),
                   redirect=None if redirect is None else redirect.get("title"),
                   text=el.findtext(f"{xmlns}revision/{xmlns}text") or "")
        el.clear()                                    # keep memory flat on a full dump


# ---- wikitext -> plain text --------------------------------------------------------------
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# tags whose content is not running prose: references, maths, galleries, timelines, code
_DROP_TAGS = "ref|math|gallery|timeline|imagemap|score|syntaxhighlight|source|graph|templatedata"
_SELF_CLOSING = re.compile(rf"<(?:{_DROP_TAGS})\b[^>]*/>", re.IGNORECASE)
_DROP_BLOCK = re.compile(rf"<({_DROP_TAGS})\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*\b[^<>]*>")       # <small>, <br />, </span> ...
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")                         # innermost {{...}} first
_TABLE = re.compile(r"\{\|(?:(?!\{\|).)*?\n\|\}", re.DOTALL)      # innermost {| ... |} first
_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")                          # innermost [[...]] first
# links that are not prose: media, categories, interwiki/interlanguage prefixes ("de:", "wikt:")
_NONTEXT_LINK = re.compile(r"^\s*:?\s*(?:file|image|media|category|[a-z]{2,3}(?:-[a-z]+)?|wikt|"
                           r"wiktionary|commons|s|q|n|b|v|voy|simple)\s*:", re.IGNORECASE)
_EXTERNAL = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]*\s*([^\]]*)\]")
_BOLD_ITALIC = re.compile(r"'{2,}")
_HEADING = re.compile(r"^(={1,6})\s*(.*?)\s*\1\s*$", re.MULTILINE)
_LIST_MARK = re.compile(r"^[*#:;]+\s*", re.MULTILINE)
_MAGIC = re.compile(r"__[A-Z]+__|^-{4,}\s*$", re.MULTILINE)
_SPACES = re.compile(r"[ \t\u00a0]{2,}")


def _innermost_first(pattern: re.Pattern, repl, text: str) -> str:
    """Apply ``pattern`` until nothing matches: nested structures dissolve from the inside out."""
    while True:
        new = pattern.sub(repl, text)
        if new == text:
            return text
        text = new


def _link_text(m: re.Match) -> str:
    """[[target|label]] -> label, [[target]] -> target; media, category and interlanguage
    links vanish (their caption is not part of the article's running text)."""
    inner = m.group(1)
    if _NONTEXT_LINK.match(inner):
        return ""
    target, _, label = inner.partition("|")
    return (label or target.split("#")[0] or target).strip()


def clean_wikitext(text: str, normalize_form: str | None = "NFKC") -> str:
    """Plain running text of an article's wikitext.

    Rules, in order: comments; reference/maths/gallery tags with their content; templates
    ``{{...}}`` (infoboxes, citations, navigation boxes: dropped whole); tables ``{| ... |}``;
    links (media, category and interlanguage links dropped, ``[[a|b]]`` -> b); external links
    (``[url label]`` -> label); any remaining HTML tag (its text kept); bold/italic quotes;
    heading markers (the heading's text kept on its line); list markers; magic words;
    HTML entities (``&nbsp;``, ``&ndash;``). Then ``cleaning.normalize``.
    """
    text = _COMMENT.sub("", text)
    text = _SELF_CLOSING.sub("", text)
    text = _DROP_BLOCK.sub("", text)
    text = _innermost_first(_TEMPLATE, "", text)
    text = _innermost_first(_TABLE, "", text)
    text = _innermost_first(_LINK, _link_text, text)
    text = _EXTERNAL.sub(lambda m: m.group(1).strip(), text)
    text = _ANY_TAG.sub("", text)
    text = _BOLD_ITALIC.sub("", text)
    text = _HEADING.sub(lambda m: m.group(2), text)
    text = _LIST_MARK.sub("", text)
    text = _MAGIC.sub("", text)
    text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    return normalize(text, normalize_form).strip()


def is_redirect(page: Page) -> bool:
    """A redirect page: marked in the dump, or its text starts with #REDIRECT (older dumps)."""
    return page.redirect is not None or page.text.lstrip()[:9].upper() == "#REDIRECT"
