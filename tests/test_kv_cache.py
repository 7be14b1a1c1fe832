"""The KV cache: feeding a model its tokens a few at a time, with the keys and values of the
earlier ones cached, gives the logits of a full recompute; generation and decoding with and
without the cache pick the same tokens."""

import pytest
import torch

from llmbook_lib.models.attention import KVCache
from llmbook_lib.models.decoding import beam_search, greedy_decode
from llmbook_lib.models.layers import EncoderLayer
from llmbook_lib.models.position import POS_ENCODINGS, RotaryEmbedding
from llmbook_lib.models.sampling import generate
from llmbook_lib.models.transformer import GPT, Embedder, GPTConfig, Transformer, TransformerConfig

POS = [p for p in POS_ENCODINGS if p != "none"]          # learned, sinusoidal, rope
CHUNKS = [3, 1, 1, 2, 1, 4, 1, 1, 1, 2]                  # a prompt, then one or a few tokens per call
TOL = dict(atol=1e-5, rtol=1e-5)


def tiny_gpt(seed=0, max_len=16):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=23, max_len=max_len, n_layer=2, n_head=2, d_model=32)).eval()


def tiny_seq2seq(seed=0, pos="sinusoidal", norm_first=True, max_len=20):
    torch.manual_seed(seed)
    cfg = TransformerConfig(src_vocab_size=9, tgt_vocab_size=7, d_model=16, n_head=2, n_encoder_layers=1,
                            n_decoder_layers=2, dropout=0.0, max_len=max_len, pos_encoding=pos,
                            norm_first=norm_first)
    m = Transformer(cfg).eval()
    with torch.no_grad():                    # spread the output distribution out: beams differ
        m.out.weight.mul_(0.3)
    return m


class CausalStack(torch.nn.Module):
    """A decoder-only model with any position encoding and either LayerNorm placement, built from
    the library's parts the way ``GPT`` is (GPT itself is learned positions, pre-LN)."""

    def __init__(self, pos, norm_first, V=23, d=32, h=2, n_layer=2, max_len=32):
        super().__init__()
        self.embed = Embedder(V, d, max_len, pos, 0.0)
        rotary = RotaryEmbedding(d // h, max_len) if pos == "rope" else None
        self.layers = torch.nn.ModuleList(EncoderLayer(d, h, norm_first=norm_first, causal=True, rotary=rotary)
                                          for _ in range(n_layer))
        self.head = torch.nn.Linear(d, V)

    def forward(self, idx, cache=None):
        start = 0 if cache is None else len(cache)
        x = self.embed(idx, offset=start)
        for i, layer in enumerate(self.layers):
            x, _ = layer(x, cache=None if cache is None else cache.layers[i])
        return self.head(x)


def _check_chunked(full_logits, step, x):
    """Feed x (B, T) in CHUNKS through ``step(chunk) -> logits``; compare every position."""
    t = 0
    for n in CHUNKS:
        got = step(x[:, t:t + n])
        torch.testing.assert_close(got, full_logits[:, t:t + n], **TOL)
        t += n
    assert t == x.size(1)


@torch.no_grad()
def test_gpt_cached_logits_equal_full_recompute():
    model = tiny_gpt(max_len=24)
    x = torch.randint(0, 23, (3, sum(CHUNKS)))
    cache = model.new_cache()
    _check_chunked(model(x)[0], lambda c: model(c, cache=cache)[0], x)
    assert len(cache) == x.size(1) and cache.layers[0].k.shape == (3, 2, x.size(1), 16)   # (B, nh, T, hs)


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-LN", "post-LN"])
@pytest.mark.parametrize("pos", POS)
@torch.no_grad()
def test_causal_stack_cached_logits_equal_full_recompute(pos, norm_first):
    torch.manual_seed(0)
    model = CausalStack(pos, norm_first).eval()
    x = torch.randint(0, 23, (2, sum(CHUNKS)))
    cache = KVCache.empty(len(model.layers))
    _check_chunked(model(x), lambda c: model(c, cache=cache), x)


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-LN", "post-LN"])
@pytest.mark.parametrize("pos", POS)
@torch.no_grad()
def test_seq2seq_decoder_cached_logits_equal_full_recompute(pos, norm_first):
    m = tiny_seq2seq(pos=pos, norm_first=norm_first)
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 3, 4, 0, 0]])            # the second source is padded
    memory, mask, _ = m.encode(src)
    tgt = torch.randint(3, 7, (2, sum(CHUNKS)))
    cache = m.new_cache()
    _check_chunked(m.decode(tgt, memory, mask)[0], lambda c: m.decode(c, memory, mask, cache=cache)[0], tgt)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_gpt_generation_with_and_without_cache_gives_the_same_tokens(temperature):
    model = tiny_gpt(1, max_len=16)
    idx = torch.tensor([[1, 2, 3], [4, 5, 6]])
    n = 30                                           # runs 17 tokens past max_len
    ref = model.generate(idx, n, temperature, generator=torch.Generator().manual_seed(4), use_cache=False)
    out = model.generate(idx, n, temperature, generator=torch.Generator().manual_seed(4))
    assert torch.equal(out, ref) and out.shape == (2, 3 + n)
    ours = generate(model, idx, n, temperature, generator=torch.Generator().manual_seed(4))
    assert torch.equal(ours, ref)


