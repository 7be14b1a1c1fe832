"""Relation extraction with entity markers: marker insertion and its offsets (apart, adjacent,
nested, crossing mentions), pair enumeration, labels, bad input, scores and a tiny run that learns."""

from dataclasses import dataclass

import pytest
import torch

from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.tasks.relation import (MARKERS, NO_RELATION, PairBatches, RelationClassifier, attribute_errors,
                                        encode_examples, encode_pair, extract, fit_relations, gold_triples,
                                        insert_markers, mention_pairs, pair_features, pair_labels,
                                        predict_examples, relation_scores, triple_scores)
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass(frozen=True)
class M:
    start: int
    end: int
    text: str = ""
    label: str = "PER"


@dataclass(frozen=True)
class R:
    head: int
    tail: int
    relation: str


@dataclass
class Ex:
    text: str
    mentions: list
    relations: list


def strip(text: str) -> str:
    return "".join(c for c in text if c not in MARKERS)


def check(text, head, tail):
    m = insert_markers(text, head, tail)
    assert strip(m.text) == text and len(m.text) == len(text) + 4
    assert len(m.index) == len(text) + 1 and m.index[-1] == len(m.text)
    assert all(m.text[m.index[i]] == text[i] for i in range(len(text)))        # every character kept
    assert m.text[m.head] == MARKERS[0] and m.text[m.tail] == MARKERS[2]
    for (s, e), (o, c) in (((head.start, head.end), MARKERS[:2]), ((tail.start, tail.end), MARKERS[2:])):
        opened = m.text.index(o)
        closed = m.text.index(c)
        assert strip(m.text[opened + 1:closed]) == text[s:e]                    # markers enclose the mention
    return m


def test_markers_apart_adjacent_nested_crossing():
    text = "张三生于桐浦市"
    m = check(text, M(0, 2), M(4, 6))
    assert m.text == "『张三』生于《桐浦》市" and (m.head, m.tail) == (0, 6)
    assert m.index == (1, 2, 4, 5, 7, 8, 10, 11)
    assert check(text, M(4, 6), M(0, 2)).text == "《张三》生于『桐浦』市"             # reversed direction
    assert check("张三桐浦", M(0, 2), M(2, 4)).text == "『张三』《桐浦》"            # adjacent: close first
    assert check("张三桐浦", M(2, 4), M(0, 2)).text == "《张三》『桐浦』"
    assert check(text, M(4, 7), M(4, 6)).text == "张三生于『《桐浦》市』"           # nested, same start
    assert check(text, M(5, 7), M(4, 7)).text == "张三生于《桐『浦市』》"           # nested, same end
    assert check(text, M(0, 7), M(2, 4)).text == "『张三《生于》桐浦市』"           # nested inside
    assert check(text, M(0, 3), M(2, 5)).text == "『张三《生』于桐》浦市"           # crossing


def test_bad_spans_and_markers_raise():
    with pytest.raises(ValueError, match="same span"):
        insert_markers("张三", M(0, 2), M(0, 2))
    with pytest.raises(ValueError, match="empty or outside"):
        insert_markers("张三", M(0, 3), M(0, 1))
    with pytest.raises(ValueError, match="empty or outside"):
        insert_markers("张三", M(1, 1), M(0, 1))
    with pytest.raises(ValueError, match="four single characters"):
        insert_markers("张三", M(0, 1), M(1, 2), ("[E1]", "[/E1]", "[E2]", "[/E2]"))
    with pytest.raises(TypeError, match="start and end"):
        insert_markers("张三", 0, M(1, 2))
    assert insert_markers("张三", (0, 1, "PER"), (1, 2)).text == "『张』《三》"      # tuples work too


def test_pairs_and_labels():
    assert [len(mention_pairs(n)) for n in range(5)] == [0, 0, 2, 6, 12]
    assert mention_pairs(2) == [(0, 1), (1, 0)]
    ex = Ex("张三生于桐浦，就职于宏图", [M(0, 2), M(4, 6, label="LOC"), M(10, 12, label="ORG")],
            [R(0, 1, "born_in"), R(0, 2, "works_for")])
    labels = pair_labels(ex)
    assert len(labels) == 6 and sum(rel != NO_RELATION for _, _, rel in labels) == 2
    assert (0, 1, "born_in") in labels and (1, 0, NO_RELATION) in labels and (1, 2, NO_RELATION) in labels
    with pytest.raises(ValueError, match="mentions 0..2"):
        pair_labels(Ex(ex.text, ex.mentions, [R(0, 3, "born_in")]))
    with pytest.raises(ValueError, match="two relations"):
        pair_labels(Ex(ex.text, ex.mentions, [R(0, 1, "born_in"), R(0, 1, "works_for")]))
    assert pair_features(ex.text, ex.mentions[0], ex.mentions[1]) == "PER>LOC 生 于"
    assert pair_features(ex.text, ex.mentions[1], ex.mentions[0]) == "LOC<PER 生 于"


TEXTS = ["张三生于桐浦。", "李四就职于宏图。", "桐浦是宏图的总部所在地。", "王五生于宏图。"]


@pytest.fixture(scope="module")
def vocab():
    return BertVocab(CharTokenizer.from_text("".join(TEXTS) + "".join(MARKERS) + "赵六", unk="<unk>"))


