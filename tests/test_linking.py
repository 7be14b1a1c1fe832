"""Entity linking (tasks.linking): mention marking, the two baselines, the contrastive loss, the
bi-encoder and cross-encoder shapes and batches, bad input, and a tiny training run that
separates two entities of the same name by their context."""

import math

import pytest
import torch

from llmbook_lib.data.world.records import Candidate, LinkingExample, Mention
from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.tasks import linking as L
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig

TEXTS = ["王林生于北京，是医生。", "王林生于上海，是教师。", "王林在北京的医院工作。", "王林在上海的学校教书。"]
DESC = {"a": "王林（生于北京的医生）", "b": "王林（生于上海的教师）"}
VOCAB = BertVocab(CharTokenizer.from_text("".join(TEXTS + list(DESC.values())) + "".join(L.MARKS), unk="<unk>"))


def tiny_encoder(seed: int = 0) -> BertLike:
    torch.manual_seed(seed)
    return BertLike(BertConfig(VOCAB.vocab_size, max_len=64, d_model=32, n_head=2, n_layer=1, dropout=0.0))


def example(text: str, gold: str, cands=("a", "b"), names=("王林", "王林")) -> LinkingExample:
    m = Mention(0, 2, text[:2], "PER", gold, 0, 2)
    cs = [Candidate(c, n, DESC.get(c, n)) for c, n in zip(cands, names)]
    return LinkingExample("el-x", "zh", text, m, gold, cs, len(set(names)) < len(names))


def test_mark_mention_keeps_the_mention_and_the_window():
    text = "一二三四五六七八九十甲乙丙丁"
    out = L.mark_mention(text, 6, 8, window=6)
    assert out == "五六『七八』九十"
    assert L.mark_mention(text, 0, 2, window=4) == "『一二』三四"          # no room on the left
    assert L.mark_mention(text, 12, 14, window=4) == "甲乙『丙丁』"        # nor on the right
    assert L.mark_mention(text, 0, 14, window=3) == "『" + text + "』"    # a long mention is kept whole
    for start, end in [(3, 3), (-1, 2), (5, 20)]:
        with pytest.raises(ValueError, match="mention span"):
            L.mark_mention(text, start, end)


def test_name_match_and_prior():
    ex = example(TEXTS[0], "a", cands=("c", "b", "a"), names=("王森", "王林", "王林"))
    assert L.name_match(ex) == "b"                            # the first exact name: a guess
    counts = L.link_counts([example(TEXTS[0], "a"), example(TEXTS[2], "a"), example(TEXTS[1], "b")])
    assert counts[("王林", "a")] == 2
    assert L.prior_link(ex, counts) == "a"                    # linked most often in training
    assert L.prior_link(ex, L.link_counts([])) == "b"         # never seen: falls back to the name
    empty = example(TEXTS[0], "a", cands=(), names=())
    with pytest.raises(ValueError, match="no candidates"):
        L.name_match(empty)


def test_contrastive_loss_is_smallest_for_matching_pairs():
    torch.manual_seed(0)
    m = torch.nn.functional.normalize(torch.randn(6, 16), dim=-1)
    target = torch.arange(6)
    matched = L.contrastive_loss(20 * m @ m.T, target)
    for shift in range(1, 6):                                  # every other pairing costs more
        assert matched < L.contrastive_loss(20 * m @ m.roll(shift, 0).T, target)
    assert float(L.contrastive_loss(torch.zeros(4, 4), torch.arange(4))) == pytest.approx(math.log(4))
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        L.contrastive_loss(torch.zeros(4, 4), torch.arange(3))


def test_biencoder_shapes_scale_and_bad_input():
    bi = L.BiEncoder(tiny_encoder(), VOCAB, scale=10.0)
    m_ids = L.pad_rows([L.encode_mention(VOCAB, example(t, "a")) for t in TEXTS], 0)
    e_ids = L.pad_rows([L.encode_entity(VOCAB, d) for d in DESC.values()], 0)
    scores = bi(m_ids, e_ids)
    assert scores.shape == (4, 2)
    assert scores.abs().max() <= 10.0 + 1e-5                  # cosine times the scale
    with pytest.raises(ValueError, match="exactly one"):
        bi.embed_mentions(e_ids)                              # no marks: not a mention input
    with pytest.raises(ValueError, match="empty entity description"):
        L.encode_entity(VOCAB, "")
    with pytest.raises(ValueError, match="k must lie in 1..2"):
        L.retrieve(torch.zeros(3, 4), torch.zeros(2, 4), 3)
    with pytest.raises(ValueError, match="side"):
        L.embed(bi, [[1, 2]], "query")


