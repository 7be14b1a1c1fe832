"""Summarisation: sentence splitting, lead-k, PageRank and TextRank, ROUGE, the fact checker."""

import math

import numpy as np
import pytest

from llmbook_lib.tasks.summarise import (FactChecker, lead, overlap_similarity, pagerank, rouge,
                                         similarity_matrix, split_sentences, textrank,
                                         textrank_summary, words)


def test_split_sentences_chinese_and_english():
    assert split_sentences("他说：“今天很好。”然后走了！真的吗？是的；好吧……最后") == [
        "他说：“今天很好。”", "然后走了！", "真的吗？", "是的；", "好吧……", "最后"]
    text = "Mr. J. K. Rowling met Dr. Smith. Profits rose 3.5% to $1.13bn. \"Good!\" he said.\nNew line"
    assert split_sentences(text) == ["Mr. J. K. Rowling met Dr. Smith.", "Profits rose 3.5% to $1.13bn.",
                                     "\"Good!\" he said.", "New line"]
    assert split_sentences("") == [] and split_sentences("，，") == ["，，"]
    with pytest.raises(TypeError, match="str"):
        split_sentences(None)


def test_lead_and_words():
    assert lead(["a", "b", "c"], 2) == ["a", "b"] and lead(["a"], 3) == ["a"]
    with pytest.raises(ValueError, match="k must be"):
        lead(["a"], 0)
    assert words("Prices rose 2,999 yuan, Hetai's.", "en") == ["prices", "rose", "2,999", "yuan", "hetai", "s"]
    assert words("今天天气很好。", "zh") == ["今天天气", "很", "好"]
    with pytest.raises(ValueError, match="lang"):
        words("x", "fr")


def test_pagerank_hand_solved_graph():
    # 0 -> 1, 1 -> 0 and 2, 2 -> 0. With d = 0.5 the equations r = 1/6 + 0.5 P^T r give:
    # r0 = 1/6 + r1/4 + r2/2, r1 = 1/6 + r0/2, r2 = 1/6 + r1/4  ->  r = (15, 14, 10) / 39
    W = np.array([[0, 1, 0], [1, 0, 1], [1, 0, 0]])
    res = pagerank(W, damping=0.5, tol=1e-12)
    np.testing.assert_allclose(res.scores, np.array([15, 14, 10]) / 39, atol=1e-10)
    assert res.deltas[-1] < 1e-12 and all(a <= b * 0.5 + 1e-15 for a, b in zip(res.deltas[1:], res.deltas))


def test_pagerank_matches_networkx_with_dangling_node():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(0)
    W = rng.random((7, 7)) * (rng.random((7, 7)) < 0.4)
    W[3] = 0                                                  # a dangling node
    G = nx.DiGraph()
    G.add_nodes_from(range(7))
    G.add_weighted_edges_from((i, j, W[i, j]) for i in range(7) for j in range(7) if W[i, j])
    ref = nx.pagerank(G, alpha=0.85, tol=1e-12, max_iter=1000)
    np.testing.assert_allclose(pagerank(W, 0.85, tol=1e-13).scores, [ref[i] for i in range(7)], atol=1e-9)


def test_pagerank_bad_input():
    for bad, msg in [(np.ones((2, 3)), "square"), (np.zeros((0, 0)), "square"), ([[0, -1], [1, 0]], "non-negative"),
                     ([[0, np.nan], [1, 0]], "finite")]:
        with pytest.raises(ValueError, match=msg):
            pagerank(bad)
    with pytest.raises(ValueError, match="damping"):
        pagerank(np.ones((2, 2)), damping=1.0)
    with pytest.raises(RuntimeError, match="did not converge"):
        pagerank([[0, 1, 0], [1, 0, 1], [1, 0, 0]], tol=1e-30, max_iter=3)


