import pytest
import torch

from llmbook_lib.data.pretraining import BertVocab
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.text.tokenize import CharTokenizer
from llmbook_lib.viz.cloze import cloze_input, cloze_widget, fill_blanks


@pytest.fixture(scope="module")
def model_vocab():
    vocab = BertVocab(CharTokenizer.from_text("今天天气很好我们去公园散步。", unk="<unk>"))
    torch.manual_seed(0)
    model = BertLike(BertConfig(vocab_size=vocab.vocab_size, max_len=16, d_model=16, n_head=2, n_layer=1))
    return model.train(), vocab


def test_blank_marks_parse_to_one_mask_each(model_vocab):
    _, vocab = model_vocab
    ids, pieces, blanks, unknown, msg = cloze_input("今天＿气很_[MASK]。", vocab, 16)
    assert msg == "" and unknown == []
    assert pieces == ["今", "天", "[MASK]", "气", "很", "[MASK]", "[MASK]", "。"] and blanks == [2, 5, 6]
    assert ids[0] == vocab.cls_id and ids[-1] == vocab.sep_id and len(ids) == len(pieces) + 2
    assert [ids[b + 1] for b in blanks] == [vocab.mask_id] * 3


@pytest.mark.parametrize("text, words", [("", "输入"), ("   ", "输入"), ("今天天气很好。", "没有空"),
                                         ("＿＿", "上下文"), ("今" * 14 + "＿", "最大长度")])
def test_bad_input_gets_a_chinese_message(model_vocab, text, words):
    _, vocab = model_vocab
    ids, *_, msg = cloze_input(text, vocab, 16)
    assert ids is None and words in msg
    with pytest.raises(ValueError, match=words):
        fill_blanks(model_vocab[0], vocab, text)


def test_unknown_characters_are_read_as_unk_and_reported(model_vocab):
    model, vocab = model_vocab
    result = fill_blanks(model, vocab, "今天很冷＿", top_k=3)
    assert result.unknown == ["冷"] and "「冷」" in result.to_text()


def test_without_unk_unknown_characters_are_refused():
    vocab = BertVocab(CharTokenizer.from_text("今天好"))
    *_, msg = cloze_input("今天冷＿", vocab, 16)
    assert "「冷」" in msg


def test_fill_blanks_ranks_ordinary_characters_and_restores_mode(model_vocab):
    model, vocab = model_vocab
    result = fill_blanks(model, vocab, "今天天气很＿。", top_k=4)
    assert model.training
    (cands,) = result.candidates
    probs = [p for _, p in cands]
    assert len(cands) == 4 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert all(c not in vocab.SPECIALS and c != "<unk>" for c, _ in cands)
    assert result.filled == "今天天气很" + cands[0][0] + "。"
    assert cands[0][0] in result.to_html()


def test_widget_builds_and_shows_a_result(model_vocab):
    model, vocab = model_vocab
    w = cloze_widget(model, vocab, text="我们去公＿。")
    assert len(w.children) == 2
