"""Sparse and dense retrieval: BM25 over terms, cosine over encoder embeddings, one top-k API.

The retriever of a retrieval-augmented system (section 8.1.3) ranks the documents of a store
for a query; a reader then answers from the best few.

- **sparse** (``BM25``, Robertson & Zaragoza, 2009, "The Probabilistic Relevance Framework:
  BM25 and Beyond"; the idf carries Lucene's "+1" so that no weight is negative, and each
  distinct query term counts once)::

      score(D, Q) = sum over distinct terms t of Q of
                    idf(t) * tf(t, D) * (k1 + 1) / (tf(t, D) + k1 * (1 - b + b * |D| / avgdl))
      idf(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

  with N documents, n(t) of them containing t, |D| the number of terms of D and avgdl the mean
  over the store. Only exact terms match; a rare shared term (a name) weighs most. Terms
  (``terms``): characters, character bigrams, jieba words (Chinese) or lower-cased words
  (English), punctuation and spaces dropped.
- **dense** (``DenseRetriever``, as in DPR, Karpukhin et al., 2020, but with an encoder that
  was never trained for retrieval): cosine similarity between ``embed(query)`` and
  ``embed(document)``, for any ``embed(texts) -> (n, d)``, such as ``tasks.chat.bert_embedder``
  (mean-pooled states of the book's character encoder).

Both give ``scores(queries) -> (B, N)`` and ``top_k(queries, k) -> (indices, scores)``, each
(B, k), best first, ties to the earlier document. ``recall_at_k`` measures a ranking against
the set of documents that hold the answer: the share of queries with at least one of them in
the top k, an upper bound on what any reader of those k documents can answer from them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse

UNITS = ("char", "bigram", "jieba", "word")
_WORD = re.compile(r"\w+")


def _kept(c: str) -> bool:
    """Not whitespace, punctuation, control or format (Unicode categories Z*, P*, C*)."""
    return not c.isspace() and unicodedata.category(c)[0] not in "ZPC"


def terms(text: str, unit: str = "char") -> list[str]:
    """The index terms of ``text``: ``"char"`` characters, ``"bigram"`` adjacent character pairs
    (within a run of kept characters), ``"jieba"`` jieba words, ``"word"`` lower-cased ``\\w+``
    words (English). Whitespace and punctuation are never terms."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}: {text!r}")
    if unit == "char":
        return [c for c in text if _kept(c)]
    if unit == "bigram":
        runs = re.split(r"[^\w]+", "".join(c if _kept(c) else " " for c in text))
        return [r[i:i + 2] for r in runs for i in range(len(r) - 1)]
    if unit == "jieba":
        import jieba

        jieba.setLogLevel(60)                  # silence "Building prefix dict ..." on stderr
        return [w for w in jieba.lcut(text) if any(_kept(c) for c in w) and w.strip()]
    if unit == "word":
        return _WORD.findall(text.lower())
    raise ValueError(f"unknown unit {unit!r}; choose one of {UNITS}")


def _check_docs(docs: Sequence[str]) -> list[str]:
    if isinstance(docs, (str, bytes)):
        raise TypeError("docs must be a list of strings, not a single string; wrap it: [text]")
    docs = list(docs)
    if not docs:
        raise ValueError("the document store is empty; give the retriever at least one document")
    for i, d in enumerate(docs):
        if not isinstance(d, str):
            raise TypeError(f"document {i} is a {type(d).__name__}, not a str")
    return docs


def _check_queries(queries: Sequence[str]) -> list[str]:
    if isinstance(queries, (str, bytes)):
        raise TypeError("queries must be a list of strings; wrap a single query: [query]")
    queries = list(queries)
    for i, q in enumerate(queries):
        if not isinstance(q, str):
            raise TypeError(f"query {i} is a {type(q).__name__}, not a str")
        if not q.strip():
            raise ValueError(f"query {i} is empty or only whitespace; there is nothing to search for")
    return queries


def _check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


