"""The synthetic world: offsets, answers, chains, splits, bilingual alignment, determinism, fluency."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmbook_lib.data import make_world
from llmbook_lib.data.world import World, tokenize_en
from llmbook_lib.data.world.templates import ALL_FAMILIES

SPLITS = ("train", "dev", "test")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(seed=0)


def all_records(w: World):
    for lang in ("zh", "en"):
        yield from w.ner(lang)
        yield from w.relations(lang)
        yield from w.entity_linking(lang)
        yield from w.qa(lang=lang)
        yield from w.summaries(lang)
        yield from w.dialogues("task", lang)
        yield from w.dialogues("persona", lang)
    yield from w.translation_pairs()


def strings(x):
    """Every string inside a record's dict form (texts, names, descriptions)."""
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from strings(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from strings(v)


def fmt_value(fact, lang):
    """An attribute value as the answer text, written independently of the library."""
    v, rel = fact.object, fact.relation
    if rel.endswith("_year"):
        return f"{v}年" if lang == "zh" else str(v)
    if rel == "population":
        return f"{v // 10000}万" if lang == "zh" else f"{v:,}"
    if rel == "price":
        return f"{v}元" if lang == "zh" else f"{v:,} yuan"
    if rel in ("employees", "students"):
        return str(v) if lang == "zh" else f"{v:,}"
    return v.zh if lang == "zh" else v.en


def check_mention(text, m, lang):
    assert text[m.start:m.end] == m.text, (text, m)
    if lang == "en":
        toks = tokenize_en(text)
        assert toks[m.token_start][1] == m.start and toks[m.token_end - 1][2] == m.end, (text, m)
    else:
        assert (m.token_start, m.token_end) == (m.start, m.end)


def test_world_has_every_entity_type_and_namesakes(world):
    types = {e.type for e in world.entities.values()}
    assert types == {"person", "city", "company", "university", "product"}
    by_name = {}
    for e in world.entities.values():
        by_name.setdefault(e.zh, []).append(e)
    twins = [es for es in by_name.values() if len(es) > 1]
    assert twins, "namesakes make entity linking a real problem"
    for es in twins:
        born = {world.corpus.one(e.id, "born_in").object for e in es}
        assert len(born) == len(es), "namesakes are born in different cities"


def test_every_span_points_at_its_text(world):
    for lang in ("zh", "en"):
        for r in world.ner(lang):
            for m in r.mentions:
                check_mention(r.text, m, lang)
            assert len(r.tokens) == len(r.tags)
            for m in r.mentions:
                assert r.tags[m.token_start] == f"B-{m.label}"
                assert all(t == f"I-{m.label}" for t in r.tags[m.token_start + 1:m.token_end])
            assert sum(t.startswith("B-") for t in r.tags) == len(r.mentions)
        for r in world.relations(lang):
            for m in r.mentions:
                check_mention(r.text, m, lang)
        for r in world.entity_linking(lang):
            check_mention(r.text, r.mention, lang)
        for r in world.qa(lang=lang):
            assert r.context[r.answer_start:r.answer_start + len(r.answer)] == r.answer
        for d in world.dialogues("task", lang):
            for t in d.turns:
                for s in t.slots:
                    assert t.text[s.start:s.end] == s.text
    for p in world.translation_pairs():
        for m in p.zh_mentions:
            check_mention(p.zh, m, "zh")
        for m in p.en_mentions:
            check_mention(p.en, m, "en")


def test_relations_are_facts(world):
    facts = {f.id: f for f in world.facts}
    n = 0
    for lang in ("zh", "en"):
        for r in world.relations(lang):
            for (h, rel, t), triple in zip(r.triples(), r.relations):
                f = facts[triple.fact]
                assert (f.subject, f.relation, f.object) == (h, rel, t)
                n += 1
    assert n > 1000


def test_every_qa_answer_follows_from_the_fact_table(world):
    facts = {f.id: f for f in world.facts}
    hops_seen = set()
    for lang in ("zh", "en"):
        for q in world.qa(lang=lang):
            assert len(q.chain) == q.hops
            hops_seen.add(q.hops)
            cur = q.subject
            assert world.entities[cur].name(lang) in q.question
            for i, hop in enumerate(q.chain):
                f = facts[hop.fact]
                if hop.inverse:
                    assert f.object == cur
                    cur = f.subject
                else:
                    assert f.subject == cur
                    if f.is_attribute:
                        assert i == len(q.chain) - 1, "a value ends the chain"
                        cur = None
                    else:
                        cur = f.object
                # every hop is stated in the context: both ends appear there
                ends = [f.subject] + ([] if f.is_attribute else [f.object])
                for e in ends:
                    assert world.entities[e].name(lang) in q.context or q.hops == 1
            last = facts[q.chain[-1].fact]
            expected = world.entities[cur].name(lang) if cur else fmt_value(last, lang)
            assert q.answer == expected, (q.question, q.answer, expected)
    assert hops_seen == {1, 2, 3}


def test_multi_hop_chains_are_unique_paths(world):
    """Every step of a multi-hop chain is the only fact of its relation, so the answer is unique."""
    for q in world.qa(lang="zh"):
        if q.hops == 1:
            continue
        cur = q.subject
        for hop in q.chain:
            f = world.fact(hop.fact)
            rel = ("~" if hop.inverse else "") + f.relation
            assert len(world.corpus.out[cur][rel]) == 1
            cur = f.subject if hop.inverse else f.object


def test_entity_split_keeps_test_entities_out_of_training_text(world):
    plan = world.splits("entity")
    held = {e: s for e, s in plan.assignment.items() if s != "train"}
    assert {"dev", "test"} <= set(held.values())
    train_records = [r for r in all_records(world) if plan.of(r) == "train"]
    for r in train_records:
        assert not held.keys() & set(r.entities)
    # and not as text either: no held-out name occurs in any training string
    zh_text = "\n".join(s for r in train_records if r.lang in ("zh", "zh-en") for s in strings(r.to_dict()))
    zh_text += world.pretraining_text("zh", "train")
    en_text = "\n".join(s for r in train_records if r.lang in ("en", "zh-en") for s in strings(r.to_dict()))
    en_text += world.pretraining_text("en", "train")
    for eid in held:
        e = world.entities[eid]
        assert e.zh not in zh_text, e
        assert not re.search(rf"\b{re.escape(e.en)}\b", en_text), e
    # every split is populated for the main tasks
    for task in (world.ner("zh"), world.qa(hops=2, lang="zh"), world.summaries("zh")):
        assert all(any(plan.of(r) == s for r in task) for s in SPLITS)


def test_template_split_holds_out_phrasings(world):
    plan = world.splits("template")
    held = {t for t, s in plan.assignment.items() if s == "heldout"}
    assert held == world.heldout_templates
    for family, ts in ALL_FAMILIES.items():
        assert 0 < sum(t.id in held for t in ts) < len(ts), family
    for r in all_records(world):
        if r.template_split == "train":
            assert not held & set(r.templates), r.id
        else:
            assert set(r.templates) <= held, r.id
    test_q = {r.templates[-1] for r in world.qa(lang="zh", split="test", by="template")}
    train_q = {r.templates[-1] for r in world.qa(lang="zh", split="train", by="template")}
    assert test_q and not test_q & train_q


def test_translation_pairs_state_the_same_facts(world):
    pairs = world.translation_pairs()
    assert len(pairs) > 1000
    for p in pairs:
        assert [m.entity for m in p.zh_mentions] and {m.entity for m in p.zh_mentions} == {m.entity for m in p.en_mentions}
        for fid in p.facts:
            f = world.fact(fid)
            assert f.subject in p.entities
            if f.is_attribute:
                assert fmt_value(f, "zh") in p.zh and fmt_value(f, "en") in p.en
            else:
                assert f.object in {m.entity for m in p.en_mentions}
        assert not CJK.search(p.en)


def test_entity_linking_has_gold_among_candidates(world):
    for lang in ("zh", "en"):
        recs = world.entity_linking(lang)
        amb = [r for r in recs if r.ambiguous]
        assert amb and len(amb) < len(recs)
        for r in recs:
            ids = [c.id for c in r.candidates]
            assert r.gold in ids and r.gold == r.mention.entity and len(set(ids)) == len(ids)
            same = [c for c in r.candidates if c.name == r.mention.text]
            assert (len(same) > 1) == r.ambiguous


def test_summaries_only_use_facts_of_their_document(world):
    for lang in ("zh", "en"):
        for s in world.summaries(lang):
            assert s.summary_facts and set(s.summary_facts) <= set(s.document_facts)
            assert len(s.summary) < len(s.document)


def test_dialogues_track_state_and_respect_the_persona(world):
    for lang in ("zh", "en"):
        tasks = world.dialogues("task", lang)
        assert {d.domain for d in tasks} == {"train_ticket", "lookup"}
        for d in tasks:
            if d.domain == "train_ticket":
                final = d.turns[-1].state
                assert set(final) == {"from", "to", "date", "count", "seat"}
                for a, b in zip(d.turns, d.turns[1:]):   # the state only grows or is corrected
                    assert set(a.state) <= set(b.state)
            else:
                for t in d.turns:
                    if t.speaker == "system":
                        f = world.fact(t.facts[0])
                        assert f.subject == t.state["entity"] and f.relation == t.state["attribute"]
        for d in world.dialogues("persona", lang):
            assert d.persona and len(d.persona) == len(d.persona_facts)
            for t in d.turns:
                if t.speaker == "B" and t.facts:
                    assert set(t.facts) <= set(d.persona_facts)
                    for fid in t.facts:
                        f = world.fact(fid)
                        want = fmt_value(f, lang) if f.is_attribute else world.entities[
                            f.subject if f.relation == "founded_by" else f.object].name(lang)
                        assert want in t.text, (t.text, want)


def test_dialogue_turns_alternate_between_the_two_speakers(world):
    """No speaker talks twice in a row, in every flow of every domain, over several worlds."""
    worlds = [world] + [make_world(seed=s, size=0.3) for s in (1, 2, 3)]
    flows, n = set(), 0
    for w in worlds:
        for lang in ("zh", "en"):
            for kind, first, second in (("task", "user", "system"), ("persona", "A", "B")):
                for d in w.dialogues(kind, lang):
                    speakers = [t.speaker for t in d.turns]
                    assert len(speakers) % 2 == 0, (d.id, d.templates[0], speakers)
                    assert speakers == [first, second] * (len(speakers) // 2), (
                        d.id, d.templates[0], speakers)
                    flows.add(d.templates[0])
                    n += 1
    assert n > 1000
    for family in ("dlg:ticket", "dlg:lookup", "dlg:persona"):
        assert {t.id for t in ALL_FAMILIES[family]} <= flows, family


def _texts(world, lang):
    out = [s.side(lang).text for s in world.sentences] + [d.side(lang).text for d in world.documents]
    out += [q.question for q in world.qa(lang=lang)] + [s.summary for s in world.summaries(lang)]
    out += [t.text for d in world.dialogues("task", lang) + world.dialogues("persona", lang) for t in d.turns]
    out += [c.description for r in world.entity_linking(lang)[:500] for c in r.candidates]
    return out


def test_chinese_reads_as_chinese(world):
    products = sorted((e.zh for e in world.entities.values() if e.type == "product"), key=len, reverse=True)
    texts = _texts(world, "zh")
    for t in texts:
        assert "{" not in t and "}" not in t, t
        stripped = t
        for p in products:
            stripped = stripped.replace(p, "")
        assert not re.search(r"[A-Za-z]", stripped), f"Latin letters outside product codes: {t}"
        assert not re.search(r"[,.;:?!()\"']", stripped), f"ASCII punctuation in Chinese: {t}"
        assert " " not in t, t
    sentences = [s.zh.text for s in world.sentences] + [d.zh.text for d in world.documents]
    assert all(t[-1] in "。？！" for t in sentences)
    assert all(q.question.endswith("？") for q in world.qa(lang="zh"))


def test_english_reads_as_english(world):
    for t in _texts(world, "en"):
        assert "{" not in t and "}" not in t and not CJK.search(t), t
        assert t[0].isupper() or t[0].isdigit(), t
        assert "  " not in t and " ." not in t and " ," not in t, t
        assert t[-1] in ".?!)", t


def test_same_seed_same_bytes_and_another_seed_another_world(tmp_path):
    def digest(w, d):
        paths = w.to_jsonl(d)
        h = hashlib.sha256()
        for p in sorted(paths):
            h.update(p.name.encode() + p.read_bytes())
        return h.hexdigest()

    a, b = make_world(seed=3, size=0.3), make_world(seed=3, size=0.3)
    ha = digest(a, tmp_path / "a")
    assert ha == digest(b, tmp_path / "b")
    c = make_world(seed=4, size=0.3)
    assert digest(c, tmp_path / "c") != ha
    assert [e.zh for e in c.entities.values()] != [e.zh for e in a.entities.values()]
    # hash randomisation must not leak in: another interpreter with another PYTHONHASHSEED agrees
    code = ("import hashlib,sys; from llmbook_lib.data import make_world; w = make_world(seed=3, size=0.3); "
            "ps = w.to_jsonl(sys.argv[1]); h = hashlib.sha256()\n"
            "for p in sorted(ps): h.update(p.name.encode() + p.read_bytes())\nprint(h.hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == ha


def test_size_scales_the_world():
    small, big = make_world(seed=0, size=0.3), make_world(seed=0, size=1.5)
    assert len(small.entities) < 150 and len(big.entities) > 300


def test_summary_table_torch_dataset_and_errors(world):
    table = world.summary()
    assert "qa_3hop" in str(table) and "translation" in str(table)
    for row in table.rows:
        assert row["train"] + row["dev"] + row["test"] == row["total"] > 0
    ds = world.dataset("qa", hops=2, lang="en", split="train")
    assert len(ds) == len(world.qa(hops=2, lang="en", split="train")) and ds[0]["hops"] == 2
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=list)
    assert len(next(iter(loader))) == 4
    with pytest.raises(ValueError, match="lang"):
        world.ner("fr")
    with pytest.raises(ValueError, match="split"):
        world.ner("zh", split="val")
    with pytest.raises(ValueError, match="by"):
        world.splits("sentence")
