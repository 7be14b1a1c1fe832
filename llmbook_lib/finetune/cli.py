"""The ``python -m llmbook_lib.finetune`` command line: ``classify`` and ``ner`` train, ``predict``
applies either kind of model.

Input files are CSV, TSV or JSONL (one JSON object per line), told apart by their extension or
``--format``; ``ner`` reads JSONL with character spans, ``predict`` also reads plain text, one
text per line (``tables.py`` reads them all). Every problem with the input raises
``InputError``, which ``main`` prints as one ``error: ...`` line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .tables import HOLD_OUT, InputError, is_held_out, labelled, ner_examples, read_table, texts_of

DEFAULT_LR = {"full": 5e-4, "probe": 3e-3, "lora": 2e-3}
UNKNOWN_WARNING = 0.2               # warn when more of the training characters are <unk>


# ------------------------------------------------------------------------------ commands

def load_base(name: str):
    """(encoder, vocab) of a shipped encoder; an InputError for a name that is not one."""
    from ..hub import pretrained
    from ..models.bertlike import BertLike

    try:
        loaded = pretrained(name, retrain=False)
    except ValueError as e:
        raise InputError(f"--base {name}: {e}") from None
    model = loaded[0] if isinstance(loaded, tuple) else loaded       # task models are one object
    if not isinstance(model, BertLike):
        raise InputError(f"--base {name} is a {type(model).__name__}; fine-tuning needs a BERT-style encoder "
                         "such as bert-zh-mlm")
    return loaded


def unknown_rate(vocab, texts: Sequence[str]) -> float:
    """The fraction of the characters of ``texts`` that the classifier reads as <unk>."""
    from ..tasks.tagger import encode_chars

    if vocab.unk_id is None:
        return 0.0
    ids = [i for t in texts for i in encode_chars(vocab, t)]
    return ids.count(vocab.unk_id) / max(1, len(ids))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def classify(args: argparse.Namespace) -> int:
    if args.lora and args.mode not in (None, "lora"):
        raise InputError(f"--lora {args.lora} trains LoRA adapters; it contradicts --mode {args.mode}")
    train_table = read_table(args.train, args.format)
    texts, labels, skipped = labelled(train_table, args.text_col, args.label_col)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise InputError(f"{args.train}: column {args.label_col!r} has only one class ({classes[0]!r}); "
                         "a classifier needs at least 2")
    if args.dev:
        dev_table = read_table(args.dev, args.format)
        dev_texts, dev_labels, dev_skipped = labelled(dev_table, args.text_col, args.label_col)
        unseen = sorted(set(dev_labels) - set(classes))
        if unseen:
            raise InputError(f"{args.dev} has labels that {args.train} lacks: {unseen[:5]}")
        train_texts, train_labels, dev_source = texts, labels, str(args.dev)
        overlap = len(set(dev_texts) & set(texts))
        if overlap:
            print(f"warning: {overlap} dev texts also appear in {args.train}: the dev scores flatter the model",
                  file=sys.stderr)
    else:
        held = [is_held_out(t) for t in texts]
        dev_texts = [t for t, h in zip(texts, held) if h]
        dev_labels = [y for y, h in zip(labels, held) if h]
        train_texts = [t for t, h in zip(texts, held) if not h]
        train_labels = [y for y, h in zip(labels, held) if not h]
        dev_skipped, dev_source = 0, f"1 in {HOLD_OUT} training rows, held out by a hash of the text"
        print(f"no --dev file: holding out {len(dev_texts)} of {len(texts)} rows as dev "
              f"(by a hash of the text)", file=sys.stderr)
        if not dev_texts:
            raise InputError(f"{args.train} has too few rows ({len(texts)}) to hold 10% out; pass --dev")
    missing = sorted(set(classes) - set(train_labels))
    if missing:
        raise InputError(f"after holding out dev rows, no training row has label {missing[0]!r}; pass --dev")
    import torch             # here, not at the top: a mistake in the input is reported in a blink

    from ..runtime.device import seed_everything
    from ..tasks.classifier import TextClassifier, describe
    from ..training.train import TrainConfig

    seed_everything(args.seed)
    encoder, vocab = load_base(args.base)
    unknown = unknown_rate(vocab, train_texts)
    if unknown > UNKNOWN_WARNING:
        print(f"warning: {unknown:.0%} of the training characters are not in the vocabulary of {args.base} "
              f"({vocab.vocab_size} tokens); they all read as one <unk> token: expect a weak model",
              file=sys.stderr)
    mode = "lora" if args.lora else (args.mode or "full")
    extra = {"lora_r": args.lora, "lora_alpha": 2.0 * args.lora} if args.lora else {}
    clf = TextClassifier.from_encoder(encoder, vocab, classes, mode=mode, **extra)
    lr = args.lr or DEFAULT_LR[mode]
    config = TrainConfig(max_steps=args.steps, lr=lr, warmup_steps=max(1, args.steps // 10),
                         progress=not args.quiet)
    t0 = time.perf_counter()
    clf.fit(train_texts, train_labels, config, batch_size=args.batch_size, seed=args.seed)
    seconds = time.perf_counter() - t0
    metrics = clf.evaluate(dev_texts, dev_labels)
    params = describe(clf.model)
    limit = clf.model.max_len - 2
    report = {
        "task": "classify", "base": args.base, "mode": mode,
        "lora_r": clf.model.config.lora_r if mode == "lora" else None,
        "labels": classes, "train_file": str(args.train), "dev": dev_source,
        "dev_metrics": {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "n": metrics["n"]},
        "label_counts": {"train": dict(sorted(Counter(train_labels).items())),
                         "dev": dict(sorted(Counter(dev_labels).items()))},
        "skipped_rows": {"train": skipped, "dev": dev_skipped},
        "truncated_texts": sum(len(t) > limit for t in train_texts), "unknown_char_rate": round(unknown, 4),
        "max_chars": limit, "steps": args.steps, "batch_size": args.batch_size, "lr": lr, "seed": args.seed,
        "seconds": round(seconds, 1), "trainable_params": params["trainable"], "total_params": params["total"],
        "torch_threads": torch.get_num_threads(),
    }
    clf.info = report
    out = Path(args.out)
    clf.save(out)
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    _write_atomic(report_path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    if skipped or dev_skipped:
        print(f"skipped rows with an empty text or label: {skipped} (train), {dev_skipped} (dev)", file=sys.stderr)
    print(f"dev accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} on {metrics['n']} texts "
          f"({mode}, {args.steps} steps, {seconds:.0f} s); model: {out}; report: {report_path}")
    return 0


def ner(args: argparse.Namespace) -> int:
    examples = ner_examples(read_table(args.train, args.format), args.text_col, args.entities_col)
    types = sorted({kind for e in examples for _, _, kind in e.spans})
    if not types:
        raise InputError(f"{args.train} marks no entities: nothing to learn")
    if args.dev:
        dev = ner_examples(read_table(args.dev, args.format), args.text_col, args.entities_col)
        dev_source = str(args.dev)
    else:
        dev = [e for e in examples if is_held_out(e.text)]
        examples = [e for e in examples if not is_held_out(e.text)]
        dev_source = f"1 in {HOLD_OUT} training rows, held out by a hash of the text"
        print(f"no --dev file: holding out {len(dev)} of {len(dev) + len(examples)} rows as dev "
              "(by a hash of the text)", file=sys.stderr)
        if not dev or not examples:
            raise InputError(f"{args.train} has too few rows to hold 10% out; pass --dev")
    from ..runtime.device import seed_everything
    from ..tasks.tagger import NERModel, Tagger, evaluate_spans, fit_tagger
    from ..training.train import TrainConfig

    seed_everything(args.seed)
    encoder, vocab = load_base(args.base)
    tags = ("O",) + tuple(f"{p}-{t}" for t in types for p in ("B", "I"))
    tagger = Tagger(encoder, tags, head=args.head)
    lr = args.lr or DEFAULT_LR["full"]
    config = TrainConfig(max_steps=args.steps, lr=lr, warmup_steps=max(1, args.steps // 10),
                         progress=not args.quiet)
    t0 = time.perf_counter()
    fit_tagger(tagger, examples, vocab, config, batch_size=args.batch_size, seed=args.seed)
    seconds = time.perf_counter() - t0
    model = NERModel(tagger, vocab)
    scores = evaluate_spans(dev, model.predict([e.text for e in dev]))
    report = {"task": "ner", "base": args.base, "head": args.head, "types": types, "train_file": str(args.train),
              "dev": dev_source, "dev_metrics": scores, "train_rows": len(examples), "dev_rows": len(dev),
              "entity_counts": dict(sorted(Counter(k for e in examples for _, _, k in e.spans).items())),
              "steps": args.steps, "batch_size": args.batch_size, "lr": lr, "seed": args.seed,
              "seconds": round(seconds, 1)}
    out = Path(args.out)
    model.save(out)
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    _write_atomic(report_path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    micro = scores["micro"]
    print(f"dev entity F1 {micro['f1']:.3f} (precision {micro['precision']:.3f}, recall {micro['recall']:.3f}) "
          f"on {len(dev)} texts ({args.steps} steps, {seconds:.0f} s); model: {out}; report: {report_path}")
    return 0


def _load_model(path: str):
    """A saved TextClassifier or NERModel, told apart by the file's metadata."""
    from ..runtime.checkpoint import load_checkpoint
    from ..tasks.classifier import TextClassifier
    from ..tasks.tagger import FORMAT as NER_FORMAT, NERModel

    try:
        is_ner = load_checkpoint(path).state.get("format") == NER_FORMAT
        return NERModel.load(path) if is_ner else TextClassifier.load(path)
    except FileNotFoundError:
        raise InputError(f"no such model file: {path}") from None
    except ValueError as e:
        raise InputError(str(e)) from None


