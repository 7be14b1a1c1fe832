import random

import numpy as np
import pytest

from llmbook_lib.data.cleaning import (MinHasher, drop_near_duplicates, duplicate_clusters, estimated_jaccard,
                                       exact_duplicates, jaccard, lsh_candidate_probability, lsh_candidates,
                                       near_duplicates, normalize, shingle_hashes)

_rng = random.Random(42)
WORDS = ["".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_rng.randint(3, 8))) for _ in range(2000)]


def random_doc(rng: random.Random, n_words: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def edit(rng: random.Random, doc: str, n_changes: int) -> str:
    words = doc.split()
    for _ in range(n_changes):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


@pytest.fixture(scope="module")
def corpus():
    """40 random documents plus 5 planted near-copies (a few words changed) and 3 exact copies."""
    rng = random.Random(0)
    docs = [random_doc(rng) for _ in range(40)]
    near = {40 + i: i for i in range(5)}               # doc 40 + i is an edited copy of doc i
    docs += [edit(rng, docs[i], 2) for i in range(5)]
    exact = {45: 7, 46: 8, 47: 7}
    docs += [docs[7], docs[8], docs[7]]
    return docs, near, exact


def test_normalize():
    raw = "１９９８年，ＡＩ\r\n  indented line   \r\n\n\n\n\nzero\u200bwidth\ufeff\x07 bell\n"
    out = normalize(raw)
    assert out == "1998年,AI\n  indented line\n\nzerowidth bell\n"
    assert normalize(out) == out                        # idempotent
    assert normalize("（，）", form=None) == "（，）"
    assert normalize("（，）") == "(,)"


def test_exact_duplicates_keep_the_first_copy(corpus):
    docs, _, exact = corpus
    assert exact_duplicates(docs) == sorted(exact)
    assert exact_duplicates(["a", "b", "c"]) == []
    assert exact_duplicates(["", "", "x"]) == [1]


def test_shingles_and_short_documents():
    assert len(shingle_hashes("abcdefg", 5)) == 3
    assert len(shingle_hashes("abc", 5)) == 1 and len(shingle_hashes("", 5)) == 1
    assert not np.array_equal(shingle_hashes("abc", 5), shingle_hashes("abd", 5))
    # the same 5-gram hashes the same wherever it occurs
    assert shingle_hashes("xxabcde", 5)[2] == shingle_hashes("abcde", 5)[0]


def test_vectorised_signatures_equal_one_by_one(corpus):
    docs = corpus[0] + ["", "abc", "short", "中文文本也可以"]
    m = MinHasher(num_perm=32, k=5, seed=3)
    sig = m.signatures(docs)
    for i, d in enumerate(docs):
        np.testing.assert_array_equal(sig[i], m.signature(d))


def test_minhash_estimates_jaccard(corpus):
    docs = corpus[0]
    m = MinHasher(num_perm=512, k=5, seed=1)
    sig = m.signatures(docs)
    for i, j in [(0, 40), (1, 41), (0, 1), (2, 3)]:
        exact = jaccard(set(shingle_hashes(docs[i]).tolist()), set(shingle_hashes(docs[j]).tolist()))
        assert abs(estimated_jaccard(sig[i], sig[j]) - exact) < 0.1       # std ≈ 0.02 at 512 functions


def test_planted_near_duplicates_are_found_and_distinct_docs_kept(corpus):
    docs, near, exact = corpus
    pairs = near_duplicates(docs, threshold=0.5)
    found = {(i, j) for i, j, _ in pairs}
    for copy, original in near.items():
        assert (original, copy) in found
    for copy, original in exact.items():
        assert (min(original, copy), max(original, copy)) in found
    planted = set(near) | set(exact) | set(near.values()) | set(exact.values())
    assert all(i in planted and j in planted for i, j in found), "two unrelated random documents were paired"
    assert all(s >= 0.5 for *_, s in pairs)
    assert near_duplicates(docs, threshold=0.5) == pairs                 # deterministic
    assert {(i, j) for i, j, _ in near_duplicates(docs, threshold=0.5, seed=7)} == found


def test_clusters_are_transitive_and_keep_the_first():
    pairs = [(0, 3, 0.9), (3, 5, 0.9), (1, 2, 0.8)]
    assert duplicate_clusters(7, pairs) == [[0, 3, 5], [1, 2]]
    assert drop_near_duplicates(7, pairs) == [2, 3, 5]
    assert duplicate_clusters(3, []) == []


def test_lsh_candidate_rate_follows_the_s_curve():
    # two documents with a known Jaccard similarity; the share of seeds that make them LSH
    # candidates should match 1 - (1 - s^r)^b
    a = "".join(chr(0x4E00 + i) for i in range(104))                # 100 distinct 5-shingles
    b = a[:70] + "".join(chr(0x5E00 + i) for i in range(34))        # shares 66 of them
    s = jaccard(set(shingle_hashes(a).tolist()), set(shingle_hashes(b).tolist()))
    assert 0.45 < s < 0.55
    bands, rows = 8, 4
    hits = sum(bool(lsh_candidates(MinHasher(bands * rows, 5, seed).signatures([a, b]), bands))
               for seed in range(300))
    assert abs(hits / 300 - lsh_candidate_probability(s, bands, rows)) < 0.1
    assert lsh_candidate_probability(1.0, 4, 4) == 1.0 and lsh_candidate_probability(0.0, 4, 4) == 0.0


def test_invalid_arguments():
    sig = MinHasher(num_perm=10).signatures(["abcdef", "abcdeg"])
    with pytest.raises(ValueError, match="must divide"):
        lsh_candidates(sig, 3)
    with pytest.raises(ValueError, match="threshold"):
        near_duplicates(["a"], threshold=0)
