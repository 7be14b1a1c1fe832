"""Where the shared models live: shipped weights + manifest, the local cache, save and load.

``pretrained(name)`` loads a shipped file whose sha256 matches ``weights/manifest.json``; a
mismatching file is refused. Without a usable shipped file it loads the copy in
``$LLMBOOK_CACHE`` (default ``~/.cache/llmbook``) if that one is intact and trained from the
current recipe, and otherwise trains the model from its recipe (with a progress bar) into the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import torch

from .. import data as corpora
from ..models.transformer import RENAMED_FIELDS
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..runtime.device import seed_everything
from .families import family_of, family_of_checkpoint
from .recipes import recipe

WEIGHTS_DIR = Path(__file__).parent.parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
METRIC_TOLERANCE = 2e-3      # nats/token; float noise across CPUs is far below this


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


# ------------------------------------------------------------------------------ train, save, load

def train_recipe(name: str, progress: bool = True, checkpoint: str | Path | None = None,
                 checkpoint_every: int = 250) -> tuple[torch.nn.Module, object, dict]:
    """Train a recipe; return (model, tokenizer, manifest entry without file hash).

    From scratch by default. With ``checkpoint`` (BERT recipes) it saves a checkpoint every
    ``checkpoint_every`` steps and resumes from that file when it exists, so a long run can be
    interrupted, continued later, and still yield the weights of an uninterrupted run; a
    checkpoint written under other training settings is refused.
    """
    r = recipe(name)
    family = family_of(r)
    config = replace(r.train, progress=progress)
    if checkpoint is not None:
        config = replace(config, checkpoint_path=str(checkpoint), checkpoint_every=checkpoint_every)
        _check_resumable(Path(checkpoint), config)
    data = family.data(r)
    seed_everything(r.seed)
    model = family.build(r, data.tokenizer)
    t0 = time.perf_counter()
    history, curve = family.fit(r, model, data, config)
    # a resumed run: its curve sums the time of every session
    seconds = curve["seconds"][-1] if curve.get("seconds") else time.perf_counter() - t0
    return model, data.tokenizer, {
        "description": r.description,
        "recipe": r.to_dict(),
        "model_config": family.describe_model(model),
        "params": sum(p.numel() for p in model.parameters()),
        "data_sha256": corpora.text_sha256(data.text),
        "train_seconds": round(seconds, 1),
        "train_tokens": history.tokens,
        "metric": family.metric(r, model, data),
        "curve": curve,
        "machine": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                    "processor": platform.processor() or platform.machine()},
    }


def _check_resumable(path: Path, config) -> None:
    """Refuse a checkpoint that another training config wrote (the run would mix two recipes)."""
    if not path.exists():
        return
    saved = load_checkpoint(path).state.get("config", {})
    run = {**asdict(config), "betas": list(config.betas)}
    ignored = ("checkpoint_path", "checkpoint_every", "progress")
    differ = sorted(k for k in run if k not in ignored and saved.get(k) != run[k])
    if differ:
        raise ValueError(f"checkpoint {path} was written with other training settings ({', '.join(differ)}); "
                         "delete it or pass another path")


def save_weights(path: Path, model: torch.nn.Module, tok, name: str) -> None:
    r = recipe(name)
    family = family_of(r)
    state = {"name": name, "model_config": family.describe_model(model), **family.checkpoint_state(tok, model, r)}
    save_checkpoint(path, model, state=state, rng=False)


def _current_names(recipe_dict):
    """A recipe as saved, with model-config fields renamed since (``RENAMED_FIELDS``)."""
    if not isinstance(recipe_dict, dict) or not isinstance(recipe_dict.get("model"), dict):
        return recipe_dict
    model = {RENAMED_FIELDS.get(k, k): v for k, v in recipe_dict["model"].items()}
    return {**recipe_dict, "model": model}


def load_weights(path: Path, device) -> tuple[torch.nn.Module, object]:
    """The model (in eval mode, on ``device``) and tokenizer stored in a weights file."""
    ckpt = load_checkpoint(path)
    model, tok = family_of_checkpoint(ckpt.state).from_checkpoint(ckpt.state)
    ckpt.apply(model)
    model.eval()
    return model.to(device), tok


# ------------------------------------------------------------------------------ the public loader

def pretrained(name: str, device: torch.device | str = "cpu", retrain: bool = True):
    """Load the shared model ``name``, in eval mode.

    Language models return ``(model, tokenizer)``: GPT recipes a ``GPT`` and its tokenizer, BERT
    recipes a ``BertLike`` and its ``BertVocab``. Task models return the object a reader calls:
    ``"sentiment-zh"`` a ``TextClassifier`` (``labels``, ``predict``, ``predict_proba``),
    ``"ner-zh"`` an ``NERModel`` (``predict`` -> character spans).

    Loads the shipped file, else an intact cached one; otherwise (``retrain=True``) trains the
    model from its recipe into the cache, with a progress bar. A shipped file with the wrong hash
    is refused (``retrain=False``: a ``ValueError``; otherwise a warning, then the cache or training).
    """
    r = recipe(name)
    entry = _read_manifest(MANIFEST).get(name)
    shipped = WEIGHTS_DIR / f"{name}.safetensors"
    if entry and shipped.is_file():
        actual = _file_sha256(shipped)
        if actual == entry["sha256"]:
            return family_of(r).wrap(r, *load_weights(shipped, device))
        msg = (f"shipped weights {shipped} do not match the manifest (sha256 {actual[:12]}… instead of "
               f"{entry['sha256'][:12]}…): refused")
        if not retrain:
            raise ValueError(msg + "; reinstall the package or retrain with retrain=True")
        warnings.warn(msg + f"; retraining {name} into {cache_dir()}", stacklevel=2)
    cached, cached_meta = cache_dir() / f"{name}.safetensors", cache_dir() / f"{name}.json"
    if cached.is_file() and cached_meta.is_file():
        meta = _read_manifest(cached_meta)
        if meta.get("sha256") == _file_sha256(cached) and _current_names(meta.get("recipe")) == r.to_dict():
            return family_of(r).wrap(r, *load_weights(cached, device))
        warnings.warn(f"cached weights {cached} are damaged or stale: refused; retraining", stacklevel=2)
    if not retrain:
        raise ValueError(f"no usable weights for {name!r}; call pretrained({name!r}) to train them")
    model, tok = _train_into_cache(name)
    return family_of(r).wrap(r, model.to(device).eval(), tok)


def _train_into_cache(name: str) -> tuple[torch.nn.Module, object]:
    """Train ``name`` from its recipe (progress bar on) and cache the weights for next time."""
    r = recipe(name)
    print(f"{name}: no shipped or cached weights, so training it from its recipe now "
          f"({r.train.max_steps} steps; once: the result is cached in {cache_dir()})", file=sys.stderr)
    model, tok, entry = train_recipe(name, progress=True)
    cached = cache_dir() / f"{name}.safetensors"
    save_weights(cached, model, tok, name)
    entry["sha256"] = _file_sha256(cached)
    (cache_dir() / f"{name}.json").write_text(json.dumps(entry, indent=1, ensure_ascii=False), encoding="utf-8")
    return model, tok


# ------------------------------------------------------------------------------ manifest, verify, ship

def manifest_entry(name: str) -> dict:
    """The manifest record of a shipped model (recipe, metric, data hash, training time)."""
    entry = _read_manifest(MANIFEST).get(name)
    if entry is None:
        raise ValueError(f"{name!r} is not shipped; shipped: {', '.join(sorted(_read_manifest(MANIFEST)))}")
    return entry


def metric_label(metric: dict) -> str:
    """How a manifest metric is named in one line of output: "val loss" for the language models'
    validation losses, the metric's own name (e.g. "test_accuracy") otherwise."""
    name = metric["name"]
    return "val loss" if name.startswith("val_") and "loss" in name else name


