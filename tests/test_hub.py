import json
import random
import warnings

import pytest
import torch

from llmbook_lib import hub
from llmbook_lib.data.pretraining import BertBatches, encode_documents
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training import train as training
from llmbook_lib.training.train import TrainConfig

TINY = hub.Recipe("tiny-test", "1-layer test model", corpus="tiny_shakespeare", tokenizer="char", max_vocab=None,
                  model=GPTConfig(vocab_size=0, max_len=16, n_layer=1, n_head=2, d_model=16),
                  train=TrainConfig(max_steps=3, warmup_steps=1, progress=False, amp=None), batch_size=4)


TINY_BERT = hub.Recipe("tiny-bert-test", "1-layer MLM + NSP test encoder", corpus="tiny_zh_paragraphs",
                       tokenizer="char", max_vocab=30,
                       model=BertConfig(vocab_size=0, max_len=24, d_model=16, n_head=2, n_layer=1, dropout=0.0,
                                        pos_encoding="sinusoidal"),
                       train=TrainConfig(max_steps=4, warmup_steps=1, eval_every=2, eval_iters=2, progress=False,
                                         amp=None), batch_size=8)


def tiny_zh_paragraphs() -> str:
    """200 paragraphs of 1-4 made-up Chinese sentences: a corpus for the tiny BERT recipe."""
    g = random.Random(0)
    chars = "我们今天去公园散步天气很好人民日报新年讲话中国经济发展改革开放社会主义事业前进"
    paras = ["".join("".join(g.choice(chars) for _ in range(g.randint(4, 12))) + g.choice("。！？")
                     for _ in range(g.randint(1, 4))) for _ in range(200)]
    return "\n".join(paras) + "\n"


@pytest.fixture
def sandbox(hub_sandbox, monkeypatch):
    """A private weights dir, manifest and cache holding only the tiny recipes."""
    monkeypatch.setattr(training, "VAL_TOKENS", 4096)
    return hub_sandbox({"tiny-test": TINY, "tiny-bert-test": TINY_BERT}, tiny_zh_paragraphs=tiny_zh_paragraphs)


def test_shipped_models_load_with_their_manifest_config():
    manifest = json.loads(hub.MANIFEST.read_text(encoding="utf-8"))
    assert {"gpt-zh-char", "gpt-en-char"} <= set(manifest)
    for name, entry in manifest.items():
        assert entry["recipe"] == hub.RECIPES[name].to_dict()
        assert (hub.WEIGHTS_DIR / f"{name}.safetensors").stat().st_size < 9e6    # a few MB (mt-zh-en: 8.2 MB)
        if not isinstance(hub.RECIPES[name].model, (BertConfig, GPTConfig)):
            continue                           # task models: tests/test_task_models.py
        model, tok = hub.pretrained(name, retrain=False)
        expected = BertLike if isinstance(hub.RECIPES[name].model, BertConfig) else GPT
        assert isinstance(model, expected) and not model.training
        assert model.config.to_dict() == entry["model_config"]
        assert tok.vocab_size == model.config.vocab_size


def test_shipped_chinese_model_writes_chinese():
    model, tok = hub.pretrained("gpt-zh-char", retrain=False)
    out = model.generate(torch.tensor([tok.encode("中国")]), 20, temperature=0)
    text = tok.decode(out[0].tolist())
    assert sum("\u4e00" <= c <= "\u9fff" for c in text) >= 15


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="gpt-zh-char"):
        hub.pretrained("no-such-model")


def test_ship_then_load_then_verify(sandbox):
    entry = hub.train_and_ship("tiny-test")
    assert entry["data_sha256"] and entry["sha256"] and entry["train_tokens"] == 3 * 4 * 16
    assert entry["metric"]["val_tokens"] == 4096       # the sandbox's VAL_TOKENS, read when scored
    model, tok = hub.pretrained("tiny-test", retrain=False)
    assert hub.verify(["tiny-test"])


def test_tampered_weights_are_refused_then_retrained_into_cache(sandbox, monkeypatch):
    hub.train_and_ship("tiny-test")
    path = hub.registry.WEIGHTS_DIR / "tiny-test.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="refused"):
        hub.pretrained("tiny-test", retrain=False)
    assert not hub.verify(["tiny-test"])
    with pytest.warns(UserWarning, match="refused"):
        model, _ = hub.pretrained("tiny-test")
    cached = sandbox / "cache" / "tiny-test.safetensors"
    assert cached.is_file() and (sandbox / "cache" / "tiny-test.json").is_file()

    def no_training(*a, **k):
        raise AssertionError("must load from the cache, not retrain")
    monkeypatch.setattr(hub.registry, "train_recipe", no_training)
    with warnings.catch_warnings(record=True):
        again, _ = hub.pretrained("tiny-test")
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_model_is_trained_on_first_use_and_corrupt_cache_retrained(sandbox, capsys):
    model, tok = hub.pretrained("tiny-test")            # nothing shipped: trained and cached
    assert "training it from its recipe" in capsys.readouterr().err
    cached = sandbox / "cache" / "tiny-test.safetensors"
    assert cached.is_file()
    cached.write_bytes(cached.read_bytes()[:100])       # truncated cache file
    with pytest.warns(UserWarning, match="damaged or stale"):
        again, _ = hub.pretrained("tiny-test")
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)                        # the recipe is deterministic


