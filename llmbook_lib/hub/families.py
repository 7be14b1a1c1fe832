"""Model families: what differs between the shared GPTs and the BERT-style encoder.

``registry.py`` trains, saves, loads and verifies every shared model through the same six
hooks; each family fills them in for its own data, model, objective and metric:

- ``data(recipe)``: the corpus split and tokenized as the model is trained on it;
- ``build(recipe, tokenizer)``: a fresh model, its vocabulary size taken from the tokenizer;
- ``fit(recipe, model, data, config)``: run ``train()``; return the History and learning curve
  (the BERT family resumes from ``config.checkpoint_path`` when it exists);
- ``metric(recipe, model, data, like=None)``: the manifest's validation metric (``like``: a
  manifest metric to re-measure under the same settings);
- ``checkpoint_state(tokenizer, model, recipe)`` / ``from_checkpoint(state)``: what a weights file stores
  besides the tensors, and the model and tokenizer rebuilt from it;
- ``describe_model(model)``: the model's configuration as JSON, for the manifest;
- ``wrap(recipe, model, tokenizer)``: what ``pretrained`` returns: ``(model, tokenizer)`` for
  the language models, the ready-to-call task object for the task models.

The task families (``ClassifierFamily``, ``TaggerFamily``) fine-tune a shipped encoder on a
labelled corpus; their weights files are the files ``TextClassifier.save`` / ``NERModel.save``
write, so ``TextClassifier.load`` and ``finetune predict`` read them too. ``TranslatorFamily``
trains an encoder-decoder from scratch on sentence pairs; its files are ``Translator.save``'s.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from .. import data as corpora
from ..data.pretraining import BertBatches, MLMWindows, encode_documents, split_documents
from ..models.bertlike import BertConfig, BertLike, mlm_nsp_metrics
from ..models.transformer import GPT, GPTConfig
from ..runtime.checkpoint import load_checkpoint
from ..text.tokenize import BertVocab, ByteTokenizer, CharTokenizer, tokenizer_from_json
from ..training import train as training   # the module: VAL_TOKENS is read when a metric is taken
from ..training.train import History, TrainConfig, train, validation_loss
from .recipes import ClassifierSpec, Recipe, TaggerSpec, TranslatorSpec, recipe as recipe_named

BERT_VAL_BATCHES = 50        # validation batches (fixed pairs and masks) of the MLM + NSP metric


@dataclass
class RecipeData:
    """A recipe's corpus as its model sees it."""

    text: str                 # the whole corpus; its sha256 goes into the manifest
    tokenizer: Any            # a Tokenizer (GPT) or a BertVocab (BERT)
    train: Any                # token ids (GPT) or encoded documents (BERT)
    val: Any


class ModelFamily(Protocol):
    kind: str                 # stored in the weights file; picks the family when loading
    config: type              # the recipe's model config class
    unit: str                 # what the manifest metric is averaged over, for verify's report

    def data(self, recipe: Recipe) -> RecipeData: ...
    def build(self, recipe: Recipe, tokenizer) -> torch.nn.Module: ...
    def fit(self, recipe: Recipe, model, data: RecipeData, config: TrainConfig) -> tuple[History, dict]: ...
    def metric(self, recipe: Recipe, model, data: RecipeData, like: dict | None = None) -> dict: ...
    def checkpoint_state(self, tokenizer, model, recipe: Recipe) -> dict: ...
    def from_checkpoint(self, state: dict) -> tuple[torch.nn.Module, Any]: ...
    def describe_model(self, model) -> dict: ...
    def wrap(self, recipe: Recipe, model, tokenizer) -> Any: ...