def verify(names: list[str] | None = None) -> bool:
    """Re-measure each shipped model's validation metric and compare it with the manifest."""
    manifest = _read_manifest(MANIFEST)
    ok = True
    for name in names or sorted(manifest):
        entry = manifest_entry(name)
        r = recipe(name)
        family = family_of(r)
        path = WEIGHTS_DIR / f"{name}.safetensors"
        problems = []
        if not path.is_file():
            problems.append(f"missing file {path}")
        elif _file_sha256(path) != entry["sha256"]:
            problems.append("file sha256 differs from the manifest")
        if entry["recipe"] != r.to_dict():
            problems.append("recipe in the code differs from the one the file was trained with; retrain")
        data = family.data(r)
        if corpora.text_sha256(data.text) != entry["data_sha256"]:
            problems.append("training corpus differs from the one the file was trained on")
        measured = float("nan")
        if not problems:
            model, _ = load_weights(path, "cpu")
            measured = family.metric(r, model, data, like=entry["metric"])["value"]
            if abs(measured - entry["metric"]["value"]) > METRIC_TOLERANCE:
                problems.append(f"metric {measured:.4f} != manifest {entry['metric']['value']:.4f}")
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{name:14s} {metric_label(entry['metric'])} {measured:.4f} {family.unit} (manifest {entry['metric']['value']:.4f}) {status}")
        ok &= not problems
    return ok


def train_and_ship(name: str, checkpoint: str | Path | None = None, checkpoint_every: int = 250) -> dict:
    """Train ``name`` from its recipe and write it into the package with its manifest entry.

    ``checkpoint``: resumable training (``train_recipe``); a finished checkpoint ships at once.
    """
    model, tok, entry = train_recipe(name, checkpoint=checkpoint, checkpoint_every=checkpoint_every)
    path = WEIGHTS_DIR / f"{name}.safetensors"
    save_weights(path, model, tok, name)
    entry["sha256"] = _file_sha256(path)
    entry["file_bytes"] = path.stat().st_size
    manifest = _read_manifest(MANIFEST)
    manifest[name] = entry
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return entry
