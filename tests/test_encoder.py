"""The MLM-only encoder: the shipped bert-zh-mlm, its batches and resumable hub training."""

import random
from dataclasses import replace

import pytest
import torch

from llmbook_lib import hub
from llmbook_lib.data.pretraining import MLMWindows
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig

TINY_MLM = hub.Recipe("tiny-mlm-test", "1-layer MLM-only test encoder", corpus="tiny_zh_text", tokenizer="char",
                      max_vocab=30,
                      model=BertConfig(vocab_size=0, max_len=24, d_model=16, n_head=2, n_layer=1, dropout=0.0),
                      train=TrainConfig(max_steps=6, warmup_steps=1, eval_every=2, eval_iters=2, progress=False,
                                        amp=None),
                      batch_size=8, extra={"objective": "mlm"})


def tiny_zh_text() -> str:
    g = random.Random(1)
    chars = "我们今天去公园散步天气很好人民日报新年讲话中国经济发展改革开放"
    return "\n".join("".join("".join(g.choice(chars) for _ in range(g.randint(4, 12))) + "。"
                             for _ in range(g.randint(1, 4))) for _ in range(200)) + "\n"


@pytest.fixture
def sandbox(hub_sandbox):
    return hub_sandbox({"tiny-mlm-test": TINY_MLM}, tiny_zh_text=tiny_zh_text)


def test_shipped_mlm_encoder_loads_and_beats_the_mlm_nsp_one():
    model, vocab = hub.pretrained("bert-zh-mlm", retrain=False)
    assert isinstance(model, BertLike) and isinstance(vocab, BertVocab) and not model.training
    entry = hub.manifest_entry("bert-zh-mlm")
    assert entry["recipe"]["extra"] == {"objective": "mlm"}
    metric = entry["metric"]
    # held-out [MASK] accuracy on the very validation pairs and masks that score bert-zh-char
    assert metric["name"] == "val_mlm_loss_nats_per_masked_token" and metric["val_batches"] == 50
    assert metric["mask_accuracy"] >= 0.30
    assert metric["mask_accuracy"] > hub.manifest_entry("bert-zh-char")["metric"]["mask_accuracy"] + 0.1
    assert entry["curve"]["steps"][-1] == entry["recipe"]["train"]["max_steps"]
    # the loaded weights are the ones scored: two validation batches agree with the curve's level
    d = hub.family_of(hub.recipes.recipe("bert-zh-mlm")).data(hub.recipes.recipe("bert-zh-mlm"))
    m = hub.mlm_nsp_metrics(model, hub.bert_val_batches("bert-zh-mlm", vocab, d.val), 2)
    assert m["mask_accuracy"] > 0.2


def test_mlm_windows_are_full_length_deterministic_and_masked_like_bert():
    vocab = BertVocab(CharTokenizer.from_text("我们今天去公园。"))
    docs = [[vocab.encode("我们今天。"), vocab.encode("去公园。")], [vocab.encode("今天去公园。")]]
    batches = MLMWindows(docs, vocab, batch_size=64, max_len=8, seed=3, mlm_p=0.5)
    x, seg, labels = batches(5)
    assert x.shape == seg.shape == labels.shape == (64, 8) and not seg.any()
    assert (x[:, 0] == vocab.cls_id).all() and (labels[:, 0] == -100).all()     # [CLS] is never a target
    assert not (x == vocab.pad_id).any()                                        # no padding: full windows
    assert (labels[x == vocab.sep_id] == -100).all()                             # nor the document ends
    assert ((labels != -100).float().mean() - 0.5 * 7 / 8).abs() < 0.1
    for a, b in zip(batches(5), MLMWindows(docs, vocab, batch_size=64, max_len=8, seed=3, mlm_p=0.5)(5)):
        assert torch.equal(a, b)


def test_unknown_objective_is_refused(sandbox, monkeypatch):
    monkeypatch.setitem(hub.recipes.RECIPES, "tiny-mlm-test", replace(TINY_MLM, extra={"objective": "electra"}))
    with pytest.raises(ValueError, match="unknown objective 'electra'"):
        hub.train_recipe("tiny-mlm-test", progress=False)


def test_interrupted_checkpointed_run_ships_what_an_uninterrupted_one_does(sandbox, monkeypatch):
    model_a, _, entry_a = hub.train_recipe("tiny-mlm-test", progress=False)
    assert entry_a["curve"]["steps"] == [2, 4, 6] and entry_a["metric"]["nsp_accuracy"] <= 1.0
    ckpt = sandbox / "run" / "tiny.ckpt.safetensors"
    real = MLMWindows.__call__

    def interrupted(self, step):
        if step == 5:
            raise KeyboardInterrupt
        return real(self, step)

    monkeypatch.setattr(MLMWindows, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hub.train_and_ship("tiny-mlm-test", checkpoint=ckpt, checkpoint_every=2)
    assert ckpt.with_suffix(".curve.json").exists()
    monkeypatch.setattr(MLMWindows, "__call__", real)
    entry_b = hub.train_and_ship("tiny-mlm-test", checkpoint=ckpt, checkpoint_every=2)
    model_b, _ = hub.pretrained("tiny-mlm-test", retrain=False)
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()):
        assert torch.equal(a, b)
    assert entry_b["metric"] == entry_a["metric"]
    assert {k: v for k, v in entry_b["curve"].items() if k != "seconds"} == \
        {k: v for k, v in entry_a["curve"].items() if k != "seconds"}
    assert hub.verify(["tiny-mlm-test"])
    # a checkpoint written under other training settings is not continued
    monkeypatch.setitem(hub.recipes.RECIPES, "tiny-mlm-test",
                        replace(TINY_MLM, train=replace(TINY_MLM.train, lr=1e-2)))
    with pytest.raises(ValueError, match="other training settings"):
        hub.train_recipe("tiny-mlm-test", progress=False, checkpoint=ckpt)
