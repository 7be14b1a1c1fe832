import math

import pytest
import torch

from llmbook_lib.models.sampling import filter_logits, generate, next_token_probs
from llmbook_lib.models.transformer import GPT, GPTConfig

PROBS = torch.tensor([0.05, 0.5, 0.15, 0.3])          # sorted: 0.5, 0.3, 0.15, 0.05


def kept(top_p=None, top_k=None) -> set[int]:
    out = filter_logits(PROBS.log(), top_k=top_k, top_p=top_p)
    return set(torch.isfinite(out).nonzero().flatten().tolist())


def test_top_p_keeps_the_smallest_nucleus():
    assert kept(top_p=0.5) == {1}
    assert kept(top_p=0.79) == {1, 3}
    assert kept(top_p=0.81) == {1, 3, 2}
    assert kept(top_p=0.96) == {0, 1, 2, 3}
    assert kept(top_p=1.0) == {0, 1, 2, 3}
    assert kept(top_p=1e-6) == {1}                     # the most likely token is always kept


def test_top_k_and_combined():
    assert kept(top_k=2) == {1, 3}
    assert kept(top_k=10) == {0, 1, 2, 3}
    assert kept(top_k=3, top_p=0.6) == {1, 3}


def test_next_token_probs_renormalises_and_batches():
    p = next_token_probs(PROBS.log(), temperature=1.0, top_p=0.79)
    torch.testing.assert_close(p, torch.tensor([0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8]))
    batch = torch.stack([PROBS.log(), PROBS.flip(0).log()])                 # (2, V)
    pb = next_token_probs(batch, temperature=1.0, top_p=0.79)
    torch.testing.assert_close(pb[0], p)
    torch.testing.assert_close(pb[1], p.flip(0))
    torch.testing.assert_close(next_token_probs(PROBS.log(), 0), torch.tensor([0.0, 1.0, 0.0, 0.0]))
    sharp = next_token_probs(PROBS.log(), temperature=0.5)
    torch.testing.assert_close(sharp, PROBS**2 / (PROBS**2).sum())          # p^(1/T), renormalised


def test_sampling_frequencies_follow_the_nucleus():
    g = torch.Generator().manual_seed(0)
    p = next_token_probs(PROBS.log(), top_p=0.79)
    draws = torch.multinomial(p, 20_000, replacement=True, generator=g)
    freq = torch.bincount(draws, minlength=4).float() / 20_000
    assert freq[0] == 0 and freq[2] == 0
    assert abs(freq[1] - 0.625) < 0.02


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, max_len=8, n_layer=1, n_head=2, d_model=16))


def _reference_generate(model, idx, n, temperature, top_k, generator):
    """Sampling written out by hand: crop to max_len, scale, keep the top k, draw."""
    for _ in range(n):
        logits = model(idx[:, -model.config.max_len:])[0][:, -1, :]
        if temperature == 0:
            nxt = logits.argmax(-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k).values[:, [-1]]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        idx = torch.cat([idx, nxt], dim=1)
    return idx


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.7, 4), (0.0, None)])
def test_generate_equals_hand_written_sampling_without_top_p(model, temperature, top_k):
    idx = torch.tensor([[1, 2, 3], [4, 5, 6]])
    model.eval()
    with torch.no_grad():
        expected = _reference_generate(model, idx, 20, temperature, top_k, torch.Generator().manual_seed(5))
    ours = generate(model, idx, 20, temperature, top_k, None, torch.Generator().manual_seed(5))
    method = model.generate(idx, 20, temperature, top_k, torch.Generator().manual_seed(5))
    assert torch.equal(ours, expected) and torch.equal(method, expected)   # also crops past max_len
    assert ours.shape == (2, 23)


def test_generate_with_top_p_only_draws_nucleus_tokens(model):
    idx = torch.tensor([[1, 2, 3]])
    g = torch.Generator().manual_seed(0)
    out = generate(model, idx, 1, top_p=0.3, generator=g)
    logits = model(idx)[0][:, -1]
    assert math.isfinite(filter_logits(logits, top_p=0.3)[0, out[0, -1]].item())


def test_generate_restores_the_training_mode(model):
    idx = torch.tensor([[1, 2, 3]])
    for mode in (True, False):
        model.train(mode)
        generate(model, idx, 2, top_p=0.9)
        assert model.training is mode


def test_invalid_arguments(model):
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(PROBS.log(), top_p=0.0)
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(PROBS.log(), top_p=1.5)
    with pytest.raises(ValueError, match="top_k"):
        filter_logits(PROBS.log(), top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, torch.tensor([[1]]), 3, temperature=-1)
    with pytest.raises(ValueError, match="context tokens"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)


def test_stop_token_gives_a_prefix_ending_when_every_row_has_stopped(model):
    idx = torch.tensor([[1, 2, 3], [4, 5, 6]])
    full = generate(model, idx, 30, 1.0, None, None, torch.Generator().manual_seed(7))
    new = full[:, 3:]
    stop = int(new[0, 4])                               # a token the first row does produce
    firsts = [(row == stop).nonzero() for row in new]
    assert all(len(f) for f in firsts)                  # (seeded) both rows produce it
    end = 3 + max(int(f[0]) for f in firsts) + 1        # stop after the later row's first one
    assert end < full.size(1)
    short = generate(model, idx, 30, 1.0, None, None, torch.Generator().manual_seed(7), stop_token=stop)
    assert torch.equal(short, full[:, :end])
    method = model.generate(idx, 30, 1.0, None, torch.Generator().manual_seed(7), stop_token=stop)
    assert torch.equal(method, short)
    alone = generate(model, idx[:1], 30, 1.0, None, None, torch.Generator().manual_seed(7))[0, 3:]
    hits = (alone == stop).nonzero()
    one = generate(model, idx[:1], 30, 1.0, None, None, torch.Generator().manual_seed(7), stop_token=stop)
    assert len(hits)                                    # a single row stops right after its first stop
    assert one.size(1) == 3 + int(hits[0]) + 1 and int(one[0, -1]) == stop
    with pytest.raises(TypeError, match="stop_token"):
        generate(model, idx, 2, stop_token="\n")
