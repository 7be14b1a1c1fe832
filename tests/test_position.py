import math

import pytest
import torch

from llmbook_lib.models.attention import MultiHeadAttention
from llmbook_lib.models.position import (
    POS_ENCODINGS,
    LearnedPositionalEncoding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    make_positional_encoding,
    relative_similarity,
    sinusoidal_encoding,
)
from llmbook_lib.models.transformer import Encoder, Transformer, TransformerConfig


# --- sinusoidal --------------------------------------------------------------------------------
@pytest.mark.parametrize("p, i", [(0, 0), (1, 0), (3, 1), (7, 5), (50, 15)])
def test_sinusoidal_table_matches_the_formula(p, i):
    d, base = 32, 10000.0
    pe = sinusoidal_encoding(64, d, base)
    angle = p / base ** (2 * i / d)
    assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
    assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_base_changes_the_frequencies():
    assert not torch.allclose(sinusoidal_encoding(16, 8, base=100.0), sinusoidal_encoding(16, 8))
    # position 0 is (0, 1, 0, 1, ...) whatever the base
    torch.testing.assert_close(sinusoidal_encoding(4, 8, base=7.0)[0], torch.tensor([0.0, 1.0] * 4))


def test_odd_width_raises():
    with pytest.raises(ValueError, match="d_model must be even"):
        sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match="even head width"):
        RotaryEmbedding(5)


def test_sinusoidal_module_adds_the_table_with_offset():
    enc = SinusoidalPositionalEncoding(8, max_len=20)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(enc(x), x + sinusoidal_encoding(20, 8)[:5])
    torch.testing.assert_close(enc(x, offset=3), x + sinusoidal_encoding(20, 8)[3:8])


def test_learned_encoding_offset_and_training():
    enc = LearnedPositionalEncoding(8, max_len=10)
    x = torch.zeros(1, 4, 8)
    torch.testing.assert_close(enc(x, offset=2), enc.emb.weight[2:6][None])
    enc(torch.randn(2, 4, 8)).sum().backward()
    assert enc.emb.weight.grad[:4].abs().sum() > 0 and enc.emb.weight.grad[4:].abs().sum() == 0


def test_relative_similarity_is_symmetric_with_unit_diagonal():
    sim = relative_similarity(sinusoidal_encoding(30, 16))
    torch.testing.assert_close(sim, sim.T)
    torch.testing.assert_close(sim.diagonal(), torch.ones(30))
    # sinusoidal: similarity depends (mostly) on distance, and neighbours are the most similar
    assert sim[10, 11] > sim[10, 15] > sim[10, 25]


def test_make_positional_encoding_kinds():
    assert isinstance(make_positional_encoding("sinusoidal", 8, 16), SinusoidalPositionalEncoding)
    assert isinstance(make_positional_encoding("learned", 8, 16), LearnedPositionalEncoding)
    assert make_positional_encoding("rope", 8, 16) is None        # applied inside attention
    assert make_positional_encoding("none", 8, 16) is None
    with pytest.raises(ValueError, match="pos_encoding must be one of"):
        make_positional_encoding("alibi", 8, 16)


# --- RoPE --------------------------------------------------------------------------------------
def test_rope_preserves_norms():
    rope = RotaryEmbedding(16, max_len=64)
    x = torch.randn(2, 3, 64, 16)
    torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))


def test_rope_score_depends_only_on_the_offset():
    rope = RotaryEmbedding(16, max_len=128)
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m, n):
        return (rope(q, offset=m) * rope(k, offset=n)).sum().item()

    for m, n in [(0, 3), (5, 2), (10, 10)]:
        for shift in (1, 17, 60):
            assert score(m + shift, n + shift) == pytest.approx(score(m, n), abs=1e-4)
    assert score(0, 3) != pytest.approx(score(0, 7), abs=1e-3)      # different offsets differ


def test_rope_offset_equals_slicing_a_longer_sequence():
    rope = RotaryEmbedding(8, max_len=32)
    x = torch.randn(2, 2, 20, 8)
    torch.testing.assert_close(rope(x[:, :, 7:12], offset=7), rope(x)[:, :, 7:12])
    torch.testing.assert_close(rope(x[:, :, :1]), x[:, :, :1])       # position 0: no rotation


def test_rope_matches_the_complex_number_form():
    # dimension i of the first half pairs with dimension i of the second half: z = a + ib -> z e^{i p θ}
    d, p = 8, 5
    rope = RotaryEmbedding(d, max_len=16)
    x = torch.randn(d)
    theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
    z = torch.complex(x[: d // 2], x[d // 2:]) * torch.polar(torch.ones(d // 2), p * theta)
    out = rope(x.expand(1, 1, p + 1, d))[0, 0, p]
    torch.testing.assert_close(out, torch.cat([z.real, z.imag]))


# --- length checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: SinusoidalPositionalEncoding(8, max_len=6),
                                  lambda: LearnedPositionalEncoding(8, max_len=6)])
