"""The attention explorer: self-contained HTML, data that round-trips, clear errors, the
temperature identity, and the live widget's error path (no kernel needed)."""

import json
import math
import re

import numpy as np
import pytest
import torch

from llmbook_lib.explorer import (SCALE, apply_temperature, attention_explorer, attention_input, model_attention,
                                  top_attended)
from llmbook_lib.tokenize import ByteTokenizer, CharTokenizer
from llmbook_lib.transformer import GPT, GPTConfig
from llmbook_lib.viz import show_attention


def random_weights(L, H, T, causal=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(L, H, T, T, generator=g, dtype=torch.float64) * 3
    if causal:
        s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(s, dim=-1)


def embedded(view):
    """The JSON payloads embedded in an explorer's HTML."""
    blocks = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', view._repr_html_(), re.S)
    return [json.loads(b) for b in blocks]


def decode(sentence, scale):
    """Rebuild [L, H, T, T] weights from the stored rows (independently of the JS decoder)."""
    T = len(sentence["tokens"])
    w = np.zeros((sentence["L"], sentence["H"], T, T))
    for l, layer in enumerate(sentence["logw"]):
        for h, rows in enumerate(layer):
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    if v is not None:
                        w[l, h, i, j] = math.exp(v / scale)
    return w


def test_html_is_self_contained():
    tokens = list("注意力机制")
    html = show_attention(tokens, random_weights(2, 3, 5))._repr_html_()
    assert re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", html) is None
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "require(" not in html and "define(" not in html
    assert html.count("<script>") == 1 and "LLMBookAttention.mount" in html
    assert "Noto Sans CJK SC" in html
    assert "w^(1/τ)" in html                        # the display temperature is explained in the UI


def test_embedded_weights_round_trip():
    tokens = ["The", " cat", "<unk>", "</script>", "&", "猫"]
    w = random_weights(2, 3, 6, seed=1)
    (payload,) = embedded(show_attention(tokens, w))
    assert payload["scale"] == SCALE
    (sen,) = payload["sentences"]
    assert sen["tokens"] == tokens and (sen["L"], sen["H"]) == (2, 3)
    back = decode(sen, payload["scale"])
    np.testing.assert_allclose(back, w.numpy(), rtol=1e-3, atol=1e-6)
    assert (back[..., np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0).all()   # masked stays 0


def test_several_sentences_and_unique_ids():
    a = (list("你好"), random_weights(1, 2, 2))
    b = (list("世界和平"), random_weights(1, 2, 4, seed=3))
    v1 = show_attention([a, b], titles=["一", "二"], layer=0, head=1)
    v2 = show_attention([a, b], titles=["一", "二"])
    (p,) = embedded(v1)
    assert [s["title"] for s in p["sentences"]] == ["一", "二"]
    assert p["init"]["head"] == 1
    ids = [re.search(r'class="llmb-attn" id="([^"]+)"', v._repr_html_()).group(1) for v in (v1, v2)]
    assert ids[0] != ids[1]
    for s, (t, w) in zip(p["sentences"], [a, b]):
        np.testing.assert_allclose(decode(s, p["scale"]), w.numpy(), rtol=1e-3, atol=1e-6)


def test_accepts_numpy_and_lower_rank():
    w = random_weights(1, 1, 3)[0, 0].numpy()
    (p,) = embedded(show_attention(["a", "b", "c"], w))
    assert (p["sentences"][0]["L"], p["sentences"][0]["H"]) == (1, 1)


@pytest.mark.parametrize("shape,match", [((4,), "dimensions"), ((2, 1, 2, 4, 4), "pick one"),
                                         ((1, 1, 3, 4), "square"), ((1, 1, 5, 5), "5 positions but 4 tokens")])
def test_shape_errors(shape, match):
    with pytest.raises(ValueError, match=match):
        show_attention(list("abcd"), np.full(shape, 0.25))


def test_value_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        show_attention(list("ab"), torch.randn(1, 1, 2, 2).abs() + 1)
    with pytest.raises(ValueError, match="non-negative"):
        show_attention(list("ab"), torch.tensor([[1.5, -0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="same"):
        show_attention([(list("ab"), random_weights(1, 2, 2)), (list("ab"), random_weights(2, 2, 2))])
    with pytest.raises(ValueError, match="layer"):
        show_attention(list("ab"), random_weights(1, 2, 2), layer=1)
    with pytest.raises(ValueError, match="list of strings"):
        show_attention("ab", random_weights(1, 1, 2))


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0, 7.0])
def test_temperature_identity(tau):
    s = torch.randn(3, 6, 6, dtype=torch.float64) * 4
    s = s.masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), float("-inf"))
    w = torch.softmax(s, -1)
    expected = torch.softmax(s / tau, -1)
    torch.testing.assert_close(apply_temperature(w, tau), expected)
    np.testing.assert_allclose(apply_temperature(w.numpy(), tau), expected.numpy(), atol=1e-12)
    # an all-zero row (no visible key) stays zero in both implementations
    z = torch.zeros(2, 3, dtype=torch.float64)
    assert (apply_temperature(z, tau) == 0).all() and (apply_temperature(z.numpy(), tau) == 0).all()
    with pytest.raises(ValueError):
        apply_temperature(w, 0)


def test_top_attended():
    assert top_attended(list("abc"), [0.2, 0.5, 0.3], k=2) == [(1, "b", 0.5), (2, "c", 0.3)]
    assert top_attended(list("abc"), [0.4, 0.6, 0.0], k=5) == [(1, "b", 0.6), (0, "a", 0.4)]   # masked key left out


# --- the live explorer's input checks -------------------------------------------------------
def test_attention_input_messages():
    tok = CharTokenizer(list("你好世界"))                       # no <unk>
    ids, tokens, msg = attention_input("你好", tok, block_size=8)
    assert ids == tok.encode("你好") and tokens == ["你", "好"] and msg == ""
    for text in ["", "   "]:
        ids, _, msg = attention_input(text, tok, 8)
        assert ids is None and "输入为空" in msg
    ids, _, msg = attention_input("你好世界" * 3, tok, 8)
    assert ids is None and "12 个词元" in msg and "block_size = 8" in msg
    ids, _, msg = attention_input("你好，猫", tok, 8)
    assert ids is None and "「，」「猫」" in msg and "词表" in msg
    unk = CharTokenizer(list("你好"), unk="<unk>")               # with <unk>: not an error
    ids, tokens, msg = attention_input("你猫", unk, 8)
    assert msg == "" and tokens == ["你", "<unk>"]
    ids, tokens, msg = attention_input("é", ByteTokenizer(), 8)   # partial UTF-8 bytes still get labels
    assert msg == "" and len(tokens) == 2


def tiny_gpt(vocab=6, block=8):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=8)).eval()


def test_model_attention_shape_and_causality():
    model = tiny_gpt()
    w = model_attention(model, [1, 2, 3, 4])
    assert w.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(w.sum(-1), 1, atol=1e-5)
    assert (w[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0).all()
    show_attention(list("abcd"), w)                              # accepted as is


def test_widget_shows_messages_not_tracebacks():
    pytest.importorskip("ipywidgets")
    tok = CharTokenizer(list("abcdef"))
    model = tiny_gpt()
    box = attention_explorer(model, tok, text="abc")
    text_w, msg = box.children[0], box.children[4]
    assert "3 个词元" in msg.value
    text_w.value = ""
    assert "输入为空" in msg.value
    text_w.value = "abcdefabc"                                   # 9 > block_size 8
    assert "block_size = 8" in msg.value
    text_w.value = "abz"
    assert "「z」" in msg.value
    text_w.value = "fed"
    assert "3 个词元" in msg.value and "最关注" in msg.value
