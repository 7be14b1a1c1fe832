"""Ranking metrics: rank_of against a pure-Python count (ties and filtering), MRR, Hits@k."""

import random

import pytest
import torch

from llmbook_lib.tasks.ranking import hits_at, mrr, rank_of, report


def brute_rank(row, target, excluded):
    mine = row[target]
    greater = sum(1 for j, s in enumerate(row) if j != target and j not in excluded and s > mine)
    equal = sum(1 for j, s in enumerate(row) if j != target and j not in excluded and s == mine)
    return 1 + greater + 0.5 * equal


def test_rank_matches_brute_force_with_ties_and_filter():
    rng = random.Random(0)
    for _ in range(50):
        b, n = rng.randint(1, 6), rng.randint(1, 9)
        rows = [[float(rng.randint(0, 3)) for _ in range(n)] for _ in range(b)]  # many ties
        target = [rng.randrange(n) for _ in range(b)]
        excluded = [{j for j in range(n) if rng.random() < 0.3} for _ in range(b)]
        mask = torch.tensor([[j in ex for j in range(n)] for ex in excluded], dtype=torch.bool)
        got = rank_of(torch.tensor(rows), torch.tensor(target), exclude=mask).tolist()
        want = [brute_rank(r, t, ex - {t}) for r, t, ex in zip(rows, target, excluded)]
        assert got == want


def test_rank_examples():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.9]])
    assert rank_of(scores, torch.tensor([2])).item() == 3.0
    assert rank_of(scores, torch.tensor([1])).item() == 1.5         # tied with candidate 3
    filtered = torch.tensor([[False, True, False, True]])           # both 0.9s are true answers
    assert rank_of(scores, torch.tensor([2]), exclude=filtered).item() == 1.0
    # the target is never filtered out, even when the mask marks it
    assert rank_of(scores, torch.tensor([1]), exclude=filtered).item() == 1.0


def test_constant_scorer_gets_the_random_rank():
    n = 7
    ranks = rank_of(torch.zeros(n, n), torch.arange(n))
    assert ranks.tolist() == [(n + 1) / 2] * n


def test_metrics():
    ranks = torch.tensor([1.0, 2.0, 4.0, 10.0])
    assert mrr(ranks) == pytest.approx((1 + 0.5 + 0.25 + 0.1) / 4)
    assert hits_at(ranks, 1) == 0.25 and hits_at(ranks, 3) == 0.5 and hits_at(ranks, 10) == 1.0
    row = report(ranks, ks=(1, 10))
    assert list(row) == ["MRR", "Hits@1", "Hits@10"] and row["Hits@10"] == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: rank_of(torch.zeros(3), torch.tensor([0])), "batch, candidates"),
    (lambda: rank_of(torch.zeros(2, 3), torch.tensor([0])), "one target index per row"),
    (lambda: rank_of(torch.zeros(1, 3), torch.tensor([3])), "0..2"),
    (lambda: rank_of(torch.zeros(1, 3), torch.tensor([0.0])), "integer"),
    (lambda: rank_of(torch.tensor([[float("nan"), 0.0]]), torch.tensor([1])), "NaN"),
    (lambda: rank_of(torch.zeros(1, 3), torch.tensor([0]), exclude=torch.zeros(1, 3)), "bool"),
    (lambda: rank_of(torch.zeros(1, 2, dtype=torch.cfloat), torch.tensor([0])), "complex"),
    (lambda: mrr([]), "at least one"),
    (lambda: mrr([0.5]), "1-based"),
    (lambda: hits_at([1.0], 0), "positive integer"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_integer_scores_are_accepted():
    assert rank_of(torch.tensor([[3, 1, 2]]), torch.tensor([2])).item() == 2.0
