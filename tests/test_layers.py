"""The Transformer layers (llmbook_lib.models.layers) against PyTorch's own, and the masks they obey.

Mask conventions differ: ours are bool with True = "may attend"; torch's ``*_key_padding_mask``
and bool ``*_mask`` use True = "NOT allowed". Every comparison below converts with ``~``.
"""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from llmbook_lib.models.attention import causal_mask, padding_mask
from llmbook_lib.models.layers import Block, DecoderLayer, EncoderLayer, FeedForward, copy_from_torch
from llmbook_lib.models.transformer import Transformer, TransformerConfig

D, H, D_FF = 16, 4, 40
TOL = dict(atol=1e-5, rtol=1e-5)


def torch_encoder_layer(norm_first, activation="gelu", d_ff=D_FF, **kw):
    return nn.TransformerEncoderLayer(D, H, d_ff, dropout=0.0, activation=activation, batch_first=True,
                                      norm_first=norm_first, **kw).eval()


def torch_decoder_layer(norm_first, activation="gelu", d_ff=D_FF):
    return nn.TransformerDecoderLayer(D, H, d_ff, dropout=0.0, activation=activation, batch_first=True,
                                      norm_first=norm_first).eval()


@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_equals_torch_with_padding(norm_first, activation):
    theirs = torch_encoder_layer(norm_first, activation)
    ours = EncoderLayer(D, H, D_FF, norm_first=norm_first, activation=activation).eval()
    copy_from_torch(ours, theirs)
    x = torch.randn(3, 7, D)
    lengths = [7, 4, 2]
    mask = padding_mask(lengths, 7)                               # (B, 1, 1, T), True = real key
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], theirs(x), **TOL)
        ref = theirs(x, src_key_padding_mask=~mask[:, 0, 0, :])   # torch: True = padding
        out, _ = ours(x, mask=mask)
        torch.testing.assert_close(out, ref, **TOL)
        # the explicit-weights path computes the same thing
        out_w, w = ours(x, mask=mask, need_weights=True)
    torch.testing.assert_close(out_w, out, **TOL)
    assert w.shape == (3, H, 7, 7)
    assert (w[1, :, :, 4:] == 0).all() and (w[2, :, :, 2:] == 0).all()   # no weight on padding


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_equals_torch_with_causal_and_padding_masks(norm_first):
    theirs = torch_decoder_layer(norm_first)
    ours = DecoderLayer(D, H, D_FF, norm_first=norm_first).eval()
    copy_from_torch(ours, theirs)
    memory, x = torch.randn(3, 6, D), torch.randn(3, 5, D)
    src_keep, tgt_keep = padding_mask([6, 3, 1], 6), padding_mask([5, 2, 4], 5)
    with torch.no_grad():
        ref = theirs(x, memory, tgt_mask=~causal_mask(5), tgt_key_padding_mask=~tgt_keep[:, 0, 0, :],
                     memory_key_padding_mask=~src_keep[:, 0, 0, :])
        out, _, _ = ours(x, memory, self_mask=tgt_keep, memory_mask=src_keep)
        torch.testing.assert_close(out, ref, **TOL)
        ref = theirs(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5), tgt_is_causal=True)
        torch.testing.assert_close(ours(x, memory)[0], ref, **TOL)
        out_w, w_self, w_cross = ours(x, memory, self_mask=tgt_keep, memory_mask=src_keep, need_weights=True)
    torch.testing.assert_close(out_w, out, **TOL)
    assert w_self.shape == (3, H, 5, 5) and w_cross.shape == (3, H, 5, 6)
    assert (w_self.triu(1) == 0).all()
    assert (w_cross[1, :, :, 3:] == 0).all() and (w_cross[2, :, :, 1:] == 0).all()


def test_post_ln_output_is_normalised_and_pre_ln_output_is_not():
    x = 3 * torch.randn(2, 6, D) + 1
    post, _ = EncoderLayer(D, H, norm_first=False)(x)
    pre, _ = EncoderLayer(D, H, norm_first=True)(x)
    torch.testing.assert_close(post.mean(-1), torch.zeros(2, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(post.var(-1, unbiased=False), torch.ones(2, 6), atol=1e-3, rtol=0)
    assert pre.var(-1, unbiased=False).mean() > 4      # the residual stream keeps x's scale


def test_copy_from_torch_rejects_mismatched_layers():
    with pytest.raises(ValueError, match="dim_feedforward"):
        copy_from_torch(EncoderLayer(D, H, 32), torch_encoder_layer(True, d_ff=64))
    with pytest.raises(ValueError, match="no torch parameter matches"):
        copy_from_torch(EncoderLayer(D, H, D_FF, bias=True), torch_encoder_layer(True, bias=False))
    with pytest.raises(ValueError):                     # a decoder needs the cross-attention weights
        copy_from_torch(DecoderLayer(D, H, D_FF), torch_encoder_layer(True))
    # the other way round nothing of ours is missing, but torch's extra weights would be dropped
    with pytest.raises(ValueError, match="no counterpart"):
        copy_from_torch(EncoderLayer(D, H, D_FF, bias=False), torch_encoder_layer(True))
    with pytest.raises(ValueError, match="no counterpart"):
        copy_from_torch(EncoderLayer(D, H, D_FF), torch_decoder_layer(True))
    ours, theirs = EncoderLayer(D, H, D_FF, bias=False).eval(), torch_encoder_layer(True, bias=False)
    copy_from_torch(ours, theirs)                       # bias=False on both sides is fine
    x = torch.randn(2, 5, D)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], theirs(x), **TOL)