@pytest.mark.parametrize("pos", POS)
def test_greedy_decode_with_and_without_cache_gives_the_same_tokens(pos):
    for seed in range(3):
        m = tiny_seq2seq(seed, pos=pos)
        src = torch.tensor([[3, 4, 5, 6], [8, 3, 0, 0], [5, 5, 5, 5]])
        assert greedy_decode(m, src, max_new_tokens=12) == greedy_decode(m, src, max_new_tokens=12, use_cache=False)


@pytest.mark.parametrize("alpha", [0.0, 0.8])
@pytest.mark.parametrize("beam_size", [1, 3, 8])
def test_beam_search_with_and_without_cache_agree(beam_size, alpha):
    for seed in range(3):
        m = tiny_seq2seq(seed, pos="rope" if seed == 2 else "sinusoidal", norm_first=seed != 1)
        src = torch.tensor([3, 5, 4, 7])
        cached = beam_search(m, src, beam_size=beam_size, max_new_tokens=10, alpha=alpha, n_best=3)
        ref = beam_search(m, src, beam_size=beam_size, max_new_tokens=10, alpha=alpha, n_best=3, use_cache=False)
        assert [h.tokens for h in cached] == [h.tokens for h in ref]
        for a, b in zip(cached, ref):
            assert a.score == pytest.approx(b.score, abs=1e-5)


def test_cache_select_reorders_and_repeats_rows():
    cache = KVCache.empty(2)
    for layer in cache.layers:
        layer.append(torch.arange(3.0).view(3, 1, 1, 1), torch.arange(3.0).view(3, 1, 1, 1) + 10)
    cache.select([2, 2, 0])
    assert cache.layers[1].k.flatten().tolist() == [2, 2, 0] and cache.layers[1].v.flatten().tolist() == [12, 12, 10]
    assert len(cache) == 1 and len(KVCache.empty(2)) == 0


@torch.no_grad()
def test_cache_errors_are_clear():
    model = tiny_gpt(max_len=8)
    cache = model.new_cache()
    model(torch.zeros(1, 6, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match=r"6 cached \+ 3 new\) exceeds max_len 8"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=cache)
    m = tiny_seq2seq(max_len=4)
    memory, mask, _ = m.encode(torch.tensor([[3, 4]]))
    cache = m.new_cache()
    m.decode(torch.tensor([[1, 3, 4]]), memory, mask, cache=cache)
    with pytest.raises(ValueError, match="target length 5 exceeds max_len 4"):
        m.decode(torch.tensor([[3, 4]]), memory, mask, cache=cache)
    with pytest.raises(ValueError, match="cross-attention"):
        m.decoder[0].cross_attn(memory, context=memory, cache=cache.layers[0])