def test_contrastive_batches_put_each_entity_once():
    e_ids = {k: L.encode_entity(VOCAB, d) for k, d in DESC.items()}
    m_ids = [L.encode_mention(VOCAB, example(t, "a")) for t in TEXTS]
    golds, hard = ["a", "b", "a", "b"], [["a", "b"]] * 4
    batches = L.ContrastiveBatches(m_ids, golds, hard, e_ids, batch_size=4, seed=0)
    m, e, target = batches(0)
    assert m.shape[0] == 4 and e.shape[0] == 2               # a and b once each, not 4 + 8 columns
    assert sorted(target.tolist()) == [0, 0, 1, 1]
    assert torch.equal(batches(3)[2], L.ContrastiveBatches(m_ids, golds, hard, e_ids, 4, seed=0)(3)[2])
    with pytest.raises(ValueError, match="no encoded description"):
        L.ContrastiveBatches(m_ids, ["a", "b", "a", "z"], hard, e_ids, 4)
    with pytest.raises(ValueError, match="one of each"):
        L.ContrastiveBatches(m_ids, golds[:3], hard, e_ids, 4)


def test_crossencoder_shapes_and_listwise_batches():
    ce = L.CrossEncoder(tiny_encoder(), VOCAB)
    e_ids = {k: L.encode_entity(VOCAB, d) for k, d in DESC.items()}
    m_ids = [L.encode_mention(VOCAB, example(t, "a")) for t in TEXTS]
    ids, segs = L.encode_pair(m_ids[0], e_ids["a"])
    assert ids[0] == VOCAB.cls_id and ids.count(VOCAB.cls_id) == 1 and ids.count(VOCAB.sep_id) == 2
    assert segs == [0] * len(m_ids[0]) + [1] * (len(e_ids["a"]) - 1)
    scores = L.rerank_scores(ce, m_ids, [[e_ids["a"], e_ids["b"]]] * 4)
    assert scores.shape == (4, 2)
    lb = L.ListwiseBatches(m_ids, [["a", "b"], ["b", "a"]] * 2, ["a", "b", "a", "b"], e_ids, batch_size=3)
    ids, segs, target = lb(0)
    assert ids.shape == segs.shape and ids.shape[0] == 6 and target.shape == (3,)
    assert L.crossencoder_loss(ce, (ids, segs, target)).ndim == 0
    with pytest.raises(ValueError, match="gold entity is not among"):
        L.ListwiseBatches(m_ids[:1], [["b", "b"]], ["a"], e_ids, 1)
    with pytest.raises(ValueError, match="same number"):
        L.ListwiseBatches(m_ids[:2], [["a", "b"], ["a"]], ["a", "a"], e_ids, 1)
    with pytest.raises(ValueError, match="same number"):
        L.rerank_scores(ce, m_ids[:2], [[e_ids["a"]], [e_ids["a"], e_ids["b"]]])


def test_tiny_training_separates_two_namesakes_by_context():
    """Two entities named 王林, one from 北京 and one from 上海: after a short contrastive run
    each mention's context retrieves the right one, which no name match can do."""
    torch.manual_seed(0)
    bi = L.BiEncoder(tiny_encoder(1), VOCAB, scale=10.0)
    golds = ["a", "b", "a", "b"]
    m_ids = [L.encode_mention(VOCAB, example(t, g)) for t, g in zip(TEXTS, golds)]
    e_ids = {k: L.encode_entity(VOCAB, d) for k, d in DESC.items()}
    batches = L.ContrastiveBatches(m_ids, golds, [["a", "b"]] * 4, e_ids, batch_size=4)
    hist = L.fit_biencoder(bi, batches, TrainConfig(max_steps=60, lr=3e-3, warmup_steps=5, amp=None,
                                                    progress=False))
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]
    mv = L.embed(bi, m_ids, "mention")
    ev = L.embed(bi, [e_ids["a"], e_ids["b"]], "entity")
    _, top = L.retrieve(mv, ev, 1)
    assert top[:, 0].tolist() == [0, 1, 0, 1]


def test_knowledge_base_covers_every_gold_entity():
    from llmbook_lib.data.world import make_world
    world = make_world()
    kb = L.knowledge_base(world)
    ids = {c.id for c in kb}
    assert len(ids) == len(kb) == len(world.corpus.entities)
    assert all(c.description.startswith(c.name) for c in kb)
    assert {x.gold for x in world.entity_linking("zh", split="test")} <= ids
