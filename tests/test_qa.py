"""The extractive QA reader (tasks/qa.py): shapes, the span decoding against brute force, character
offsets through windows, SQuAD-style metrics, bad input, save/load and a tiny overfit run."""

import itertools

import pytest
import torch

from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.tasks.qa import (QAModel, SpanBatches, SpanExtractor, best_span, char_f1, collate, context_room,
                                  evaluate_qa, exact_match, features, normalize_answer, span_loss, training_rows)
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHARS = "的是在哪里出生年城市人口公司谁创办王李张伟芳青云州阳约有万０１２３４５６７８９，。？"
EXAMPLES = [   # question, context, answer, answer_start
    {"question": "王伟出生在哪里？", "context": "王伟出生在青州。李芳出生在云阳。", "answer": "青州", "answer_start": 5},
    {"question": "李芳出生在哪里？", "context": "王伟出生在青州。李芳出生在云阳。", "answer": "云阳", "answer_start": 13},
    {"question": "青州有多少人口？", "context": "云阳约有12万人口。青州约有305万人口。", "answer": "305万",
     "answer_start": 14},
    {"question": "谁创办了云阳公司？", "context": "张伟创办了云阳公司。", "answer": "张伟", "answer_start": 0},
]


def tiny(max_len=48, seed=0):
    torch.manual_seed(seed)
    vocab = BertVocab(CharTokenizer(CHARS, unk="<unk>"))
    enc = BertLike(BertConfig(vocab.vocab_size, max_len=max_len, d_model=32, n_head=2, n_layer=2, dropout=0.0))
    return QAModel.from_encoder(enc, vocab, dropout=0.0), vocab


def test_shapes_and_masking():
    reader, vocab = tiny()
    feats = [f for e in EXAMPLES for f in features(vocab, e["question"], e["context"], 48)]
    ids, segments, mask = collate(feats)
    assert ids.shape == segments.shape == mask.shape == (4, max(len(f.ids) for f in feats))
    start, end = reader.model(ids, segments, mask)
    assert start.shape == end.shape == ids.shape
    assert torch.isinf(start[~mask]).all() and torch.isfinite(start[mask]).all()
    # segments: 0 on [CLS] question [SEP], 1 on context [SEP]; the mask covers exactly the context
    f = feats[0]
    q, c = EXAMPLES[0]["question"], EXAMPLES[0]["context"]
    assert f.ids[0] == vocab.cls_id and f.ids[len(q) + 1] == vocab.sep_id and f.ids[-1] == vocab.sep_id
    assert f.segments == [0] * (len(q) + 2) + [1] * (len(c) + 1)
    assert mask[0].nonzero().flatten().tolist() == list(range(len(q) + 2, len(q) + 2 + len(c)))
    loss = span_loss(reader.model, (ids, segments, mask, torch.tensor([7] * 4), torch.tensor([8] * 4)))
    loss.backward()
    assert loss.ndim == 0 and reader.model.qa_head.weight.grad is not None
    assert reader.model.encoder.nsp_head.weight.grad is None          # pretraining-only heads frozen


def test_best_span_is_the_brute_force_best():
    g = torch.Generator().manual_seed(1)
    for T, max_chars in [(6, 3), (7, 1), (9, 20)]:
        start, end = torch.randn(5, T, generator=g), torch.randn(5, T, generator=g)
        start[:, 0] = end[:, 0] = float("-inf")                      # [CLS]: not context
        start[2, -2:] = end[2, -2:] = float("-inf")                  # a shorter row
        s, e, score = best_span(start, end, max_chars)
        for b in range(5):
            allowed = [(i, j) for i, j in itertools.product(range(T), repeat=2)
                       if i <= j < i + max_chars and torch.isfinite(start[b, i]) and torch.isfinite(end[b, j])]
            i, j = max(allowed, key=lambda ij: float(start[b, ij[0]] + end[b, ij[1]]))
            assert (int(s[b]), int(e[b])) == (i, j)
            assert float(score[b]) == pytest.approx(float(start[b, i] + end[b, j]))
    with pytest.raises(ValueError, match="max_answer_chars"):
        best_span(start, end, 0)


def test_offsets_round_trip_with_ascii_digits_and_windows():
    _, vocab = tiny()
    # ASCII digits read as the vocabulary's full-width ones, still one id per character
    f = features(vocab, "青州有多少人口？", "青州约有305万人口。", 48)[0]
    assert f.ids[f.first:f.first + f.n] == vocab.encode("青州约有３０５万人口。")
    # a context longer than the room: half-overlapping windows; every answer position maps back
    question, context = "青州有多少人口？", "云阳约有12万人口。" * 6 + "青州约有305万人口。"
    room = context_room(48, question)
    feats = features(vocab, question, context, 48)
    assert len(feats) > 1 and all(f.n <= room and len(f.ids) <= 48 for f in feats)
    assert feats[0].offset == 0 and feats[-1].offset + feats[-1].n == len(context)
    a = context.index("305万")
    rows = training_rows([{"question": question, "context": context, "answer": "305万", "answer_start": a}],
                         vocab, 48)
    assert rows
    for f, s, e in rows:                                  # position -> character -> the answer
        assert context[f.offset + s - f.first:f.offset + e - f.first + 1] == "305万"
        assert vocab.decode(f.ids[s:e + 1]) == "３０５万"
    with pytest.raises(ValueError, match="example 0: question of 100"):
        long_question = {"question": "青" * 100, "context": context, "answer": "305万", "answer_start": a}
        training_rows([long_question], vocab, 48)
    with pytest.raises(ValueError, match="not at character"):
        training_rows([{"question": question, "context": context, "answer": "305万", "answer_start": 0}], vocab, 48)


