"""The task models ship through the hub like the language models: recipe, manifest, verify, load."""
from dataclasses import replace

import pytest
import torch

from llmbook_lib import hub
from llmbook_lib.data import ner as ner_data
from llmbook_lib.data import sentiment as sentiment_data
from llmbook_lib.hub.recipes import ClassifierSpec, TaggerSpec
from llmbook_lib.models.bertlike import BertLike
from llmbook_lib.tasks.classifier import TextClassifier
from llmbook_lib.tasks.tagger import NERModel
from llmbook_lib.training.train import TrainConfig

from test_hub import TINY_BERT, tiny_zh_paragraphs

BASE = replace(TINY_BERT, max_vocab=60)
_TRAIN = TrainConfig(max_steps=4, warmup_steps=1, eval_every=2, progress=False, amp=None, lr=3e-3)
SENTIMENT = hub.Recipe("tiny-sentiment", "test classifier", corpus="sentiment_corpus_text", tokenizer="char",
                       max_vocab=None, model=ClassifierSpec(base="tiny-bert-test", labels=("negative", "positive"),
                                                            max_len=24),
                       train=_TRAIN, batch_size=8)
SCRATCH = replace(SENTIMENT, name="tiny-sentiment-scratch", extra={"init": "random"})
NER = hub.Recipe("tiny-ner", "test tagger", corpus="ner_corpus_text", tokenizer="char", max_vocab=None,
                 model=TaggerSpec(base="tiny-bert-test", head="crf", head_lr_mult=5.0, max_len=24),
                 train=_TRAIN, batch_size=8)


@pytest.fixture
def sandbox(hub_sandbox, monkeypatch):
    """The tiny base encoder shipped in a private hub, and small slices of the task corpora."""
    sent = sentiment_data.sentiment_splits()
    small_sent = {k: v[:300] if k == "train" else v[:60] for k, v in sent.items()}
    monkeypatch.setattr(sentiment_data, "sentiment_splits", lambda: {k: list(v) for k, v in small_sent.items()})
    ner = ner_data.ner_splits()
    small_ner = {k: v[:80] if k == "train" else v[:20] for k, v in ner.items()}
    monkeypatch.setattr(ner_data, "ner_splits", lambda: {k: list(v) for k, v in small_ner.items()})
    recipes = {r.name: r for r in (BASE, SENTIMENT, SCRATCH, NER)}
    hub_sandbox(recipes, tiny_zh_paragraphs=tiny_zh_paragraphs,
                sentiment_corpus_text=lambda: repr(small_sent), ner_corpus_text=lambda: repr(small_ner))
    hub.train_and_ship("tiny-bert-test")


def test_sentiment_recipe_ships_as_a_text_classifier(sandbox):
    entry = hub.train_and_ship("tiny-sentiment")
    m = entry["metric"]
    assert m["name"] == "test_accuracy" and m["test_examples"] == 60 and m["dev_examples"] == 60
    assert 0.0 <= m["value"] <= 1.0 and 0.0 <= m["test_macro_f1"] <= 1.0
    assert entry["curve"]["steps"] == [2, 4] and len(entry["curve"]["dev_accuracy"]) == 2
    assert entry["model_config"]["classifier"]["n_labels"] == 2
    clf = hub.pretrained("tiny-sentiment", retrain=False)
    assert isinstance(clf, TextClassifier) and clf.labels == ["negative", "positive"]
    probs = clf.predict_proba(["这个很好用", "太差了"])
    assert probs.shape == (2, 2) and torch.allclose(probs.sum(-1), torch.ones(2))
    assert clf.predict([]) == []
    with pytest.raises(TypeError, match="text 1"):
        clf.predict(["好", 3])
    with pytest.raises(ValueError, match="text 0"):
        clf.predict(["  "])
    assert hub.verify(["tiny-sentiment"])
    # the shipped file is an ordinary TextClassifier file: the reader's loader and CLI read it
    again = TextClassifier.load(hub.registry.WEIGHTS_DIR / "tiny-sentiment.safetensors")
    assert torch.equal(again.predict_proba(["这个很好用"]), clf.predict_proba(["这个很好用"]))


def test_scratch_recipe_starts_from_random_weights(sandbox):
    base, _ = hub.pretrained("tiny-bert-test")
    family = hub.family_of(SCRATCH)
    torch.manual_seed(0)
    pretrained_start = family.build(SENTIMENT, None).encoder
    random_start = family.build(SCRATCH, None).encoder
    emb = lambda m: m.encoder.embed.tok.weight                           # noqa: E731
    assert torch.equal(emb(pretrained_start), emb(base))
    assert not torch.equal(emb(random_start), emb(base))
    with pytest.raises(ValueError, match="init"):
        family.build(replace(SCRATCH, extra={"init": "pretrained-ish"}), None)


def test_ner_recipe_ships_as_an_ner_model(sandbox):
    entry = hub.train_and_ship("tiny-ner")
    m = entry["metric"]
    assert m["name"] == "test_entity_f1" and 0.0 <= m["value"] <= 1.0 and "test_PER" in m
    assert entry["curve"]["steps"] == [2, 4] and len(entry["curve"]["dev_f1_loc"]) == 2
    ner = hub.pretrained("tiny-ner", retrain=False)
    assert isinstance(ner, NERModel) and isinstance(ner.tagger.encoder, BertLike)
    assert ner.tagger.head == "crf" and ner.max_chars == 22
    text = "新华社北京一月一日电" * 30                                       # 300 characters: windows
    spans = ner.predict([text, "", "  "])
    assert spans[1] == [] and spans[2] == []
    assert all(0 <= a < b <= len(text) and t in ("PER", "LOC", "ORG") for a, b, t in spans[0])
    assert hub.verify(["tiny-ner"])
    again = NERModel.load(hub.registry.WEIGHTS_DIR / "tiny-ner.safetensors")
    assert again.predict([text]) == ner.predict([text])


def test_task_family_refuses_a_base_of_another_length(sandbox):
    bad = replace(SENTIMENT, name="bad", model=replace(SENTIMENT.model, max_len=64))
    with pytest.raises(ValueError, match="max_len"):
        hub.family_of(bad).build(bad, None)


def test_domain_adaptation_runs_mlm_on_the_training_texts_first(sandbox, monkeypatch):
    adapted = replace(SENTIMENT, name="tiny-sentiment-adapted", extra={"adapt_steps": 3})
    monkeypatch.setitem(hub.recipes.RECIPES, adapted.name, adapted)
    family = hub.family_of(adapted)
    data = family.data(adapted)
    torch.manual_seed(0)
    model = family.build(adapted, data.tokenizer)
    before = model.encoder.encoder.embed.tok.weight.detach().clone()
    report = family.adapt(adapted, model.encoder, data, 3, progress=False)
    assert report["steps"] == 3 and report["mlm_loss_first"] > 0
    assert not torch.equal(model.encoder.encoder.embed.tok.weight, before)     # the MLM steps moved it
    entry = hub.train_and_ship(adapted.name)
    assert entry["curve"]["adapt"]["steps"] == 3 and entry["curve"]["steps"] == [2, 4]