class GPTFamily:
    """Character- or byte-level GPTs trained as causal LMs; metric: next-token loss."""

    kind, config, unit = "gpt", GPTConfig, "nats/token"

    def data(self, recipe: Recipe) -> RecipeData:
        text = recipe.text()
        train_text, val_text = corpora.split_train_val(text, recipe.val_fraction)
        if recipe.tokenizer == "byte":
            tok = ByteTokenizer()
        elif recipe.max_vocab:        # the most frequent training characters, the rest -> <unk>
            tok = CharTokenizer.from_text(train_text, unk="<unk>", max_vocab=recipe.max_vocab)
        else:                         # every character of the corpus
            tok = CharTokenizer.from_text(text)
        return RecipeData(text, tok, corpora.encode_corpus(train_text, tok), corpora.encode_corpus(val_text, tok))

    def build(self, recipe: Recipe, tokenizer) -> GPT:
        return GPT(GPTConfig(**{**recipe.model.to_dict(), "vocab_size": tokenizer.vocab_size}))

    def fit(self, recipe: Recipe, model: GPT, data: RecipeData, config: TrainConfig) -> tuple[History, dict]:
        if config.checkpoint_path:
            raise ValueError("resumable training (a checkpoint path) is implemented for the BERT family only")
        T = model.config.max_len
        batches = corpora.RandomBatches(data.train, T, recipe.batch_size, seed=recipe.seed)
        val = corpora.RandomBatches(data.val, T, recipe.batch_size, seed=recipe.seed + 1)
        history = train(model, batches, config, val_batches=val)
        return history, {"steps": history.val_steps, "val_loss": history.val_loss}

    def metric(self, recipe: Recipe, model: GPT, data: RecipeData, like: dict | None = None) -> dict:
        max_tokens = like["val_tokens"] if like else training.VAL_TOKENS
        loss = validation_loss(model, data.val, max_tokens)
        return {"name": "val_loss_nats_per_token", "value": loss, "bits_per_token": loss / math.log(2),
                "val_tokens": min(len(data.val) - 1, max_tokens)}

    def checkpoint_state(self, tokenizer, model=None, recipe: Recipe | None = None) -> dict:
        return {"tokenizer": tokenizer.to_json()}     # no "kind": GPT files predate the BERT family

    def from_checkpoint(self, state: dict) -> tuple[GPT, Any]:
        return GPT(GPTConfig.from_dict(state["model_config"])), tokenizer_from_json(state["tokenizer"])

    def describe_model(self, model) -> dict:
        return model.config.to_dict()

    def wrap(self, recipe: Recipe, model, tokenizer):
        return model, tokenizer


def bert_val_batches(recipe_or_name: Recipe | str, vocab: BertVocab, val_docs) -> BertBatches:
    """The fixed validation pairs of a BERT recipe (seed + 1), as scored in the manifest."""
    recipe = recipe_named(recipe_or_name) if isinstance(recipe_or_name, str) else recipe_or_name
    return BertBatches(val_docs, vocab, recipe.batch_size, recipe.model.max_len, seed=recipe.seed + 1)


OBJECTIVES = ("mlm+nsp", "mlm")     # recipe.extra["objective"] of a BERT recipe; default "mlm+nsp"


def _mlm_nsp_loss(model: BertLike, batch) -> torch.Tensor:
    return model(*batch).loss                       # MLM + NSP as in BERT; MLM alone without is_next


_CURVE = ("steps", "seconds", "train_loss", "val_loss", "val_mlm_loss", "val_nsp_loss", "mlm_accuracy",
          "mask_accuracy", "nsp_accuracy")


class _Curve:
    """A learning curve kept beside a resumable run's checkpoint (``<checkpoint>.curve.json``),
    so a run spread over several sessions ships the same curve as an uninterrupted one;
    "seconds" then sums the sessions (time since the last point before an interruption is lost)."""

    def __init__(self, keys: tuple[str, ...], checkpoint_path: str | None):
        ckpt = Path(checkpoint_path) if checkpoint_path else None
        self.sidecar = ckpt.with_suffix(".curve.json") if ckpt else None
        self.points: dict[str, list] = {k: [] for k in ("steps", "seconds", *keys)}
        if ckpt and ckpt.exists() and self.sidecar.exists():
            start = load_checkpoint(ckpt).state["step"]
            saved = json.loads(self.sidecar.read_text(encoding="utf-8"))
            keep = sum(s <= start for s in saved["steps"])        # points past the checkpoint are redone
            self.points = {k: saved[k][:keep] for k in self.points}
        self.offset = self.points["seconds"][-1] if self.points["seconds"] else 0.0
        self.t0 = time.perf_counter()

    def add(self, done: int, values: dict) -> None:
        for key, value in [("steps", done), ("seconds", round(self.offset + time.perf_counter() - self.t0, 1)),
                           *values.items()]:
            self.points[key].append(value)
        if self.sidecar:
            tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
            tmp.write_text(json.dumps(self.points), encoding="utf-8")
            os.replace(tmp, self.sidecar)

    def with_train_loss(self, history: History) -> dict:
        """The curve plus the mean training loss over the steps since the previous point."""
        loss_after = dict(zip((s + 1 for s in history.steps), history.train_loss))  # a resumed History is whole
        train_loss = [statistics.fmean(loss_after[d] for d in range(a + 1, b + 1))
                      for a, b in itertools.pairwise([0, *self.points["steps"]])]
        return {**self.points, "train_loss": train_loss}


