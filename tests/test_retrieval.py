"""BM25 against the formula written out by hand, the dense retriever against brute-force cosine,
recall@k against counting, and the errors a reader gets for bad input."""

import math
from collections import Counter

import numpy as np
import pytest

from llmbook_lib.tasks.retrieval import (BM25, DenseRetriever, random_recall_at_k, recall_at_k,
                                         terms)

DOCS = ["郑磊出生于银港，是一名企业家。", "银港的人口约为489万。", "宏图食品的总部位于银港。",
        "李霞喜欢下棋，她毕业于笃行大学。", "下棋、下棋，还是下棋！", "。"]
QUERIES = ["郑磊出生在哪里？", "银港有多少人口？", "谁喜欢下棋", "宏图食品总部"]


def bm25_by_hand(docs, query, k1=1.5, b=0.75, unit="char"):
    """Robertson & Zaragoza (2009), eq. 3.15 with idf = ln(1 + (N - n + 0.5) / (n + 0.5)),
    summed over the distinct query terms; one document at a time, no matrices."""
    toks = [terms(d, unit) for d in docs]
    n_docs, avgdl = len(docs), sum(map(len, toks)) / len(docs)
    out = []
    for d in toks:
        tf, s = Counter(d), 0.0
        for t in set(terms(query, unit)):
            if not tf[t]:
                continue                                   # an absent term adds nothing
            n = sum(t in x for x in toks)
            idf = math.log(1 + (n_docs - n + 0.5) / (n + 0.5))
            s += idf * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(d) / avgdl))
        out.append(s)
    return np.array(out)


@pytest.mark.parametrize("unit", ["char", "bigram", "jieba"])
@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.0), (0.0, 0.5), (2.0, 1.0)])
def test_bm25_matches_the_formula(unit, k1, b):
    r = BM25(DOCS, unit=unit, k1=k1, b=b)
    got = r.scores(QUERIES)
    want = np.stack([bm25_by_hand(DOCS, q, k1, b, unit) for q in QUERIES])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_bm25_english_words_and_saturation():
    docs = ["the cat sat on the mat", "cat cat cat cat cat", "a dog barked", "The Cat."]
    r = BM25(docs, unit="word")
    np.testing.assert_allclose(r.scores(["CAT mat"])[0], bm25_by_hand(docs, "CAT mat", unit="word"))
    # term frequency saturates: five "cat"s score less than five times one "cat"
    s = r.scores(["cat"])[0]
    assert s[1] < 5 * s[3]


def test_terms():
    assert terms("银港，489万！", "char") == list("银港489万")
    assert terms("银港，489万", "bigram") == ["银港", "48", "89", "9万"]
    assert terms("Hello, World 42", "word") == ["hello", "world", "42"]
    assert "".join(terms("郑磊出生于银港。", "jieba")) == "郑磊出生于银港"
    with pytest.raises(ValueError, match="unknown unit"):
        terms("abc", "syllable")


def test_top_k_order_ties_and_clipping():
    docs = ["甲乙", "丙丁", "甲乙", "甲"]
    r = BM25(docs)
    idx, s = r.top_k(["甲乙"], k=3)
    assert idx[0, :2].tolist() == [0, 2]                 # equal scores: the earlier document first
    assert s[0, 0] == s[0, 1] > s[0, 2]
    idx, _ = r.top_k(["甲乙"], k=100)                    # k beyond the store: the whole store
    assert idx.shape == (1, 4) and sorted(idx[0].tolist()) == [0, 1, 2, 3]
    hits = r.retrieve("丙", k=1)
    assert hits[0][0] == 1 and hits[0][2] == "丙丁"


def test_unknown_query_terms_score_zero():
    r = BM25(DOCS)
    np.testing.assert_array_equal(r.scores(["龘"]), np.zeros((1, len(DOCS))))


def test_dense_matches_brute_force_cosine():
    rng = np.random.default_rng(0)
    table = {}

    def embed(texts):
        for t in texts:
            if t not in table:
                table[t] = rng.normal(size=8)
        return np.stack([table[t] for t in texts])

    r = DenseRetriever(DOCS, embed)
    got = r.scores(QUERIES)
    for i, q in enumerate(QUERIES):
        for j, d in enumerate(DOCS):
            a, b = table[q], table[d]
            assert got[i, j] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-12)
    idx, s = r.top_k(QUERIES, k=2)
    assert idx.tolist() == np.argsort(-got, axis=1, kind="stable")[:, :2].tolist()
    with pytest.raises(ValueError, match="expected"):
        DenseRetriever(DOCS, lambda texts: np.zeros(len(texts)))


def test_dense_on_the_shipped_encoder():
    from llmbook_lib.hub import pretrained
    from llmbook_lib.tasks.chat import bert_embedder

    enc, vocab = pretrained("bert-zh-mlm")
    r = DenseRetriever(DOCS[:4], bert_embedder(enc, vocab))
    idx, s = r.top_k([DOCS[1]], k=4)
    assert idx[0, 0] == 1 and s[0, 0] == pytest.approx(1.0)   # a document is nearest to itself


def test_recall_at_k():
    ranked = np.array([[3, 1, 2], [0, 2, 1], [2, 0, 1]])
    relevant = [{1}, {5}, {2, 0}]
    assert recall_at_k(ranked, relevant, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="fewer than k"):
        recall_at_k(ranked, relevant, 4)
    with pytest.raises(ValueError, match="relevance sets"):
        recall_at_k(ranked, relevant[:2], 1)


def test_random_recall_matches_counting():
    # N = 5 documents, r = 2 relevant: recall@2 = 1 - C(3, 2) / C(5, 2) = 0.7
    assert random_recall_at_k(5, [2], 2) == pytest.approx(0.7)
    assert random_recall_at_k(5, [1, 0], 1) == pytest.approx(0.1)
    rng = np.random.default_rng(0)
    ranked = np.stack([rng.permutation(6) for _ in range(20000)])
    assert recall_at_k(ranked, [{0, 1}] * 20000, 3) == pytest.approx(random_recall_at_k(6, [2], 3), abs=0.01)


def _ones(texts):
    return np.ones((len(texts), 2))


@pytest.mark.parametrize("make", [BM25, lambda d: DenseRetriever(d, _ones)])
def test_errors(make):
    with pytest.raises(ValueError, match="empty"):
        make([])
    with pytest.raises(TypeError, match="single string"):
        make("一个文档")
    r = make(DOCS)
    with pytest.raises(ValueError, match="empty"):
        r.scores([" "])
    with pytest.raises(TypeError, match="wrap"):
        r.scores("银港")
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            r.top_k(["银港"], k=k)


def test_bm25_errors():
    with pytest.raises(ValueError, match="no char terms"):
        BM25(DOCS).scores(["？！"])
    with pytest.raises(ValueError, match="k1"):
        BM25(DOCS, b=2)
    with pytest.raises(ValueError, match="unknown unit"):
        BM25(DOCS, unit="syllable")


def test_empty_documents_and_unknown_terms():
    r = BM25(["。", "，"])                                # a store without a single term
    np.testing.assert_array_equal(r.scores(["银港"]), np.zeros((1, 2)))
    r = BM25(["银港", "。"])
    assert r.scores(["银港"])[0, 0] > 0 == r.scores(["银港"])[0, 1]
