"""A synthetic bilingual knowledge world and the labelled data sets drawn from it.

Real labelled sets for extractive QA, sentence-level translation, summarisation, relation
extraction, entity linking and task-oriented dialogue cannot be loaded offline, so the book
generates them from one seeded world of people, cities, companies, universities and products,
rendered into Chinese and English from many templates::

    from llmbook_lib.data import make_world
    world = make_world(seed=0)            # ~300 entities, under a second or two
    world.qa(hops=2, lang="zh", split="test")
    print(world.summary())

Modules: ``lexicon`` (names and words), ``graph`` (entities and facts), ``templates``,
``render`` (text with offsets), ``corpus`` (sentences and paragraphs), ``tasks``, ``dialogue``,
``records`` (one dataclass per task) and ``world`` (the ``World`` class, splits, export).
"""

from .graph import ENTITY_TYPES, NER_LABEL, RELATIONS, Entity, Fact
from .records import (Candidate, Dialogue, Hop, LinkingExample, Mention, NERExample, QAExample, RelationExample,
                      RelationTriple, SlotValue, SummaryExample, TranslationPair, Turn)
from .render import Span, tokenize_en
from .world import RecordDataset, SplitPlan, SummaryTable, World, WorldConfig, make_world

__all__ = [
    "World", "WorldConfig", "make_world", "SplitPlan", "SummaryTable", "RecordDataset",
    "Entity", "Fact", "ENTITY_TYPES", "NER_LABEL", "RELATIONS", "Span", "tokenize_en",
    "Mention", "NERExample", "RelationExample", "RelationTriple", "LinkingExample", "Candidate", "QAExample", "Hop",
    "TranslationPair", "SummaryExample", "Dialogue", "Turn", "SlotValue",
]
