"""A mini scaling law on one CPU: character GPTs of six widths on People's Daily.

Section 8.1.1 plots what this script measures (about twenty minutes on one CPU thread, too slow
for a notebook), so its results ship with the library in ``llmbook_lib/weights/scaling.json``.

Every run trains ``llmbook_lib.models.transformer.GPT`` (2 layers, head size 8, context 64)
with the book's training loop (``training.train``: AdamW, warm-up, cosine decay) on the
People's Daily language-model training split, with the character tokenizer of ``gpt-zh-char``
(its 3,000 most frequent training characters, the rest ``<unk>``), batches of 16 windows and
``--steps`` steps. The score is the mean next-character loss on the first 65,536 characters of
the fixed validation split, in bits per character; a curve of the loss on its first 8,192
characters is kept every ``--curve-every`` steps (loss against compute C = 6 N D along the run).

A run is identified by (width, subset, steps, seed). 8.1.1 uses the main series (every width,
1,500 steps = 1,536,000 training characters, seeds 0 1 2: single seeds are too noisy at this
scale) and a second token budget (every width, 300 steps, seed 0):

    OMP_NUM_THREADS=1 python studies/scaling.py --seeds 0 1 2
    OMP_NUM_THREADS=1 python studies/scaling.py --steps 300

``--subsets n`` trains on the first n training characters only (the same steps then mean many
epochs over a small text: the data wall, an exercise of 8.1.1). OUT (first argument) defaults
to llmbook_lib/weights/scaling.json. Each finished run is appended at once (written
atomically) and runs already in the file are skipped, so an interrupted study resumes; a file
made under other settings is refused.
"""
from __future__ import annotations

import argparse
import itertools
import math
import platform
import sys
import time
from pathlib import Path

import torch

from llmbook_lib.runtime.study import load_study, open_study, write_atomic

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "llmbook_lib" / "weights" / "scaling.json"
WIDTHS = (16, 24, 32, 48, 64, 96)
N_LAYER, HEAD_SIZE, MAX_LEN, BATCH, MAX_VOCAB = 2, 8, 64, 16, 3000
VAL_TOKENS, CURVE_TOKENS = 65_536, 8_192
MAIN_STEPS = 1500           # the main series: 1500 x 16 x 64 = 1,536,000 training tokens per size


def model_config(width: int, vocab_size: int):
    """The GPT of a given width: 2 layers, heads of size 8, context 64."""
    from llmbook_lib.models.transformer import GPTConfig

    return GPTConfig(vocab_size=vocab_size, max_len=MAX_LEN, n_layer=N_LAYER,
                     n_head=max(1, width // HEAD_SIZE), d_model=width, dropout=0.0)


def non_embedding_params(model) -> int:
    """Kaplan et al.'s N: every parameter except the token and position embeddings (the output
    layer is tied to the token embedding, so it is excluded with it)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if not name.startswith(("tok_emb", "pos_emb")))


def data():
    """(train_ids, val_ids, tokenizer, text sha256): gpt-zh-char's split and tokenizer."""
    from llmbook_lib.data import corpora
    from llmbook_lib.data.batches import encode_corpus, split_train_val
    from llmbook_lib.text.tokenize import CharTokenizer

    text = corpora.peoples_daily_text()
    train_text, val_text = split_train_val(text, 0.1)
    tok = CharTokenizer.from_text(train_text, unk="<unk>", max_vocab=MAX_VOCAB)
    return (encode_corpus(train_text, tok), encode_corpus(val_text, tok), tok,
            corpora.text_sha256(text))


def train_config(steps: int):
    from llmbook_lib.training.train import TrainConfig

    return TrainConfig(max_steps=steps, lr=3e-3, warmup_steps=min(40, steps // 10 + 1),
                       weight_decay=0.1, amp=None, progress=False)


def run(width: int, subset: int, steps: int, train_ids, val_ids, vocab_size: int, seed: int = 0,
        curve_every: int = 0, progress: bool = False) -> dict:
    """Train one model and return its record (what the study stores, and what 8.1.1 reruns)."""
    from llmbook_lib.data.batches import RandomBatches
    from llmbook_lib.models.transformer import GPT
    from llmbook_lib.runtime.device import seed_everything
    from llmbook_lib.training.train import train, validation_loss

    ids = train_ids[:subset] if subset else train_ids
    seed_everything(seed)
    model = GPT(model_config(width, vocab_size))
    curve: dict = {"steps": [], "val_bpc": []}

    def on_step(done: int, loss: float) -> None:
        if curve_every and done % curve_every == 0 and done < steps:
            curve["steps"].append(done)
            curve["val_bpc"].append(validation_loss(model, val_ids, CURVE_TOKENS) / math.log(2))
            model.train()

    config = train_config(steps)
    config.progress = progress
    start = time.perf_counter()
    history = train(model, RandomBatches(ids, MAX_LEN, BATCH, seed=seed), config, on_step=on_step)
    val = validation_loss(model, val_ids, VAL_TOKENS)
    if curve_every:
        curve["steps"].append(steps)
        curve["val_bpc"].append(validation_loss(model, val_ids, CURVE_TOKENS) / math.log(2))
    n = non_embedding_params(model)
    tokens = steps * BATCH * MAX_LEN
    tail = history.train_loss[-max(1, steps // 10):]
    return {"width": width, "subset": subset, "seed": seed, "steps": steps,
            "params": n, "params_total": model.num_params(non_embedding=False),
            "tokens": tokens, "flops": 6 * n * tokens,
            "train_chars": len(ids), "epochs": round(tokens / len(ids), 3),
            "val_bpc": val / math.log(2), "train_bpc": sum(tail) / len(tail) / math.log(2),
            "curve": curve, "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    ap.add_argument("--subsets", type=int, nargs="+", default=[0],
                    help="training characters (0: the whole training split)")
    ap.add_argument("--steps", type=int, default=MAIN_STEPS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--curve-every", type=int, default=100)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    train_ids, val_ids, tok, sha = data()
    meta = {"model": "GPT", "n_layer": N_LAYER, "head_size": HEAD_SIZE, "max_len": MAX_LEN,
            "batch": BATCH, "vocab_size": tok.vocab_size, "main_steps": MAIN_STEPS,
            "curve_every": args.curve_every, "train_config": {"lr": 3e-3, "weight_decay": 0.1},
            "data_sha256": sha, "train_tokens_available": len(train_ids),
            "val_tokens": VAL_TOKENS, "curve_tokens": CURVE_TOKENS,
            "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads()}
    try:
        results = open_study(args.out, "runs", meta,
                             ("data_sha256", "vocab_size", "curve_every", "n_layer",
                              "head_size", "max_len", "batch", "train_config"))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    done = {(r["width"], r["subset"], r["steps"], r["seed"]) for r in results["runs"]}
    for seed, subset, width in itertools.product(args.seeds, args.subsets, args.widths):
        if (width, subset, args.steps, seed) in done:
            continue
        rec = run(width, subset, args.steps, train_ids, val_ids, tok.vocab_size, seed=seed,
                  curve_every=args.curve_every)
        results["runs"].append(rec)
        write_atomic(args.out, results)
        print(f"width {width} subset {subset} steps {args.steps} seed {seed}: "
              f"N {rec['params']:,} val {rec['val_bpc']:.4f} bpc, "
              f"train {rec['train_bpc']:.4f} ({rec['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
