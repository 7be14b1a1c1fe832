import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook_lib.models.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention


@given(B=st.integers(1, 3), H=st.integers(1, 4), Tq=st.integers(1, 9), Tk=st.integers(1, 9),
       dk=st.integers(1, 16), dv=st.integers(1, 16), mask_kind=st.sampled_from(["none", "random", "causal", "broadcast"]),
       seed=st.integers(0, 2**31 - 1))
@settings(max_examples=150, deadline=None)
def test_matches_torch_sdpa(B, H, Tq, Tk, dk, dv, mask_kind, seed):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Tq, dk, generator=g, dtype=torch.float64)
    k = torch.randn(B, H, Tk, dk, generator=g, dtype=torch.float64)
    v = torch.randn(B, H, Tk, dv, generator=g, dtype=torch.float64)
    mask = None
    if mask_kind == "random":
        mask = torch.rand(B, H, Tq, Tk, generator=g) < 0.7
        mask[..., 0] = True                     # torch returns NaN for rows with no key at all
    elif mask_kind == "causal":
        mask = torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
        mask[:, 0] = True
    elif mask_kind == "broadcast":
        mask = torch.rand(B, 1, 1, Tk, generator=g) < 0.7
        mask[..., 0] = True
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(w.sum(-1), torch.ones(B, H, Tq, dtype=torch.float64))
    if mask is not None:
        assert (w.masked_select(~mask.expand_as(w)) == 0).all()


def test_float32_tolerance_and_scale():
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, scale=0.3)[0],
                               F.scaled_dot_product_attention(q, k, v, scale=0.3))


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = torch.randn(1, 2, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.isfinite(out).all()
    assert (w[0, 1] == 0).all() and (out[0, 1] == 0).all()


def test_non_bool_mask_is_rejected():
    q = torch.randn(1, 2, 4)
    with pytest.raises(ValueError, match="bool"):
        scaled_dot_product_attention(q, q, q, mask=torch.ones(2, 2))


def test_causal_and_padding_masks():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    pm = padding_mask([2, 3], 4)
    assert pm.shape == (2, 1, 1, 4)
    assert pm[:, 0, 0].tolist() == [[True, True, False, False], [True, True, True, False]]
    with pytest.raises(ValueError, match="0..4"):
        padding_mask([5], 4)


def test_padding_mask_ignores_padded_keys():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 1, 4, 8), torch.randn(2, 1, 4, 8), torch.randn(2, 1, 4, 8)
    mask = padding_mask([2, 4], 4)
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    k2, v2 = k.clone(), v.clone()
    k2[0, :, 2:] += 100.0                       # change only the padding of sequence 0
    v2[0, :, 2:] -= 50.0
    out2, _ = scaled_dot_product_attention(q, k2, v2, mask=mask)
    torch.testing.assert_close(out, out2)


@pytest.mark.parametrize("cross", [False, True])
def test_multihead_matches_torch_multiheadattention(cross):
    torch.manual_seed(0)
    d, h = 32, 4
    ours = MultiHeadAttention(d, h)
    ref = torch.nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.in_proj.weight)
        ref.in_proj_bias.copy_(ours.in_proj.bias)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 5, d)
    ctx = torch.randn(2, 7, d) if cross else x
    key_keep = torch.ones(2, ctx.size(1), dtype=torch.bool)
    key_keep[1, -2:] = False
    out, w = ours(x, context=ctx if cross else None, mask=key_keep[:, None, None, :], need_weights=True)
    ref_out, ref_w = ref(x, ctx, ctx, key_padding_mask=~key_keep, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(w, ref_w)
    fast, none = ours(x, context=ctx if cross else None, mask=key_keep[:, None, None, :])
    assert none is None
    torch.testing.assert_close(fast, out)


def test_multihead_causal_fast_and_explicit_paths_agree():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2)
    x = torch.randn(3, 6, 16)
    fast, _ = mha(x, is_causal=True)
    slow, w = mha(x, is_causal=True, need_weights=True)
    torch.testing.assert_close(fast, slow)
    assert (w.triu(1) == 0).all()
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