def test_overlap_similarity_is_mihalcea_tarau():
    assert overlap_similarity(["a", "b", "c"], ["b", "c", "d", "e"]) == pytest.approx(2 / (math.log(3) + math.log(4)))
    assert overlap_similarity(["a"], ["a"]) == 0.0            # log 1 + log 1 = 0: undefined, taken as 0
    assert overlap_similarity([], ["a"]) == 0.0
    S = similarity_matrix([["a", "b"], ["b", "c"], ["d"]])
    assert S.shape == (3, 3) and np.allclose(S, S.T) and not S.diagonal().any() and S[0, 2] == 0


def test_textrank_picks_the_central_sentence():
    # sentence 1 shares words with every other sentence; the others share only with it
    sents = ["cats chase mice", "cats and dogs chase mice and birds", "dogs bark", "birds sing"]
    toks = [s.split() for s in sents]
    scores = textrank(toks).scores
    assert int(np.argmax(scores)) == 1
    assert textrank_summary(sents, 1, tokenize=str.split) == [sents[1]]
    assert textrank_summary(sents, 2, tokenize=str.split)[0] == sents[0]   # document order
    assert textrank_summary([], 1) == []
    with pytest.raises(ValueError):
        textrank([])


def test_rouge_uses_words_and_scores_empty_as_zero():
    r = rouge(["the cat sat", ""], ["the cat sat", "a dog"], "en")
    assert r["rouge-1"] == pytest.approx(0.5, abs=1e-6) and r["rouge-l"] == pytest.approx(0.5, abs=1e-6)
    zh = rouge(["宏图食品总部位于银港。"], ["宏图食品总部位于银港。"], "zh")
    assert zh["rouge-2"] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="hypotheses"):
        rouge(["a"], [], "en")


@pytest.fixture(scope="module")
def world():
    from llmbook_lib.data import make_world
    return make_world(seed=0, size=0.3)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fact_checker_reads_every_reference_summary_exactly(world, lang):
    fc = FactChecker(world, lang)
    records = world.summaries(lang)
    assert records
    for r in records:
        c = fc.check(r.summary, r.subject)
        assert c.faithful, (r.summary, c)
        assert sorted(c.facts) == sorted(r.summary_facts)
    for pair in world.sentences[:300]:                           # paragraph sentences too
        s = pair.side(lang)
        c = fc.check(s.text, s.subject)
        assert c.faithful and sorted(c.facts) == sorted(s.facts), (s.text, c)


def test_fact_checker_flags_injected_falsehoods(world):
    fc = FactChecker(world, "zh")
    r = next(r for r in world.summaries("zh") if world.entities[r.subject].type == "person"
             and any(world.fact(f).relation == "born_in" for f in r.summary_facts))
    born = next(world.fact(f) for f in r.summary_facts if world.fact(f).relation == "born_in")
    city = world.entities[born.object].zh
    other = next(e.zh for e in world.entities.values() if e.type == "city" and e.id != born.object)
    bad = fc.check(r.summary.replace(city, other), r.subject)
    assert not bad.faithful and [c.text for c in bad.unsupported] == [other]
    assert bad.unsupported[0].relation == "born_in" and bad.unsupported[0].kind == "city"
    name = world.entities[r.subject].zh
    invented = fc.check(r.summary.replace(name, "欧阳某某"), r.subject)
    assert not invented.subject_named and "欧阳某某" in invented.unknown
    company = next(e for e in world.entities.values() if e.type == "company")
    year = fc.check(f"{company.zh}成立于1899年。", company.id)
    assert [c.relation for c in year.unsupported] == ["founded_year"]


def test_fact_checker_bad_input(world):
    fc = FactChecker(world, "zh")
    with pytest.raises(ValueError, match="unknown subject"):
        fc.check("x", "person-9999")
    with pytest.raises(TypeError):
        fc.check(None, next(iter(world.entities)))
    with pytest.raises(ValueError, match="lang"):
        FactChecker(world, "de")
