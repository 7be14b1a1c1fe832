import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook_lib import data
from llmbook_lib.text.bpe import (BYTE_TO_CHAR, BPETokenizer, hf_byte_level_bpe, hf_merges, hf_token_bytes,
                             pretokenize)

MIXED = "大语言模型 LLM 🤖 ça va? 𠀀 ①②Ⅱ x² _snake_case 1998年\n\n\tend  \n"


def merges_as_bytes(tok: BPETokenizer) -> list[tuple[bytes, bytes]]:
    return [(tok.vocab[a], tok.vocab[b]) for a, b, _ in tok.merges]


def assert_same_as_tokenizers(text: str, vocab_size: int) -> BPETokenizer:
    mine = BPETokenizer.train(text, vocab_size)
    hf = hf_byte_level_bpe(text, vocab_size)
    assert mine.vocab_size == hf.get_vocab_size()
    assert merges_as_bytes(mine) == hf_merges(hf)
    hb = hf_token_bytes(hf)
    sample = text[: len(text) // 4]
    assert [mine.vocab[i] for i in mine.encode(sample)] == [hb[i] for i in hf.encode(sample).ids]
    return mine


@pytest.fixture(scope="module")
def small_en() -> BPETokenizer:
    return BPETokenizer.train(data.tiny_shakespeare()[:50_000], 400)


def test_same_merges_and_encodings_as_tokenizers_on_shakespeare():
    assert_same_as_tokenizers(data.tiny_shakespeare()[:150_000], 700)


def test_same_merges_and_encodings_as_tokenizers_on_peoples_daily():
    assert_same_as_tokenizers(data.peoples_daily_text()[:40_000], 700)   # raw text, with ① and full-width digits


def test_same_merges_with_many_ties_and_rare_characters():
    # every pair occurs once or twice: the order of merges is decided by tie-breaking alone
    assert_same_as_tokenizers("abcd efgh abcd ijkl " + MIXED * 2, 300)


def test_training_stops_when_no_pair_is_left():
    tok = BPETokenizer.train("aaaa", 1000)
    assert [t for t in tok.vocab[256:]] == [b"aa", b"aaaa"]
    assert tok.encode("aaaa") == [tok.vocab.index(b"aaaa")]
    assert tok.decode(tok.encode("aaaaa")) == "aaaaa"


def test_merges_shrink_the_encoding(small_en):
    text = data.tiny_shakespeare()[60_000:70_000]
    ids = small_en.encode(text)
    assert len(ids) < 0.6 * len(text.encode())
    assert small_en.decode(ids) == text


@pytest.mark.parametrize("text", [MIXED, "", "\ud800 lone surrogate", "中文，标点。" * 3, "\x00\x1c\x1f\u200b"])
def test_round_trip_special_strings(small_en, text):
    ids = small_en.encode(text)
    assert all(0 <= i < small_en.vocab_size for i in ids)
    assert small_en.decode(ids) == text


@given(st.text())
@settings(max_examples=200, deadline=None)
def test_round_trip_any_string(text):
    tok = _mixed_tok()
    assert tok.decode(tok.encode(text)) == text
    assert "".join(pretokenize(text)) == text


_CACHE: dict = {}


def _mixed_tok() -> BPETokenizer:
    if "t" not in _CACHE:
        _CACHE["t"] = BPETokenizer.train(MIXED * 5 + data.tiny_shakespeare()[:5000], 350)
    return _CACHE["t"]


# Python's \s also matches U+001C..U+001F (Oniguruma's does not; data.cleaning.normalize removes
# them), and characters newer than Python's Unicode database (category Cn here) are not letters
@given(st.text(alphabet=st.characters(blacklist_characters="\x1c\x1d\x1e\x1f", blacklist_categories=("Cs", "Cn"))))
@settings(max_examples=300, deadline=None)
def test_pretokenize_matches_tokenizers_byte_level(text):
    from tokenizers import pre_tokenizers

    theirs = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True).pre_tokenize_str(text)
    char_to_byte = {c: b for b, c in BYTE_TO_CHAR.items()}
    assert [p.encode() for p in pretokenize(text)] == [bytes(char_to_byte[c] for c in s) for s, _ in theirs]


def test_decode_partial_character_and_bad_ids(small_en):
    ids = small_en.encode("中")                     # three bytes, no merge for them in an English BPE
    assert small_en.decode(ids[:2]) == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        small_en.decode(ids[:2], errors="strict")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        small_en.decode([small_en.vocab_size])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        small_en.decode([-1])


def test_invalid_inputs():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train("hello", 100)
    with pytest.raises(ValueError, match="empty text"):
        BPETokenizer.train("", 300)
    with pytest.raises(TypeError, match="takes a str"):
        BPETokenizer.train("hello hello", 260).encode(b"hello")
    with pytest.raises(ValueError, match="256 single bytes"):
        BPETokenizer([b"a"], [])
    vocab = [bytes([b]) for b in range(256)] + [b"xy"]
    with pytest.raises(ValueError, match="is not"):
        BPETokenizer(vocab, [(ord("a"), ord("b"), 256)])


def test_json_round_trip_and_determinism(small_en):
    again = BPETokenizer.from_json(small_en.to_json())
    assert again.vocab == small_en.vocab and again.merges == small_en.merges
    retrained = BPETokenizer.train(data.tiny_shakespeare()[:50_000], 400)
    assert retrained.merges == small_en.merges
    with pytest.raises(ValueError, match="not a BPETokenizer"):
        BPETokenizer.from_json('{"type": "char"}')


def test_documents_train_like_tokenizers_train_from_iterator():
    docs = data.peoples_daily_text().splitlines()[:300] + data.tiny_shakespeare()[:20_000].split("\n\n")
    mine = BPETokenizer.train(docs, 500)
    assert merges_as_bytes(mine) == hf_merges(hf_byte_level_bpe(docs, 500))


def test_truncated_equals_training_with_the_smaller_vocabulary(small_en):
    text = data.tiny_shakespeare()[:50_000]
    small = BPETokenizer.train(text, 300)
    cut = small_en.truncated(300)
    assert cut.merges == small.merges and cut.vocab == small.vocab
    assert small_en.truncated(256).merges == []
    with pytest.raises(ValueError, match="vocab_size"):
        small_en.truncated(small_en.vocab_size + 1)


def test_to_hf_encodes_with_the_same_ids(small_en):
    text = data.tiny_shakespeare()[80_000:90_000] + MIXED
    hf = small_en.to_hf()
    assert hf.encode(text).ids == small_en.encode(text)
    assert hf.decode(small_en.encode(text)) == text
