"""The CRF against brute force: log Z and the best path by enumerating every tag sequence."""

import itertools

import pytest
import torch

from llmbook_lib.tasks.crf import CRF, IMPOSSIBLE, bio_constraints


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")


@torch.no_grad()
def brute_force(crf: CRF, emissions: torch.Tensor, n: int) -> tuple[torch.Tensor, list[int], float]:
    """(log Z, best path, best score) of one sequence (T, K) over its first n positions, by enumeration."""
    trans, start, end = crf._params()
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=n):
        s = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        s = s + sum(trans[a, b] for a, b in zip(path, path[1:]))
        scores[path] = s
    all_scores = torch.stack(list(scores.values()))
    best = max(scores, key=lambda p: float(scores[p]))
    return torch.logsumexp(all_scores, 0), list(best), float(scores[best])


def random_crf(k: int, constrained: bool) -> CRF:
    crf = CRF.for_bio(TAGS[:k]) if constrained else CRF(k)
    with torch.no_grad():                      # larger than the init, so paths differ clearly
        crf.transitions.normal_(0, 1.0)
        crf.start.normal_(0, 1.0)
        crf.end.normal_(0, 1.0)
    return crf


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_and_viterbi_match_brute_force_with_padding(constrained):
    torch.manual_seed(1)
    k, T = 5, 4
    crf = random_crf(k, constrained)
    emissions = torch.randn(3, T, k, dtype=torch.float64).float() * 2
    lengths = [4, 2, 1]
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    with torch.no_grad():
        log_z = crf.log_partition(emissions, mask)
    paths = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        ref_z, ref_path, ref_best = brute_force(crf, emissions[b], n)
        torch.testing.assert_close(log_z[b], ref_z, rtol=1e-5, atol=1e-4)
        assert paths[b] == ref_path
        assert len(paths[b]) == n
        # the score of the decoded path is the brute-force maximum (Viterbi optimality)
        tags = torch.tensor(paths[b] + [0] * (T - n))[None]
        assert float(crf.score(emissions[b:b + 1], tags, mask[b:b + 1]).detach()) == pytest.approx(ref_best, abs=1e-4)


def test_padding_does_not_change_anything():
    torch.manual_seed(2)
    crf = random_crf(5, False)
    short = torch.randn(1, 3, 5)
    padded = torch.cat([short, 100 * torch.randn(1, 4, 5)], dim=1)      # garbage after the mask
    mask = torch.tensor([[True] * 3 + [False] * 4])
    torch.testing.assert_close(crf.log_partition(padded, mask), crf.log_partition(short))
    assert crf.decode(padded, mask) == crf.decode(short)
    tags = torch.tensor([[1, 2, 0, 4, 4, 4, 4]])
    torch.testing.assert_close(crf.nll(padded, tags, mask), crf.nll(short, tags[:, :3]))


def test_nll_is_a_proper_negative_log_probability():
    torch.manual_seed(3)
    crf = random_crf(3, False)
    em = torch.randn(1, 3, 3)
    total = sum(torch.exp(-crf.nll(em, torch.tensor([p]))) for p in itertools.product(range(3), repeat=3))
    assert float(total.detach()) == pytest.approx(1.0, abs=1e-5)
    assert float(crf.nll(em, torch.tensor([[0, 1, 2]])).detach()) > 0


def test_bio_constraints_forbid_i_after_o_or_another_type():
    allowed, start, end = bio_constraints(TAGS)
    ix = {t: i for i, t in enumerate(TAGS)}
    assert not allowed[ix["O"], ix["I-PER"]] and not allowed[ix["B-LOC"], ix["I-PER"]]
    assert not allowed[ix["I-LOC"], ix["I-PER"]]
    assert allowed[ix["B-PER"], ix["I-PER"]] and allowed[ix["I-PER"], ix["I-PER"]]
    assert allowed[ix["O"], ix["B-PER"]] and allowed[ix["I-PER"], ix["O"]]
    assert not start[ix["I-PER"]] and start[ix["B-PER"]] and bool(end.all())
    assert int((~allowed).sum()) == 6                  # each I-X: three forbidden predecessors


def test_viterbi_obeys_bio_even_when_emissions_prefer_a_forbidden_path():
    crf = CRF.for_bio(TAGS)
    with torch.no_grad():
        for p in (crf.transitions, crf.start, crf.end):
            p.zero_()
    ix = {t: i for i, t in enumerate(TAGS)}
    em = torch.zeros(1, 3, len(TAGS))
    em[0, 0, ix["I-PER"]] = 5.0                        # an entity with no beginning, then O I-LOC
    em[0, 1, ix["O"]] = 5.0
    em[0, 2, ix["I-LOC"]] = 5.0
    path = [TAGS[i] for i in crf.decode(em)[0]]
    assert path != ["I-PER", "O", "I-LOC"]
    assert path[0] != "I-PER" and not (path[1] == "O" and path[2].startswith("I-"))
    # the unconstrained CRF takes the emissions' choice
    assert [TAGS[i] for i in CRF(len(TAGS)).decode(em)[0]] != path
    # a forbidden gold path costs about -IMPOSSIBLE in the loss, a valid one does not
    bad = torch.tensor([[ix["I-PER"], ix["O"], ix["I-LOC"]]])
    good = torch.tensor([[ix["B-PER"], ix["O"], ix["B-LOC"]]])
    with torch.no_grad():
        assert float(crf.nll(em, bad)) > -IMPOSSIBLE / 2 > float(crf.nll(em, good))


def test_gradients_are_finite_and_training_fits_a_sequence():
    torch.manual_seed(4)
    crf = CRF.for_bio(TAGS)
    em = torch.zeros(2, 5, len(TAGS), requires_grad=True)
    gold = torch.tensor([[1, 2, 0, 3, 4], [0, 3, 4, 4, 0]])
    opt = torch.optim.Adam([em, *crf.parameters()], lr=0.1)
    for _ in range(60):
        loss = crf.nll(em, gold)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in crf.parameters())
        opt.step()
    assert crf.decode(em) == gold.tolist()


def test_bad_masks_and_shapes_are_refused():
    crf = CRF(3)
    em = torch.zeros(2, 4, 3)
    with pytest.raises(ValueError, match="prefix"):
        crf.log_partition(em, torch.tensor([[True, False, True, False], [True] * 4]))
    with pytest.raises(ValueError, match="mask\\[:, 0\\]"):
        crf.decode(em, torch.tensor([[False] * 4, [True] * 4]))
    with pytest.raises(ValueError, match="emissions must be"):
        crf.decode(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="reduction"):
        crf.nll(em, torch.zeros(2, 4, dtype=torch.long), reduction="avg")