def test_answers_come_from_the_context_across_windows():
    reader, vocab = tiny()
    question, context = "青州有多少人口？", "云阳约有12万人口。" * 6 + "青州约有305万人口。"
    (s, e, _), = reader.spans([question], [context])
    assert 0 <= s < e <= len(context) and e - s <= reader.max_answer_chars
    assert reader.answer([question], [context]) == [context[s:e]]


def test_metrics_on_hand_examples():
    assert normalize_answer(" 2,999 元。") == "2999元"
    assert normalize_answer("１９８５年") == "1985年"               # NFKC: full-width digits
    assert exact_match("１９８５年", "1985年") == 1.0
    assert exact_match("青州市", "青州") == 0.0
    assert char_f1("青州市", "青州") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert char_f1("云阳", "青州") == 0.0
    assert char_f1("。", "") == 1.0 and char_f1("青", "") == 0.0
    assert char_f1("青青", "青") == pytest.approx(2 * 0.5 * 1 / 1.5)   # characters as a multiset
    r = evaluate_qa(["青州", "云阳市", "张伟"], ["青州", "云阳", "李芳"])
    assert r["n"] == 3 and r["em"] == pytest.approx(1 / 3)
    assert r["f1"] == pytest.approx((1 + 0.8 + 0) / 3)
    with pytest.raises(ValueError):
        evaluate_qa(["a"], [])


def test_bad_input():
    reader, _ = tiny()
    assert reader.answer([], []) == []
    with pytest.raises(TypeError, match="question 1"):
        reader.answer(["青州？", 3], ["青州。", "云阳。"])
    with pytest.raises(TypeError, match="context 0"):
        reader.answer(["青州？"], [None])
    with pytest.raises(TypeError, match="list"):
        reader.answer("青州？", "青州。")
    with pytest.raises(ValueError, match="question 1"):
        reader.answer(["青州？", "  "], ["青州。", "云阳。"])
    with pytest.raises(ValueError, match="context 0"):
        reader.answer(["青州？"], [""])
    with pytest.raises(ValueError, match="2 questions but 1 contexts"):
        reader.answer(["青州？", "云阳？"], ["青州。"])
    with pytest.raises(ValueError, match="question 0.*max_question_chars"):
        reader.answer(["青" * 100], ["青州。"])
    with pytest.raises(TypeError, match="BertLike"):
        SpanExtractor(torch.nn.Linear(2, 2))


def test_save_load_round_trip(tmp_path):
    reader, _ = tiny(seed=3)
    path = tmp_path / "qa.safetensors"
    reader.save(path)
    loaded = QAModel.load(path)
    questions = [e["question"] for e in EXAMPLES]
    contexts = [e["context"] for e in EXAMPLES]
    assert loaded.spans(questions, contexts) == reader.spans(questions, contexts)
    assert loaded.max_answer_chars == reader.max_answer_chars
    assert loaded.vocab.encode("青州") == reader.vocab.encode("青州")
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError):
        QAModel.load(tmp_path / "bad.safetensors")


def test_length_groups_keep_the_draw_and_cut_it_by_length():
    _, vocab = tiny()
    many = [dict(e, context=e["context"] + "。" * k) for k in range(12) for e in EXAMPLES]
    rows = training_rows(many, vocab, 48)
    plain, grouped = SpanBatches(rows, 4, seed=1), SpanBatches(rows, 4, seed=1, length_groups=3)
    assert torch.equal(plain(5)[0], SpanBatches(rows, 4, seed=1)(5)[0])        # depends on the step only
    assert all(torch.equal(a, b) for a, b in zip(grouped(4), grouped(4)))
    lengths = [sorted(int(n) for n in (grouped(s)[0] != 0).sum(1)) for s in range(3, 6)]   # one group
    spans = sorted((ls[0], ls[-1]) for ls in lengths)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))              # batches cut a sorted draw
    with pytest.raises(ValueError, match="length_groups"):
        SpanBatches(rows, 4, length_groups=0)


def test_tiny_overfit_finds_the_right_spans():
    reader, vocab = tiny(seed=0)
    rows = training_rows(EXAMPLES, vocab, 48)
    batches = SpanBatches(rows, 4, seed=0)
    assert [len(t) for t in batches(0)] == [4] * 5
    config = TrainConfig(max_steps=60, lr=1e-2, warmup_steps=5, progress=False)
    history = reader.fit(EXAMPLES, config, batch_size=8)
    assert history.train_loss[-1] < history.train_loss[0] / 5
    assert not reader.model.training
    got = reader.answer([e["question"] for e in EXAMPLES], [e["context"] for e in EXAMPLES])
    assert got == [e["answer"] for e in EXAMPLES]
