"""The labelled examples the world produces, one dataclass per task.

Every record carries ``entities`` (every entity it mentions, candidates included) and
``template_split`` (the template pool it was phrased from), which is all that the entity and
template splits need. ``to_dict()`` gives the JSON-ready form written by ``World.to_jsonl``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass

import torch

SPLITS = ("train", "dev", "test")


@dataclass
class Record:
    id: str
    lang: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Mention:
    """An entity mention: character offsets ``[start, end)`` and, for English, token offsets."""
    start: int
    end: int
    text: str
    label: str
    entity: str
    token_start: int
    token_end: int


@dataclass
class NERExample(Record):
    text: str
    tokens: list[str]              # characters (zh) or words (en)
    tags: list[str]                # BIO, one per token: B-PER, I-PER, O, …
    mentions: list[Mention]
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"


@dataclass(frozen=True)
class RelationTriple:
    head: int                      # index into ``mentions``
    tail: int
    relation: str
    fact: str


@dataclass
class RelationExample(Record):
    text: str
    mentions: list[Mention]
    relations: list[RelationTriple]  # every relation the sentence states; other mention pairs: none
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"

    def triples(self) -> list[tuple[str, str, str]]:
        """(head entity id, relation, tail entity id) for each stated relation."""
        return [(self.mentions[r.head].entity, r.relation, self.mentions[r.tail].entity) for r in self.relations]


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    description: str


@dataclass
class LinkingExample(Record):
    text: str
    mention: Mention
    gold: str
    candidates: list[Candidate]
    ambiguous: bool                # another candidate has exactly the same name
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"


@dataclass(frozen=True)
class Hop:
    fact: str
    inverse: bool = False          # walked from object to subject (e.g. person -> company founded)


@dataclass
class QAExample(Record):
    question: str
    context: str
    answer: str
    answer_start: int              # character offset of ``answer`` in ``context``
    hops: int
    chain: list[Hop]               # from the question's subject to the answer
    subject: str
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"


@dataclass
class TranslationPair(Record):
    zh: str
    en: str
    facts: list[str]
    zh_mentions: list[Mention]
    en_mentions: list[Mention]
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"


@dataclass
class SummaryExample(Record):
    document: str
    summary: str
    subject: str
    document_facts: list[str]
    summary_facts: list[str]       # a subset of document_facts
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"


@dataclass(frozen=True)
class SlotValue:
    slot: str
    value: str                     # canonical value, e.g. "2" for 两张
    start: int                     # offsets of the surface form in the turn's text
    end: int
    text: str


@dataclass
class Turn:
    speaker: str                   # "user" / "system" (task) or "A" / "B" (persona chat)
    text: str
    act: str                       # "inform", "request(date)", "confirm", "answer", …
    slots: list[SlotValue] = field(default_factory=list)
    state: dict = field(default_factory=dict)   # dialogue state after this turn (task dialogues)
    facts: list[str] = field(default_factory=list)


@dataclass
class Dialogue(Record):
    kind: str                      # "task" or "persona"
    domain: str                    # "train_ticket", "lookup", "chitchat"
    turns: list[Turn]
    persona: list[str] = field(default_factory=list)
    persona_facts: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    template_split: str = "train"


def _jsonable(x):
    if is_dataclass(x) and not isinstance(x, type):
        return {k: _jsonable(v) for k, v in asdict(x).items()}
    if hasattr(x, "zh") and hasattr(x, "en") and not isinstance(x, dict):
        return {"zh": x.zh, "en": x.en}
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


class RecordDataset(torch.utils.data.Dataset):
    """A list of records as a torch ``Dataset``; ``transform`` turns a record dict into tensors."""

    def __init__(self, records: list[Record], transform=None):
        self.records, self.transform = records, transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        d = self.records[i].to_dict()
        return self.transform(d) if self.transform else d


@dataclass
class SummaryTable:
    """Counts per task and split; ``print`` it, or read ``rows``."""
    by: str
    rows: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{'task':<20}{'lang':<7}" + "".join(f"{s:>8}" for s in (*SPLITS, "total"))
        lines = [f"split by {self.by}", head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r['task']:<20}{r['lang']:<7}" + "".join(f"{r[s]:>8,}" for s in (*SPLITS, "total")))
        return "\n".join(lines)

    __repr__ = __str__
