"""Knowledge-graph data and embeddings (6.2.3): the loader reads the right files and refuses
changed ones, the filtered ranking equals a brute-force count, and the models learn."""
from __future__ import annotations

import random

import pytest
import torch

from llmbook_lib.data import kg
from llmbook_lib.data.kg import load_kg
from llmbook_lib.tasks.kge import (ComplEx, DistMult, KGEConfig, TransE, evaluate_kge, fit_kge,
                                   known_answers, rank_queries, with_reciprocals)
from llmbook_lib.tasks.ranking import mrr

COUNTS = {"nations": (1592, 199, 201), "kinships": (8544, 1068, 1074), "umls": (5216, 652, 661)}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_match_data_md(name):
    ds = load_kg(name)
    c = ds.counts()
    assert (c["train"], c["valid"], c["test"]) == COUNTS[name]
    for split in ("train", "valid", "test"):
        t = ds.split(split)
        assert t.dtype == torch.long and t.shape[1] == 3
        assert t[:, [0, 2]].max() < ds.n_entities and t[:, 1].max() < ds.n_relations
    assert ds.entities == sorted(ds.entities) and ds.relations == sorted(ds.relations)


def test_ids_round_trip_to_the_file():
    ds = load_kg("umls")
    first = kg.read_triples(kg.file_path("umls", "train"))[0]
    h, r, t = ds.train[0].tolist()
    assert (ds.entities[h], ds.relations[r], ds.entities[t]) == first


def _tiny_files(folder, lines):
    folder.mkdir(parents=True, exist_ok=True)
    for split in kg.SPLITS:
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_changed_or_missing_file_gives_an_actionable_error(tmp_path, monkeypatch):
    root = tmp_path / "umls"
    _tiny_files(root, ["a\tr\tb", "b\tr\tc"])
    monkeypatch.setattr(kg, "file_path", lambda name, split: root / f"{split}.txt")
    with pytest.raises(ValueError, match=r"train\.txt has sha256 .*pip install --no-deps pykeen"):
        load_kg("umls")
    (root / "train.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"train\.txt is missing.*pykeen==1\.11\.1"):
        load_kg("umls")


def test_absent_wheel_says_how_to_install(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps pykeen==1.11.1"):
        kg.file_path("nations", "train")


def test_bad_line_and_unknown_name(tmp_path):
    _tiny_files(tmp_path, ["a\tr"])
    with pytest.raises(ValueError, match="head<TAB>relation<TAB>tail"):
        load_kg("nations", root=tmp_path)
    with pytest.raises(ValueError, match="unknown benchmark"):
        load_kg("fb15k")


def _brute_force_filtered_ranks(model, triples, n_rel, all_true):
    """Pure Python: for each (h, r, t) and its head query, count entities scoring higher
    (ties half), skipping every other entity that makes a known true triple."""
    ranks = []
    for h, r, t in triples:
        for q_h, q_r, q_t, fwd in ((h, r, t, True), (t, r + n_rel, h, False)):
            scores = model.score(torch.tensor([q_h]), torch.tensor([q_r]))[0].tolist()
            rank = 1.0
            for e, s in enumerate(scores):
                if e == q_t:
                    continue
                true = (h, r, e) in all_true if fwd else (e, r, t) in all_true
                if true:
                    continue
                rank += 1.0 if s > scores[q_t] else (0.5 if s == scores[q_t] else 0.0)
            ranks.append(rank)
    return ranks


class _Tiny:
    def __init__(self, train, valid, test, n_entities, n_relations):
        self.train, self.valid, self.test = (torch.tensor(x, dtype=torch.long).view(-1, 3)
                                             for x in (train, valid, test))
        self.n_entities, self.n_relations = n_entities, n_relations

    def split(self, name):
        return getattr(self, name)


@pytest.mark.parametrize("cls", [TransE, DistMult, ComplEx])
def test_filtered_ranking_equals_brute_force(cls):
    rng = random.Random(0)
    triples = sorted({(rng.randrange(7), rng.randrange(2), rng.randrange(7)) for _ in range(30)})
    rng.shuffle(triples)
    ds = _Tiny(triples[:18], triples[18:22], triples[22:], 7, 2)
    torch.manual_seed(0)
    model = cls(7, 2, dim=4)
    with torch.no_grad():                 # coarse weights: ties happen and must count half
        for p in model.parameters():
            p.copy_((p * 10).round() / 2)
    ranks = rank_queries(model, with_reciprocals(ds.test, 2), known_answers(ds))
    expected = _brute_force_filtered_ranks(model, ds.test.tolist(), 2, set(triples))
    heads_after_tails = expected[0::2] + expected[1::2]
    assert ranks.tolist() == heads_after_tails
    raw = rank_queries(model, with_reciprocals(ds.test, 2))
    assert (raw >= ranks).all() and evaluate_kge(model, ds)["MRR"] == pytest.approx(mrr(ranks))


def test_distmult_cannot_tell_direction_complex_can():
    torch.manual_seed(0)
    h, r, t = torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3])
    dm, cx = DistMult(4, 2, 8), ComplEx(4, 2, 8)
    torch.testing.assert_close(dm.score_triples(h, r, t), dm.score_triples(t, r, h))
    assert not torch.allclose(cx.score_triples(h, r, t), cx.score_triples(t, r, h))


@pytest.mark.parametrize("model_name", ["transe", "distmult", "complex"])
def test_a_model_learns_a_tiny_graph(model_name):
    # two families of 8 people: "parent_of" chains; test facts are held-out edges whose
    # pattern (same relation, neighbouring ids) the training edges show.
    n = 16
    facts = [(i, 0, i + 1) for i in range(n - 1) if i != 7] + \
            [(i + 1, 1, i) for i in range(n - 1) if i != 7]
    rng = random.Random(1)
    rng.shuffle(facts)
    ds = _Tiny(facts[4:], facts[:2], facts[2:4], n, 2)
    model, _ = fit_kge(ds, KGEConfig(model=model_name, dim=32, epochs=150, batch_size=32,
                                     lr=0.05, seed=0))
    train_mrr = evaluate_kge(model, ds, "train")["MRR"]
    random_mrr = sum(1 / k for k in range(1, n + 1)) / n
    assert train_mrr > random_mrr + 0.4