def test_block_is_a_causal_pre_ln_encoder_layer():
    block = Block(D, H).eval()
    layer = EncoderLayer(D, H, causal=True, norm_first=True).eval()
    assert block.state_dict().keys() == layer.state_dict().keys()
    layer.load_state_dict(block.state_dict())
    x = torch.randn(2, 9, D)
    torch.testing.assert_close(block(x)[0], layer(x)[0])
    # and it equals torch's pre-LN GELU layer with d_ff = 4 d under a causal mask
    theirs = torch_encoder_layer(True, d_ff=4 * D)
    copy_from_torch(block, theirs)
    with torch.no_grad():
        ref = theirs(x, src_mask=nn.Transformer.generate_square_subsequent_mask(9), is_causal=True)
        torch.testing.assert_close(block(x)[0], ref, **TOL)
        # the fused causal path and the explicit mask path agree
        torch.testing.assert_close(block(x, need_weights=True)[0], block(x)[0], **TOL)


def test_causal_encoder_layer_ignores_the_future_and_plain_one_does_not():
    x = torch.randn(1, 8, D)
    y = x.clone()
    y[:, 5:] += torch.randn(1, 3, D)
    causal = EncoderLayer(D, H, causal=True).eval()
    torch.testing.assert_close(causal(x)[0][:, :5], causal(y)[0][:, :5])
    plain = EncoderLayer(D, H).eval()
    assert not torch.allclose(plain(x)[0][:, :5], plain(y)[0][:, :5])


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_position_t_sees_targets_up_to_t_and_all_of_memory(norm_first):
    layer = DecoderLayer(D, H, norm_first=norm_first).eval()
    memory, x = torch.randn(2, 6, D), torch.randn(2, 7, D)
    y = x.clone()
    y[:, 4] += torch.randn(2, D)                         # change target position 4 only
    out_x, out_y = layer(x, memory)[0], layer(y, memory)[0]
    torch.testing.assert_close(out_x[:, :4], out_y[:, :4])
    assert ((out_x[:, 4:] - out_y[:, 4:]).abs().amax(-1) > 1e-3).all()
    other = memory.clone()
    other[:, -1] += torch.randn(2, D)                    # the last source position reaches every target
    assert ((layer(x, other)[0] - out_x).abs().amax(-1) > 1e-4).all()


@pytest.mark.parametrize("activation,fn", [("relu", F.relu), ("gelu", F.gelu)])
def test_feed_forward_formula(activation, fn):
    ffn = FeedForward(D, activation=activation)
    assert ffn.fc.weight.shape == (4 * D, D) and ffn.proj.weight.shape == (D, 4 * D)   # d_ff = 4 d
    x = torch.randn(3, 5, D)
    expected = fn(x @ ffn.fc.weight.T + ffn.fc.bias) @ ffn.proj.weight.T + ffn.proj.bias
    torch.testing.assert_close(ffn(x), expected)
    # position-wise: each token's output depends on that token only
    torch.testing.assert_close(ffn(x)[:, 2], ffn(x[:, 2:3])[:, 0])


def test_feed_forward_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        FeedForward(D, activation="swish")
    with pytest.raises(ValueError, match="activation must be one of"):
        EncoderLayer(D, H, activation="tanh")


def small_transformer(**kw):
    cfg = TransformerConfig(src_vocab_size=20, tgt_vocab_size=18, d_model=16, n_head=2, n_encoder_layers=2,
                            n_decoder_layers=2, dropout=0.0, max_len=16, **kw)
    return Transformer(cfg).eval()


@pytest.mark.parametrize("norm_first", [True, False])
def test_source_padding_does_not_change_outputs_for_real_tokens(norm_first):
    model = small_transformer(norm_first=norm_first)
    pad = model.config.pad_id
    src = torch.tensor([[5, 6, 7, 8, 9]])
    tgt_in = torch.tensor([[1, 4, 5, 6]])
    logits, _ = model(src, tgt_in)
    memory, _, _ = model.encode(src)
    # the same sentence padded to 9 tokens, in a batch with a longer one
    src_batch = torch.tensor([[5, 6, 7, 8, 9, pad, pad, pad, pad],
                              [3, 4, 5, 6, 7, 8, 9, 10, 11]])
    logits_b, _ = model(src_batch, tgt_in.repeat(2, 1))
    memory_b, _, _ = model.encode(src_batch)
    torch.testing.assert_close(memory_b[0, :5], memory[0], **TOL)
    torch.testing.assert_close(logits_b[0], logits[0], **TOL)
    # a padded target gives the same logits at the real positions
    tgt_padded = torch.tensor([[1, 4, 5, 6, pad, pad]])
    torch.testing.assert_close(model(src, tgt_padded)[0][:, :4], logits, **TOL)


def test_loss_ignores_pad_positions():
    model = small_transformer()
    pad = model.config.pad_id
    src = torch.tensor([[5, 6, 7, 0], [3, 4, 5, 6]])
    tgt_in = torch.tensor([[1, 4, 5, 0, 0], [1, 7, 8, 9, 10]])
    tgt_out = torch.tensor([[4, 5, 2, pad, pad], [7, 8, 9, 10, 2]])
    logits, loss = model(src, tgt_in, tgt_out)
    real = tgt_out != pad
    expected = F.cross_entropy(logits[real], tgt_out[real])
    torch.testing.assert_close(loss, expected)
    # counting the pad positions as targets would give another number
    assert not math.isclose(F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten()).item(), loss.item())