def tiny_examples():
    return [Ex(TEXTS[0], [M(0, 2), M(4, 6, label="LOC")], [R(0, 1, "born_in")]),
            Ex(TEXTS[1], [M(0, 2), M(5, 7, label="ORG")], [R(0, 1, "works_for")]),
            Ex(TEXTS[2], [M(0, 2, label="LOC"), M(3, 5, label="ORG")], [R(1, 0, "headquartered_in")])]


def tiny_model(vocab, max_len=24):
    cfg = BertConfig(vocab_size=vocab.vocab_size, max_len=max_len, d_model=16, n_head=2, n_layer=1, dropout=0.0)
    return RelationClassifier(BertLike(cfg), ["born_in", "works_for", "headquartered_in"], dropout=0.0)


def test_encoding_batches_and_errors(vocab):
    ids, h, t = encode_pair(vocab, TEXTS[0], M(0, 2), M(4, 6), max_len=24)
    assert ids[0] == vocab.cls_id and ids[-1] == vocab.sep_id and len(ids) == len(TEXTS[0]) + 6
    assert ids[h] == vocab.encode(MARKERS[0])[0] and ids[t] == vocab.encode(MARKERS[2])[0]
    with pytest.raises(ValueError, match="max_len 8"):
        encode_pair(vocab, TEXTS[0], M(0, 2), M(4, 6), max_len=8)
    model = tiny_model(vocab)
    assert model.labels == (NO_RELATION, "born_in", "works_for", "headquartered_in")
    encoded = encode_examples(model, vocab, tiny_examples())
    assert len(encoded) == 6 and sorted(e[3] for e in encoded) == [0, 0, 0, 1, 2, 3]
    ids, pos, labels = PairBatches(encoded, batch_size=5, seed=1, pad_id=vocab.pad_id)(3)
    assert ids.shape[0] == pos.shape[0] == labels.shape[0] == 5 and pos.shape[1] == 2
    assert torch.equal(ids, PairBatches(encoded, 5, 1, vocab.pad_id)(3)[0])
    with pytest.raises(ValueError, match="not among the model's labels"):
        encode_examples(model, vocab, [Ex(TEXTS[3], [M(0, 2), M(4, 6)], [R(0, 1, "founded_by")])])
    with pytest.raises(ValueError, match="at least two mentions"):
        PairBatches([], 4)
    with pytest.raises(ValueError, match="besides NO_RELATION"):
        RelationClassifier(model.encoder, [NO_RELATION])
    with pytest.raises(ValueError, match="one list per text"):
        extract(model, vocab, TEXTS[:2], [[]])
    with pytest.raises(TypeError, match="wrap it"):
        extract(model, vocab, TEXTS[0], [[]])
    with pytest.raises(TypeError, match="decode it first"):
        extract(model, vocab, [TEXTS[0].encode()], [[]])
    with pytest.raises(TypeError, match="one list of"):
        extract(model, vocab, TEXTS[:1], None)
    assert extract(model, vocab, [""], [[]]) == set()          # no mentions: no triples


def test_scores_exclude_no_relation_and_attribute_errors():
    gold = ["born_in", NO_RELATION, "works_for", NO_RELATION]
    pred = ["born_in", "works_for", NO_RELATION, NO_RELATION]
    s = relation_scores(gold, pred)
    assert s["micro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}   # the two right "none"s count for nothing
    assert s["born_in"]["f1"] == 1.0 and s["works_for"]["support"] == 1
    with pytest.raises(ValueError, match="one per pair"):
        relation_scores(gold, pred[:3])
    h, t, x = (0, 2, "PER"), (4, 6, "LOC"), (3, 6, "LOC")
    g = {(0, h, "born_in", t), (1, h, "works_for", t)}
    p = {(0, h, "born_in", x), (1, h, "born_in", t)}
    assert triple_scores(g, p) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 2, "fn": 2}
    gold_m = {(0, h), (0, t), (1, h), (1, t)}
    pred_m = {(0, h), (0, x), (1, h), (1, t)}
    # sentence 0: NER cut the place wrong (miss + spurious); sentence 1: RE chose the wrong relation
    assert attribute_errors(g, p, gold_m, pred_m) == {"fn_ner": 1, "fn_re": 1, "fp_ner": 1, "fp_re": 1}
    assert triple_scores(g, g)["f1"] == 1.0 and triple_scores(set(), set())["f1"] == 0.0


def test_a_tiny_run_learns(vocab):
    torch.manual_seed(0)
    model = tiny_model(vocab)
    examples = tiny_examples()
    cfg = TrainConfig(max_steps=80, lr=1e-2, warmup_steps=5, weight_decay=0.0, amp=None, progress=False)
    hist = fit_relations(model, examples, vocab, cfg, batch_size=8)
    assert hist.train_loss[-1] < 0.1 * hist.train_loss[0]
    gold, pred = predict_examples(model, vocab, examples)
    assert pred == gold and relation_scores(gold, pred)["micro"]["f1"] == 1.0
    triples, _ = gold_triples(examples)
    spans = [[(m.start, m.end, m.label) for m in e.mentions] for e in examples]
    assert extract(model, vocab, [e.text for e in examples], spans) == triples
