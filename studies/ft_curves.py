"""Full fine-tuning learning curves on Chinese sentiment: pretrained vs random initialisation.

Section 3.3.1 plots what this script measures; it is too slow for a notebook (about 40 minutes
on one CPU thread), so its results ship with the library in ``llmbook_lib/weights/ft_curves.json``
and the notebook reads them. For every label count n and seed s: the first n training reviews of a permutation drawn
by seed s (so smaller sets are subsets of larger ones), the ``sentiment-zh`` recipe's network
(``bert-zh-mlm``, or the same ``BertLike`` from random weights; mean pooling, dropout 0.1, a
linear head), full fine-tuning with that recipe's optimiser settings (lr 1e-3, weight decay
0.01, batch 32, warm-up 10% of the steps up to 100), steps = 8 epochs clipped to [100, 1300],
and accuracy on the whole test split (no choice is made on test: every run is reported).

    OMP_NUM_THREADS=1 python studies/ft_curves.py [OUT.json] [--sizes ...] [--seeds ...]

OUT defaults to llmbook_lib/weights/ft_curves.json.

Each finished run is appended to the JSON at once (written atomically), and runs already in the
file are skipped, so an interrupted study resumes where it stopped.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from llmbook_lib.runtime.study import load_study, open_study, write_atomic

INITS = ("pretrained", "random")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "llmbook_lib" / "weights" / "ft_curves.json"


def steps_for(n: int, batch: int = 32) -> int:
    """Eight epochs of n examples, at least 100 and at most 1,300 steps (the recipe's)."""
    return int(min(1300, max(100, 8 * n // batch)))


def load_results(path: Path) -> dict:
    """The study's JSON: {"meta": {...}, "runs": [{"init", "n", "seed", "steps", "accuracy",
    "macro_f1", "seconds"}, ...]}; an empty study when the file does not exist yet."""
    return load_study(path, "runs")


def curves(results: dict) -> dict:
    """{init: {n: [accuracy per seed, in seed order]}} from a study's runs."""
    out: dict = {init: {} for init in INITS}
    for run in sorted(results["runs"], key=lambda r: (r["n"], r["seed"])):
        out[run["init"]].setdefault(run["n"], []).append(run["accuracy"])
    return out


def main(argv=None) -> None:
    from llmbook_lib.data.sentiment import corpus_text, sentiment_splits
    from llmbook_lib.hub import manifest_entry, pretrained
    from llmbook_lib.models.bertlike import BertLike
    from llmbook_lib.runtime.device import seed_everything
    from llmbook_lib.tasks.classifier import (Classifier, ClassifierConfig, encode_texts, evaluate,
                                              fit_classifier)
    from llmbook_lib.training.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 512, 2048])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-steps", type=int, default=None, help="cap on steps (smoke tests only)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    bert, vocab = pretrained("bert-zh-mlm")
    splits = sentiment_splits()
    train_rows, test_rows = splits["train"], splits["test"]
    meta = {"base": "bert-zh-mlm", "base_sha256": manifest_entry("bert-zh-mlm")["sha256"],
            "data_sha256": hashlib.sha256(corpus_text().encode()).hexdigest(),
            "test_n": len(test_rows), "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads(),
            "max_steps": args.max_steps}
    try:
        results = open_study(args.out, "runs", meta, ("base_sha256", "data_sha256", "max_steps"))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    done = {(r["init"], r["n"], r["seed"]) for r in results["runs"]}
    test_ids = encode_texts(vocab, [t for t, _ in test_rows], bert.config.max_len)
    test_y = [y for _, y in test_rows]
    for seed in args.seeds:
        order = np.random.default_rng(seed).permutation(len(train_rows))
        for n in args.sizes:
            rows = [train_rows[i] for i in order[:n]]
            ids = encode_texts(vocab, [t for t, _ in rows], bert.config.max_len)
            ys = [y for _, y in rows]
            steps = steps_for(n) if args.max_steps is None else min(args.max_steps, steps_for(n))
            for init in INITS:
                if (init, n, seed) in done:
                    continue
                start = time.perf_counter()
                seed_everything(seed)
                encoder = copy.deepcopy(bert) if init == "pretrained" else BertLike(bert.config)
                model = Classifier(encoder, ClassifierConfig(n_labels=2, mode="full"))
                config = TrainConfig(max_steps=steps, lr=1e-3, warmup_steps=min(100, steps // 10),
                                     weight_decay=0.01, progress=False, amp=None)
                fit_classifier(model, ids, ys, config, batch_size=32, seed=seed)
                metrics = evaluate(model, test_ids, test_y)
                seconds = time.perf_counter() - start
                results["runs"].append({"init": init, "n": n, "seed": seed, "steps": steps,
                                        "accuracy": metrics["accuracy"],
                                        "macro_f1": metrics["macro_f1"],
                                        "seconds": round(seconds, 1)})
                write_atomic(args.out, results)
                print(f"seed {seed} n {n} {init}: accuracy {metrics['accuracy']:.4f} "
                      f"({steps} steps, {seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
