"""``pretrained(name)``: the small models that notebooks share.

Two kinds: character- or byte-level GPTs (causal LM; recipes with a ``GPTConfig``) and a
BERT-style encoder (``bertlike.BertLike`` trained with MLM + NSP on sentence pairs; recipes with
a ``BertConfig``). Each model has a recipe here and is shipped with the package as a safetensors
file listed in ``weights/manifest.json`` (sha256, recipe, training-data hash, training time, validation
metric). A shipped file whose hash does not match the manifest is refused and the model is
retrained into ``$LLMBOOK_CACHE`` (default ``~/.cache/llmbook``); a model with no shipped file
is trained on first use and cached there.

Command line::

    python -m llmbook_lib.hub list
    python -m llmbook_lib.hub train NAME        # retrain and ship (writes weights/ + manifest)
    python -m llmbook_lib.hub verify [NAME...]  # re-measure shipped models against the manifest
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from . import data as corpora
from .bertlike import BertConfig, BertLike, mlm_nsp_metrics
from .checkpoint import load_checkpoint, save_checkpoint
from .data.pretraining import BertBatches, encode_documents, split_documents
from .device import eval_mode, seed_everything
from .pretrain import BertVocab
from .tokenize import ByteTokenizer, CharTokenizer, tokenizer_from_json
from .train import TrainConfig, train
from .transformer import GPT, GPTConfig

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
VAL_TOKENS = 65_536          # validation tokens scored by the manifest metric
METRIC_TOLERANCE = 2e-3      # nats/token; float noise across CPUs is far below this
BERT_VAL_BATCHES = 50        # validation batches (fixed pairs and masks) of the MLM + NSP metric


@dataclass(frozen=True)
class Recipe:
    """How to build one shared model, deterministically on a given machine."""

    name: str
    description: str
    corpus: str                       # a loader in llmbook_lib.data, e.g. "peoples_daily_text"
    tokenizer: str                    # "char" or "byte"
    max_vocab: int | None             # char tokenizers: keep the most frequent characters (+ <unk>)
    model: GPTConfig | BertConfig     # GPTConfig: causal LM; BertConfig: MLM + NSP encoder
    train: TrainConfig
    batch_size: int
    seed: int = 1337
    val_fraction: float = 0.1
    extra: dict = field(default_factory=dict)

    def text(self) -> str:
        return getattr(corpora, self.corpus)()

    @property
    def is_bert(self) -> bool:
        return isinstance(self.model, BertConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train"]["betas"] = list(d["train"]["betas"])
        return d


def _small_gpt() -> GPTConfig:
    # vocab_size=0 here: train_recipe sets it from the tokenizer built on the corpus
    return GPTConfig(vocab_size=0, block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0)


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
           model=replace(_small_gpt(), block_size=64),
           train=replace(_TRAIN, max_steps=2500, eval_every=500), batch_size=32),
    # MLM + NSP on sentence pairs [CLS] A [SEP] B [SEP] of one paragraph (IsNext) or two (NotNext).
    # One CPU thread (two threads on a shared 2-core machine ran 6x slower); about 0.55 CPU-s a step.
    Recipe("bert-zh-char", "4-layer, width-128 BERT-style character encoder (MLM + NSP) on People's Daily "
           "(Jan 1998), 3,000-char vocabulary",
           corpus="peoples_daily_text", tokenizer="char", max_vocab=3000,
           model=BertConfig(vocab_size=0, max_len=128, d_model=128, n_head=4, n_layer=4, dropout=0.0,
                            pos_encoding="sinusoidal"),
           train=replace(_TRAIN, max_steps=4000, eval_every=250), batch_size=32),
]}


def cache_dir() -> Path:
    return Path(os.environ.get("LLMBOOK_CACHE", Path.home() / ".cache" / "llmbook"))


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_manifest(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"model manifest {path} is not valid JSON ({e}); restore it from git") from None


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown pretrained model {name!r}; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def train_val_text(name: str) -> tuple[str, str]:
    """The training and validation text of recipe ``name``, split as its model was trained."""
    recipe = _recipe(name)
    return tuple(corpora.split_train_val(recipe.text(), recipe.val_fraction))


def _split_and_tokenize(recipe: Recipe):
    text = recipe.text()
    train_text, val_text = corpora.split_train_val(text, recipe.val_fraction)
    if recipe.tokenizer == "byte":
        tok = ByteTokenizer()
    elif recipe.max_vocab:        # the most frequent training characters, the rest -> <unk>
        tok = CharTokenizer.from_text(train_text, unk="<unk>", max_vocab=recipe.max_vocab)
    else:                         # every character of the corpus
        tok = CharTokenizer.from_text(text)
    train_ids = corpora.encode_corpus(train_text, tok)
    val_ids = corpora.encode_corpus(val_text, tok)
    return text, tok, train_ids, val_ids


def _bert_data(recipe: Recipe):
    """Documents (paragraphs -> sentences) split by paragraph, a BertVocab over the most frequent
    training characters, and the token ids of every sentence: (text, vocab, train, val)."""
    if recipe.tokenizer != "char":
        raise ValueError(f"BERT recipes use a character vocabulary (tokenizer='char'), got {recipe.tokenizer!r}")
    text = recipe.text()
    train_docs, val_docs = split_documents(text, recipe.val_fraction)
    chars = "".join(s for doc in train_docs for s in doc)
    vocab = BertVocab(CharTokenizer.from_text(chars, unk="<unk>", max_vocab=recipe.max_vocab))
    return text, vocab, encode_documents(train_docs, vocab), encode_documents(val_docs, vocab)


def bert_val_batches(recipe_or_name: Recipe | str, vocab: BertVocab, val_docs) -> BertBatches:
    """The fixed validation pairs of a BERT recipe (seed + 1), as scored in the manifest."""
    recipe = _recipe(recipe_or_name) if isinstance(recipe_or_name, str) else recipe_or_name
    return BertBatches(val_docs, vocab, recipe.batch_size, recipe.model.max_len, seed=recipe.seed + 1)


def _bert_loss(model: BertLike, batch) -> torch.Tensor:
    return model(*batch).loss                       # MLM + NSP, as in BERT


def _train_bert(recipe: Recipe, progress: bool) -> tuple[BertLike, BertVocab, dict]:
    text, vocab, train_docs, val_docs = _bert_data(recipe)
    cfg = BertConfig(**{**recipe.model.to_dict(), "vocab_size": vocab.vocab_size})
    seed_everything(recipe.seed)
    model = BertLike(cfg)
    tc = TrainConfig(**{**asdict(recipe.train), "progress": progress})
    batches = BertBatches(train_docs, vocab, recipe.batch_size, cfg.max_len, seed=recipe.seed)
    val = bert_val_batches(recipe, vocab, val_docs)
    curve: dict[str, list] = {k: [] for k in ("steps", "train_loss", "val_loss", "val_mlm_loss", "val_nsp_loss",
                                              "mlm_accuracy", "nsp_accuracy")}
    window: list[float] = []

    def log(done: int, loss: float) -> None:        # the learning curve, every eval_every steps
        window.append(loss)
        if done % tc.eval_every == 0 or done == tc.max_steps:
            m = mlm_nsp_metrics(model, val, tc.eval_iters)
            for key, value in [("steps", done), ("train_loss", sum(window) / len(window)),
                               ("val_loss", m["mlm_loss"] + m["nsp_loss"]), ("val_mlm_loss", m["mlm_loss"]),
                               ("val_nsp_loss", m["nsp_loss"]), ("mlm_accuracy", m["mlm_accuracy"]),
                               ("nsp_accuracy", m["nsp_accuracy"])]:
                curve[key].append(value)
            window.clear()

    t0 = time.perf_counter()
    history = train(model, batches, tc, loss_fn=_bert_loss, on_step=log)
    seconds = time.perf_counter() - t0
    m = mlm_nsp_metrics(model, val, BERT_VAL_BATCHES)
    metric = {"name": "val_mlm_loss_nats_per_masked_token", "value": m["mlm_loss"], **m,
              "val_batches": BERT_VAL_BATCHES}
    return model, vocab, _entry(recipe, cfg, model.num_params(), text, seconds, history, metric, curve)


def _entry(recipe: Recipe, cfg, params: int, text: str, seconds: float, history, metric: dict,
           curve: dict) -> dict:
    """The manifest entry of a freshly trained recipe (without the file hash and size)."""
    return {
        "description": recipe.description,
        "recipe": recipe.to_dict(),
        "model_config": cfg.to_dict(),
        "params": params,
        "data_sha256": corpora.text_sha256(text),
        "train_seconds": round(seconds, 1),
        "train_tokens": history.tokens,
        "metric": metric,
        "curve": curve,
        "machine": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                    "processor": platform.processor() or platform.machine()},
    }


@torch.no_grad()
def validation_loss(model: GPT, val_ids: torch.Tensor, max_tokens: int | None = None,
                    T: int | None = None) -> float:
    """Mean next-token loss (nats) over the first ``max_tokens`` validation tokens (default
    ``VAL_TOKENS``, read at call time), in non-overlapping windows of T tokens (default
    ``block_size``): deterministic, no sampling."""
    max_tokens = VAL_TOKENS if max_tokens is None else max_tokens
    T = model.config.block_size if T is None else T
    n = min(len(val_ids) - 1, max_tokens) // T * T
    device = next(model.parameters()).device
    x = val_ids[:n].view(-1, T).to(device)
    y = val_ids[1:n + 1].view(-1, T).to(device)
    with eval_mode(model):
        total = 0.0
        for i in range(0, len(x), 64):
            _, loss = model(x[i:i + 64], y[i:i + 64])
            total += float(loss) * len(x[i:i + 64])
    return total / len(x)


def train_recipe(name: str, progress: bool = True) -> tuple[GPT | BertLike, object, dict]:
    """Train a recipe from scratch; return (model, tokenizer, manifest entry without file hash)."""
    recipe = _recipe(name)
    if recipe.is_bert:
        return _train_bert(recipe, progress)
    text, tok, train_ids, val_ids = _split_and_tokenize(recipe)
    cfg = GPTConfig(**{**recipe.model.to_dict(), "vocab_size": tok.vocab_size})
    seed_everything(recipe.seed)
    model = GPT(cfg)
    tc = TrainConfig(**{**asdict(recipe.train), "progress": progress})
    batches = corpora.RandomBatches(train_ids, cfg.block_size, recipe.batch_size, seed=recipe.seed)
    val = corpora.RandomBatches(val_ids, cfg.block_size, recipe.batch_size, seed=recipe.seed + 1)
    t0 = time.perf_counter()
    history = train(model, batches, tc, val_batches=val)
    seconds = time.perf_counter() - t0
    loss = validation_loss(model, val_ids)
    metric = {"name": "val_loss_nats_per_token", "value": loss,
              "bits_per_token": loss / math.log(2), "val_tokens": min(len(val_ids) - 1, VAL_TOKENS)}
    curve = {"steps": history.val_steps, "val_loss": history.val_loss}
    return model, tok, _entry(recipe, cfg, model.num_params(non_embedding=False), text, seconds, history,
                              metric, curve)


def _save_model(path: Path, model: GPT | BertLike, tok, name: str) -> None:
    state = {"name": name, "model_config": model.config.to_dict()}
    if isinstance(model, BertLike):               # BertVocab = special tokens + a base tokenizer
        state.update(kind="bertlike", tokenizer=tok.base.to_json())
    else:
        state.update(tokenizer=tok.to_json())
    save_checkpoint(path, model, state=state, rng=False)


def _load_model(path: Path, device) -> tuple[GPT | BertLike, object]:
    ckpt = load_checkpoint(path)
    tok = tokenizer_from_json(ckpt.state["tokenizer"])
    if ckpt.state.get("kind") == "bertlike":
        model, tok = BertLike(BertConfig(**ckpt.state["model_config"])), BertVocab(tok)
    else:
        model = GPT(GPTConfig(**ckpt.state["model_config"]))
    ckpt.apply(model)
    model.eval()
    return model.to(device), tok


def pretrained(name: str, device: torch.device | str = "cpu", retrain: bool = True):
    """Load the shared model ``name``; return ``(model, tokenizer)``, the model in eval mode.

    GPT recipes give a ``GPT`` and its tokenizer; BERT recipes a ``BertLike`` and its ``BertVocab``.

    A shipped file with the wrong hash is refused (``retrain=False``: a ``ValueError``;
    otherwise a warning, then the recipe retrains it into the cache).
    """
    recipe = _recipe(name)
    entry = _read_manifest(MANIFEST).get(name)
    shipped = WEIGHTS_DIR / f"{name}.safetensors"
    if entry and shipped.is_file():
        actual = _file_sha256(shipped)
        if actual == entry["sha256"]:
            return _load_model(shipped, device)
        msg = (f"shipped weights {shipped} do not match the manifest (sha256 {actual[:12]}… instead of "
               f"{entry['sha256'][:12]}…): refused")
        if not retrain:
            raise ValueError(msg + "; reinstall the package or retrain with retrain=True")
        warnings.warn(msg + f"; retraining {name} into {cache_dir()}", stacklevel=2)
    cached, cached_meta = cache_dir() / f"{name}.safetensors", cache_dir() / f"{name}.json"
    if cached.is_file() and cached_meta.is_file():
        meta = _read_manifest(cached_meta)
        if meta.get("sha256") == _file_sha256(cached) and meta.get("recipe") == recipe.to_dict():
            return _load_model(cached, device)
        warnings.warn(f"cached weights {cached} are damaged or stale: refused; retraining", stacklevel=2)
    if not retrain:
        raise ValueError(f"no usable weights for {name!r}; call pretrained({name!r}) to train them")
    print(f"training {name} from its recipe (once; cached in {cache_dir()})", file=sys.stderr)
    model, tok, entry = train_recipe(name)
    _save_model(cached, model, tok, name)
    entry["sha256"] = _file_sha256(cached)
    cached_meta.write_text(json.dumps(entry, indent=1, ensure_ascii=False), encoding="utf-8")
    return model.to(device).eval(), tok


def manifest_entry(name: str) -> dict:
    """The manifest record of a shipped model (recipe, metric, data hash, training time)."""
    entry = _read_manifest(MANIFEST).get(name)
    if entry is None:
        raise ValueError(f"{name!r} is not shipped; shipped: {', '.join(sorted(_read_manifest(MANIFEST)))}")
    return entry


def verify(names: list[str] | None = None) -> bool:
    """Re-measure each shipped model's validation metric and compare it with the manifest."""
    manifest = _read_manifest(MANIFEST)
    names = names or sorted(manifest)
    ok = True
    for name in names:
        entry = manifest_entry(name)
        recipe = _recipe(name)
        path = WEIGHTS_DIR / f"{name}.safetensors"
        problems = []
        if not path.is_file():
            problems.append(f"missing file {path}")
        elif _file_sha256(path) != entry["sha256"]:
            problems.append("file sha256 differs from the manifest")
        if entry["recipe"] != recipe.to_dict():
            problems.append("recipe in the code differs from the one the file was trained with; retrain")
        if recipe.is_bert:
            text, vocab, _, val_docs = _bert_data(recipe)
        else:
            text, _, _, val_ids = _split_and_tokenize(recipe)
        if corpora.text_sha256(text) != entry["data_sha256"]:
            problems.append("training corpus differs from the one the file was trained on")
        measured = float("nan")
        if not problems:
            model, _ = _load_model(path, "cpu")
            if recipe.is_bert:
                measured = mlm_nsp_metrics(model, bert_val_batches(recipe, vocab, val_docs),
                                           entry["metric"]["val_batches"])["mlm_loss"]
            else:
                measured = validation_loss(model, val_ids)
            if abs(measured - entry["metric"]["value"]) > METRIC_TOLERANCE:
                problems.append(f"val loss {measured:.4f} != manifest {entry['metric']['value']:.4f}")
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        unit = "nats/masked token" if recipe.is_bert else "nats/token"
        print(f"{name:14s} val loss {measured:.4f} {unit} (manifest {entry['metric']['value']:.4f}) {status}")
        ok &= not problems
    return ok


