"""Encoder-decoder plumbing: the number-reading task, pair batches, greedy and beam search."""

import itertools
import math

import pytest
import torch

from llmbook_lib.data import PairBatches, pad_pairs
from llmbook_lib.data.numbers import (SRC_VOCAB, TGT_VOCAB, Vocab, number_reading_data, read_chinese,
                                      sample_numbers)
from llmbook_lib.models.decoding import beam_search, greedy_decode, length_penalty
from llmbook_lib.models.transformer import Transformer, TransformerConfig


@pytest.mark.parametrize("n, reading", [
    (0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (101, "一百零一"), (110, "一百一十"),
    (1001, "一千零一"), (1010, "一千零一十"), (20001, "二万零一"), (21000, "二万一千"),
    (200100, "二十万零一百"), (100000, "十万"), (150000, "十五万"), (10010, "一万零一十"),
    (10100000, "一千零一十万"), (99999999, "九千九百九十九万九千九百九十九"),
])
def test_read_chinese_known_readings(n, reading):
    assert read_chinese(n) == reading


@pytest.mark.parametrize("bad", [-1, 10 ** 8, 1.5, "12", True])
def test_read_chinese_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match="n must be an int"):
        read_chinese(bad)


def test_reading_is_injective_on_a_sample():
    nums = sample_numbers(3000, seed=3)
    assert len({read_chinese(n) for n in nums}) == len(nums)


def test_splits_are_disjoint_and_deterministic():
    a, b = number_reading_data(500, 50, 100, seed=1), number_reading_data(500, 50, 100, seed=1)
    assert a == b
    srcs = [{s for s, _ in a[k]} for k in ("train", "val", "test")]
    assert not (srcs[0] & srcs[1] or srcs[0] & srcs[2] or srcs[1] & srcs[2])
    assert all(read_chinese(int(s)) == t for s, t in a["test"])


def test_vocab_round_trip_and_errors():
    v = Vocab("ab")
    assert v.decode([1, *v.encode("abba"), 2, 3]) == "abba"
    with pytest.raises(ValueError, match="'c' is not in the vocabulary"):
        v.encode("abc")
    with pytest.raises(ValueError, match="distinct"):
        Vocab("aa")


def test_pad_pairs_shifts_targets_and_pair_batches_are_step_deterministic():
    src, tin, tout = pad_pairs([([5, 6, 7], [3]), ([4], [8, 9])])
    assert src.tolist() == [[5, 6, 7], [4, 0, 0]]
    assert tin.tolist() == [[1, 3, 0], [1, 8, 9]]
    assert tout.tolist() == [[3, 2, 0], [8, 9, 2]]
    pb = PairBatches([([i + 3], [i + 3]) for i in range(50)], batch_size=8, seed=2)
    for x, y in zip(pb(7), pb(7)):
        assert torch.equal(x, y)
    assert not torch.equal(pb(7)[0], pb(8)[0])
    with pytest.raises(ValueError, match="empty source"):
        pad_pairs([([], [3])])


def tiny_model(seed=0, V=5):
    torch.manual_seed(seed)
    cfg = TransformerConfig(src_vocab_size=6, tgt_vocab_size=V, d_model=16, n_head=2, n_encoder_layers=1,
                            n_decoder_layers=1, dropout=0.0, max_len=16)
    m = Transformer(cfg).eval()
    with torch.no_grad():                       # spread the output distribution out a little
        m.out.weight.mul_(0.3)
    return m


def sequence_logprob(m, src, tokens):
    """log p(tokens | src) by teacher forcing, pad and BOS excluded from the softmax."""
    c = m.config
    tin = torch.tensor([[c.bos_id, *tokens[:-1]]])
    logits, _ = m(src[None], tin)
    logits = logits[0].float()
    logits[:, [c.pad_id, c.bos_id]] = float("-inf")
    logp = torch.log_softmax(logits, -1)
    return sum(logp[i, t].item() for i, t in enumerate(tokens))


