"""The attention explorer: self-contained HTML, data that round-trips (self- and
cross-attention), clear errors, the temperature identity, and the live widget's error path for a
GPT and for any model behind an ``attend(text)`` function (no kernel needed)."""

import json
import math
import re

import numpy as np
import pytest
import torch

from llmbook_lib.viz.explorer import (SCALE, apply_temperature, attention_explorer, attention_input, model_attention,
                                  top_attended)
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.text.tokenize import ByteTokenizer, CharTokenizer
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
    """Rebuild [L, H, Tq, Tk] weights from the stored rows (independently of the JS decoder)."""
    Tk = len(sentence["tokens"])
    Tq = len(sentence.get("queries", sentence["tokens"]))
    w = np.zeros((sentence["L"], sentence["H"], Tq, Tk))
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
    assert "queries" not in sen                     # self-attention: the rows are the same tokens
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
                                         ((1, 1, 3, 4), "square.*query_tokens"),
                                         ((1, 1, 5, 5), "5 positions but 4 tokens")])
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


# --- cross-attention: queries and keys are different tokens ---------------------------------
def cross_weights(L, H, Tq, Tk, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(L, H, Tq, Tk, generator=g, dtype=torch.float64) * 3, dim=-1)


def test_cross_attention_round_trip():
    src, tgt = ["the", "cat", "sat", "on", "the", "mat"], ["le", "chat", "est", "assis"]
    w = cross_weights(2, 3, len(tgt), len(src))
    view = show_attention(src, w, query_tokens=tgt)
    (p,) = embedded(view)
    (sen,) = p["sentences"]
    assert sen["tokens"] == src and sen["queries"] == tgt
    assert sen["title"].startswith("le chat est assis → the cat sat")       # words joined by spaces
    np.testing.assert_allclose(decode(sen, p["scale"]), w.numpy(), rtol=1e-3, atol=1e-6)
    assert "(4, 6)" in repr(view)
    # a square matrix with explicit query tokens is shown as cross-attention too
    (p,) = embedded(show_attention(list("ab"), random_weights(1, 1, 2), query_tokens=list("xy")))
    assert p["sentences"][0]["queries"] == ["x", "y"]


def test_cross_and_self_sentences_mixed():
    a = (list("你好"), random_weights(1, 2, 2))
    b = (["x", "y", "z"], cross_weights(1, 2, 2, 3), ["p", "q"])
    (p,) = embedded(show_attention([a, b], titles=["self", "cross"]))
    assert "queries" not in p["sentences"][0] and p["sentences"][1]["queries"] == ["p", "q"]
    np.testing.assert_allclose(decode(p["sentences"][1], p["scale"]), b[1].numpy(), rtol=1e-3, atol=1e-6)


def test_cross_attention_errors():
    w = cross_weights(1, 1, 2, 3)
    with pytest.raises(ValueError, match="2 query rows but 3 query_tokens"):
        show_attention(list("abc"), w, query_tokens=list("pqr"))
    with pytest.raises(ValueError, match="3 positions but 2 tokens"):
        show_attention(list("ab"), w, query_tokens=list("pq"))
    with pytest.raises(ValueError, match="query_tokens must be a list"):
        show_attention(list("abc"), w, query_tokens="pq")
    with pytest.raises(ValueError, match="in the list"):
        show_attention([(list("abc"), w, list("pq"))], query_tokens=list("pq"))


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
    ids, tokens, msg = attention_input("你好", tok, max_len=8)
    assert ids == tok.encode("你好") and tokens == ["你", "好"] and msg == ""
    for text in ["", "   "]:
        ids, _, msg = attention_input(text, tok, 8)
        assert ids is None and "输入为空" in msg
    ids, _, msg = attention_input("你好世界" * 3, tok, 8)
    assert ids is None and "12 个词元" in msg and "max_len = 8" in msg
    ids, _, msg = attention_input("你好，猫", tok, 8)
    assert ids is None and "「，」「猫」" in msg and "词表" in msg
    unk = CharTokenizer(list("你好"), unk="<unk>")               # with <unk>: not an error
    ids, tokens, msg = attention_input("你猫", unk, 8)
    assert msg == "" and tokens == ["你", "<unk>"]
    ids, tokens, msg = attention_input("é", ByteTokenizer(), 8)   # partial UTF-8 bytes still get labels
    assert msg == "" and len(tokens) == 2


def tiny_gpt(vocab=6, block=8):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab, max_len=block, n_layer=2, n_head=2, d_model=8)).eval()


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
    text_w.value = "abcdefabc"                                   # 9 > max_len 8
    assert "max_len = 8" in msg.value
    text_w.value = "abz"
    assert "「z」" in msg.value
    text_w.value = "fed"
    assert "3 个词元" in msg.value and "最关注" in msg.value


def test_widget_with_attend_function():
    """Any model behind attend(text): its ValueError message is shown, menus follow the shape."""
    pytest.importorskip("ipywidgets")
    calls = []

    def attend(text):
        calls.append(text)
        words = text.split()
        if not words:
            raise ValueError("empty input: type a sentence")
        if words[0] == "cross":                  # target words attend to a fixed source
            return ["s1", "s2", "s3"], cross_weights(2, 3, len(words), 3), words
        if words[0] == "broken":
            return words, np.ones((1, 1, len(words), len(words)))     # rows sum to T, not 1
        L = 3 if words[0] == "deep" else 1
        return words, random_weights(L, 2, len(words), causal=False)

    box = attention_explorer(attend, text="a b c")
    text_w, (layer_w, head_w), msg = box.children[0], box.children[1].children, box.children[4]
    assert calls == ["a b c"] and "3 个词元" in msg.value and "「c」" in msg.value
    assert len(layer_w.options) == 1 and len(head_w.options) == 3        # mean + 2 heads
    text_w.value = "deep a b"
    assert len(layer_w.options) == 3 and "3 个词元" in msg.value
    layer_w.value = 2
    text_w.value = "   "
    assert "empty input: type a sentence" in msg.value
    text_w.value = "deep x"
    assert layer_w.value == 2 and "2 个词元" in msg.value             # the chosen layer is kept
    text_w.value = "cross u v"
    assert "3 个查询词元、3 个键词元" in msg.value and "查询词元「v」" in msg.value
    text_w.value = "broken a b"
    assert "sum to 1" in msg.value
    with pytest.raises(ValueError, match="attend"):
        attention_explorer(42)
    with pytest.raises(ValueError, match="tokenizer"):
        attention_explorer(tiny_gpt())


def test_stable_format_prints_digits_that_last_bits_cannot_change():
    from llmbook_lib.viz import stable_format

    assert stable_format(6.30812, ".3f") == "6.308"
    assert stable_format(2, ".2f") == "2.00"
    # one ulp either side of a value well inside a rounding interval prints the same
    x = 4.7999999
    assert stable_format(x, ".2f") == format(math.nextafter(x, 0), ".2f") == "4.80"
    # 0.0125 is (in binary) a hair off the .3f boundary: another machine could print 0.012 or 0.013
    with pytest.raises(ValueError, match="rounding boundary"):
        stable_format(0.0125, ".3f")
    assert stable_format(0.0125, ".4f") == "0.0125"         # one digit more is safe
    with pytest.raises(ValueError, match="finite"):
        stable_format(float("nan"), ".2f")
