"""Model families: what differs between the shared GPTs and the BERT-style encoder.

``registry.py`` trains, saves, loads and verifies every shared model through the same six
hooks; each family fills them in for its own data, model, objective and metric:

- ``data(recipe)``: the corpus split and tokenized as the model is trained on it;
- ``build(recipe, tokenizer)``: a fresh model, its vocabulary size taken from the tokenizer;
- ``fit(recipe, model, data, config)``: run ``train()``; return the History and learning curve
  (the BERT family resumes from ``config.checkpoint_path`` when it exists);
- ``metric(recipe, model, data, like=None)``: the manifest's validation metric (``like``: a
  manifest metric to re-measure under the same settings);
- ``checkpoint_state(tokenizer)`` / ``from_checkpoint(state)``: what a weights file stores
  besides the tensors, and the model and tokenizer rebuilt from it.
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
from .recipes import Recipe, recipe as recipe_named

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
    def checkpoint_state(self, tokenizer) -> dict: ...
    def from_checkpoint(self, state: dict) -> tuple[torch.nn.Module, Any]: ...


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

    def checkpoint_state(self, tokenizer) -> dict:
        return {"tokenizer": tokenizer.to_json()}     # no "kind": GPT files predate the BERT family

    def from_checkpoint(self, state: dict) -> tuple[GPT, Any]:
        return GPT(GPTConfig.from_dict(state["model_config"])), tokenizer_from_json(state["tokenizer"])


def bert_val_batches(recipe_or_name: Recipe | str, vocab: BertVocab, val_docs) -> BertBatches:
    """The fixed validation pairs of a BERT recipe (seed + 1), as scored in the manifest."""
    recipe = recipe_named(recipe_or_name) if isinstance(recipe_or_name, str) else recipe_or_name
    return BertBatches(val_docs, vocab, recipe.batch_size, recipe.model.max_len, seed=recipe.seed + 1)


OBJECTIVES = ("mlm+nsp", "mlm")     # recipe.extra["objective"] of a BERT recipe; default "mlm+nsp"


def _mlm_nsp_loss(model: BertLike, batch) -> torch.Tensor:
    return model(*batch).loss                       # MLM + NSP as in BERT; MLM alone without is_next


_CURVE = ("steps", "seconds", "train_loss", "val_loss", "val_mlm_loss", "val_nsp_loss", "mlm_accuracy",
          "mask_accuracy", "nsp_accuracy")


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
        ckpt = Path(config.checkpoint_path) if config.checkpoint_path else None
        sidecar = ckpt.with_suffix(".curve.json") if ckpt else None
        curve: dict[str, list] = {k: [] for k in _CURVE if k != "train_loss"}
        if ckpt and ckpt.exists() and sidecar.exists():
            start = load_checkpoint(ckpt).state["step"]
            saved = json.loads(sidecar.read_text(encoding="utf-8"))
            keep = sum(s <= start for s in saved["steps"])        # points past the checkpoint are redone
            curve = {k: saved[k][:keep] for k in curve}
        offset, t0 = (curve["seconds"][-1] if curve["seconds"] else 0.0), time.perf_counter()

        def log(done: int, loss: float) -> None:    # the learning curve, every eval_every steps
            if done % config.eval_every == 0 or done == config.max_steps:
                m = mlm_nsp_metrics(model, val, config.eval_iters)
                for key, value in [("steps", done), ("seconds", round(offset + time.perf_counter() - t0, 1)),
                                   ("val_loss", m["mlm_loss"] + m["nsp_loss"]), ("val_mlm_loss", m["mlm_loss"]),
                                   ("val_nsp_loss", m["nsp_loss"]), ("mlm_accuracy", m["mlm_accuracy"]),
                                   ("mask_accuracy", m["mask_accuracy"]), ("nsp_accuracy", m["nsp_accuracy"])]:
                    curve[key].append(value)
                if sidecar:
                    tmp = sidecar.with_name(sidecar.name + ".tmp")
                    tmp.write_text(json.dumps(curve), encoding="utf-8")
                    os.replace(tmp, sidecar)

        history = train(model, self.batches(recipe, data), config, loss_fn=_mlm_nsp_loss, on_step=log,
                        resume=ckpt is not None)
        loss_after = dict(zip((s + 1 for s in history.steps), history.train_loss))  # a resumed History is whole
        curve["train_loss"] = [statistics.fmean(loss_after[d] for d in range(a + 1, b + 1))
                               for a, b in itertools.pairwise([0, *curve["steps"]])]
        return history, {k: curve[k] for k in _CURVE}

    def metric(self, recipe: Recipe, model: BertLike, data: RecipeData, like: dict | None = None) -> dict:
        n = like["val_batches"] if like else BERT_VAL_BATCHES
        m = mlm_nsp_metrics(model, bert_val_batches(recipe, data.tokenizer, data.val), n)
        return {"name": "val_mlm_loss_nats_per_masked_token", "value": m["mlm_loss"], **m, "val_batches": n}

    def checkpoint_state(self, tokenizer: BertVocab) -> dict:
        # a BertVocab is its special tokens + a base tokenizer: storing the base is enough
        return {"kind": self.kind, "tokenizer": tokenizer.base.to_json()}

    def from_checkpoint(self, state: dict) -> tuple[BertLike, BertVocab]:
        return BertLike(BertConfig(**state["model_config"])), BertVocab(tokenizer_from_json(state["tokenizer"]))


FAMILIES: dict[str, ModelFamily] = {f.kind: f for f in (GPTFamily(), BertFamily())}


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
