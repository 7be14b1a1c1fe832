import math

import pytest
import torch

from llmbook_lib.models.transformer import GPT, GPTConfig


def small(**kw):
    cfg = dict(vocab_size=40, max_len=16, n_layer=2, n_head=2, d_model=32)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg))


def test_shapes_and_initial_loss_near_uniform():
    m = small()
    x, y = torch.randint(0, 40, (3, 16)), torch.randint(0, 40, (3, 16))
    logits, loss = m(x, y)
    assert logits.shape == (3, 16, 40)
    assert abs(loss.item() - math.log(40)) < 0.2
    assert m(x)[1] is None


def test_too_long_sequence_raises_clear_error():
    with pytest.raises(ValueError, match="sequence length 17 exceeds max_len 16"):
        small()(torch.zeros(1, 17, dtype=torch.long))


def test_causality_future_tokens_do_not_change_past_logits():
    m = small().eval()
    x = torch.randint(0, 40, (1, 12))
    y = x.clone()
    y[0, 8:] = (y[0, 8:] + 1) % 40
    torch.testing.assert_close(m(x)[0][:, :8], m(y)[0][:, :8])
    assert not torch.allclose(m(x)[0][:, 8:], m(y)[0][:, 8:])


def test_attention_weights_are_returned_causal_and_normalised():
    m = small().eval()
    x = torch.randint(0, 40, (2, 10))
    logits, _, att = m(x, need_weights=True)
    assert att.shape == (2, 2, 2, 10, 10)              # (layers, B, heads, T, T)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 2, 2, 10))
    assert (att.triu(1) == 0).all()
    torch.testing.assert_close(logits, m(x)[0])         # same maths on the fused path


def test_ignore_index_masks_loss():
    m = small()
    x = torch.randint(0, 40, (1, 8))
    y = x.clone()
    y[0, 4:] = -100
    logits, loss = m(x, y)
    ref = torch.nn.functional.cross_entropy(logits[0, :4], x[0, :4])
    torch.testing.assert_close(loss, ref)


def test_generate_crops_context_and_is_greedy_at_temperature_zero():
    m = small()
    x = torch.randint(0, 40, (2, 14))
    out = m.generate(x, 10, temperature=0)
    assert out.shape == (2, 24)
    assert torch.equal(out, m.generate(x, 10, temperature=0))
    assert torch.equal(out[:, :14], x)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(m.generate(x, 5, top_k=5, generator=g1), m.generate(x, 5, top_k=5, generator=g2))
    with pytest.raises(ValueError):
        m.generate(x, 1, temperature=-1)


def test_weight_tying_and_param_count():
    m = small()
    assert m.lm_head.weight is m.tok_emb.weight
    assert m.num_params(non_embedding=False) - m.num_params() == 16 * 32


def test_flops_per_token_matches_torch_flop_counter():
    """6N + 12 L d T against FLOPs counted op by op (matmuls and attention, forward and backward).

    The formula's N also counts LayerNorm weights, which do no matmul, so the two differ by
    6 * (2 L + 1) * d per token and nothing more. ``need_weights=True`` computes attention
    with explicit matmuls (the counter does not see inside the fused CPU kernel).
    """
    from torch.utils.flop_counter import FlopCounterMode
    m = small(bias=False)
    B, T, d, L = 2, 16, 32, 2
    x = torch.randint(0, 40, (B, T))
    with FlopCounterMode(display=False) as counter:
        m(x, x, need_weights=True)[1].backward()
    counted = counter.get_total_flops() / (B * T)
    layer_norm_weights = (2 * L + 1) * d
    assert counted == m.flops_per_token() - 6 * layer_norm_weights
    assert m.flops_per_token(T=8) == m.flops_per_token() - 12 * L * d * 8
