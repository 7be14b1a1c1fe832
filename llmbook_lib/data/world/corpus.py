"""From facts to text: sentences and paragraphs in both languages, each from one template pool.

Template pools implement the template split: every family keeps most templates for training and
holds one or two out. A record is phrased entirely from one pool, drawn when it is made: "train"
records use only training templates; "dev" and "test" records only held-out ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .graph import Entity, Fact, Graph
from .render import Rendered, join, render
from .templates import ALL_FAMILIES, FACTS, SUMMARIES, TOPICS, Template

POOLS = ("train", "dev", "test")
MULTI_VALUED = ("~made_by", "~headquartered_in", "~located_in")


def choose_heldout(rng: random.Random) -> frozenset[str]:
    """Pick the held-out templates: one per family of 2–5 templates, two per family of 6 or more."""
    held = []
    for family in sorted(ALL_FAMILIES):
        ts = ALL_FAMILIES[family]
        k = 0 if len(ts) < 2 else 1 if len(ts) < 6 else 2
        held += [t.id for t in rng.sample(ts, k)]
    return frozenset(held)


@dataclass
class Pair:
    """The same content rendered in Chinese and English (a sentence or a paragraph)."""
    id: str
    subject: str
    pool: str
    zh: Rendered
    en: Rendered

    def side(self, lang: str) -> Rendered:
        return self.zh if lang == "zh" else self.en


class Corpus:
    """Indexes of the graph plus the rendering of facts into sentences and paragraphs."""

    def __init__(self, graph: Graph, heldout: frozenset[str], pool_weights=(0.8, 0.1, 0.1)):
        self.entities = graph.entities
        self.facts = {f.id: f for f in graph.facts}
        self.heldout = heldout
        self.pool_weights = pool_weights
        self.out: dict[str, dict[str, list[Fact]]] = {e: {} for e in self.entities}
        for f in graph.facts:
            self.out[f.subject].setdefault(f.relation, []).append(f)
            if not f.is_attribute:
                self.out[f.object].setdefault("~" + f.relation, []).append(f)

    # -- templates ----------------------------------------------------------------------------
    def draw_pool(self, rng: random.Random) -> str:
        return rng.choices(POOLS, weights=self.pool_weights)[0]

    def templates(self, family: str, pool: str, pronoun: bool = False) -> list[Template]:
        ts = [t for t in ALL_FAMILIES.get(family, []) if (t.id in self.heldout) == (pool != "train")]
        return [t for t in ts if t.pronoun_ok] if pronoun else ts

    def pick(self, family: str, pool: str, rng: random.Random, pronoun: bool = False) -> Template | None:
        ts = self.templates(family, pool, pronoun) or (self.templates(family, pool) if pronoun else [])
        return rng.choice(ts) if ts else None

    # -- rendering ----------------------------------------------------------------------------
    def slots(self, e: Entity) -> dict[str, list[Fact]]:
        return self.out[e.id]

    def pair(self, template: Template, e: Entity, slots: dict[str, Fact], pronoun: bool = False) -> tuple:
        pronoun = pronoun and template.pronoun_ok
        return (render(template, "zh", e, slots, self.entities, pronoun),
                render(template, "en", e, slots, self.entities, pronoun))

    def fact_families(self, e: Entity, available: dict[str, list[Fact]], used=()) -> list[str]:
        """Fact families of ``e``'s type whose every slot ``e`` has and has not yet used."""
        out = []
        for family in FACTS:
            etype, key = family.split(":", 1)
            slots = key.split("+")
            if etype == e.type and all(s in available and s not in used for s in slots):
                out.append(family)
        return out

    def sentences(self, rng: random.Random, per_family: int = 1) -> list[Pair]:
        """Stand-alone sentences: every fact family of every entity, named subject."""
        out = []
        for e in self.entities.values():
            available = self.slots(e)
            for family in self.fact_families(e, available):
                for _ in range(per_family):
                    pool = self.draw_pool(rng)
                    t = self.pick(family, pool, rng)
                    if t is None:
                        continue
                    slots = {s: rng.choice(available[s]) for s in family.split(":", 1)[1].split("+")}
                    zh, en = self.pair(t, e, slots)
                    out.append(Pair(f"sent-{len(out):05d}", e.id, pool, zh, en))
        return out

    def paragraph(self, e: Entity, pool: str, rng: random.Random) -> tuple[Rendered, Rendered] | None:
        """A short article about ``e``: its facts in topic order, merged into compound sentences
        now and then, the subject named first and then (often) replaced by a pronoun."""
        available = self.slots(e)
        used: set[str] = set()
        zh_parts, en_parts = [], []
        for topic in TOPICS[e.type]:
            if topic not in available or topic in used:
                continue
            families = [f for f in self.fact_families(e, available, used) if topic in f.split(":", 1)[1].split("+")
                        and self.templates(f, pool)]
            if not families:
                continue
            combos = [f for f in families if "+" in f]
            single = [f for f in families if "+" not in f]
            family = rng.choice(combos) if combos and (not single or rng.random() < 0.5) else single[0]
            keys = family.split(":", 1)[1].split("+")
            used.update(keys)
            facts = available[topic][:2] if topic in MULTI_VALUED else [None]
            for f in facts:
                slots = {k: (f if k == topic and f is not None else available[k][0]) for k in keys}
                pronoun = bool(zh_parts) and rng.random() < 0.6
                t = self.pick(family, pool, rng, pronoun=pronoun)
                zh, en = self.pair(t, e, slots, pronoun=pronoun)
                zh_parts.append(zh)
                en_parts.append(en)
        if not zh_parts:
            return None
        return join(zh_parts, "zh"), join(en_parts, "en")

    def documents(self, rng: random.Random, per_entity: int = 2) -> list[Pair]:
        out = []
        for e in self.entities.values():
            for _ in range(per_entity):
                pool = self.draw_pool(rng)
                p = self.paragraph(e, pool, rng)
                if p is not None:
                    out.append(Pair(f"doc-{len(out):05d}", e.id, pool, *p))
        return out

    def summary_family(self, e: Entity) -> str | None:
        """The first summary family whose facts ``e`` has, each exactly once."""
        available = self.slots(e)
        for family in SUMMARIES:
            etype, key = family.split(":", 2)[1:]
            if etype == e.type and all(len(available.get(s, ())) == 1 for s in key.split("+")):
                return family
        return None

    # -- look-ups -----------------------------------------------------------------------------
    def one(self, entity_id: str, slot: str) -> Fact | None:
        facts = self.out[entity_id].get(slot, [])
        return facts[0] if len(facts) == 1 else None

    def walk(self, e: Entity, path: list[str]) -> list[tuple[Fact, bool, Entity]] | None:
        """Follow ``path`` (relations, '~' for inverse) from ``e``; None unless every step is unique.
        Returns (fact, inverse, entity the fact is stated about) per hop."""
        steps, cur = [], e
        for i, slot in enumerate(path):
            f = self.one(cur.id, slot)
            if f is None or (f.is_attribute and i < len(path) - 1):
                return None
            inverse = slot.startswith("~")
            steps.append((f, inverse, cur))
            if not f.is_attribute:
                cur = self.entities[f.subject if inverse else f.object]
        return steps
