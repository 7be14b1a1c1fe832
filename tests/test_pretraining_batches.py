import pytest
import torch

from llmbook_lib.data.pretraining import BertBatches, PLMBatches, encode_documents, sentence_documents
from llmbook_lib.data.pretraining import BertVocab, permutation_masks
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.text.tokenize import CharTokenizer

PARAGRAPHS = ["今天天气很好。我们去公园散步！", "", "中国经济持续发展。人民生活不断提高。改革开放继续前进？",
              "新年好。", "新华社北京电。记者报道。"]


@pytest.fixture(scope="module")
def setup():
    docs = sentence_documents(PARAGRAPHS)
    base = CharTokenizer.from_text("".join(PARAGRAPHS).replace("散", ""), unk="<unk>")
    vocab = BertVocab(base)
    return docs, vocab, encode_documents(docs, vocab)


def test_sentence_documents_drop_empty_paragraphs_and_cut_sentences(setup):
    docs, vocab, ids = setup
    assert len(docs) == 4 and docs[0] == ["今天天气很好。", "我们去公园散步！"]
    assert vocab.decode(ids[1][2]) == "改革开放继续前进？"


def test_bert_batches_are_deterministic_and_well_formed(setup):
    _, vocab, ids = setup
    batches = BertBatches(ids, vocab, batch_size=64, max_len=20, seed=3)
    x, seg, labels, is_next = batches(5)
    for a, b in zip((x, seg, labels, is_next), batches(5)):
        assert torch.equal(a, b)                                  # depends only on (seed, step)
    assert not torch.equal(x, batches(6)[0])
    assert x.shape == seg.shape == labels.shape and x.size(0) == 64 and x.size(1) <= 20
    assert (x[:, 0] == vocab.cls_id).all() and 0 < is_next.float().mean() < 1
    selected = labels != -100
    assert selected.any()
    originals = labels[selected]
    assert (originals >= vocab.offset).all()                      # specials are never targets
    unk = vocab.base.unk_id + vocab.offset
    assert (originals != unk).all()                               # <unk> is never a target ...
    assert ((x == unk) <= ~selected).all()                        # ... nor put in as a replacement
    assert (seg[x == vocab.pad_id] == 0).all()


def test_bert_batches_feed_bertlike(setup):
    _, vocab, ids = setup
    x, seg, labels, is_next = BertBatches(ids, vocab, batch_size=8, max_len=24, seed=0)(0)
    model = BertLike(BertConfig(vocab_size=vocab.vocab_size, max_len=24, d_model=16, n_head=2, n_layer=1))
    out = model(x, seg, labels, is_next)
    assert torch.isfinite(out.loss) and out.mlm_logits.shape == ((labels != -100).sum().item(), vocab.vocab_size)


def test_plm_batches_label_the_last_positions_of_each_order():
    stream = torch.arange(4, 200)
    batches = PLMBatches(stream, max_len=12, batch_size=16, predict=3, seed=1)
    ids, orders, labels = batches(7)
    for a, b in zip((ids, orders, labels), batches(7)):
        assert torch.equal(a, b)
    assert ids.shape == orders.shape == labels.shape == (16, 12)
    assert ((ids[:, 1:] - ids[:, :-1]) == 1).all()                # contiguous windows of the stream
    for row in range(16):
        assert sorted(orders[row].tolist()) == list(range(12))
        labelled = (labels[row] != -100).nonzero().flatten().tolist()
        assert sorted(labelled) == sorted(orders[row, -3:].tolist())
        assert torch.equal(labels[row, labelled], ids[row, labelled])
        # a labelled position's query stream sees exactly the 9 positions before it in the order ... or more
        _, query = permutation_masks(orders[row])
        assert all(query[i].sum() >= 9 for i in labelled)


def test_plm_batches_reject_bad_sizes():
    with pytest.raises(ValueError, match="predict"):
        PLMBatches(torch.arange(100), max_len=10, batch_size=2, predict=11)
    with pytest.raises(ValueError, match="max_len"):
        PLMBatches(torch.arange(10), max_len=10, batch_size=2, predict=1)


def test_pad_rows_right_pads_and_rejects_no_rows():
    from llmbook_lib.data.batches import pad_rows

    out = pad_rows([[1, 2, 3], [4]], value=0)
    assert out.dtype == torch.long and out.tolist() == [[1, 2, 3], [4, 0, 0]]
    with pytest.raises(ValueError, match="at least one row"):
        pad_rows([], value=0)
