"""The estimates of models/compute.py against what PyTorch really does: FLOPs against
torch.utils.flop_counter (exact integer counts), KV-cache bytes against the cache tensors a
GPT fills, optimizer-state bytes against AdamW's state after one step; plus the arithmetic
of the published accounting (ZeRO's 16 bytes per parameter, Korthikanti's activations) and
errors a reader can act on."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from llmbook_lib.models.compute import (
    activation_bytes, bytes_per_value, forward_flops_per_token, inference_memory,
    kv_cache_bytes, matmul_params, model_flops_utilization, training_flops, training_memory,
    training_seconds, weight_bytes)
from llmbook_lib.models.sizing import count_params
from llmbook_lib.models.transformer import GPT, GPTConfig

CFG = GPTConfig(vocab_size=61, max_len=24, n_layer=2, n_head=4, d_model=32)


def small_gpt():
    torch.manual_seed(0)
    return GPT(CFG)


def test_matmul_params_is_the_gpt_weight_matrices():
    L, d, V = CFG.n_layer, CFG.d_model, CFG.vocab_size
    model = small_gpt()
    # per layer Q, K, V, output (4 d^2) and the FFN (8 d^2); the tied head V d once
    assert matmul_params(model) == 12 * L * d * d + V * d
    assert matmul_params(model) < count_params(model)


@pytest.mark.parametrize("T", [24, 7])
def test_forward_and_backward_flops_match_the_flop_counter(T):
    model = small_gpt()
    B = 3
    x = torch.randint(0, CFG.vocab_size, (B, T))
    with FlopCounterMode(display=False) as fwd:
        # need_weights: the readable attention path (matmuls the counter sees); the fused
        # CPU kernel is not registered with the counter
        _, loss, _ = model(x, targets=x, need_weights=True)
    with FlopCounterMode(display=False) as bwd:
        loss.backward()
    per_token = forward_flops_per_token(matmul_params(model), CFG.n_layer, T, CFG.d_model)
    assert fwd.get_total_flops() == B * T * per_token
    assert bwd.get_total_flops() == 2 * fwd.get_total_flops()
    train = training_flops(matmul_params(model), B * T, CFG.n_layer, T, CFG.d_model)
    assert fwd.get_total_flops() + bwd.get_total_flops() == train


def test_training_flops_agree_with_gpt_flops_per_token():
    model = small_gpt()
    # GPT.flops_per_token counts num_params() (biases and norms included): same formula
    n = model.num_params()
    assert training_flops(n, 1, CFG.n_layer, CFG.max_len, CFG.d_model) == model.flops_per_token()


def test_causal_attention_term_is_half_the_dense_one():
    dense = forward_flops_per_token(100, 2, 10, 8) - 200
    causal = forward_flops_per_token(100, 2, 10, 8, causal=True) - 200
    assert dense == 4 * 2 * 10 * 8 and causal == dense / 2
    assert training_flops(1e9, 1e10) == 6e19                    # 6 N D without attention


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kv_cache_bytes_match_the_cache_tensors(dtype):
    model = small_gpt().to(dtype)
    B, T = 2, 9
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.randint(0, CFG.vocab_size, (B, T - 1)), cache=cache)
        model(torch.randint(0, CFG.vocab_size, (B, 1)), cache=cache)   # one generated token
    real = sum(t.nbytes for layer in cache.layers for t in (layer.k, layer.v))
    assert len(cache) == T
    assert real == kv_cache_bytes(CFG.n_layer, T, CFG.d_model, B, dtype)


def test_fp32_training_memory_matches_adamw_after_one_step():
    model = small_gpt()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, CFG.vocab_size, (2, 8))
    model(x, targets=x)[1].backward()
    opt.step()
    n = count_params(model)
    est = training_memory(n, dtype="fp32")
    moments = sum(s[k].nbytes for s in opt.state.values() for k in ("exp_avg", "exp_avg_sq"))
    assert moments == est["optimizer"]
    assert sum(p.grad.nbytes for p in model.parameters()) == est["gradients"]
    assert sum(p.nbytes for p in model.parameters()) == est["weights"] == weight_bytes(n, "fp32")


def test_sixteen_bytes_per_parameter_and_frozen_weights():
    n = 1_000_000
    for dtype in ("fp32", "bf16"):
        m = training_memory(n, dtype=dtype)
        assert m["total"] == 16 * n                               # ZeRO section 3.1
    lora = training_memory(n, n_trainable=1000, dtype="bf16", activations=5.0)
    assert lora["weights"] == 2 * n and lora["gradients"] == 2000
    assert lora["optimizer"] == 12000 and lora["total"] == 2 * n + (2 + 12) * 1000 + 5.0
    q = training_memory(n, n_trainable=1000, dtype="int4")         # QLoRA-style frozen base
    assert q["weights"] == 0.5 * (n - 1000) + 2 * 1000


def test_inference_memory_and_dtypes():
    m = inference_memory(7e9, 32, 4096, 4096, batch=1, dtype="int4")
    assert m["weights"] == 3.5e9
    assert m["kv_cache"] == 2 * 32 * 4096 * 4096 * 2              # cache stays 16-bit
    assert m["total"] == m["weights"] + m["kv_cache"]
    assert bytes_per_value("float16") == bytes_per_value(torch.float16) == 2
    assert bytes_per_value("BF16") == 2 and bytes_per_value(torch.float32) == 4


def test_activation_bytes_follow_korthikanti():
    s, b, h, a, L = 2048, 1, 12288, 96, 96
    none = activation_bytes(L, s, h, a, b)
    assert none == L * s * b * h * (34 + 5 * a * s / h)
    assert activation_bytes(L, s, h, a, b, "selective") == L * 34 * s * b * h
    assert activation_bytes(L, s, h, a, b, "full") == L * 2 * s * b * h


def test_training_time_and_mfu_are_inverse():
    flops = 6 * 7e9 * 1e12
    sec = training_seconds(flops, 312e12, mfu=0.5, n_devices=8)
    assert sec == pytest.approx(flops / (312e12 * 0.5 * 8))
    assert model_flops_utilization(flops, sec * 8, 312e12) == pytest.approx(0.5)


@pytest.mark.parametrize("call, match", [
    (lambda: bytes_per_value("fp8"), "unknown dtype 'fp8'"),
    (lambda: weight_bytes(0), "n_params must be positive"),
    (lambda: weight_bytes(-5, "fp16"), "n_params must be positive"),
    (lambda: training_flops(1e9, -1), "n_tokens must be positive"),
    (lambda: kv_cache_bytes(2, 0, 8), "n_ctx must be positive"),
    (lambda: forward_flops_per_token(10, n_layer=-1), "n_layer must be a number >= 0"),
    (lambda: training_memory(10, n_trainable=20), "exceeds n_params"),
    (lambda: training_seconds(1e20, 1e15, mfu=1.5), "at most 1"),
    (lambda: activation_bytes(2, 8, 8, 2, recompute="some"), "recompute must be one of"),
    (lambda: weight_bytes("7B"), "n_params must be a number"),
])
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_numpy_numbers_are_accepted_and_scaling_shares_the_6nd_count():
    import numpy as np

    from llmbook_lib.training import scaling

    assert training_flops(np.int64(1_000_000), np.float64(2e7)) == 1.2e14
    assert scaling.training_flops is training_flops      # one definition, re-exported
    with pytest.raises(ValueError, match="must be a number"):
        training_flops("1e6", 10)