def exhaustive(m, src, max_len, alpha=0.0):
    c = m.config
    symbols = [t for t in range(c.tgt_vocab_size) if t not in (c.pad_id, c.bos_id)]
    best = (-math.inf, None)
    for n in range(1, max_len + 1):
        for seq in itertools.product(symbols, repeat=n):
            if c.eos_id in seq[:-1] or (n < max_len and seq[-1] != c.eos_id):
                continue                        # hypotheses end at their first EOS or at max_len
            s = sequence_logprob(m, src, list(seq)) / length_penalty(n, alpha)
            best = max(best, (s, list(seq)))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_wide_beam_equals_exhaustive_search(seed, alpha):
    m = tiny_model(seed)
    src = torch.tensor([3, 4, 5, 3])
    score, seq = exhaustive(m, src, max_len=4, alpha=alpha)
    hyp = beam_search(m, src, beam_size=64, max_new_tokens=4, alpha=alpha)[0]
    assert hyp.tokens == seq
    assert hyp.score == pytest.approx(score, abs=1e-4)
    assert hyp.logprob == pytest.approx(sequence_logprob(m, src, seq), abs=1e-4)


def test_beam_search_never_scores_below_greedy():
    """Even a beam of one keeps the EOS candidates it passes, so it can only do better than greedy."""
    better = 0
    for seed in range(4):
        m = tiny_model(seed)
        src = torch.tensor([3, 5, 4])
        g = greedy_decode(m, src, max_new_tokens=6)[0]
        s_greedy = sequence_logprob(m, src, g)
        for k in (1, 2, 4):
            s_beam = beam_search(m, src, beam_size=k, max_new_tokens=6)[0].logprob
            assert s_beam >= s_greedy - 1e-5
            better += s_beam > s_greedy + 1e-3
    assert better > 0                           # the comparison is not vacuous on these models


def test_greedy_decode_batches_equal_single_and_handle_padding():
    m = tiny_model(1)
    src = torch.tensor([[3, 4, 5, 5], [4, 3, 0, 0]])
    both = greedy_decode(m, src, max_new_tokens=6)
    assert both[0] == greedy_decode(m, src[0], max_new_tokens=6)[0]
    assert both[1] == greedy_decode(m, src[1, :2], max_new_tokens=6)[0]


def test_decoding_errors_are_clear():
    m = tiny_model()
    with pytest.raises(ValueError, match="one source at a time"):
        beam_search(m, torch.tensor([[3, 4], [4, 3]]))
    with pytest.raises(ValueError, match="non-empty"):
        greedy_decode(m, torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(m, torch.tensor([3]), beam_size=0)


def test_logit_bias_shifts_the_choice_and_zero_bias_changes_nothing():
    m = tiny_model(2)
    V = m.config.tgt_vocab_size
    src = torch.tensor([[3, 4, 5], [5, 4, 3]])
    plain = greedy_decode(m, src, max_new_tokens=5)
    assert greedy_decode(m, src, max_new_tokens=5, logit_bias=torch.zeros(V)) == plain
    assert beam_search(m, src[0], beam_size=3, max_new_tokens=5, logit_bias=torch.zeros(V))[0].tokens == \
        beam_search(m, src[0], beam_size=3, max_new_tokens=5)[0].tokens
    # a large bias on one token (not EOS) makes greedy emit it at every step, row by row
    favoured = [t for t in range(V) if t not in (m.config.pad_id, m.config.bos_id, m.config.eos_id)][:2]
    bias = torch.zeros(2, V)
    bias[0, favoured[0]] = bias[1, favoured[1]] = 50.0
    out = greedy_decode(m, src, max_new_tokens=4, logit_bias=bias)
    assert out == [[favoured[0]] * 4, [favoured[1]] * 4]
    hyp = beam_search(m, src[0], beam_size=2, max_new_tokens=4, logit_bias=bias[1])[0]
    assert hyp.tokens == [favoured[1]] * 4


def test_logit_bias_errors_are_clear():
    m = tiny_model()
    V = m.config.tgt_vocab_size
    src = torch.tensor([[3, 4], [4, 3]])
    with pytest.raises(ValueError, match="logit_bias must be"):
        greedy_decode(m, src, logit_bias=torch.zeros(V + 1))
    with pytest.raises(ValueError, match="logit_bias must be"):
        greedy_decode(m, src, logit_bias=torch.zeros(3, V))
    with pytest.raises(ValueError, match="finite"):
        beam_search(m, src[0], logit_bias=torch.full((V,), float("-inf")))