class BertFamily:
    """A BERT-style character encoder; metric: MLM loss on the fixed validation pairs.

    The recipe's ``extra["objective"]`` picks the training batches: "mlm+nsp" (default, BERT:
    sentence pairs, MLM + NSP) or "mlm" (RoBERTa: ``MLMWindows`` of contiguous text, MLM only;
    the NSP head stays untrained). Either way the metric masks the same validation pairs.
    """

    kind, config, unit = "bertlike", BertConfig, "nats/masked token"

    def data(self, recipe: Recipe) -> RecipeData:
        """Documents (paragraphs -> sentences) split by paragraph, a BertVocab over the most
        frequent training characters, and the token ids of every sentence."""
        if recipe.tokenizer != "char":
            raise ValueError(f"BERT recipes use a character vocabulary (tokenizer='char'), got {recipe.tokenizer!r}")
        text = recipe.text()
        train_docs, val_docs = split_documents(text, recipe.val_fraction)
        chars = "".join(s for doc in train_docs for s in doc)
        vocab = BertVocab(CharTokenizer.from_text(chars, unk="<unk>", max_vocab=recipe.max_vocab))
        return RecipeData(text, vocab, encode_documents(train_docs, vocab), encode_documents(val_docs, vocab))

    def build(self, recipe: Recipe, tokenizer: BertVocab) -> BertLike:
        return BertLike(BertConfig(**{**recipe.model.to_dict(), "vocab_size": tokenizer.vocab_size}))

    def batches(self, recipe: Recipe, data: RecipeData) -> BertBatches | MLMWindows:
        """The training batches of the recipe's objective."""
        objective = recipe.extra.get("objective", "mlm+nsp")
        if objective not in OBJECTIVES:
            raise ValueError(f"recipe {recipe.name!r}: unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
        sampler = MLMWindows if objective == "mlm" else BertBatches
        return sampler(data.train, data.tokenizer, recipe.batch_size, recipe.model.max_len, seed=recipe.seed)

    def fit(self, recipe: Recipe, model: BertLike, data: RecipeData, config: TrainConfig) -> tuple[History, dict]:
        """Train; the curve holds validation numbers every ``eval_every`` steps and the mean training
        loss since the previous point. With ``config.checkpoint_path`` the run resumes from that
        checkpoint when it exists and keeps its curve beside it (``<checkpoint>.curve.json``), so a
        run spread over several sessions ships the same weights and curve as an uninterrupted one;
        "seconds" then sums the sessions (time since the last evaluation before an interruption is lost)."""
        val = bert_val_batches(recipe, data.tokenizer, data.val)
        curve = _Curve(tuple(k for k in _CURVE if k not in ("steps", "seconds", "train_loss")), config.checkpoint_path)

        def log(done: int, loss: float) -> None:    # the learning curve, every eval_every steps
            if done % config.eval_every == 0 or done == config.max_steps:
                m = mlm_nsp_metrics(model, val, config.eval_iters)
                curve.add(done, {"val_loss": m["mlm_loss"] + m["nsp_loss"], "val_mlm_loss": m["mlm_loss"],
                                 "val_nsp_loss": m["nsp_loss"], "mlm_accuracy": m["mlm_accuracy"],
                                 "mask_accuracy": m["mask_accuracy"], "nsp_accuracy": m["nsp_accuracy"]})

        history = train(model, self.batches(recipe, data), config, loss_fn=_mlm_nsp_loss, on_step=log,
                        resume=config.checkpoint_path is not None)
        points = curve.with_train_loss(history)
        return history, {k: points[k] for k in _CURVE}

    def metric(self, recipe: Recipe, model: BertLike, data: RecipeData, like: dict | None = None) -> dict:
        n = like["val_batches"] if like else BERT_VAL_BATCHES
        m = mlm_nsp_metrics(model, bert_val_batches(recipe, data.tokenizer, data.val), n)
        return {"name": "val_mlm_loss_nats_per_masked_token", "value": m["mlm_loss"], **m, "val_batches": n}

    def checkpoint_state(self, tokenizer: BertVocab, model=None, recipe: Recipe | None = None) -> dict:
        # a BertVocab is its special tokens + a base tokenizer: storing the base is enough
        return {"kind": self.kind, "tokenizer": tokenizer.base.to_json()}

    def from_checkpoint(self, state: dict) -> tuple[BertLike, BertVocab]:
        return BertLike(BertConfig(**state["model_config"])), BertVocab(tokenizer_from_json(state["tokenizer"]))

    def describe_model(self, model) -> dict:
        return model.config.to_dict()

    def wrap(self, recipe: Recipe, model, tokenizer):
        return model, tokenizer


def _base_encoder(recipe: Recipe) -> tuple[BertLike, BertVocab]:
    """A fresh copy of the shipped encoder a task recipe starts from, and its vocabulary."""
    from .registry import pretrained                 # the registry imports this module

    encoder, vocab = pretrained(recipe.model.base)
    if not isinstance(encoder, BertLike):
        raise ValueError(f"recipe {recipe.name!r}: base {recipe.model.base!r} is not a BERT-style encoder")
    if encoder.config.max_len != recipe.model.max_len:
        raise ValueError(f"recipe {recipe.name!r}: max_len {recipe.model.max_len} differs from the "
                         f"base encoder's {encoder.config.max_len}")
    return encoder, vocab


class ClassifierFamily:
    """A sentence classifier fine-tuned from a shipped encoder; metric: test accuracy.

    The corpus is a task corpus (``data.sentiment``: ``corpus_text`` pins it); the curve holds
    dev accuracy every ``eval_every`` steps; the metric also reports dev and test macro-F1.
    """

    kind, config, unit = "text-classifier", ClassifierSpec, "accuracy"

    def data(self, recipe: Recipe) -> RecipeData:
        from ..data.sentiment import LABELS, sentiment_splits
        from ..tasks.classifier import encode_texts

        if tuple(recipe.model.labels) != LABELS:
            raise ValueError(f"recipe {recipe.name!r}: labels {recipe.model.labels} differ from the corpus's {LABELS}")
        vocab = _base_encoder(recipe)[1]
        splits = sentiment_splits()
        enc = {name: (encode_texts(vocab, [t for t, _ in rows], recipe.model.max_len), [y for _, y in rows])
               for name, rows in splits.items()}
        return RecipeData(recipe.text(), vocab, enc["train"], {"dev": enc["dev"], "test": enc["test"]})

    def build(self, recipe: Recipe, tokenizer: BertVocab):
        from ..tasks.classifier import Classifier, ClassifierConfig

        spec = recipe.model
        encoder = _base_encoder(recipe)[0]
        init = recipe.extra.get("init", "pretrained")
        if init == "random":                 # the same network and vocabulary, never pretrained
            encoder = BertLike(encoder.config)
        elif init != "pretrained":
            raise ValueError(f"recipe {recipe.name!r}: extra['init'] must be 'pretrained' or 'random', got {init!r}")
        return Classifier(encoder, ClassifierConfig(
            n_labels=len(spec.labels), mode=spec.mode, pool=spec.pool, dropout=spec.dropout))

    def fit(self, recipe: Recipe, model, data: RecipeData, config: TrainConfig) -> tuple[History, dict]:
        from ..tasks.classifier import ShuffledBatches, classification_loss, evaluate

        curve = _Curve(("dev_accuracy", "dev_macro_f1"), config.checkpoint_path)

        def log(done: int, loss: float) -> None:
            if done % config.eval_every == 0 or done == config.max_steps:
                m = evaluate(model, *data.val["dev"])
                model.train()
                curve.add(done, {"dev_accuracy": m["accuracy"], "dev_macro_f1": m["macro_f1"]})

        adapted = None
        steps = recipe.extra.get("adapt_steps", 0)
        if steps and not (config.checkpoint_path and Path(config.checkpoint_path).exists()):
            adapted = self.adapt(recipe, model.encoder, data, steps, config.progress)   # a resumed run has it
        batches = ShuffledBatches(*data.train, recipe.batch_size, recipe.seed, model.pad_id)
        history = train(model, batches, config, loss_fn=classification_loss, on_step=log,
                        resume=config.checkpoint_path is not None)
        points = curve.with_train_loss(history)
        if adapted:
            points["adapt"] = adapted
        return history, points

    @staticmethod
    def adapt(recipe: Recipe, encoder: BertLike, data: RecipeData, steps: int, progress: bool) -> dict:
        """Domain-adaptive pretraining (Gururangan et al., 2020): more MLM, on the task's own
        training texts (labels unused), before fine-tuning: the encoder learned newspaper text,
        the task is product reviews. RoBERTa-style windows, lr 1e-3 (bert-zh-mlm ended at 5e-4)."""
        vocab = data.tokenizer
        docs = [[row[1:-1]] for row in data.train[0]]               # the reviews without [CLS]/[SEP]
        batches = MLMWindows(docs, vocab, recipe.batch_size, encoder.config.max_len, seed=recipe.seed)
        config = TrainConfig(max_steps=steps, lr=1e-3, warmup_steps=min(100, steps // 10), weight_decay=0.01,
                             amp=None, progress=progress)
        history = train(encoder, batches, config, loss_fn=_mlm_nsp_loss)
        k = min(100, steps)
        return {"steps": steps, "seconds": round(history.seconds, 1),
                "mlm_loss_first": statistics.fmean(history.train_loss[:k]),
                "mlm_loss_last": statistics.fmean(history.train_loss[-k:])}

    def metric(self, recipe: Recipe, model, data: RecipeData, like: dict | None = None) -> dict:
        from ..tasks.classifier import evaluate

        dev, test = evaluate(model, *data.val["dev"]), evaluate(model, *data.val["test"])
        return {"name": "test_accuracy", "value": test["accuracy"], "test_macro_f1": test["macro_f1"],
                "dev_accuracy": dev["accuracy"], "dev_macro_f1": dev["macro_f1"],
                "test_examples": test["n"], "dev_examples": dev["n"]}

    def checkpoint_state(self, tokenizer: BertVocab, model, recipe: Recipe) -> dict:
        from ..tasks.classifier import classifier_state

        return classifier_state(model, tokenizer, list(recipe.model.labels), {"name": recipe.name})

    def from_checkpoint(self, state: dict):
        from ..tasks.classifier import classifier_from_state

        model, vocab, _ = classifier_from_state(state)
        return model, vocab

    def describe_model(self, model) -> dict:
        return {"encoder": model.encoder.config.to_dict(), "classifier": model.config.to_dict()}

    def wrap(self, recipe: Recipe, model, tokenizer):
        from ..tasks.classifier import TextClassifier

        return TextClassifier(model, tokenizer, list(recipe.model.labels), {"name": recipe.name})


class TaggerFamily:
    """A character NER tagger fine-tuned from a shipped encoder; metric: test entity micro-F1
    (seqeval, strict). The curve holds dev micro-F1 every ``eval_every`` steps."""

    kind, config, unit = "ner-tagger", TaggerSpec, "entity F1"

    def data(self, recipe: Recipe) -> RecipeData:
        from ..data.ner import ner_splits
        from ..tasks.tagger import encode_tagged, example_chunks

        vocab = _base_encoder(recipe)[1]
        splits = ner_splits()
        pieces = encode_tagged(example_chunks(splits["train"], recipe.model.max_len - 2), vocab)
        return RecipeData(recipe.text(), vocab, pieces, {"dev": splits["dev"], "test": splits["test"]})

    def build(self, recipe: Recipe, tokenizer: BertVocab):
        from ..tasks.tagger import Tagger

        spec = recipe.model
        return Tagger(_base_encoder(recipe)[0], head=spec.head, dropout=spec.dropout,
                      head_lr_mult=spec.head_lr_mult)

    def fit(self, recipe: Recipe, model, data: RecipeData, config: TrainConfig) -> tuple[History, dict]:
        from ..tasks.tagger import NERModel, TaggingBatches, evaluate_ner

        curve = _Curve(("dev_f1", "dev_f1_per", "dev_f1_loc", "dev_f1_org"), config.checkpoint_path)

        def log(done: int, loss: float) -> None:
            if done % config.eval_every == 0 or done == config.max_steps:
                m = evaluate_ner(NERModel(model, data.tokenizer), data.val["dev"])
                model.train()
                curve.add(done, {"dev_f1": m["micro"]["f1"], **{f"dev_f1_{t.lower()}": m.get(t, {}).get("f1", 0.0)
                                                                for t in ("PER", "LOC", "ORG")}})

        batches = TaggingBatches(data.train, recipe.batch_size, recipe.seed, data.tokenizer.pad_id)
        history = train(model, batches, config, on_step=log, resume=config.checkpoint_path is not None)
        return history, curve.with_train_loss(history)

    def metric(self, recipe: Recipe, model, data: RecipeData, like: dict | None = None) -> dict:
        from ..tasks.tagger import NERModel, evaluate_ner

        ner = NERModel(model, data.tokenizer)
        test, dev = evaluate_ner(ner, data.val["test"]), evaluate_ner(ner, data.val["dev"])
        out = {"name": "test_entity_f1", "value": test["micro"]["f1"], "dev_f1": dev["micro"]["f1"]}
        for t in ("PER", "LOC", "ORG"):
            if t in test:
                out[f"test_{t}"] = test[t]
        return out

    def checkpoint_state(self, tokenizer: BertVocab, model, recipe: Recipe) -> dict:
        from ..tasks.tagger import NERModel

        return NERModel(model, tokenizer).state()

    def from_checkpoint(self, state: dict):
        from ..tasks.tagger import NERModel

        ner = NERModel.from_state(state)
        return ner.tagger, ner.vocab

    def describe_model(self, model) -> dict:
        return {"encoder": model.encoder.config.to_dict(), "tags": list(model.tags), "head": model.head,
                "dropout": model.dropout.p}

    def wrap(self, recipe: Recipe, model, tokenizer):
        from ..tasks.tagger import NERModel

        return NERModel(model, tokenizer)


class TranslatorFamily:
    """An encoder-decoder Transformer trained from scratch to translate Chinese to English on the
    HSK sentence pairs (``data.hsk``: ``corpus_text`` pins them); metric: test chrF with beam
    search (sacrebleu). The curve holds dev BLEU and chrF (greedy) every ``eval_every`` steps; the
    metric also reports test BLEU, greedy test scores, dev scores and the dictionary baseline's."""

    kind, config, unit = "translator", TranslatorSpec, "chrF"

    def data(self, recipe: Recipe) -> RecipeData:
        from ..data import hsk
        from ..tasks.translate import build_vocabs, encode_pairs

        splits = hsk.hsk_splits()
        train_pairs = [(p.zh, p.en) for p in splits["train"]]
        vocabs = build_vocabs(train_pairs, recipe.model.tgt_vocab)
        ids = encode_pairs(*vocabs, train_pairs, recipe.model.max_len)
        return RecipeData(hsk.corpus_text(), vocabs, ids, {"dev": splits["dev"], "test": splits["test"]})

    def build(self, recipe: Recipe, tokenizer):
        from ..models.transformer import Transformer, TransformerConfig

        s = recipe.model
        return Transformer(TransformerConfig.from_vocabs(
            *tokenizer, d_model=s.d_model, n_head=s.n_head, n_encoder_layers=s.n_layers,
            n_decoder_layers=s.n_layers, d_ff=s.d_ff, dropout=s.dropout, max_len=s.max_len))

    @staticmethod
    def _score(recipe: Recipe, model, tokenizer, pairs, beam: int) -> dict:
        from ..tasks.translate import Translator, bleu_chrf

        mt = Translator(model, *tokenizer, alpha=recipe.model.alpha)
        return bleu_chrf(mt.translate([p.zh for p in pairs], beam=beam), [p.en for p in pairs])

    def fit(self, recipe: Recipe, model, data: RecipeData, config: TrainConfig) -> tuple[History, dict]:
        from ..tasks.translate import fit_translator

        curve = _Curve(("dev_bleu", "dev_chrf"), config.checkpoint_path)

        def log(done: int, loss: float) -> None:
            if done % config.eval_every == 0 or done == config.max_steps:
                m = self._score(recipe, model, data.tokenizer, data.val["dev"], beam=1)
                model.train()
                curve.add(done, {"dev_bleu": m["bleu"], "dev_chrf": m["chrf"]})

        history = fit_translator(model, data.train, config, recipe.batch_size, recipe.seed,
                                 recipe.model.label_smoothing, on_step=log)
        return history, curve.with_train_loss(history)

    def metric(self, recipe: Recipe, model, data: RecipeData, like: dict | None = None) -> dict:
        from ..tasks.translate import DictionaryTranslator, bleu_chrf

        test, dev = data.val["test"], data.val["dev"]
        beam = self._score(recipe, model, data.tokenizer, test, recipe.model.beam)
        greedy = self._score(recipe, model, data.tokenizer, test, 1)
        dev_greedy = self._score(recipe, model, data.tokenizer, dev, 1)
        baseline = bleu_chrf(DictionaryTranslator().translate([p.zh for p in test]), [p.en for p in test])
        return {"name": "test_chrf", "value": beam["chrf"], "test_bleu": beam["bleu"], "beam": recipe.model.beam,
                "test_chrf_greedy": greedy["chrf"], "test_bleu_greedy": greedy["bleu"],
                "dev_chrf_greedy": dev_greedy["chrf"], "dev_bleu_greedy": dev_greedy["bleu"],
                "dictionary_test_chrf": baseline["chrf"], "dictionary_test_bleu": baseline["bleu"],
                "test_sentences": beam["n"], "dev_sentences": dev_greedy["n"]}

    def checkpoint_state(self, tokenizer, model, recipe: Recipe) -> dict:
        from ..tasks.translate import Translator

        return Translator(model, *tokenizer, {"name": recipe.name}, alpha=recipe.model.alpha).state()

    def from_checkpoint(self, state: dict):
        from ..tasks.translate import Translator

        mt = Translator.from_state(state)
        return mt.model, (mt.src_vocab, mt.tgt_vocab)

    def describe_model(self, model) -> dict:
        return model.config.to_dict()

    def wrap(self, recipe: Recipe, model, tokenizer):
        from ..tasks.translate import Translator

        return Translator(model, *tokenizer, {"name": recipe.name}, alpha=recipe.model.alpha)


FAMILIES: dict[str, ModelFamily] = {f.kind: f for f in (GPTFamily(), BertFamily(), ClassifierFamily(),
                                                        TaggerFamily(), TranslatorFamily())}


def family_of(recipe: Recipe) -> ModelFamily:
    """The family that trains ``recipe``, picked by the class of its model config."""
    for family in FAMILIES.values():
        if isinstance(recipe.model, family.config):
            return family
    raise ValueError(f"recipe {recipe.name!r}: no model family for {type(recipe.model).__name__}; "
                     f"known: {', '.join(f.config.__name__ for f in FAMILIES.values())}")


def family_of_checkpoint(state: dict) -> ModelFamily:
    """The family that wrote a weights file (GPT files carry no "kind")."""
    return FAMILIES[state.get("kind", "gpt")]
