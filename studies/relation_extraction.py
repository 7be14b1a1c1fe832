"""Relation extraction on the synthetic world: entity split vs template split, three seeds.

Section 6.2.2 reads what this script measures (about three minutes on one CPU thread, more
than a notebook may take); its results ship in ``llmbook_lib/weights/relation_extraction.json``.
For each split (``by="entity"``: unseen people and products; ``by="template"``: unseen
phrasings) and seed:

- ``encoder``: ``bert-zh-mlm`` with entity markers (``tasks.relation.RelationClassifier``),
  fine-tuned on every ordered mention pair of the training sentences (RE_STEPS steps, batch 32,
  lr 1e-3, warm-up 10%), scored by micro-F1 over the real relations on the test sentences with
  gold mentions;
- the NER -> RE pipeline: a tagger on ``bert-zh-mlm`` (NER_STEPS steps, lr 2e-3) finds the
  mentions of the test sentences, the encoder above classifies every pair of them; end-to-end
  triple F1 against the gold-mention F1, and every error blamed on NER or on RE;
- ``baseline`` (once per split: it has no randomness): logistic regression on the entity types,
  their order and the characters between the two mentions (``tasks.relation.pair_features``).

    OMP_NUM_THREADS=1 python studies/relation_extraction.py [OUT.json] [--seeds ...] [--max-steps N]

Each finished run is appended to the JSON at once (written atomically); runs already in the
file are skipped, so an interrupted study resumes where it stopped.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

from llmbook_lib.runtime.study import load_study, open_study, write_atomic

SPLITS = ("entity", "template")
RE_STEPS, NER_STEPS = 150, 60
ENTITY_TYPES = ("PER", "LOC", "ORG", "PRODUCT")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "llmbook_lib" / "weights" / "relation_extraction.json"


def load_results(path: Path) -> dict:
    """{"meta": {...}, "runs": [{"split", "model", "seed", ...}, ...]}; empty when ``path`` is missing."""
    return load_study(path, "runs")


def data_sha256(world) -> str:
    """sha256 of the Chinese RE records and their place in both splits."""
    rows = [[r.to_dict(), world.splits("entity").of(r), world.splits("template").of(r)]
            for r in world.relations("zh")]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def ner_examples(records):
    """``data.ner.Example``s (text, BIO tags, typed spans) of world records with mentions."""
    from llmbook_lib.data.ner import Example, spans_to_bio
    out = []
    for r in records:
        spans = tuple((m.start, m.end, m.label) for m in r.mentions)
        out.append(Example(r.text, tuple(spans_to_bio(len(r.text), spans)), spans, 0))
    return out


def baseline_run(world, by: str) -> dict:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    from llmbook_lib.tasks.relation import pair_features, pair_labels, relation_scores

    def xy(records):
        rows = [(pair_features(r.text, r.mentions[i], r.mentions[j]), rel)
                for r in records for i, j, rel in pair_labels(r)]
        return [x for x, _ in rows], [y for _, y in rows]

    x_tr, y_tr = xy(world.relations("zh", split="train", by=by))
    x_te, y_te = xy(world.relations("zh", split="test", by=by))
    vec = CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=(1, 2))
    clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(x_tr), y_tr)
    return relation_scores(y_te, list(clf.predict(vec.transform(x_te))))


def encoder_run(world, by: str, seed: int, re_steps: int, ner_steps: int) -> dict:
    from llmbook_lib.hub import pretrained
    from llmbook_lib.runtime.device import seed_everything
    from llmbook_lib.tasks.relation import (RelationClassifier, attribute_errors, extract, fit_relations,
                                            gold_triples, predict_examples, relation_scores, triple_scores)
    from llmbook_lib.tasks.tagger import NERModel, Tagger, evaluate_spans, fit_tagger
    from llmbook_lib.training.train import TrainConfig

    train, test = world.relations("zh", split="train", by=by), world.relations("zh", split="test", by=by)
    relations = sorted({t.relation for r in world.relations("zh") for t in r.relations})
    seed_everything(seed)
    enc, vocab = pretrained("bert-zh-mlm")
    model = RelationClassifier(enc, relations)
    cfg = TrainConfig(max_steps=re_steps, lr=1e-3, warmup_steps=max(1, re_steps // 10), weight_decay=0.01,
                      amp=None, progress=False)
    fit_relations(model, [r for r in train if len(r.mentions) > 1], vocab, cfg, seed=seed)
    pairs = relation_scores(*predict_examples(model, vocab, test), relations)

    seed_everything(seed)
    enc, _ = pretrained("bert-zh-mlm")
    tags = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in "BI")
    tagger = Tagger(enc, tags)
    cfg = TrainConfig(max_steps=ner_steps, lr=2e-3, warmup_steps=max(1, ner_steps // 10), weight_decay=0.01,
                      amp=None, progress=False)
    fit_tagger(tagger, ner_examples(world.ner("zh", split="train", by=by)), vocab, cfg, max_chars=62, seed=seed)
    ner = NERModel(tagger, vocab, max_chars=62)
    texts = [r.text for r in test]
    found = ner.predict(texts)
    gold, gold_m = gold_triples(test)
    with_gold = extract(model, vocab, texts, [[(m.start, m.end, m.label) for m in r.mentions] for r in test])
    end_to_end = extract(model, vocab, texts, found)
    pred_m = {(k, s) for k, spans in enumerate(found) for s in spans}
    return {"micro_f1": pairs["micro"]["f1"], "pairs": pairs,
            "ner_f1": evaluate_spans(ner_examples(test), found)["micro"]["f1"],
            "gold_mentions": triple_scores(gold, with_gold), "end_to_end": triple_scores(gold, end_to_end),
            "errors": attribute_errors(gold, end_to_end, gold_m, pred_m)}


def main(argv=None) -> None:
    from llmbook_lib.data.world import make_world
    from llmbook_lib.hub import manifest_entry

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-steps", type=int, default=None, help="cap on steps (smoke tests only)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    world = make_world()
    cap = args.max_steps
    re_steps, ner_steps = (RE_STEPS, NER_STEPS) if cap is None else (min(cap, RE_STEPS), min(cap, NER_STEPS))
    meta = {"base": "bert-zh-mlm", "base_sha256": manifest_entry("bert-zh-mlm")["sha256"],
            "data_sha256": data_sha256(world), "re_steps": re_steps, "ner_steps": ner_steps,
            "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "threads": torch.get_num_threads(), "max_steps": cap}
    try:
        results = open_study(args.out, "runs", meta, ("base_sha256", "data_sha256", "max_steps"))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    done = {(r["split"], r["model"], r["seed"]) for r in results["runs"]}
    for by in SPLITS:
        if (by, "baseline", 0) not in done:
            pairs = baseline_run(world, by)
            results["runs"].append({"split": by, "model": "baseline", "seed": 0,
                                    "micro_f1": pairs["micro"]["f1"], "pairs": pairs})
            write_atomic(args.out, results)
            print(f"{by} baseline: micro-F1 {pairs['micro']['f1']:.3f}", flush=True)
    for seed in args.seeds:
        for by in SPLITS:
            if (by, "encoder", seed) in done:
                continue
            start = time.perf_counter()
            run = encoder_run(world, by, seed, re_steps, ner_steps)
            seconds = time.perf_counter() - start
            results["runs"].append({"split": by, "model": "encoder", "seed": seed, **run,
                                    "seconds": round(seconds, 1)})
            write_atomic(args.out, results)
            print(f"{by} seed {seed}: micro-F1 {run['micro_f1']:.3f}, NER F1 {run['ner_f1']:.3f}, "
                  f"end-to-end {run['end_to_end']['f1']:.3f} ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
