"""Parameter counts: the breakdown against hand-derived formulas, tied weights counted once,
the meta device counting what a real model holds, and (when transformers is installed) the
book's GPT and BERT-style encoder against Hugging Face's implementations of the same configs."""

import pytest
import torch

from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.models.sizing import PARTS, count_params, param_breakdown
from llmbook_lib.models.transformer import GPT, GPTConfig, Transformer, TransformerConfig


def gpt_parts(L, d, V, T):
    """The GPT breakdown by hand: per layer 4d^2 + 4d attention, 8d^2 + 5d FFN, two LayerNorms."""
    return {"embedding": (V + T) * d, "attention": L * (4 * d * d + 4 * d),
            "ffn": L * (8 * d * d + 5 * d), "norm": (2 * L + 1) * 2 * d, "other": 0}


def test_gpt_breakdown_matches_the_formula():
    cfg = GPTConfig(vocab_size=97, max_len=33, n_layer=3, n_head=4, d_model=48)
    model = GPT(cfg)
    parts = param_breakdown(model)
    assert parts == gpt_parts(3, 48, 97, 33)
    assert sum(parts.values()) == count_params(model)
    assert list(parts) == list(PARTS)


def test_tied_output_layer_is_counted_once():
    model = GPT(GPTConfig(vocab_size=50, max_len=8, n_layer=1, n_head=2, d_model=16))
    assert model.lm_head.weight is model.tok_emb.weight
    untied = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert count_params(model) == untied - 50 * 16
    assert param_breakdown(model)["other"] == 0          # the head is counted with the embedding


def test_meta_device_counts_like_a_real_model_without_memory():
    cfg = TransformerConfig(src_vocab_size=40, tgt_vocab_size=30, d_model=32, n_head=4,
                            n_encoder_layers=2, n_decoder_layers=1, d_ff=64, norm_first=False)
    real = Transformer(cfg)
    with torch.device("meta"):
        ghost = Transformer(cfg)
    assert all(p.is_meta for p in ghost.parameters())
    assert param_breakdown(ghost) == param_breakdown(real)
    assert count_params(ghost) == count_params(real) > 0


def test_bertlike_heads_are_other():
    d, V = 32, 60
    model = BertLike(BertConfig(vocab_size=V, max_len=16, d_model=d, n_head=4, n_layer=1,
                                pos_encoding="learned"))
    other = param_breakdown(model)["other"]
    # pooler d^2 + d, NSP head 2d + 2, MLM bias V, XLNet's query start vector d
    assert other == (d * d + d) + (2 * d + 2) + V + d


def test_untied_parameters_land_in_other():
    model = GPT(GPTConfig(vocab_size=20, max_len=4, n_layer=1, n_head=2, d_model=8))
    model.lm_head.weight = torch.nn.Parameter(torch.zeros(20, 8))
    assert param_breakdown(model)["other"] == 20 * 8


transformers = pytest.importorskip("transformers")


def hf_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_gpt2_small_equals_huggingface():
    with torch.device("meta"):
        ours = GPT(GPTConfig(vocab_size=50257, max_len=1024, n_layer=12, n_head=12, d_model=768))
        theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    assert count_params(ours) == hf_count(theirs) == 124_439_808


def test_bert_base_body_equals_huggingface():
    d, V = 768, 30522
    with torch.device("meta"):
        ours = BertLike(BertConfig(vocab_size=V, max_len=512, d_model=d, n_head=12, n_layer=12,
                                   pos_encoding="learned"))
        theirs = transformers.BertModel(transformers.BertConfig())      # encoder + pooler
    # ours also holds the MLM bias, the NSP head and XLNet's query vector; the final pre-LN
    # LayerNorm stands where BERT's embedding LayerNorm stands (2d each)
    body = count_params(ours) - V - (2 * d + 2) - d
    assert body == hf_count(theirs)
