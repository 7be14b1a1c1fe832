import copy
import math

import pytest
import torch
import torch.nn.functional as F

from llmbook_lib.data.pretraining import (
    BertVocab,
    causal_lm_batch,
    mlm_mask,
    nsp_pairs,
    pack_pairs,
    permutation_masks,
    random_orders,
    split_sentences,
)
from llmbook_lib.models.attention import causal_mask
from llmbook_lib.models.bertlike import BertConfig, BertLike, two_stream_layer
from llmbook_lib.models.layers import EncoderLayer
from llmbook_lib.text.tokenize import CharTokenizer

PAD, CLS, SEP, MASK = 0, 1, 2, 3
V = 1000


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one thread is faster, and shared 2-core machines are not oversubscribed."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tokens(rows=400, T=128, seed=0):
    """Ordinary ids with [CLS] first, a [SEP] in the middle and at the end, padding after it."""
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(4, V, (rows, T), generator=g)
    t[:, 0], t[:, T // 2], t[:, -9] = CLS, SEP, SEP
    t[:, -8:] = PAD
    return t


def _mask(t, seed=1, **kw):
    return mlm_mask(t, mask_id=MASK, vocab_size=V, special_ids=(PAD, CLS, SEP, MASK),
                    generator=torch.Generator().manual_seed(seed), **kw)


# ---------------------------------------------------------------------------------------------
# MLM
# ---------------------------------------------------------------------------------------------
def test_mlm_selects_15_percent_and_splits_80_10_10():
    t = _tokens()
    inputs, labels = _mask(t)
    ordinary = t >= 4
    selected = labels != -100
    frac = selected.sum() / ordinary.sum()
    assert abs(frac.item() - 0.15) < 0.006, frac            # ~46k ordinary tokens: sd ~0.0017
    assert (labels[selected] == t[selected]).all()
    masked = (inputs == MASK) & selected
    kept = (inputs == t) & selected
    randomised = selected & ~masked & ~kept
    n = selected.sum().item()
    assert abs(masked.sum().item() / n - 0.8) < 0.015
    # a random draw equals the original with probability 1/996: "kept" is 0.1 + 0.1/996
    assert abs(kept.sum().item() / n - 0.1) < 0.012
    assert abs(randomised.sum().item() / n - 0.1) < 0.012
    assert (inputs[~selected] == t[~selected]).all()         # unselected positions untouched
    assert (inputs[randomised] >= 4).all()                  # random ids are never special


def test_mlm_never_touches_special_tokens():
    t = _tokens()
    for seed in range(5):
        inputs, labels = _mask(t, seed=seed, p=0.9)
        special = t < 4
        assert (inputs[special] == t[special]).all()
        assert (labels[special] == -100).all()


def test_mlm_is_deterministic_under_a_generator():
    t = _tokens(rows=8)
    a, b, c = _mask(t, seed=7), _mask(t, seed=7), _mask(t, seed=8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_mlm_split_is_configurable():
    t = _tokens(rows=20)
    inputs, labels = _mask(t, split=(1.0, 0.0, 0.0))
    sel = labels != -100
    assert sel.any() and (inputs[sel] == MASK).all()
    inputs, labels = _mask(t, split=(0.0, 0.0, 1.0))
    assert torch.equal(inputs, t)


@pytest.mark.parametrize("kw, match", [
    (dict(p=0.0), "p is the fraction"),
    (dict(p=1.5), "p is the fraction"),
    (dict(split=(0.5, 0.5, 0.5)), "split"),
    (dict(mask_id=V), "mask_id"),
])
def test_mlm_bad_arguments_raise(kw, match):
    args = dict(mask_id=MASK, vocab_size=V, special_ids=(PAD, CLS, SEP))
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        mlm_mask(_tokens(rows=2), **args)


def test_mlm_bad_tokens_raise():
    with pytest.raises(ValueError, match="integer tensor"):
        mlm_mask(torch.rand(2, 3), mask_id=MASK, vocab_size=V, special_ids=())
    with pytest.raises(ValueError, match="token ids must lie"):
        mlm_mask(torch.tensor([[5, V]]), mask_id=MASK, vocab_size=V, special_ids=())


# ---------------------------------------------------------------------------------------------
# NSP
# ---------------------------------------------------------------------------------------------
def _documents(n_docs=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(0, 9, (n_docs,), generator=g).tolist()     # some empty, some single
    return [[(d, s) for s in range(k)] for d, k in enumerate(sizes)]


def test_nsp_half_true_next_and_true_pairs_are_consecutive():
    docs = _documents()
    a, b, is_next = nsp_pairs(docs, 4000, generator=torch.Generator().manual_seed(0))
    assert len(a) == len(b) == len(is_next) == 4000
    assert abs(is_next.float().mean().item() - 0.5) < 0.03
    for (da, sa), (db, sb), y in zip(a, b, is_next.tolist()):
        assert sa + 1 < len(docs[da]) + 1 and len(docs[da]) >= 2
        if y:
            assert (db, sb) == (da, sa + 1)                  # the sentence that really follows
        else:
            assert db != da                                  # from another document
    negatives = {db for (da, _), (db, _), y in zip(a, b, is_next.tolist()) if not y}
    assert len(negatives) > 20                               # spread over many documents


def test_nsp_is_deterministic_and_checks_its_corpus():
    docs = _documents()
    r1 = nsp_pairs(docs, 50, generator=torch.Generator().manual_seed(3))
    r2 = nsp_pairs(docs, 50, generator=torch.Generator().manual_seed(3))
    assert r1[0] == r2[0] and r1[1] == r2[1] and torch.equal(r1[2], r2[2])
    with pytest.raises(ValueError, match="another document"):
        nsp_pairs([["a", "b", "c"]], 5)
    with pytest.raises(ValueError, match="at least two sentences"):
        nsp_pairs([["a"], ["b"]], 5)


def test_split_sentences_and_pack_pairs():
    assert split_sentences("今天下雨。我们在家！“你来吗？”他问。没有句号") == \
        ["今天下雨。", "我们在家！", "“你来吗？”", "他问。", "没有句号"]
    ids, seg = pack_pairs([[10, 11], [20]], [[12], [21, 22, 23]], max_len=16, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    assert ids.tolist() == [[CLS, 10, 11, SEP, 12, SEP, PAD], [CLS, 20, SEP, 21, 22, 23, SEP]]
    assert seg.tolist() == [[0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1]]
    ids, _ = pack_pairs([list(range(10, 20))], [list(range(30, 40))], max_len=9, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    assert ids.tolist() == [[CLS, 17, 18, 19, SEP, 30, 31, 32, SEP]]   # the A|B boundary survives
    with pytest.raises(ValueError, match="equally many"):
        pack_pairs([[1]], [], max_len=8, cls_id=CLS, sep_id=SEP, pad_id=PAD)


def test_bert_vocab_wraps_a_char_tokenizer():
    vocab = BertVocab(CharTokenizer.from_text("人民日报"))
    assert vocab.vocab_size == 8 and vocab.special_ids == (0, 1, 2, 3)
    ids = vocab.encode("日报")
    assert min(ids) >= 4
    assert vocab.decode([vocab.cls_id, *ids, vocab.mask_id]) == "[CLS]日报[MASK]"


# ---------------------------------------------------------------------------------------------
# PLM
# ---------------------------------------------------------------------------------------------
def test_permutation_masks_give_exactly_the_context_of_the_order():
    g = torch.Generator().manual_seed(0)
    orders = random_orders(20, 9, generator=g)
    content, query = permutation_masks(orders)
    assert content.shape == query.shape == (20, 9, 9) and content.dtype == torch.bool
    for b, z in enumerate(orders.tolist()):
        c1, q1 = permutation_masks(torch.tensor(z))
        assert torch.equal(c1, content[b]) and torch.equal(q1, query[b])
        for t, i in enumerate(z):
            assert set(content[b, i].nonzero().flatten().tolist()) == set(z[:t + 1])
            assert set(query[b, i].nonzero().flatten().tolist()) == set(z[:t])


def test_identity_order_gives_the_causal_masks():
    content, query = permutation_masks(torch.arange(6))
    assert torch.equal(content, causal_mask(6))
    assert torch.equal(query, causal_mask(6) & ~torch.eye(6, dtype=torch.bool))


@pytest.mark.parametrize("order", [[0, 0, 1], [0, 3, 1], [[0, 1], [1, 1]]])
def test_permutation_masks_reject_non_permutations(order):
    with pytest.raises(ValueError, match="permutation"):
        permutation_masks(torch.tensor(order))


def _model(**kw):
    cfg = dict(vocab_size=40, max_len=16, d_model=32, n_head=2, n_layer=2, dropout=0.0)
    cfg.update(kw)
    return BertLike(BertConfig(**cfg)).eval()


@pytest.mark.parametrize("norm_first", [True, False])
def test_two_stream_query_sees_only_its_context(norm_first):
    torch.manual_seed(1)
    layer = EncoderLayer(16, 2, norm_first=norm_first).eval()
    z = [3, 0, 4, 1, 2]
    content, query = permutation_masks(torch.tensor(z))
    h, g = torch.randn(1, 5, 16), torch.randn(1, 5, 16)
    h1, g1 = two_stream_layer(layer, h, g, content, query)
    torch.testing.assert_close(h1, layer(h, mask=content)[0])     # content stream: the layer itself
    assert torch.isfinite(g1).all()                                # the first in the order: no NaN
    t = 2                                                          # position 4 sees z_<2 = {3, 0}
    h2 = h.clone()
    h2[:, [4, 1, 2]] += torch.randn(1, 3, 16)                      # change everything else's content
    g2 = g.clone()
    g2[:, [3, 0, 1, 2]] += 1.0                                     # and the other queries
    _, g_new = two_stream_layer(layer, h2, g2, content, query)
    torch.testing.assert_close(g_new[:, z[t]], g1[:, z[t]])


def test_plm_equals_chain_rule_position_by_position():
    """p(x_{z_t} | x_{z_<t}) from the full two-stream pass equals a pass that is given only the
    tokens x_{z_<t} (plus [MASK] in place of the target) at their original positions."""
    torch.manual_seed(0)
    m = _model()
    T = 8
    ids = torch.randint(4, 40, (1, T))
    z = torch.randperm(T)
    logits, loss = m.plm(ids, z)
    nll = []
    for t in range(T):
        keep = z[:t + 1]                                           # z_<t, then the target z_t
        sub = ids[:, keep].clone()
        sub[:, -1] = MASK
        sub_logits, _ = m.plm(sub, torch.arange(t + 1), positions=keep[None])
        torch.testing.assert_close(sub_logits[:, -1], logits[:, z[t]])
        nll.append(-F.log_softmax(sub_logits[0, -1], -1)[ids[0, z[t]]])
    torch.testing.assert_close(loss, torch.stack(nll).mean())


def test_identity_permutation_is_a_causal_lm():
    """Identity order: the content stream is a causal encoder (checked against PyTorch's fused
    causal kernel) and the query stream at t predicts x_t from x_<t only (checked against a pass
    over the prefix alone); the PLM loss is the causal LM's chain-rule loss."""
    torch.manual_seed(0)
    m = _model()
    T = 10
    ids = torch.randint(4, 40, (2, T))
    logits, loss = m.plm(ids, torch.arange(T))
    content, query = permutation_masks(torch.arange(T))
    h = m.embed(ids)
    for layer in m.encoder.layers:
        causal_layer = copy.deepcopy(layer)
        causal_layer.causal = True                               # is_causal=True: fused kernel
        torch.testing.assert_close(two_stream_layer(layer, h, h, content, query)[0], causal_layer(h)[0])
    nll = torch.zeros(2)
    for t in range(T):
        prefix = torch.cat([ids[:, :t], torch.full((2, 1), MASK)], dim=1)   # x_<t and a blank
        p_logits, _ = m.plm(prefix, torch.arange(t + 1))
        torch.testing.assert_close(p_logits[:, t], logits[:, t])
        nll += F.cross_entropy(p_logits[:, t], ids[:, t], reduction="none")
    torch.testing.assert_close(loss, nll.sum() / (2 * T))
    future = ids.clone()
    future[:, 6:] = (future[:, 6:] + 1 - 4) % 36 + 4
    torch.testing.assert_close(m.plm(future, torch.arange(T))[0][:, :7], logits[:, :7])


def test_plm_batched_orders_labels_and_errors():
    torch.manual_seed(0)
    m = _model()
    ids = torch.randint(4, 40, (3, 8))
    orders = random_orders(3, 8, generator=torch.Generator().manual_seed(1))
    logits, _ = m.plm(ids, orders)
    for b in range(3):
        torch.testing.assert_close(m.plm(ids[b:b + 1], orders[b])[0], logits[b:b + 1])
    labels = torch.full_like(ids, -100)
    last = orders[:, -2:]                                         # XLNet: predict the last tokens only
    labels.scatter_(1, last, ids.gather(1, last))
    part_logits, part = m.plm(ids, orders, labels=labels)
    torch.testing.assert_close(part_logits, logits[labels != -100])
    ref = F.cross_entropy(logits.gather(1, last[..., None].expand(-1, -1, 40)).flatten(0, 1),
                          ids.gather(1, last).flatten())
    torch.testing.assert_close(part, ref)
    loss = m.plm(ids, orders)[1]
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    with pytest.raises(ValueError, match="without padding"):
        m.plm(torch.zeros(1, 4, dtype=torch.long), torch.arange(4))
    with pytest.raises(ValueError, match="rotary"):
        rope = EncoderLayer(16, 2, rotary=torch.nn.Identity())
        two_stream_layer(rope, torch.zeros(1, 2, 16), torch.zeros(1, 2, 16), *permutation_masks(torch.arange(2)))
    with pytest.raises(ValueError, match="additive position"):
        _model(pos_encoding="rope")


# ---------------------------------------------------------------------------------------------
# BertLike: MLM + NSP
# ---------------------------------------------------------------------------------------------
def test_bertlike_shapes_losses_and_reuse_of_the_encoder():
    torch.manual_seed(0)
    m = _model()
    ids, seg = pack_pairs([[5, 6, 7], [8, 9]], [[10, 11], [12, 13, 14, 15]], max_len=16,
                          cls_id=CLS, sep_id=SEP, pad_id=PAD)
    inputs, labels = mlm_mask(ids, mask_id=MASK, vocab_size=40, special_ids=(PAD, CLS, SEP), p=0.5,
                              generator=torch.Generator().manual_seed(0))
    is_next = torch.tensor([1, 0])
    out = m(inputs, seg, labels, is_next)
    assert out.states.shape == (2, 9, 32) and m(inputs).mlm_logits.shape == (2, 9, 40) and out.nsp_logits.shape == (2, 2)
    sel = labels != -100
    assert out.mlm_logits.shape == (sel.sum(), 40)                # only the labelled positions
    torch.testing.assert_close(out.mlm_logits, m(inputs, seg).mlm_logits[sel])
    mlm = -F.log_softmax(out.mlm_logits, -1).gather(1, labels[sel][:, None]).mean()
    nsp = -F.log_softmax(out.nsp_logits, -1).gather(1, is_next[:, None]).mean()
    torch.testing.assert_close(out.mlm_loss, mlm)
    torch.testing.assert_close(out.nsp_loss, nsp)
    torch.testing.assert_close(out.loss, mlm + nsp)
    assert m.mlm_logits.__self__ is m and m(inputs).loss is None
    # the MLM head is tied to the token embedding; without segments and padding the body is Encoder
    assert m.encoder.embed.tok.weight.data_ptr() in {p.data_ptr() for p in m.parameters()}
    full = ids[1:]
    torch.testing.assert_close(m(full).states, m.encoder(full)[0])
    # padding is never attended: real tokens' states do not depend on what follows as [PAD]
    short = ids[:1, :8]                                           # row 0 ends with one [PAD]
    assert ids[0, 8] == PAD
    torch.testing.assert_close(m(ids[:1]).states[:, :8], m(short).states)


def test_bertlike_learns_a_tiny_mlm_task():
    torch.manual_seed(0)
    m = _model(dropout=0.0).train()
    ids = torch.randint(4, 40, (16, 12))
    ids[:, 1::2] = ids[:, 0::2]                                   # every token is repeated: learnable
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    losses = []
    for step in range(100):
        inputs, labels = mlm_mask(ids, mask_id=MASK, vocab_size=40, special_ids=(PAD, CLS, SEP),
                                  generator=torch.Generator().manual_seed(step))
        loss = m(inputs, mlm_labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first - 1.0 and last < 0.75 * math.log(36), (first, last)   # 36 ordinary ids


def test_bertlike_rejects_bad_input():
    m = _model()
    with pytest.raises(ValueError, match="exceeds max_len 16"):
        m(torch.full((1, 17), 5))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        m(torch.full((17,), 5))
    with pytest.raises(ValueError, match="one position per token"):
        m.plm(torch.full((1, 4), 5), torch.arange(4), positions=torch.arange(3)[None])


# ---------------------------------------------------------------------------------------------
# Causal LM
# ---------------------------------------------------------------------------------------------
def test_causal_lm_batch_shifts_and_ignores_padding():
    w = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    x, y = causal_lm_batch(w, pad_id=0)
    assert x.tolist() == [[5, 6, 7], [9, 10, 0]]
    assert y.tolist() == [[6, 7, 8], [10, -100, -100]]
    with pytest.raises(ValueError, match="T \\+ 1"):
        causal_lm_batch(torch.tensor([1, 2, 3]))


def test_states_are_the_encoder_output_with_every_token_in_segment_a():
    from llmbook_lib.models.bertlike import BertConfig, BertLike

    torch.manual_seed(0)
    model = BertLike(BertConfig(vocab_size=20, max_len=8, d_model=16, n_head=2, n_layer=1)).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3, 0, 0], [2, 9, 3, 0, 0, 0, 0]])
    states = model.states(ids)
    assert torch.equal(states, model(ids, torch.zeros_like(ids)).states)
    assert not torch.allclose(states, model(ids).states)          # the segment embedding is added
    segments = torch.tensor([[0, 0, 0, 1, 1, 1, 1]] * 2)
    assert torch.equal(model.states(ids, segments), model(ids, segments).states)
    # padding is never attended: appending more of it changes nothing at the real positions
    longer = torch.cat([ids, torch.zeros(2, 1, dtype=torch.long)], 1)
    assert torch.allclose(model.states(longer)[:, :7], states, atol=1e-6)
