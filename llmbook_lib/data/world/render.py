"""Fill a template with facts, keeping the character offsets of every mention and value.

Offsets are computed while the string is built, never searched for afterwards, so a span always
points at the text it names, even when a name occurs twice in a paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .graph import Entity, Fact
from .templates import SLOT, Template

PRONOUNS = {  # type -> (zh, en subject, en possessive); persons depend on gender
    "person": {"M": ("他", "He", "His"), "F": ("她", "She", "Her")},
    "company": ("该公司", "The company", "The company's"),
    "university": ("该校", "The university", "The university's"),
    "product": ("该产品", "The product", "The product's"),
    "city": ("该市", "The city", "The city's"),
}
YEAR_ATTRS = ("birth_year", "founded_year", "launch_year")
EN_TOKEN = re.compile(r"[A-Za-z0-9]+(?:,[0-9]{3})*|'s|[^\sA-Za-z0-9]")


@dataclass(frozen=True)
class Span:
    """``text[start:end]`` (character offsets). Entity mentions carry the entity id and NER label;
    values (years, prices, …) carry the attribute name as label and no entity."""
    start: int
    end: int
    text: str
    label: str
    entity: str | None = None
    fact: str | None = None

    def shifted(self, by: int) -> Span:
        return Span(self.start + by, self.end + by, self.text, self.label, self.entity, self.fact)


@dataclass
class Rendered:
    """One sentence in one language with its spans and the facts and templates behind it."""
    text: str
    lang: str
    spans: list[Span] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    subject: str | None = None


def value_text(fact: Fact, lang: str, with_article: bool = False) -> tuple[str, int, int]:
    """An attribute value as text, with the (start, end) of the part a question's answer is."""
    rel, v = fact.relation, fact.object
    if rel in YEAR_ATTRS:
        s = f"{v}年" if lang == "zh" else str(v)
    elif rel == "population":
        s = f"{v // 10_000}万" if lang == "zh" else f"{v:,}"
    elif rel == "price":
        s = f"{v}元" if lang == "zh" else f"{v:,} yuan"
    elif rel in ("employees", "students"):
        s = str(v) if lang == "zh" else f"{v:,}"
    elif lang == "zh":
        s = v.zh
    elif with_article:
        art, noun = v.en_a()
        return art + noun, len(art), len(art) + len(noun)
    else:
        s = v.en
    return s, 0, len(s)


def answer_text(fact: Fact, entities: dict[str, Entity], lang: str, inverse: bool = False) -> str:
    """What a question about ``fact`` is answered with: a name, or a value such as '1985年'."""
    if inverse:
        return entities[fact.subject].name(lang)
    if fact.is_attribute:
        text, a, b = value_text(fact, lang)
        return text[a:b]
    return entities[fact.object].name(lang)


def render(template: Template, lang: str, subject: Entity, slots: dict[str, Fact],
           entities: dict[str, Entity], pronoun: bool = False) -> Rendered:
    """Fill ``template`` (one side of it) for ``subject``; ``slots`` maps slot name -> fact."""
    pattern = template.zh if lang == "zh" else template.en
    out, spans, pos = [], [], 0

    def put(text: str) -> int:
        nonlocal pos
        if text.startswith("'s") and out and out[-1].endswith("s"):
            text = "'" + text[2:]          # Hetai Electronics' products
        start = pos
        out.append(text)
        pos += len(text)
        return start

    if pronoun:
        forms = PRONOUNS[subject.type]
        zh, en_subj, en_poss = forms[subject.attrs["gender"]] if subject.type == "person" else forms
        if lang == "zh":
            pattern = pattern.replace("{s}", zh, 1)
        elif pattern.startswith("{s}'s "):
            pattern = en_poss + pattern[len("{s}'s"):]
        else:
            pattern = en_subj + pattern[len("{s}"):]
    last = 0
    for m in SLOT.finditer(pattern):
        put(pattern[last:m.start()])
        last = m.end()
        name = m.group(1)
        if name == "s":
            start = put(subject.name(lang))
            spans.append(Span(start, pos, subject.name(lang), subject.label, subject.id))
            continue
        key = name.removeprefix("a_")
        fact = slots[key]
        if key.startswith("~"):
            ent = entities[fact.subject]
        elif not fact.is_attribute:
            ent = entities[fact.object]
        else:
            text, a, b = value_text(fact, lang, with_article=name.startswith("a_"))
            start = put(text)
            spans.append(Span(start + a, start + b, text[a:b], fact.relation, None, fact.id))
            continue
        start = put(ent.name(lang))
        spans.append(Span(start, pos, ent.name(lang), ent.label, ent.id, fact.id))
    put(pattern[last:])
    facts = list(dict.fromkeys(slots[k].id for k in template.slots))
    return Rendered("".join(out), lang, spans, facts, [template.id], subject.id)


def join(parts: list[Rendered], lang: str) -> Rendered:
    """Sentences into one paragraph: no separator in Chinese, one space in English."""
    sep = "" if lang == "zh" else " "
    text, spans, facts, templates, pos = [], [], [], [], 0
    for i, r in enumerate(parts):
        if i:
            text.append(sep)
            pos += len(sep)
        spans += [s.shifted(pos) for s in r.spans]
        facts += r.facts
        templates += r.templates
        text.append(r.text)
        pos += len(r.text)
    subject = parts[0].subject if parts else None
    return Rendered("".join(text), lang, spans, list(dict.fromkeys(facts)), templates, subject)


def tokenize_en(text: str) -> list[tuple[str, int, int]]:
    """Words, numbers ('2,999'), the possessive 's and single punctuation marks, with offsets."""
    return [(m.group(), m.start(), m.end()) for m in EN_TOKEN.finditer(text)]


def tokens(text: str, lang: str) -> list[tuple[str, int, int]]:
    """Characters for Chinese (whitespace dropped), ``tokenize_en`` for English."""
    if lang == "zh":
        return [(c, i, i + 1) for i, c in enumerate(text) if not c.isspace()]
    return tokenize_en(text)