def ship(name: str) -> dict:
    """Train ``name`` from its recipe and write it into the package with its manifest entry."""
    model, tok, entry = train_recipe(name)
    path = WEIGHTS_DIR / f"{name}.safetensors"
    _save_model(path, model, tok, name)
    entry["sha256"] = _file_sha256(path)
    entry["file_bytes"] = path.stat().st_size
    manifest = _read_manifest(MANIFEST)
    manifest[name] = entry
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmbook_lib.hub", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="recipes and shipped models")
    p_train = sub.add_parser("train", help="retrain a recipe and ship it in llmbook_lib/weights")
    p_train.add_argument("names", nargs="+")
    p_verify = sub.add_parser("verify", help="re-measure shipped models against the manifest")
    p_verify.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        manifest = _read_manifest(MANIFEST)
        for name, r in RECIPES.items():
            m = manifest.get(name)
            shipped = f"shipped, val loss {m['metric']['value']:.4f}" if m else "not shipped"
            print(f"{name:14s} {shipped:30s} {r.description}")
        return 0
    if args.cmd == "train":
        for name in args.names:
            e = ship(name)
            print(f"{name}: val loss {e['metric']['value']:.4f} nats/token after {e['train_seconds']} s; "
                  f"{e['file_bytes'] / 1e6:.2f} MB")
        return 0
    return 0 if verify(args.names or None) else 1


if __name__ == "__main__":
    raise SystemExit(main())
