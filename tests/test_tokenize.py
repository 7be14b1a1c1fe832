import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook_lib.text.tokenize import ByteTokenizer, CharTokenizer, tokenizer_from_json

MIXED = "大语言模型 LLM 🤖 ça va? 𠀀\n\t"


@given(st.text())
@settings(max_examples=200, deadline=None)
def test_char_round_trip_on_its_own_text(text):
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert all(0 <= i < tok.vocab_size for i in tok.encode(text))


@given(st.text())
@settings(max_examples=200, deadline=None)
def test_byte_round_trip_any_string(text):
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert all(0 <= i < 256 for i in ids)
    assert tok.decode(ids) == text
    assert len(ids) == len(text.encode("utf-8", "surrogatepass"))


@given(st.binary())
def test_byte_round_trip_any_bytes(data):
    tok = ByteTokenizer()
    assert tok.decode_bytes(tok.encode(data)) == data


def test_chinese_and_emoji():
    tok = CharTokenizer.from_text(MIXED)
    assert tok.decode(tok.encode(MIXED)) == MIXED
    assert len(tok.encode("🤖")) == 1          # one code point, one token
    assert len(ByteTokenizer().encode("🤖")) == 4


def test_unknown_character_raises_naming_it():
    tok = CharTokenizer.from_text("你好")
    with pytest.raises(ValueError, match="'吗'.*U\\+5417"):
        tok.encode("你好吗")


def test_unknown_character_maps_to_unk_when_asked():
    tok = CharTokenizer.from_text("你好", unk="<unk>")
    ids = tok.encode("你好吗")
    assert ids[-1] == tok.unk_id == 0
    assert tok.decode(ids) == "你好<unk>"


def test_max_vocab_keeps_most_frequent():
    tok = CharTokenizer.from_text("aaabbc", unk="<unk>", max_vocab=3)
    assert tok.itos == ["<unk>", "a", "b"]
    assert tok.encode("c") == [0]
    with pytest.raises(ValueError, match="unk"):
        CharTokenizer.from_text("aaabbc", max_vocab=3)


def test_decode_rejects_out_of_range_ids():
    tok = CharTokenizer.from_text("ab")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([5])
    with pytest.raises(ValueError):
        ByteTokenizer().decode([256])


def test_json_round_trip():
    from llmbook_lib.text.bpe import BPETokenizer
    bpe = BPETokenizer.train(MIXED * 20, vocab_size=300)
    for tok in (CharTokenizer.from_text(MIXED), CharTokenizer.from_text(MIXED, unk="<unk>"), ByteTokenizer(), bpe):
        again = tokenizer_from_json(tok.to_json())
        assert type(again) is type(tok) and again.encode(MIXED) == tok.encode(MIXED)
    assert len(bpe.encode(MIXED)) < len(MIXED.encode("utf-8"))          # the merges were kept
    with pytest.raises(ValueError, match="unknown tokenizer type 'wordpiece'"):
        tokenizer_from_json('{"type": "wordpiece"}')