def test_bert_recipe_ships_loads_and_verifies(sandbox):
    entry = hub.train_and_ship("tiny-bert-test")
    assert entry["metric"]["name"] == "val_mlm_loss_nats_per_masked_token"
    assert entry["metric"]["pairs"] == 3 * 8 and entry["metric"]["masked_tokens"] > 0
    assert 0.0 <= entry["metric"]["mlm_accuracy"] <= 1.0 and 0.0 <= entry["metric"]["nsp_accuracy"] <= 1.0
    assert entry["curve"]["steps"] == [2, 4] and len(entry["curve"]["mlm_accuracy"]) == 2
    model, vocab = hub.pretrained("tiny-bert-test", retrain=False)
    assert isinstance(model, BertLike) and isinstance(vocab, BertVocab) and not model.training
    assert model.config.to_dict() == entry["model_config"] and vocab.vocab_size == 30 + 4
    assert vocab.decode(vocab.encode("我们")) == "我们" and vocab.decode([vocab.mask_id]) == "[MASK]"
    assert hub.verify(["tiny-bert-test"])
    # the round trip keeps every weight: the reloaded model scores the manifest metric exactly
    d = hub.family_of(TINY_BERT).data(TINY_BERT)
    again = hub.mlm_nsp_metrics(model, hub.bert_val_batches(TINY_BERT, d.tokenizer, d.val), 3)
    assert again["mlm_loss"] == pytest.approx(entry["metric"]["value"], abs=1e-5)


def test_bert_recipe_is_deterministic_and_learns(sandbox):
    m1, _, e1 = hub.train_recipe("tiny-bert-test", progress=False)
    m2, _, e2 = hub.train_recipe("tiny-bert-test", progress=False)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert e1["metric"]["value"] == e2["metric"]["value"]
    losses = e1["curve"]["train_loss"]
    assert losses[-1] < losses[0]                       # four steps already lower the loss


def test_mlm_nsp_metrics_counts_and_restores_mode():
    vocab = BertVocab(CharTokenizer.from_text("我们今天去公园。！"))
    docs = encode_documents([["我们今天。", "去公园。"], ["今天去。", "我们去！"]], vocab)
    batches = BertBatches(docs, vocab, batch_size=16, max_len=16, seed=0, mlm_p=0.5)
    model = BertLike(BertConfig(vocab_size=vocab.vocab_size, max_len=16, d_model=16, n_head=2, n_layer=1))
    model.train()
    m = hub.mlm_nsp_metrics(model, batches, 2)
    assert model.training                               # mode restored
    assert m["pairs"] == 32
    selected = sum(int((b[2] != -100).sum()) for b in (batches(0), batches(1)))
    assert m["masked_tokens"] == selected
    assert 0.0 <= m["mask_accuracy"] <= 1.0 and m["nsp_loss"] > 0


def test_shipped_bert_encoder_reports_its_metrics_and_fills_a_sentence_end():
    from llmbook_lib.viz.cloze import fill_blanks
    model, vocab = hub.pretrained("bert-zh-char", retrain=False)
    metric = hub.manifest_entry("bert-zh-char")["metric"]
    assert metric["nsp_accuracy"] > 0.6 and metric["mask_accuracy"] > 0.05    # above chance / unigram (~4%)
    assert fill_blanks(model, vocab, "中国共产党第十五次全国代表大＿").candidates[0][0][0] == "。"


def test_validation_loss_reads_val_tokens_when_called(monkeypatch):
    """Patching llmbook_lib.training.train.VAL_TOKENS changes what validation_loss (re-exported by hub)
    scores: the default is not bound when the function is defined."""
    model = GPT(GPTConfig(vocab_size=16, max_len=8, n_layer=1, n_head=2, d_model=16))
    ids = torch.randint(0, 16, (400,), generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(training, "VAL_TOKENS", 64)
    assert hub.validation_loss(model, ids) == hub.validation_loss(model, ids, max_tokens=64)
    assert hub.validation_loss(model, ids) != hub.validation_loss(model, ids, max_tokens=392)


def test_list_names_each_models_own_metric(capsys):
    from llmbook_lib.hub import registry
    from llmbook_lib.hub.__main__ import main as hub_main

    assert registry.metric_label({"name": "val_loss_nats_per_token"}) == "val loss"
    assert registry.metric_label({"name": "test_accuracy"}) == "test_accuracy"
    assert hub_main(["list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "val loss" in lines["gpt-zh-char"]
    assert "test_accuracy" in lines["sentiment-zh"] and "val loss" not in lines["sentiment-zh"]
    assert "test_entity_f1" in lines["ner-zh"]


def test_every_recipe_names_a_corpus_loader_that_exists():
    from llmbook_lib import data

    for name, r in hub.RECIPES.items():
        assert callable(getattr(data, r.corpus, None)), f"{name}: llmbook_lib.data has no {r.corpus}()"
    assert hub.RECIPES["mt-zh-en"].text().startswith("train\t")