def predict(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    table = read_table(args.input, args.format)
    text_col = "text" if table.format == "txt" else args.text_col
    rows = texts_of(table, text_col)
    for line, text in rows:
        if not text:
            raise InputError(f"{args.input} line {line}: the text in column {text_col!r} is empty")
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for k in range(0, len(rows), 256):
            chunk = rows[k:k + 256]
            for record in _predictions(model, chunk):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _predictions(model, rows: list[tuple[int, str]]) -> list[dict]:
    """One JSON-ready record per (line, text): the label and its probabilities, or the entities."""
    texts = [t for _, t in rows]
    if hasattr(model, "predict_proba"):
        out = []
        for (line, text), p in zip(rows, model.predict_proba(texts).tolist()):
            best = max(range(len(p)), key=p.__getitem__)
            out.append({"line": line, "label": model.labels[best],
                        "probs": {y: round(q, 4) for y, q in zip(model.labels, p)}, "text": text})
        return out
    return [{"line": line, "entities": [[s, e, kind, text[s:e]] for s, e, kind in spans], "text": text}
            for (line, text), spans in zip(rows, model.predict(texts))]


# ------------------------------------------------------------------------------ entry point

def _training_command(sub, name: str, help: str, train_help: str, out: str, lr_help: str):
    """A subcommand that trains: the options ``classify`` and ``ner`` share (data, base encoder,
    steps, learning rate, seed, output, report, progress bar)."""
    c = sub.add_parser(name, help=help)
    c.add_argument("--train", required=True, help=train_help)
    c.add_argument("--dev", help="dev file in the same layout (default: hold out 10%% of --train by hash)")
    c.add_argument("--text-col", default="text")
    c.add_argument("--base", default="bert-zh-mlm", help="shipped encoder (default: bert-zh-mlm)")
    c.add_argument("--steps", type=int, default=300)
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--lr", type=float, help=f"peak learning rate ({lr_help})")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default=out)
    c.add_argument("--report", help="JSON report path (default: --out with .json)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    return c


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m llmbook_lib.finetune",
                                description="Fine-tune a shipped encoder on your own labelled texts.")
    sub = p.add_subparsers(dest="command", required=True)
    c = _training_command(sub, "classify", "train a text classifier from a CSV/JSONL file",
                          "CSV, TSV or JSONL file with a text and a label column", "model.safetensors",
                          f"default by mode: {DEFAULT_LR}")
    c.add_argument("--label-col", default="label")
    c.add_argument("--format", choices=["csv", "tsv", "jsonl"], help="file format (default: from the extension)")
    c.add_argument("--mode", choices=["full", "probe", "lora"],
                   help="train every weight (the default), only the head, or LoRA adapters + head")
    c.add_argument("--lora", type=int, default=0, metavar="R",
                   help="LoRA of rank R (alpha = 2R); implies --mode lora")
    c.set_defaults(run=classify)
    n = _training_command(sub, "ner", "train an entity tagger from JSONL with character spans",
                          'JSONL: {"text": "...", "entities": [[start, end, "TYPE"], ...]}', "ner.safetensors",
                          f"default {DEFAULT_LR['full']}")
    n.add_argument("--entities-col", default="entities")
    n.add_argument("--format", choices=["jsonl"])
    n.add_argument("--head", choices=["linear", "crf"], default="crf")
    n.set_defaults(run=ner)
    q = sub.add_parser("predict", help="apply a trained classifier or tagger (one JSON line per text)")
    q.add_argument("--model", required=True)
    q.add_argument("--input", required=True, help="CSV, TSV, JSONL, or TXT (one text per line)")
    q.add_argument("--text-col", default="text")
    q.add_argument("--format", choices=["csv", "tsv", "jsonl", "txt"])
    q.add_argument("--out", help="write the JSON lines here instead of to stdout")
    q.set_defaults(run=predict)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "steps", 1) < 1 or getattr(args, "batch_size", 1) < 1 or getattr(args, "lora", 0) < 0:
        print("error: --steps and --batch-size must be at least 1, --lora at least 0", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:              # an output folder that cannot be written, a full disk
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