def test_additive_encodings_reject_over_length(make):
    enc = make()
    with pytest.raises(ValueError, match="sequence length 7 exceeds max_len 6"):
        enc(torch.zeros(1, 7, 8))
    with pytest.raises(ValueError, match="sequence length 7 exceeds max_len 6"):
        enc(torch.zeros(1, 4, 8), offset=3)


def test_rope_rejects_over_length():
    with pytest.raises(ValueError, match="sequence length 9 exceeds max_len 8"):
        RotaryEmbedding(4, max_len=8)(torch.zeros(1, 1, 9, 4))


@pytest.mark.parametrize("pos", POS_ENCODINGS)
def test_encoder_rejects_over_length(pos):
    enc = Encoder(20, d_model=16, n_head=2, n_layer=1, max_len=8, pos_encoding=pos)
    with pytest.raises(ValueError, match="sequence length 9 exceeds max_len 8"):
        enc(torch.zeros(1, 9, dtype=torch.long))


# --- inside the models -------------------------------------------------------------------------
@pytest.mark.parametrize("pos", POS_ENCODINGS)
def test_encoder_runs_with_each_encoding(pos):
    enc = Encoder(20, d_model=16, n_head=2, n_layer=2, max_len=12, pos_encoding=pos)
    ids = torch.randint(1, 20, (3, 10))
    mask = (ids != 0)[:, None, None, :]
    x, w = enc(ids, mask=mask, need_weights=True)
    assert x.shape == (3, 10, 16) and len(w) == 2 and w[0].shape == (3, 2, 10, 10)
    assert torch.isfinite(x).all()
    x.sum().backward()


def test_unknown_encoding_is_rejected():
    with pytest.raises(ValueError, match="pos_encoding must be one of"):
        Encoder(20, d_model=16, n_head=2, pos_encoding="absolute")


@pytest.mark.parametrize("pos", POS_ENCODINGS)
def test_encoder_is_permutation_equivariant_only_without_positions(pos):
    enc = Encoder(20, d_model=16, n_head=2, n_layer=2, max_len=12, pos_encoding=pos).eval()
    ids = torch.randint(0, 20, (2, 10))
    perm = torch.randperm(10)
    with torch.no_grad():
        permuted_out, out_permuted = enc(ids[:, perm])[0], enc(ids)[0][:, perm]
    if pos == "none":
        torch.testing.assert_close(permuted_out, out_permuted)
    else:
        assert not torch.allclose(permuted_out, out_permuted, atol=1e-3)


def test_rope_applies_to_self_attention_only():
    torch.manual_seed(0)
    plain = MultiHeadAttention(16, 2)
    rotary = MultiHeadAttention(16, 2, rotary=RotaryEmbedding(8, max_len=32))
    rotary.load_state_dict(plain.state_dict())
    x, ctx = torch.randn(2, 6, 16), torch.randn(2, 9, 16)
    # self-attention: queries and keys are rotated, so the output changes
    assert not torch.allclose(plain(x)[0], rotary(x)[0], atol=1e-4)
    # cross-attention: positions of two different sequences are not comparable; no rotation
    torch.testing.assert_close(plain(x, context=ctx)[0], rotary(x, context=ctx)[0])


def test_rope_self_attention_is_shift_invariant():
    # with RoPE (and no other position signal) the attention weights depend only on relative
    # positions: the weights of a sequence equal those computed at any offset
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, max_len=64)
    q, k = torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 8)
    w0 = torch.softmax(rope(q) @ rope(k).transpose(-2, -1), dim=-1)
    w20 = torch.softmax(rope(q, offset=20) @ rope(k, offset=20).transpose(-2, -1), dim=-1)
    torch.testing.assert_close(w0, w20, atol=1e-5, rtol=1e-4)


def test_transformer_rope_rotates_decoder_self_attention_not_cross_attention():
    cfg = TransformerConfig(src_vocab_size=12, tgt_vocab_size=14, d_model=16, n_head=2, n_encoder_layers=1,
                            n_decoder_layers=1, dropout=0.0, max_len=16, pos_encoding="rope")
    model = Transformer(cfg)
    layer = model.decoder[0]
    assert layer.attn.rotary is not None and layer.cross_attn.rotary is None
    assert model.encoder.layers[0].attn.rotary is not None
    assert model.encoder.embed.pos is None and model.tgt_embed.pos is None
    src, tgt = torch.randint(3, 12, (2, 7)), torch.randint(3, 14, (2, 5))
    logits, loss = model(src, tgt, tgt)
    assert logits.shape == (2, 5, 14) and torch.isfinite(loss)
