"""``World``: one seeded synthetic world and every labelled data set drawn from it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from . import dialogue as D
from . import tasks as T
from .corpus import Corpus, choose_heldout
from .graph import Entity, Fact, build_graph
from .records import SPLITS, RecordDataset, SummaryTable, _jsonable
from .render import render
from .templates import FACTS



@dataclass(frozen=True)
class WorldConfig:
    seed: int = 0
    size: float = 1.0                       # scales every entity count (1.0: ~300 entities)
    entity_split: tuple = (0.8, 0.1, 0.1)   # train/dev/test shares of held-out-type entities
    heldout_types: tuple = ("person", "product")
    template_split: tuple = (0.8, 0.1, 0.1)  # shares of records phrased from train / held-out templates
    docs_per_entity: int = 2
    twin_fraction: float = 0.08             # people who share their name with another person


@dataclass
class SplitPlan:
    """Where each entity (``by="entity"``) or template (``by="template"``) goes.

    A record is in the test split if it mentions any test entity (or was phrased from held-out
    templates and drawn for test), in dev if it mentions a dev entity and no test entity, else
    in train. So no training record ever mentions a dev or test entity.
    """
    by: str
    assignment: dict[str, str]

    def of(self, record) -> str:
        if self.by == "template":
            return record.template_split
        ranks = [SPLITS.index(self.assignment.get(e, "train")) for e in record.entities]
        return SPLITS[max(ranks, default=0)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.assignment.values():
            out[v] = out.get(v, 0) + 1
        return out


class World:
    """A seeded world of people, cities, companies, universities and products, and its data sets.

    >>> w = World.generate(seed=0)
    >>> w.qa(hops=2, lang="zh", split="test")[0].question     # doctest: +SKIP
    """

    def __init__(self, config: WorldConfig):
        self.config = config
        rng = random.Random(f"world/{config.seed}")
        graph = build_graph(rng, config.size, config.twin_fraction)
        self.entities: dict[str, Entity] = graph.entities
        self.facts: list[Fact] = graph.facts
        self.heldout_templates = choose_heldout(random.Random(f"templates/{config.seed}"))
        self.corpus = Corpus(graph, self.heldout_templates, config.template_split)
        self._entity_plan = self._split_entities(random.Random(f"split/{config.seed}"))
        self.sentences = self.corpus.sentences(self._rng("sentences"))
        self.documents = self.corpus.documents(self._rng("documents"), config.docs_per_entity)
        self._cache: dict = {}

    def __repr__(self) -> str:
        return (f"World(seed={self.config.seed}, size={self.config.size}: {len(self.entities):,} entities, "
                f"{len(self.facts):,} facts)")

    @classmethod
    def generate(cls, seed: int = 0, size: float = 1.0, **options) -> World:
        """Build the world for ``seed``; ``size`` scales it (``options``: fields of WorldConfig)."""
        return cls(WorldConfig(seed=seed, size=size, **options))

    def _rng(self, name: str) -> random.Random:
        return random.Random(f"{name}/{self.config.seed}")   # one stream per task: call order does not matter

    def _split_entities(self, rng: random.Random) -> dict[str, str]:
        """Assign held-out-type entities to splits, namesakes together (their names are shared text)."""
        groups: dict[str, list[str]] = {}
        for e in self.entities.values():
            if e.type in self.config.heldout_types:
                groups.setdefault(e.zh, []).append(e.id)
        keys = list(groups)
        rng.shuffle(keys)
        tr, dv, _ = self.config.entity_split
        cut1, cut2 = round(tr * len(keys)), round((tr + dv) * len(keys))
        out = {}
        for i, k in enumerate(keys):
            for eid in groups[k]:
                out[eid] = SPLITS[0 if i < cut1 else 1 if i < cut2 else 2]
        return out

    # -- look-ups ---------------------------------------------------------------------------------
    def entity(self, entity_id: str) -> Entity:
        return self.entities[entity_id]

    def find(self, name: str, lang: str = "zh") -> list[Entity]:
        """Every entity called ``name`` (more than one for namesakes)."""
        return [e for e in self.entities.values() if e.name(lang) == name]

    def fact(self, fact_id: str) -> Fact:
        return self.corpus.facts[fact_id]

    def facts_about(self, entity_id: str) -> list[Fact]:
        return [f for f in self.facts if f.subject == entity_id or f.object == entity_id]

    def describe(self, entity_id: str, lang: str = "zh") -> str:
        """A one-line description, as a knowledge base would list the entity."""
        return T.describe(self.entities[entity_id], self.corpus, lang)

    def fact_object(self, fact: Fact | str, lang: str = "zh") -> str:
        """The object of a fact as text: a name, or a value such as '1985年' / '2,999 yuan'."""
        fact = self.fact(fact) if isinstance(fact, str) else fact
        return T.answer_text(fact, self.entities, lang)

    def phrasings(self, fact: Fact | str, lang: str = "zh") -> list[tuple[str, bool, str]]:
        """The fact said in every template of its family: (template id, held out?, sentence)."""
        fact = self.fact(fact) if isinstance(fact, str) else fact
        subject = self.entities[fact.subject]
        family = FACTS[f"{subject.type}:{fact.relation}"]
        return [(t.id, t.id in self.heldout_templates,
                 render(t, lang, subject, {fact.relation: fact}, self.entities).text) for t in family]

    def answer(self, chain, lang: str = "zh") -> str:
        """The answer a multi-hop chain of ``Hop``s leads to, looked up in the fact table."""
        last = chain[-1]
        fact = self.fact(last.fact if hasattr(last, "fact") else last["fact"])
        inverse = last.inverse if hasattr(last, "inverse") else last["inverse"]
        return T.answer_text(fact, self.entities, lang, inverse)

    # -- splits -------------------------------------------------------------------------------------
    def splits(self, by: str = "entity") -> SplitPlan:
        """The split plan: ``by="entity"`` (unseen entities) or ``by="template"`` (unseen phrasings)."""
        if by == "entity":
            return SplitPlan("entity", dict(self._entity_plan))
        if by == "template":
            from .templates import ALL_FAMILIES
            ids = [t.id for ts in ALL_FAMILIES.values() for t in ts]
            return SplitPlan("template", {i: "heldout" if i in self.heldout_templates else "train" for i in ids})
        raise ValueError(f"by must be 'entity' or 'template', got {by!r}")

    def _select(self, records: list, split: str | None, by: str) -> list:
        if split is None:
            return list(records)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        plan = self.splits(by)
        return [r for r in records if plan.of(r) == split]

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @staticmethod
    def _check_lang(lang: str) -> None:
        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")

    # -- tasks --------------------------------------------------------------------------------------
    def ner(self, lang: str = "zh", split: str | None = None, by: str = "entity"):
        """NER on stand-alone sentences: BIO tags per character (zh) or word (en)."""
        self._check_lang(lang)
        return self._select(self._cached(("ner", lang), lambda: T.ner(self.sentences, lang)), split, by)

    def relations(self, lang: str = "zh", split: str | None = None, by: str = "entity"):
        """Relation extraction: each sentence's mentions and the relations it states."""
        self._check_lang(lang)
        records = self._cached(("relations", lang), lambda: T.relations(self.sentences, self.corpus, lang))
        return self._select(records, split, by)

    def entity_linking(self, lang: str = "zh", split: str | None = None, by: str = "entity"):
        """Each mention in each paragraph with its gold entity and candidates (namesakes included)."""
        self._check_lang(lang)
        records = self._cached(("entity_linking", lang),
                               lambda: T.linking(self.documents, self.corpus, lang, self._rng(f"linking-{lang}")))
        return self._select(records, split, by)

    def qa(self, hops: int | None = None, lang: str = "zh", split: str | None = None, by: str = "entity"):
        """Extractive QA; ``hops=1`` asks about a paragraph, 2 and 3 chain facts across sentences."""
        self._check_lang(lang)

        def make():
            return (T.qa_single(self.documents, self.corpus, self._rng("qa1"))
                    + T.qa_multi(self.corpus, self._rng("qa-multi")))
        records = [r for r in self._cached("qa", make) if r.lang == lang and (hops is None or r.hops == hops)]
        return self._select(records, split, by)

    def translation_pairs(self, split: str | None = None, by: str = "entity"):
        """Aligned Chinese-English sentence pairs (the two sides of one template)."""
        return self._select(self._cached("translation", lambda: T.translation(self.sentences)), split, by)

    def summaries(self, lang: str = "zh", split: str | None = None, by: str = "entity"):
        """Paragraph -> one-sentence summary of its key facts."""
        self._check_lang(lang)
        records = self._cached("summaries", lambda: T.summaries(self.documents, self.corpus, self._rng("summaries")))
        return self._select([r for r in records if r.lang == lang], split, by)

    def dialogues(self, kind: str = "task", lang: str = "zh", split: str | None = None, by: str = "entity"):
        """``kind="task"``: ticket booking and look-ups with slots and states; ``"persona"``: chit-chat."""
        self._check_lang(lang)
        if kind not in ("task", "persona"):
            raise ValueError(f"kind must be 'task' or 'persona', got {kind!r}")
        records = self._cached("dialogues", lambda: D.build_dialogues(self.corpus, self.config.seed, self.config.size))
        records = [d for d in records if d.kind == kind and d.lang == lang]
        return self._select(records, split, by)

    def pretraining_text(self, lang: str = "zh", split: str | None = None, by: str = "entity") -> str:
        """The paragraphs of the world as running text, one paragraph per line."""
        self._check_lang(lang)
        docs = self.documents
        if split is not None:
            plan = self.splits(by)
            docs = [d for d in docs if plan.of(_DocView(d, lang)) == split]
        return "\n".join(d.side(lang).text for d in docs) + "\n"

    def dataset(self, task: str, transform=None, **kwargs) -> RecordDataset:
        """A torch ``Dataset`` of one task's records, e.g. ``dataset("qa", hops=2, split="train")``."""
        getter = {"ner": self.ner, "relations": self.relations, "entity_linking": self.entity_linking,
                  "qa": self.qa, "translation": self.translation_pairs, "summaries": self.summaries,
                  "dialogues": self.dialogues}
        if task not in getter:
            raise ValueError(f"unknown task {task!r}; choose from {sorted(getter)}")
        return RecordDataset(getter[task](**kwargs), transform)

    def _all(self):
        """(task, lang, records) for every data set."""
        for lang in ("zh", "en"):
            yield "ner", lang, self.ner(lang)
            yield "relations", lang, self.relations(lang)
            yield "entity_linking", lang, self.entity_linking(lang)
            for h in (1, 2, 3):
                yield f"qa_{h}hop", lang, self.qa(h, lang)
            yield "summaries", lang, self.summaries(lang)
            yield "dialogues_task", lang, self.dialogues("task", lang)
            yield "dialogues_persona", lang, self.dialogues("persona", lang)
        yield "translation", "zh-en", self.translation_pairs()

    def summary(self, by: str = "entity") -> SummaryTable:
        """Record counts per task, language and split."""
        plan = self.splits(by)
        table = SummaryTable(by)
        for task, lang, records in self._all():
            row = {"task": task, "lang": lang, **{s: 0 for s in SPLITS}}
            for r in records:
                row[plan.of(r)] += 1
            row["total"] = len(records)
            table.rows.append(row)
        return table

    def to_jsonl(self, directory, by: str = "entity") -> list[Path]:
        """Write entities, facts and every data set as JSON lines (``<task>_<lang>_<split>.jsonl``)."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        plan = self.splits(by)
        written = []

        def write(name: str, rows) -> None:
            path = root / name
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.writelines(json.dumps(_jsonable(row), ensure_ascii=False) + "\n" for row in rows)
            written.append(path)

        write("entities.jsonl", [{"split": self._entity_plan.get(e.id, "train"), **_jsonable(e)}
                                 for e in self.entities.values()])
        write("facts.jsonl", self.facts)
        for task, lang, records in self._all():
            for s in SPLITS:
                write(f"{task}_{lang}_{s}.jsonl", [r for r in records if plan.of(r) == s])
        for lang in ("zh", "en"):
            for s in SPLITS:
                path = root / f"pretraining_{lang}_{s}.txt"
                path.write_text(self.pretraining_text(lang, s, by), encoding="utf-8")
                written.append(path)
        return written


class _DocView:
    """A paragraph seen as a record, for the split plans."""

    def __init__(self, doc, lang):
        r = doc.side(lang)
        self.entities = T.entity_ids(r)
        self.template_split = doc.pool


def make_world(seed: int = 0, size: float = 1.0, **options) -> World:
    """Shorthand for ``World.generate``."""
    return World.generate(seed=seed, size=size, **options)

