"""Does extra training data help the 4k-pair translator? Three arms at equal compute.

Section 6.1.1 reads what this script measures; it is too slow for a notebook (about 30 minutes on
one CPU thread), so its results ship with the library in
``llmbook_lib/weights/mt_extra_data.json``. Every arm trains the ``mt-zh-en`` recipe's network
(``TranslatorSpec``: 2+2 layers, width 192, label smoothing 0.1, batch 64, lr 3e-3) from random
weights for the same number of steps (2,000, a third of the shipped model's), seed 0, with its
vocabularies built from its own training pairs:

- ``hsk``: the 3,394 HSK training pairs alone;
- ``hsk+world``: plus the synthetic world's zh-en training sentences (7.3);
- ``hsk+dict``: plus word pairs from CC-CEDICT: the ``DICT_WORDS`` most frequent words of
  jieba's dictionary (its own frequency column, nothing from the test set) that have a usable
  gloss of at most three English words, each paired with that gloss.

Each arm is scored with greedy decoding on the whole dev and test splits (sacrebleu BLEU and
chrF), and on each HSK level of the test split. No choice is made on test: every arm is reported.

    OMP_NUM_THREADS=1 python studies/mt_extra_data.py [OUT.json] [--steps N]

Each finished arm is written to the JSON at once (atomically); arms already there are skipped,
so an interrupted study resumes where it stopped.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

import torch

from llmbook_lib.runtime.study import load_study, open_study, write_atomic

ARMS = ("hsk", "hsk+world", "hsk+dict")
DICT_WORDS = 3000
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "llmbook_lib" / "weights" / "mt_extra_data.json"


def load_results(path: Path) -> dict:
    """{"meta": {...}, "arms": [{"arm", "pairs", "extra", "steps", "dev_chrf", ...}, ...]};
    an empty study when the file does not exist yet."""
    return load_study(path, "arms")


def dictionary_pairs(n: int = DICT_WORDS) -> list[tuple[str, str]]:
    """The n most frequent jieba dictionary words (ties by the word) with a CC-CEDICT gloss of at
    most three words, paired with that gloss."""
    import jieba

    from llmbook_lib.tasks.translate import _cedict_glosses

    glosses = _cedict_glosses()
    rows = []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, freq, *_ = line.split()
            if not word.isascii() and word in glosses and len(glosses[word].split()) <= 3:
                rows.append((-int(freq), word))
    return [(w, glosses[w]) for _, w in sorted(rows)[:n]]


def extra_pairs(arm: str) -> list[tuple[str, str]]:
    if arm == "hsk":
        return []
    if arm == "hsk+world":
        from llmbook_lib.data import make_world

        return [(p.zh, p.en) for p in make_world().translation_pairs(split="train")]
    return dictionary_pairs()


def main(argv=None) -> None:
    from llmbook_lib.data import hsk
    from llmbook_lib.hub.recipes import recipe
    from llmbook_lib.models.transformer import Transformer, TransformerConfig
    from llmbook_lib.runtime.device import seed_everything
    from llmbook_lib.tasks.translate import Translator, bleu_chrf, build_vocabs, encode_pairs, fit_translator

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    r = recipe("mt-zh-en")
    spec = r.model
    splits = hsk.hsk_splits()
    meta = {"recipe": "mt-zh-en", "data_sha256": hashlib.sha256(hsk.corpus_text().encode()).hexdigest(),
            "steps": args.steps, "dict_words": DICT_WORDS, "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine(), "threads": 1}
    try:
        results = open_study(args.out, "arms", meta, ("data_sha256", "steps", "dict_words"))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    done = {a["arm"] for a in results["arms"]}
    base = [(p.zh, p.en) for p in splits["train"]]
    for arm in args.arms:
        if arm in done:
            continue
        start = time.perf_counter()
        extra = extra_pairs(arm)
        pairs = base + extra
        vocabs = build_vocabs(pairs, spec.tgt_vocab)
        ids = encode_pairs(*vocabs, pairs, spec.max_len)
        seed_everything(r.seed)
        model = Transformer(TransformerConfig.from_vocabs(
            *vocabs, d_model=spec.d_model, n_head=spec.n_head, n_encoder_layers=spec.n_layers,
            n_decoder_layers=spec.n_layers, d_ff=spec.d_ff, dropout=spec.dropout, max_len=spec.max_len))
        config = type(r.train)(**{**r.train.__dict__, "max_steps": args.steps, "eval_every": 0,
                                   "checkpoint_path": None, "progress": False})
        fit_translator(model, ids, config, r.batch_size, r.seed, spec.label_smoothing)
        mt = Translator(model.eval(), *vocabs, alpha=spec.alpha)
        row = {"arm": arm, "pairs": len(pairs), "extra": len(extra), "steps": args.steps,
               "src_vocab": vocabs[0].vocab_size}
        for split in ("dev", "test"):
            data = splits[split]
            out = mt.translate([p.zh for p in data], beam=1)
            s = bleu_chrf(out, [p.en for p in data])
            row[f"{split}_bleu"], row[f"{split}_chrf"] = s["bleu"], s["chrf"]
            if split == "test":
                row["test_chrf_by_level"] = {
                    str(k): bleu_chrf([o for o, p in zip(out, data) if p.level == k],
                                      [p.en for p in data if p.level == k])["chrf"]
                    for k in sorted({p.level for p in data})}
        row["seconds"] = round(time.perf_counter() - start, 1)
        results["arms"].append(row)
        write_atomic(args.out, results)
        print(f"{arm}: dev chrF {row['dev_chrf']:.1f}, test chrF {row['test_chrf']:.1f}, "
              f"BLEU {row['test_bleu']:.1f} ({row['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
