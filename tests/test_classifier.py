"""The sentence classifier: which parameters train in each mode, pooling, predict / predict_proba,
bad input, metrics, memory counts, save / load."""

import pytest
import torch
from sklearn.metrics import f1_score

from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.runtime.checkpoint import save_checkpoint
from llmbook_lib.tasks.classifier import (PRETRAINING_ONLY, ShuffledBatches, TextClassifier, describe, evaluate,
                                          fit_classifier, training_memory)
from llmbook_lib.data.batches import pad_rows
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig

VOCAB = BertVocab(CharTokenizer.from_text("很好不错喜欢推荐太差劲失望难看电影书酒店服务的了！", unk="<unk>"))
POS = ["很好", "不错", "喜欢", "推荐", "电影很好", "书不错", "喜欢酒店", "服务很好"]
NEG = ["太差", "差劲", "失望", "难看", "电影太差", "书难看", "失望的酒店", "服务差劲"]
LABELS = ["negative", "positive"]


def make(mode: str = "full", **kw) -> TextClassifier:
    encoder = BertLike(BertConfig(VOCAB.vocab_size, max_len=24, d_model=32, n_head=2, n_layer=2, dropout=0.0))
    return TextClassifier.from_encoder(encoder, VOCAB, LABELS, mode=mode, lora_r=2, dropout=0.0, **kw)


def trainable_names(clf: TextClassifier) -> set[str]:
    return {n for n, p in clf.model.named_parameters() if p.requires_grad}


def one_step(clf: TextClassifier, lr: float = 1e-2) -> None:
    clf.fit(POS + NEG, ["positive"] * 8 + ["negative"] * 8,
            TrainConfig(max_steps=1, lr=lr, warmup_steps=1, weight_decay=0.0, progress=False), batch_size=16)


@pytest.mark.parametrize("mode", ["full", "probe", "lora"])
def test_only_the_mode_s_parameters_train_and_frozen_ones_stay_put(mode):
    clf = make(mode)
    names = trainable_names(clf)
    assert {"head.weight", "head.bias"} <= names
    if mode == "probe":
        assert names == {"head.weight", "head.bias"}
    elif mode == "lora":
        assert names - {"head.weight", "head.bias"} == {
            f"encoder.encoder.layers.{i}.attn.in_proj.lora_{m}" for i in range(2) for m in "AB"}
    else:
        assert not any(n.startswith(f"encoder.{p}") for n in names for p in PRETRAINING_ONLY)
        assert "encoder.encoder.embed.tok.weight" in names and len(names) > 20
    before = {n: p.detach().clone() for n, p in clf.model.named_parameters()}
    one_step(clf)
    for n, p in clf.model.named_parameters():
        if n in names and n.endswith(("weight", "lora_B")) and "ln" not in n and "norm" not in n:
            assert not torch.equal(p, before[n]), f"{n} should have trained"
        if n not in names:
            assert torch.equal(p, before[n]), f"{n} is frozen but changed"


def test_trainable_counts_order_the_modes():
    counts = {m: describe(make(m).model)["trainable"] for m in ("full", "probe", "lora")}
    assert counts["probe"] == 32 * 2 + 2
    assert counts["lora"] == counts["probe"] + 2 * 2 * (2 * 32 + 32 * 2)
    assert counts["full"] > 10 * counts["lora"]


def test_padding_does_not_change_the_prediction_and_cls_pooling_works():
    for pool in ("mean", "cls"):
        clf = make(pool=pool)
        ids = clf.encode(["电影很好"])[0]
        alone = clf.model.eval()(torch.tensor([ids]))
        padded = clf.model(pad_rows([ids, ids + [5] * 6], VOCAB.pad_id))[:1]
        assert torch.allclose(alone, padded, atol=1e-5)


def test_predict_and_predict_proba_follow_the_order_of_labels():
    clf = make()
    with torch.no_grad():                     # a head that always says "positive" (column 1)
        clf.model.head.weight.zero_()
        clf.model.head.bias.copy_(torch.tensor([0.0, 5.0]))
    probs = clf.predict_proba(["很好", "太差", "电影"])
    assert probs.shape == (3, 2) and torch.allclose(probs.sum(-1), torch.ones(3))
    assert (probs[:, 1] > 0.99).all()
    assert clf.predict(["很好", "太差", "电影"]) == ["positive"] * 3
    assert clf.labels == LABELS


def test_bad_input_names_the_item():
    clf = make()
    assert clf.predict([]) == []
    assert clf.predict_proba([]).shape == (0, 2)
    with pytest.raises(TypeError, match="text 2 is a int"):
        clf.predict(["很好", "太差", 3])
    with pytest.raises(ValueError, match="text 1 is empty or only whitespace"):
        clf.predict_proba(["很好", " \n\t"])
    with pytest.raises(TypeError, match=r"text 0 is bytes.*decode"):
        clf.predict(["很好".encode()])
    with pytest.raises(TypeError, match="list of strings"):
        clf.predict("很好")


