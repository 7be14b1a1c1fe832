"""Labelled data sets made from the rendered sentences and paragraphs of the world."""

from __future__ import annotations

import random

from .corpus import Corpus, Pair
from .graph import Entity
from .records import (Candidate, Hop, LinkingExample, Mention, NERExample, QAExample, RelationExample,
                      RelationTriple, SummaryExample, TranslationPair)
from .render import Rendered, Span, answer_text, join, render, tokens
from .templates import QUESTIONS

N_CANDIDATES = 4


def mentions(r: Rendered) -> list[Mention]:
    """The entity spans of a rendering with token offsets (characters in Chinese, words in English)."""
    toks = tokens(r.text, r.lang)
    first = {s: i for i, (_, s, _) in enumerate(toks)}
    last = {e: i + 1 for i, (_, _, e) in enumerate(toks)}
    out = []
    for s in r.spans:
        if s.entity is None:
            continue
        if s.start not in first or s.end not in last:
            raise ValueError(f"mention {s.text!r} at {s.start}:{s.end} does not fall on token boundaries "
                             f"in {r.text!r}; fix the template or the tokenizer")
        out.append(Mention(s.start, s.end, s.text, s.label, s.entity, first[s.start], last[s.end]))
    return out


def entity_ids(*rendered: Rendered, extra=()) -> list[str]:
    ids = [r.subject for r in rendered if r.subject] + [s.entity for r in rendered for s in r.spans if s.entity]
    return list(dict.fromkeys(ids + list(extra)))


def ner(sentences: list[Pair], lang: str) -> list[NERExample]:
    out = []
    for p in sentences:
        r = p.side(lang)
        toks, ms = tokens(r.text, lang), mentions(r)
        tags = ["O"] * len(toks)
        for m in ms:
            tags[m.token_start] = f"B-{m.label}"
            for i in range(m.token_start + 1, m.token_end):
                tags[i] = f"I-{m.label}"
        out.append(NERExample(p.id.replace("sent", "ner"), lang, r.text, [t for t, _, _ in toks], tags, ms,
                              entity_ids(r), r.templates, p.pool))
    return out


def relations(sentences: list[Pair], corpus: Corpus, lang: str) -> list[RelationExample]:
    """Sentence-level relation extraction: mentions plus the relations the sentence states."""
    out = []
    for p in sentences:
        r = p.side(lang)
        ms = mentions(r)
        subj = [i for i, m in enumerate(ms) if m.entity == r.subject]
        triples = []
        for fid in r.facts:
            f = corpus.facts[fid]
            if f.is_attribute:
                continue
            heads = [i for i, m in enumerate(ms) if m.entity == f.subject]
            tails = [i for i, m in enumerate(ms) if m.entity == f.object]
            if heads and tails:
                triples.append(RelationTriple(heads[0], tails[0], f.relation, f.id))
        if triples or subj:
            out.append(RelationExample(p.id.replace("sent", "re"), lang, r.text, ms, triples,
                                       entity_ids(r), r.templates, p.pool))
    return out


def translation(sentences: list[Pair]) -> list[TranslationPair]:
    out, seen = [], set()
    for p in sentences:
        if p.zh.text in seen:
            continue
        seen.add(p.zh.text)
        out.append(TranslationPair(p.id.replace("sent", "mt"), "zh-en", p.zh.text, p.en.text, p.zh.facts,
                                   mentions(p.zh), mentions(p.en), entity_ids(p.zh, p.en), p.zh.templates, p.pool))
    return out


def describe(e: Entity, corpus: Corpus, lang: str) -> str:
    """A one-line description, as a knowledge base would list a candidate."""
    def obj(slot):
        f = corpus.one(e.id, slot)
        return corpus.entities[f.object].name(lang) if f else None

    a = e.attrs
    if e.type == "person":
        occ = a["occupation"].zh if lang == "zh" else a["occupation"].en
        city = obj("born_in")
        return (f"{e.zh}（{a['birth_year']}年生于{city}，{occ}）" if lang == "zh"
                else f"{e.en} ({occ}, born {a['birth_year']} in {city})")
    if e.type == "company":
        ind, city = a["industry"], obj("headquartered_in")
        return (f"{e.zh}（{ind.zh}公司，总部位于{city}）" if lang == "zh"
                else f"{e.en} ({ind.en} company based in {city})")
    if e.type == "university":
        return f"{e.zh}（位于{obj('located_in')}的大学）" if lang == "zh" else f"{e.en} (university in {obj('located_in')})"
    if e.type == "product":
        cat = a["category"]
        return (f"{e.zh}（{obj('made_by')}推出的{cat.zh}）" if lang == "zh"
                else f"{e.en} ({cat.en} by {obj('made_by')})")
    pop = a["population"]
    return f"{e.zh}（人口约{pop // 10_000}万的城市）" if lang == "zh" else f"{e.en} (city of about {pop:,} people)"