class Retriever:
    """What both retrievers share: ``top_k`` over ``scores``; ``docs`` is the store."""

    docs: list[str]

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def top_k(self, queries: Sequence[str], k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each (B, min(k, N)): the best documents for each query, best
        first; equal scores go to the earlier document."""
        k = min(_check_k(k), len(self.docs))
        s = self.scores(queries)                                          # (B, N)
        idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(s, idx, axis=1)

    def retrieve(self, query: str, k: int = 1) -> list[tuple[int, float, str]]:
        """(index, score, document) of the k best documents for one query."""
        idx, s = self.top_k([query], k)
        return [(int(i), float(v), self.docs[i]) for i, v in zip(idx[0], s[0])]


class BM25(Retriever):
    """Okapi BM25 over ``terms(doc, unit)`` (or ``tokenize(doc)``); k1 = 1.5 and b = 0.75 as in
    common practice. The store's weights are one sparse (N, V) matrix, so scoring a batch of
    queries is one sparse product."""

    def __init__(self, docs: Sequence[str], unit: str = "char", k1: float = 1.5, b: float = 0.75,
                 tokenize: Callable[[str], list[str]] | None = None):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.docs = _check_docs(docs)
        if tokenize is None:
            terms("", unit)                                   # an unknown unit fails here
            tokenize = lambda text: terms(text, unit)         # noqa: E731
        self.unit, self.k1, self.b, self.tokenize = unit, k1, b, tokenize
        counts = [Counter(tokenize(d)) for d in self.docs]
        self.vocab = {t: i for i, t in enumerate(sorted({t for c in counts for t in c}))}
        self.doc_len = np.array([sum(c.values()) for c in counts], dtype=float)
        self.avgdl = float(self.doc_len.mean()) or 1.0        # every document empty: no term matches
        entries = [(i, self.vocab[t], n) for i, c in enumerate(counts) for t, n in c.items()]
        rows = np.array([e[0] for e in entries], dtype=int)           # document
        cols = np.array([e[1] for e in entries], dtype=int)           # term id
        tf = np.array([e[2] for e in entries], dtype=float)           # count of the term in it
        n_docs = len(self.docs)
        df = np.bincount(cols, minlength=len(self.vocab))
        self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * self.doc_len[rows] / self.avgdl)
        w = self.idf[cols] * tf * (k1 + 1) / (tf + norm)
        self.weights = sparse.csr_matrix((w, (rows, cols)), shape=(n_docs, len(self.vocab)))

    def query_terms(self, query: str) -> list[str]:
        """The distinct terms of ``query`` that the store knows (others cannot score)."""
        return [t for t in dict.fromkeys(self.tokenize(query)) if t in self.vocab]

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for each query, (B, N)."""
        queries = _check_queries(queries)
        pairs = []                                            # (query, term id) of each query term
        for i, q in enumerate(queries):
            if not self.tokenize(q):
                raise ValueError(f"query {i} ({q!r}) has no {self.unit} terms (only punctuation?)")
            pairs += [(i, self.vocab[t]) for t in self.query_terms(q)]
        rows, cols = [p[0] for p in pairs], [p[1] for p in pairs]
        onehot = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                   shape=(len(queries), len(self.vocab)))
        return np.asarray((onehot @ self.weights.T).todense())


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class DenseRetriever(Retriever):
    """Cosine similarity between ``embed(queries)`` and ``embed(docs)``, the documents embedded
    once when the retriever is built (re-build it after editing the store)."""

    def __init__(self, docs: Sequence[str], embed: Callable[[list[str]], np.ndarray]):
        self.docs = _check_docs(docs)
        self.embed = embed
        self.keys = self._embed(self.docs)                                # (N, d), unit rows

    def _embed(self, texts: list[str]) -> np.ndarray:
        x = np.asarray(self.embed(list(texts)), dtype=np.float64)
        if x.ndim != 2 or len(x) != len(texts):
            raise ValueError(f"embed returned shape {x.shape} for {len(texts)} texts; expected (n, d)")
        return _unit_rows(x)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each query to every document, (B, N)."""
        return self._embed(_check_queries(queries)) @ self.keys.T


def recall_at_k(ranked: np.ndarray, relevant: Sequence[Iterable[int]], k: int) -> float:
    """Share of queries with at least one relevant document among the first k of ``ranked``
    ((B, >= k) document indices, best first). A query with no relevant document counts as a miss."""
    k = _check_k(k)
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or len(ranked) != len(relevant):
        raise ValueError(f"ranked has shape {ranked.shape} but there are {len(relevant)} relevance sets")
    if not len(relevant):
        raise ValueError("no queries to measure")
    if ranked.shape[1] < k:
        raise ValueError(f"ranked holds {ranked.shape[1]} documents per query, fewer than k={k}")
    hits = [bool(set(row[:k].tolist()) & set(rel)) for row, rel in zip(ranked, relevant)]
    return sum(hits) / len(hits)


def random_recall_at_k(n_docs: int, n_relevant: Sequence[int], k: int) -> float:
    """Expected recall@k of a uniformly random ranking: mean over queries of
    1 - C(N - r, k) / C(N, k), with r relevant documents among N."""
    k = _check_k(k)
    if n_docs < 1:
        raise ValueError("the document store is empty")
    k = min(k, n_docs)
    return float(np.mean([1 - math.comb(n_docs - r, k) / math.comb(n_docs, k) for r in n_relevant]))


__all__ = ["BM25", "DenseRetriever", "Retriever", "UNITS", "random_recall_at_k", "recall_at_k", "terms"]
