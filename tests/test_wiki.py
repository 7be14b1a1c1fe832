"""Reading a MediaWiki dump and cleaning wikitext (llmbook_lib.data.wiki)."""

import bz2
import io

import pytest

from llmbook_lib.data.wiki import GENSIM_DUMPS, clean_wikitext, gensim_dump, is_redirect, iter_pages

DUMP = b"""<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">
  <siteinfo><sitename>Test</sitename></siteinfo>
  <page><title>Alpha</title><ns>0</ns><id>1</id>
    <revision><id>5</id><text xml:space="preserve">'''Alpha''' is a [[letter|Greek letter]].</text></revision>
  </page>
  <page><title>Old</title><ns>0</ns><id>2</id><redirect title="Alpha" />
    <revision><id>6</id><text xml:space="preserve">#REDIRECT [[Alpha]]</text></revision>
  </page>
  <page><title>Wikipedia:About</title><ns>4</ns><id>3</id>
    <revision><id>7</id><text xml:space="preserve">Project page &amp;lt;b&amp;gt;</text></revision>
  </page>
</mediawiki>"""


def test_iter_pages_reads_fields_of_any_schema_version():
    pages = list(iter_pages(io.BytesIO(DUMP)))
    assert [(p.title, p.ns, p.id, p.redirect) for p in pages] == [
        ("Alpha", 0, 1, None), ("Old", 0, 2, "Alpha"), ("Wikipedia:About", 4, 3, None)]
    assert pages[0].text == "'''Alpha''' is a [[letter|Greek letter]]."
    assert pages[2].text == "Project page &lt;b&gt;"          # XML entities decoded once
    assert [is_redirect(p) for p in pages] == [False, True, False]


def test_iter_pages_reads_bz2_paths(tmp_path):
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(DUMP))
    assert [p.title for p in iter_pages(path)] == ["Alpha", "Old", "Wikipedia:About"]


@pytest.mark.parametrize("wikitext, plain", [
    ("'''Bold''' and ''italic''", "Bold and italic"),
    ("a [[Target|label]] and [[Plain]] link", "a label and Plain link"),
    ("[[Section#Part|shown]] [[Page#Anchor]]", "shown Page"),
    ("x{{cite|a={{inner|b}}}}y", "xy"),                                   # nested templates
    ("see [[File:A.jpg|thumb|A [[cat]] here]] text", "see text"),         # media link with a link inside
    ("[[Category:Films]][[de:Film]]end", "end"),
    ("a<ref name=x>{{cite}} note</ref>b<ref name=y/>c", "abc"),
    ("<!-- hidden -->shown", "shown"),
    ("[http://example.org site] and [http://bare.org]", "site and"),
    ("== Head ==\n* item\n# step", "Head\nitem\nstep"),
    ("x&nbsp;&ndash;&amp;y", "x –&y"),
    ("{| class=t\n|-\n| a || b\n|}\nafter", "after"),
    ("<small>tiny</small> <math>x^2</math>ok", "tiny ok"),
])
def test_clean_wikitext_rules(wikitext, plain):
    assert clean_wikitext(wikitext) == plain


def test_gensim_dump_checks_name():
    with pytest.raises(ValueError, match="unknown dump"):
        gensim_dump("frwiki")


@pytest.mark.parametrize("name", sorted(GENSIM_DUMPS))
def test_gensim_dumps_match_recorded_sha256(name):
    pytest.importorskip("mwparserfromhell")   # the optional data extras are installed together
    try:
        path = gensim_dump(name)
    except FileNotFoundError:
        pytest.skip("gensim wheel not installed")
    assert path.is_file()


def test_real_dump_counts_and_agreement_with_mwparserfromhell():
    mwp = pytest.importorskip("mwparserfromhell")
    try:
        path = gensim_dump("enwiki")
    except FileNotFoundError:
        pytest.skip("gensim wheel not installed")
    pages = list(iter_pages(path))
    articles = [p for p in pages if p.ns == 0 and not is_redirect(p)]
    assert (len(pages), len(articles), sum(map(is_redirect, pages))) == (206, 106, 100)
    short = sorted(articles, key=lambda p: len(p.text))[:10]   # a quick check on small articles
    for page in short:
        ours = set(clean_wikitext(page.text).lower().split())
        theirs = set(mwp.parse(page.text).strip_code().lower().split())
        assert len(ours & theirs) >= 0.9 * len(ours), page.title