def test_half_width_characters_read_as_the_full_width_forms_the_vocabulary_has():
    clf = make()                                              # VOCAB has "！", not "!"
    assert clf.encode(["很好!"]) == clf.encode(["很好！"]) == [[1, *VOCAB.encode("很好！"), 2]]
    assert clf.encode(["很好?"])[0][-2] == VOCAB.unk_id       # neither "?" nor "？" is known


def test_a_long_text_is_cut_to_its_head():
    clf = make()
    long = "很好" * 5000                                         # 10,000 characters
    head = long[:clf.model.max_len - 2]
    assert torch.allclose(clf.predict_proba([long]), clf.predict_proba([head]))
    assert torch.allclose(clf.predict_proba([long + "差" * 50]), clf.predict_proba([head]))


def test_learns_a_tiny_task_well_above_chance():
    clf = make("full")
    texts, labels = POS + NEG, ["positive"] * 8 + ["negative"] * 8
    clf.fit(texts, labels, TrainConfig(max_steps=40, lr=3e-3, warmup_steps=4, progress=False), batch_size=8)
    assert clf.evaluate(texts, labels)["accuracy"] == 1.0


def test_batches_visit_every_example_once_per_epoch_and_depend_only_on_the_step():
    ids = [[1, 4 + i, 2] for i in range(10)]
    batches = ShuffledBatches(ids, list(range(10)), batch_size=5, seed=3)
    first_epoch = torch.cat([batches(0)[1], batches(1)[1]])
    assert sorted(first_epoch.tolist()) == list(range(10))
    assert not torch.equal(first_epoch, torch.cat([batches(2)[1], batches(3)[1]]))   # reshuffled
    assert torch.equal(ShuffledBatches(ids, list(range(10)), 5, seed=3)(1)[0], batches(1)[0])


def test_macro_f1_matches_a_hand_count_and_sklearn():
    clf = make()
    with torch.no_grad():                     # predicts "positive" (1) for everything
        clf.model.head.weight.zero_()
        clf.model.head.bias.copy_(torch.tensor([0.0, 1.0]))
    gold = [0, 0, 1, 1, 1]
    m = evaluate(clf.model, clf.encode(["很好"] * 5), gold)
    # class 1: precision 3/5, recall 1 -> F1 0.75; class 0: never predicted -> F1 0
    assert m["accuracy"] == pytest.approx(0.6) and m["macro_f1"] == pytest.approx(0.375)
    assert m["macro_f1"] == pytest.approx(f1_score(gold, [1] * 5, average="macro", zero_division=0))


def test_memory_counts_follow_the_mode():
    mem = {}
    for mode in ("full", "probe", "lora"):
        clf = make(mode)
        batch = ShuffledBatches(clf.encode(POS + NEG), [1] * 8 + [0] * 8, batch_size=16)(0)
        mem[mode] = training_memory(clf.model, batch)
        assert mem[mode]["optimizer"] == 2 * mem[mode]["grads"] == 8 * describe(clf.model)["trainable"]
    assert mem["probe"]["activations"] < 0.05 * mem["lora"]["activations"]       # no backward through it
    assert mem["lora"]["activations"] <= 1.1 * mem["full"]["activations"]       # LoRA keeps activations
    assert mem["lora"]["total"] < mem["full"]["total"]


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_save_load_round_trip_gives_identical_probabilities(tmp_path, mode):
    clf = make(mode)
    one_step(clf)
    clf.info = {"note": "pilot"}
    path = clf.save(tmp_path / "clf.safetensors")
    back = TextClassifier.load(path)
    texts = ["很好", "电影太差", "失望的酒店服务"]
    assert torch.equal(back.predict_proba(texts), clf.predict_proba(texts))
    assert back.labels == LABELS and back.model.config == clf.model.config and back.info == {"note": "pilot"}
    assert back.vocab.encode("很好的书") == VOCAB.encode("很好的书")


def test_load_refuses_a_corrupted_or_foreign_file(tmp_path):
    path = make().save(tmp_path / "clf.safetensors")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        TextClassifier.load(tmp_path / "bad.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(bytes(data[:len(data) // 2]))
    with pytest.raises(ValueError, match="truncated or corrupted"):
        TextClassifier.load(tmp_path / "cut.safetensors")
    save_checkpoint(tmp_path / "other.safetensors", torch.nn.Linear(2, 2), state={"kind": "bert"})
    with pytest.raises(ValueError, match="not a text classifier"):
        TextClassifier.load(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        TextClassifier.load(tmp_path / "missing.safetensors")


def test_labels_must_fit_the_model():
    clf = make()
    with pytest.raises(ValueError, match="unknown labels"):
        clf.fit(["很好"], ["neutral"], TrainConfig(max_steps=1, progress=False))
    with pytest.raises(ValueError, match="outside"):
        fit_classifier(clf.model, clf.encode(["很好"]), [2], TrainConfig(max_steps=1, progress=False))
    with pytest.raises(ValueError, match="distinct"):
        TextClassifier(clf.model, VOCAB, ["a", "a"])
