"""Multi-hop questions (6.2.3, continued): the question parser, symbolic traversal over the
fact table, dropped edges and embedding composition, on toy graphs and on the world."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from llmbook_lib.data import make_world
from llmbook_lib.tasks.kge import KGEConfig, fit_kge
from llmbook_lib.tasks.multihop import PathKG, QuestionParser, compose, drop_facts, path_of


def fact(i, s, r, o, attr=False):
    return SimpleNamespace(id=f"F{i}", subject=s, relation=r, object=o, is_attribute=attr)


# A person born in a city, working for a company founded by someone; the city has a population.
FACTS = [fact(0, "p1", "born_in", "c1"), fact(1, "p1", "works_for", "k1"),
         fact(2, "k1", "founded_by", "p2"), fact(3, "p2", "born_in", "c2"),
         fact(4, "c1", "population", 4890000, True), fact(5, "c2", "population", 380000, True),
         fact(6, "p3", "born_in", "c2")]
ENTITIES = ["p1", "p2", "p3", "c1", "c2", "k1"]


def toy_kg():
    return PathKG(ENTITIES, FACTS, value_name=lambda f: f"{f.object // 10_000}万")


@pytest.fixture(scope="module")
def world():
    return make_world(seed=0)


def test_path_of_reads_the_template_id():
    assert path_of("q:person:born_in>population#0") == ("born_in", "population")
    assert path_of("q:person:~founded_by>headquartered_in#1") == ("~founded_by", "headquartered_in")
    assert path_of("q:city:population#0") == ("population",)
    for bad in ("person:born_in#0", "q:person:#0", "fact:x"):
        with pytest.raises(ValueError, match="question template id"):
            path_of(bad)


def test_parser_learns_patterns_and_prefers_the_longest_name():
    names = {"银港": ["c1"], "银港理工大学": ["u1"], "郑磊": ["p1", "p9"], "王博": ["p2"]}
    parser = QuestionParser(names).fit([
        ("郑磊的家乡有多少人口？", "p1", ("born_in", "population")),
        ("银港理工大学位于哪座城市？", "u1", ("located_in",)),
    ])
    assert parser.patterns == {"{s}的家乡有多少人口？": ("born_in", "population"),
                               "{s}位于哪座城市？": ("located_in",)}
    p = parser.parse("王博的家乡有多少人口？")
    assert (p.name, p.subjects, p.path) == ("王博", ("p2",), ("born_in", "population"))
    # "银港" occurs inside "银港理工大学": the longer name is the subject
    p = parser.parse("银港理工大学位于哪座城市？")
    assert (p.name, p.subjects, p.path) == ("银港理工大学", ("u1",), ("located_in",))
    # namesakes: every entity of the name
    assert parser.parse("郑磊的家乡有多少人口？").subjects == ("p1", "p9")
    # an unknown phrasing or no known name: no parse
    assert parser.parse("王博喜欢什么？").path is None
    assert parser.parse("谁的家乡有多少人口？") == parser.parse("？")


def test_parser_refuses_what_it_cannot_use():
    names = {"郑磊": ["p1"]}
    with pytest.raises(RuntimeError, match="fit"):
        QuestionParser(names).parse("郑磊的家乡有多少人口？")
    with pytest.raises(ValueError, match="unknown subject"):
        QuestionParser(names).fit([("郑磊的家乡？", "p7", ("born_in",))])
    with pytest.raises(ValueError, match="does not occur"):
        QuestionParser(names).fit([("王博的家乡？", "p1", ("born_in",))])
    with pytest.raises(ValueError, match="no training questions"):
        QuestionParser(names).fit([])
    with pytest.raises(ValueError, match="no entity names"):
        QuestionParser({})


def test_traversal_follows_paths_both_ways_and_stops_at_a_missing_edge():
    kg = toy_kg()
    assert kg.nodes == sorted(ENTITIES) + ["38万", "489万"]
    adj = kg.adjacency()
    assert kg.traverse(adj, ["p1"], ["born_in", "population"]) == {"489万"}
    assert kg.traverse(adj, ["p1"], ["works_for", "founded_by", "born_in", "population"]) == {"38万"}
    assert kg.traverse(adj, ["p2"], ["~founded_by"]) == {"k1"}
    assert kg.traverse(adj, ["c2"], ["~born_in"]) == {"p2", "p3"}
    assert kg.traverse(adj, ["p1", "p2"], ["born_in"]) == {"c1", "c2"}     # namesakes: both
    without = kg.adjacency(keep=[f.id for f in FACTS if f.id != "F2"])      # lose founded_by
    assert kg.traverse(without, ["p1"], ["works_for", "founded_by", "born_in"]) == set()
    assert kg.traverse(without, ["p1"], ["born_in", "population"]) == {"489万"}
    hops = [SimpleNamespace(fact="F2", inverse=True)]
    assert kg.answer_node(hops) == "k1"
    assert kg.answer_node([SimpleNamespace(fact="F4", inverse=False)]) == "489万"


def test_graph_as_a_dataset_and_relation_ids():
    kg = toy_kg()
    ds = kg.dataset()
    assert ds.n_entities == kg.n_nodes == 8 and ds.n_relations == 4
    assert ds.train.shape == (7, 3) and len(ds.valid) == len(ds.test) == 0
    h, r, t = ds.train[0].tolist()
    assert (kg.nodes[h], kg.relations[r], kg.nodes[t]) == ("p1", "born_in", "c1")
    assert kg.dataset(keep=["F0", "F4"]).train.shape == (2, 3)
    assert kg.relation_id("born_in") == kg.relations.index("born_in")
    assert kg.relation_id("~born_in") == kg.relations.index("born_in") + 4
    with pytest.raises(ValueError, match="unknown relation"):
        kg.relation_id("lives_in")


def test_graph_refuses_colliding_or_unknown_nodes():
    with pytest.raises(ValueError, match="collide"):
        PathKG(ENTITIES, FACTS, value_name=lambda f: "c1")
    with pytest.raises(ValueError, match="not all known"):
        PathKG(["p1"], FACTS[:1], value_name=str)


def test_drop_facts_is_seeded_and_sized():
    ids = [f"F{i}" for i in range(100)]
    a = drop_facts(ids, 0.2, seed=3)
    assert len(a) == 20 and a <= set(ids)
    assert a == drop_facts(list(reversed(ids)), 0.2, seed=3)   # order of the input does not matter
    assert a != drop_facts(ids, 0.2, seed=4)
    assert drop_facts(ids, 0.0) == set() and drop_facts(ids, 1.0) == set(ids)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        drop_facts(ids, 1.5)


class TableModel(nn.Module):
    """A fake link predictor: score(h, r) = table[r, h], (R, N, N)."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", table)
        self.n_entities = table.size(1)

    def score(self, h, r):
        return self.table[r, h]


