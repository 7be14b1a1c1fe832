"""Fine-tuning and inference throughput of the task models (sentiment-zh, ner-zh).

    python bench/tasks.py [--steps 20] [--rounds 3] [--threads 1]

Fine-tuning: examples/s of one optimizer step on real training batches (32 reviews, or 32
People's Daily pieces of at most 126 characters), for each way of adapting the encoder: the
classifier's ``full``, ``probe`` and ``lora`` modes, and the tagger's ``linear`` and ``crf``
heads, each from bert-zh-mlm. The ratios against full fine-tuning / the linear head (same run,
rounds interleaved so the load of a shared machine hits every variant alike) are the numbers to
compare across machines. Inference: texts/s and characters/s of ``pretrained("sentiment-zh")``
.predict_proba and ``pretrained("ner-zh")``.predict on the test splits. Writes
bench/results/tasks.json and tasks.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llmbook_lib.data.ner import ner_splits  # noqa: E402
from llmbook_lib.data.sentiment import sentiment_splits  # noqa: E402
from llmbook_lib.hub import pretrained  # noqa: E402
from llmbook_lib.tasks.classifier import (  # noqa: E402
    Classifier, ClassifierConfig, ShuffledBatches, classification_loss, encode_texts)
from llmbook_lib.tasks.tagger import Tagger, TaggingBatches, encode_tagged, example_chunks  # noqa: E402
from llmbook_lib.training.train import TrainConfig, train  # noqa: E402

OUT = Path(__file__).parent / "results"
BATCH = 32


def _examples_per_s(model, batches, loss_fn, steps: int) -> float:
    config = TrainConfig(max_steps=steps, lr=1e-3, warmup_steps=1, progress=False, amp=None)
    kwargs = {"loss_fn": loss_fn} if loss_fn else {}
    history = train(model, batches, config, **kwargs)
    return steps * BATCH / history.seconds


def fine_tuning(steps: int, rounds: int) -> dict:
    encoder, vocab = pretrained("bert-zh-mlm")
    sent = sentiment_splits()["train"]
    ids = encode_texts(vocab, [t for t, _ in sent], encoder.config.max_len)
    clf_batches = ShuffledBatches(ids, [y for _, y in sent], BATCH, seed=0)
    pieces = encode_tagged(example_chunks(ner_splits()["train"], encoder.config.max_len - 2), vocab)
    ner_batches = TaggingBatches(pieces, BATCH, seed=0)
    variants = {
        "classifier full": lambda: (Classifier(copy.deepcopy(encoder), ClassifierConfig(2)), clf_batches,
                                    classification_loss),
        "classifier probe": lambda: (Classifier(copy.deepcopy(encoder), ClassifierConfig(2, mode="probe")),
                                     clf_batches, classification_loss),
        "classifier lora r=8": lambda: (Classifier(copy.deepcopy(encoder), ClassifierConfig(2, mode="lora")),
                                        clf_batches, classification_loss),
        "tagger linear": lambda: (Tagger(copy.deepcopy(encoder), head="linear"), ner_batches, None),
        "tagger crf": lambda: (Tagger(copy.deepcopy(encoder), head="crf"), ner_batches, None),
    }
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, make in variants.items():
            torch.manual_seed(0)
            model, batches, loss_fn = make()
            speeds[name].append(_examples_per_s(model, batches, loss_fn, steps))
    med = {name: statistics.median(v) for name, v in speeds.items()}
    ref = {"classifier": med["classifier full"], "tagger": med["tagger linear"]}
    return {name: {"examples_per_s": v, "median": med[name], "ratio": med[name] / ref[name.split()[0]]}
            for name, v in speeds.items()}


def inference(rounds: int) -> dict:
    clf, ner = pretrained("sentiment-zh"), pretrained("ner-zh")
    reviews = [t for t, _ in sentiment_splits()["test"]]
    paragraphs = [e.text for e in ner_splits()["test"]]
    out = {}
    for name, run, texts in (("sentiment-zh predict_proba", clf.predict_proba, reviews),
                             ("ner-zh predict", ner.predict, paragraphs)):
        seconds = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            run(texts)
            seconds.append(time.perf_counter() - t0)
        s = statistics.median(seconds)
        out[name] = {"texts": len(texts), "chars": sum(map(len, texts)), "seconds": s,
                     "texts_per_s": len(texts) / s, "chars_per_s": sum(map(len, texts)) / s}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="optimizer steps per fine-tuning measurement")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = {"threads": args.threads, "torch": torch.__version__,
               "processor": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    ft, inf = fine_tuning(args.steps, args.rounds), inference(args.rounds)
    OUT.mkdir(exist_ok=True)
    (OUT / "tasks.json").write_text(json.dumps({"machine": machine, "batch": BATCH, "fine_tuning": ft,
                                                "inference": inf}, indent=1))
    lines = [f"# Task models ({machine['date']}, {args.threads} thread(s), torch {machine['torch']})", "",
             f"## Fine-tuning from bert-zh-mlm, batch {BATCH}, {args.steps} steps, median of {args.rounds} rounds",
             "", "| variant | examples/s | vs full / linear |", "|---|---|---|"]
    lines += [f"| {name} | {r['median']:,.0f} | {r['ratio']:.2f} |" for name, r in ft.items()]
    lines += ["", "## Inference on the test splits", "", "| model | texts | texts/s | characters/s |",
              "|---|---|---|---|"]
    lines += [f"| {name} | {r['texts']:,} | {r['texts_per_s']:,.0f} | {r['chars_per_s']:,.0f} |"
              for name, r in inf.items()]
    (OUT / "tasks.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