def linking(docs: list[Pair], corpus: Corpus, lang: str, rng: random.Random) -> list[LinkingExample]:
    """Every entity mention in every paragraph, with the gold entity and a few candidates: all
    entities of the same name (namesakes) plus look-alikes (same family name, brand or series)."""
    by_name, by_key = {}, {}
    for e in corpus.entities.values():
        by_name.setdefault(e.name(lang), []).append(e.id)
        by_key.setdefault((e.type, e.attrs.get("key")), []).append(e.id)
    out = []
    for d in docs:
        r = d.side(lang)
        for m in mentions(r):
            e = corpus.entities[m.entity]
            same = by_name[m.text]
            alike = [i for i in by_key[(e.type, e.attrs.get("key"))] if i not in same]
            cands = same + rng.sample(alike, min(len(alike), max(0, N_CANDIDATES - len(same))))
            rng.shuffle(cands)
            cs = [Candidate(i, corpus.entities[i].name(lang), describe(corpus.entities[i], corpus, lang))
                  for i in cands]
            out.append(LinkingExample(f"el-{len(out):05d}", lang, r.text, m, e.id, cs, len(same) > 1,
                                      entity_ids(r, extra=cands), r.templates, d.pool))
    return out


def _answer_span(r: Rendered, fact_id: str, answer: str) -> Span | None:
    return next((s for s in r.spans if s.fact == fact_id and s.text == answer), None)


def qa_single(docs: list[Pair], corpus: Corpus, rng: random.Random) -> list[QAExample]:
    """One-hop questions about the subject of each paragraph, answered by a span of it."""
    out = []
    for d in docs:
        e = corpus.entities[d.subject]
        for family in QUESTIONS:
            etype, path = family.split(":")[1], family.split(":")[2]
            if etype != e.type or ">" in path:
                continue
            f = corpus.one(e.id, path)
            if f is None or f.id not in d.zh.facts:
                continue
            t = corpus.pick(family, d.pool, rng)
            if t is None:
                continue
            for lang in ("zh", "en"):
                r = d.side(lang)
                ans = answer_text(f, corpus.entities, lang, inverse=path.startswith("~"))
                span = _answer_span(r, f.id, ans)
                q = render(t, lang, e, {}, corpus.entities)
                out.append(QAExample(f"qa-{len(out) // 2:05d}", lang, q.text, r.text, ans, span.start, 1,
                                     [Hop(f.id, path.startswith("~"))], e.id, entity_ids(r, q),
                                     r.templates + q.templates, d.pool))
    return out


def qa_multi(corpus: Corpus, rng: random.Random) -> list[QAExample]:
    """Two- and three-hop questions. The context holds one evidence sentence per hop and one
    distractor per hop (the same kind of fact about another entity), shuffled."""
    out, having = [], {}   # (type, slot) -> entities with exactly one such fact

    def with_fact(etype, slot):
        if (etype, slot) not in having:
            having[(etype, slot)] = [o for o in corpus.entities.values()
                                     if o.type == etype and corpus.one(o.id, slot) is not None]
        return having[(etype, slot)]

    for e in corpus.entities.values():
        for family in QUESTIONS:
            etype, path = family.split(":")[1], family.split(":")[2].split(">")
            if etype != e.type or len(path) < 2:
                continue
            steps = corpus.walk(e, path)
            if steps is None:
                continue
            pool = corpus.draw_pool(rng)
            t = corpus.pick(family, pool, rng)
            chain_ids = {e.id} | {s[2].id for s in steps} | {f.object for f, _, _ in steps if not f.is_attribute}
            names = {corpus.entities[i].zh for i in chain_ids}
            parts = []   # (zh, en, is_final_evidence)
            for i, (f, inverse, about) in enumerate(steps):
                fam = f"{about.type}:{path[i]}"
                ft = corpus.pick(fam, pool, rng)
                zh, en = corpus.pair(ft, about, {path[i]: f})
                parts.append((zh, en, i == len(steps) - 1))
                others = [o for o in with_fact(about.type, path[i]) if o.id not in chain_ids and o.zh not in names]
                if others:
                    o = rng.choice(others)
                    zh, en = corpus.pair(corpus.pick(fam, pool, rng), o, {path[i]: corpus.one(o.id, path[i])})
                    parts.append((zh, en, False))
            rng.shuffle(parts)
            last, inverse, _ = steps[-1]
            for k, lang in enumerate(("zh", "en")):
                ctx = join([p[k] for p in parts], lang)
                i_final = next(i for i, p in enumerate(parts) if p[2])
                offset = sum(len(p[k].text) for p in parts[:i_final]) + i_final * (lang == "en")
                ans = answer_text(last, corpus.entities, lang, inverse)
                span = _answer_span(parts[i_final][k], last.id, ans)
                q = render(t, lang, e, {}, corpus.entities)
                out.append(QAExample(f"mhqa-{len(out) // 2:05d}", lang, q.text, ctx.text, ans, offset + span.start,
                                     len(steps), [Hop(f.id, inv) for f, inv, _ in steps], e.id,
                                     entity_ids(ctx, q), ctx.templates + q.templates, pool))
    return out


def summaries(docs: list[Pair], corpus: Corpus, rng: random.Random) -> list[SummaryExample]:
    out = []
    for d in docs:
        e = corpus.entities[d.subject]
        family = corpus.summary_family(e)
        t = corpus.pick(family, d.pool, rng) if family else None
        if t is None:
            continue
        slots = {s: corpus.one(e.id, s) for s in t.slots}
        if len(d.zh.facts) <= len(slots):      # nothing to leave out: not a summary
            continue
        for lang in ("zh", "en"):
            r = d.side(lang)
            s = render(t, lang, e, slots, corpus.entities)
            out.append(SummaryExample(f"sum-{len(out) // 2:05d}", lang, r.text, s.text, e.id, r.facts, s.facts,
                                      entity_ids(r, s), r.templates + s.templates, d.pool))
    return out