def test_compose_matches_brute_force_over_all_paths():
    torch.manual_seed(0)
    n, relations = 5, [2, 0, 1]
    model = TableModel(torch.randn(3, n, n)).train()
    start = torch.tensor([0, 3])
    soft = compose(model, start, relations, mode="soft").exp()
    step = torch.softmax(model.table, -1)                       # step[r, e, t]
    for b, s in enumerate(start.tolist()):
        for t in range(n):
            total = sum(step[2, s, e1] * step[0, e1, e2] * step[1, e2, t]
                        for e1 in range(n) for e2 in range(n))
            torch.testing.assert_close(soft[b, t], total)
    greedy = compose(model, start, relations, mode="greedy")
    for b, s in enumerate(start.tolist()):
        e1 = int(model.table[2, s].argmax())
        e2 = int(model.table[0, e1].argmax())
        torch.testing.assert_close(greedy[b], model.table[1, e2])
    # a start distribution is the mixture of its one-hot starts
    mix = torch.zeros(1, n)
    mix[0, [0, 3]] = 0.5
    torch.testing.assert_close(compose(model, mix, relations).exp()[0], soft.mean(0))
    assert model.training                                        # mode restored


def test_compose_refuses_bad_input():
    model = TableModel(torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="empty path"):
        compose(model, torch.tensor([0]), [])
    with pytest.raises(ValueError, match="mode"):
        compose(model, torch.tensor([0]), [1], mode="beam")
    with pytest.raises(ValueError, match="greedy needs"):
        compose(model, torch.full((1, 4), 0.25), [1], mode="greedy")
    with pytest.raises(ValueError, match="node ids"):
        compose(model, torch.tensor([0.5]), [1])


def test_embedding_composition_answers_a_two_hop_path():
    kg = toy_kg()
    model, _ = fit_kge(kg.dataset(), KGEConfig(model="complex", dim=32, epochs=200,
                                               batch_size=16, lr=0.05, seed=0))
    start = torch.tensor([kg.node_id["p1"]])
    path = [kg.relation_id(s) for s in ("works_for", "founded_by", "born_in", "population")]
    for mode in ("soft", "greedy"):
        assert kg.nodes[int(compose(model, start, path, mode).argmax())] == "38万"


def test_world_questions_parse_and_traverse_to_their_answers(world):
    kg = PathKG(world.entities, world.facts, value_name=world.fact_object)
    names = {}
    for e in world.entities.values():
        names.setdefault(e.zh, []).append(e.id)
    parser = QuestionParser(names).fit(
        (q.question, q.subject, path_of(q.templates[-1])) for q in world.qa(lang="zh", split="train"))
    adj = kg.adjacency()
    for hops in (2, 3):
        for q in world.qa(hops, "zh"):
            p = parser.parse(q.question)
            assert p.path == path_of(q.templates[-1]) and q.subject in p.subjects, q.question
            answer = kg.answer_node(q.chain)
            assert kg.traverse(adj, [q.subject], p.path) == {answer}
            assert (world.entities[answer].zh if answer in world.entities else answer) == q.answer
