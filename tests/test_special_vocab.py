"""SpecialVocab: special tokens in front of any tokenizer, and the vocabularies built on it."""

import json
import subprocess
import sys

import pytest

from llmbook_lib.data.numbers import SRC_VOCAB, TGT_VOCAB, Vocab
from llmbook_lib.data.pretraining import BertVocab
from llmbook_lib.text.bpe import BPETokenizer
from llmbook_lib.text.tokenize import (BOS_ID, EOS_ID, PAD_ID, ByteTokenizer, CharTokenizer, SpecialVocab, Tokenizer,
                                  tokenizer_from_json)
from llmbook_lib.models.transformer import TransformerConfig

TEXT = "人民日报，今天天气很好。"
BERT = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")


def bases():
    return [CharTokenizer.from_text(TEXT), CharTokenizer.from_text(TEXT, unk="<unk>"), ByteTokenizer(),
            BPETokenizer.train(TEXT * 3, vocab_size=270)]


@pytest.mark.parametrize("base", bases(), ids=["char", "char-unk", "byte", "bpe"])
def test_round_trip_and_offset(base):
    v = SpecialVocab(base, BERT)
    assert isinstance(v, Tokenizer) and isinstance(base, Tokenizer)
    ids = v.encode(TEXT)
    assert v.decode(ids) == TEXT
    assert ids == [i + 4 for i in base.encode(TEXT)]
    assert v.vocab_size == base.vocab_size + 4 == len(v)
    # specials are placed by id: the text "[MASK]" never encodes to a special id
    if base.unk_id is not None or not base.unknown("[MASK]"):
        assert min(v.encode("[MASK][PAD]" + TEXT)) >= 4
    assert v.decode([v.cls_id, *ids, v.sep_id, v.pad_id]) == "[CLS]" + TEXT + "[SEP][PAD]"
    again = tokenizer_from_json(v.to_json())
    assert isinstance(again, SpecialVocab) and again.encode(TEXT) == ids and again.mask_id == 3


def test_named_ids():
    v = SpecialVocab(ByteTokenizer(), ("<pad>", "<s>", "</s>", "<sep2>"), roles={"<sep2>": "sep"})
    assert (v.pad_id, v.bos_id, v.eos_id, v.sep_id) == (0, 1, 2, 3)
    assert v.id("</s>") == 2 and v.special_ids == (0, 1, 2, 3)
    assert v.decode([1, *v.encode("é"), 2]) == "<s>é</s>"          # a multi-byte run stays whole


def test_bad_input():
    v = SpecialVocab(ByteTokenizer(), BERT)
    with pytest.raises(ValueError, match=r"'\[UNK\]' is not a special token .*\[PAD\], \[CLS\]"):
        v.id("[UNK]")
    with pytest.raises(AttributeError, match="no bos token"):
        v.bos_id
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.decode([260])
    with pytest.raises(ValueError, match="distinct"):
        SpecialVocab(ByteTokenizer(), ("[PAD]", "[PAD]"))
    with pytest.raises(ValueError, match="not among the specials"):
        SpecialVocab(ByteTokenizer(), ("[PAD]",), roles={"[MASK]": "mask"})
    with pytest.raises(ValueError, match="same role"):
        SpecialVocab(ByteTokenizer(), ("[PAD]", "<pad>"))
    with pytest.raises(ValueError, match="differ from BertVocab.SPECIALS"):
        BertVocab.from_json(SpecialVocab(ByteTokenizer(), ("[PAD]", "[MASK]")).to_json())


def test_unknown_and_unk():
    strict = SpecialVocab(CharTokenizer.from_text("今天"), BERT)
    assert strict.unk_id is None and strict.unknown("今日天日") == ["日"]
    lenient = BertVocab(CharTokenizer.from_text("今天", unk="<unk>"))
    assert lenient.unk_id == 4 and lenient.non_word_ids == (0, 1, 2, 3, 4)
    assert SpecialVocab(ByteTokenizer(), BERT).unknown("日") == []


def test_layouts_of_shipped_vocabularies():
    """bert-zh-char and the numbers model depend on these exact ids."""
    v = BertVocab(CharTokenizer.from_text(TEXT))
    assert v.specials == BertVocab.SPECIALS == BERT
    assert (v.pad_id, v.cls_id, v.sep_id, v.mask_id) == (BertVocab.pad_id, BertVocab.cls_id,
                                                          BertVocab.sep_id, BertVocab.mask_id) == (0, 1, 2, 3)
    again = BertVocab.from_json(v.to_json())
    assert type(again) is BertVocab and again.encode(TEXT) == v.encode(TEXT)
    assert SRC_VOCAB.itos == ["<pad>", "<s>", "</s>", *"0123456789"]
    assert TGT_VOCAB.itos == ["<pad>", "<s>", "</s>", *"零一二三四五六七八九十百千万"]
    for voc in (SRC_VOCAB, TGT_VOCAB, Vocab("ab")):
        ids = (voc.pad_id, voc.bos_id, voc.eos_id)
        assert ids == (Vocab.pad_id, Vocab.bos_id, Vocab.eos_id) == (PAD_ID, BOS_ID, EOS_ID)
    assert TGT_VOCAB.encode("二万零一") == [5, 16, 3, 4] and TGT_VOCAB.stoi["万"] == 16
    c = TransformerConfig.from_vocabs(SRC_VOCAB, TGT_VOCAB, d_model=32)
    d = TransformerConfig(src_vocab_size=13, tgt_vocab_size=17, d_model=32)
    assert c == d
    assert json.loads(TGT_VOCAB.to_json())["specials"] == ["<pad>", "<s>", "</s>"]
    assert type(Vocab.from_json(TGT_VOCAB.to_json())) is Vocab


def test_data_package_imports_no_layers():
    code = ("import sys, llmbook_lib.data.pretraining\n"
            "bad = [m for m in sys.modules if m.startswith('llmbook_lib.models')]\n"
            "assert not bad, bad\n"
            "import llmbook_lib.data\n"
            "assert 'faker' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
