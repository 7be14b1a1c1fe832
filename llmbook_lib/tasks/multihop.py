"""Multi-hop questions over a knowledge graph: parse the question, walk the graph, or compose
embeddings.

A two-hop question such as "郑磊的家乡有多少人口？" is a relation *path* from a subject:
``郑磊 -born_in-> ? -population-> answer``. Three ways to follow it live here; the third one of
section 6.2.3's comparison, the extractive reader, is ``tasks.qa``:

- **Parsing** (``QuestionParser``): question text -> (subject candidates, path). The parser
  learns one pattern per question phrasing from training questions whose subject and path are
  known ("{s}的家乡有多少人口？" -> ``("born_in", "population")``); a new question is parsed by
  trying the entity names it contains, longest first, until the rest of the question is a known
  pattern. Namesakes make the subject ambiguous: every entity of that name is returned.
- **Symbolic traversal** (``PathKG.traverse``): follow the path's edges in the fact table, step
  by step; the answer set is wherever the walk ends. A step written ``"~rel"`` walks ``rel``
  backwards (from object to subject). A missing edge ends the walk: empty answer set.
- **Embedding composition** (``compose``): a knowledge-graph embedding (``tasks.kge``, trained
  with reciprocal relations, so ``"~rel"`` is relation ``rel + n_relations``) scores every node
  as the next hop. *Greedy* composition jumps to the best-scoring node at each hop; *soft*
  composition keeps a probability distribution over nodes, p_{k+1}(t) = Σ_e p_k(e) softmax_t
  score(e, r_{k+1}, t), in the spirit of Arakelyan et al. (2021). Both score every node as the
  answer, so ``tasks.ranking`` gives MRR and Hits@k.

Attribute facts (a city's population, a person's birth year) have a literal value, not an
entity, as object. ``PathKG`` turns each distinct value text into a node of its own, so
"1982年" is one node whether it is a birth year or a founding year, and paths that end in an
attribute are answered like any other.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ..data.kg import KGDataset

SUBJECT = "{s}"


def path_of(template_id: str) -> tuple[str, ...]:
    """The relation path of a question template id: 'q:person:born_in>population#0' ->
    ('born_in', 'population')."""
    parts = template_id.split("#")[0].split(":")
    if len(parts) != 3 or parts[0] != "q" or not parts[2]:
        raise ValueError(f"{template_id!r} is not a question template id like "
                         f"'q:person:born_in>population#0'")
    return tuple(parts[2].split(">"))


# ---- parsing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parse:
    """What the parser read: the subject's surface name, every entity of that name, the path.
    ``path`` is None (and ``subjects`` empty) when no known pattern matched."""
    name: str | None
    subjects: tuple[str, ...]
    path: tuple[str, ...] | None
    pattern: str | None


class QuestionParser:
    """Question text -> ``Parse``: longest entity-name match, then a learned pattern look-up.

    ``names`` maps each surface name to the ids of the entities called so (several for
    namesakes). ``fit`` learns patterns from (question, subject id, path) triples."""

    def __init__(self, names: Mapping[str, Iterable[str]]):
        self.names = {n: tuple(ids) for n, ids in names.items() if n}
        if not self.names:
            raise ValueError("no entity names: pass {name: [entity ids]}")
        self.name_of = {i: n for n, ids in self.names.items() for i in ids}
        self._by_length = sorted(self.names, key=len, reverse=True)
        self.patterns: dict[str, tuple[str, ...]] = {}

    def pattern_of(self, question: str, name: str) -> str:
        """The question with the first occurrence of ``name`` replaced by ``{s}``."""
        if name not in question:
            raise ValueError(f"{name!r} does not occur in the question {question!r}")
        return question.replace(name, SUBJECT, 1)

    def fit(self, examples: Iterable[tuple[str, str, Sequence[str]]]) -> QuestionParser:
        """Learn ``pattern -> path`` from (question, subject entity id, path) triples. A pattern
        seen with two different paths keeps the more frequent one (ties: the first seen)."""
        votes: dict[str, Counter] = defaultdict(Counter)
        for question, subject, path in examples:
            if subject not in self.name_of:
                raise ValueError(f"unknown subject {subject!r}: it is not among the parser's names")
            votes[self.pattern_of(question, self.name_of[subject])][tuple(path)] += 1
        if not votes:
            raise ValueError("no training questions: pass at least one (question, subject, path)")
        self.patterns = {p: c.most_common(1)[0][0] for p, c in votes.items()}
        return self

    def parse(self, question: str) -> Parse:
        """Try every entity name in the question, longest first; the first whose pattern is
        known wins. No match: ``Parse(None, (), None, None)``."""
        if not self.patterns:
            raise RuntimeError("the parser has learned no patterns yet; call fit() first")
        for name in self._by_length:
            if name in question:
                pattern = self.pattern_of(question, name)
                if pattern in self.patterns:
                    return Parse(name, self.names[name], self.patterns[pattern], pattern)
        return Parse(None, (), None, None)


# ---- the graph --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edge:
    """One fact as an edge between nodes."""
    fact: str
    head: str
    relation: str
    tail: str


class PathKG:
    """Facts as a graph of nodes (entity ids, then literal value texts) for traversal and as a
    ``KGDataset`` for embeddings.

    ``facts``: records with ``id``, ``subject``, ``relation``, ``object`` and ``is_attribute``
    (the world's ``Fact``). ``value_name(fact)`` names an attribute's value node; it must not
    collide with an entity id."""

    def __init__(self, entity_ids: Iterable[str], facts: Iterable, value_name: Callable[[object], str]):
        entity_ids = sorted(set(entity_ids))
        edges, values = [], set()
        for f in facts:
            tail = value_name(f) if f.is_attribute else f.object
            if f.is_attribute:
                values.add(tail)
            edges.append(Edge(f.id, f.subject, f.relation, tail))
        clash = values & set(entity_ids)
        if clash:
            raise ValueError(f"value names {sorted(clash)[:3]} collide with entity ids; "
                             f"make value_name return distinct names")
        self.nodes = entity_ids + sorted(values)
        self.node_id = {n: i for i, n in enumerate(self.nodes)}
        self.relations = sorted({e.relation for e in edges})
        self.edges = edges
        self.edge_of = {e.fact: e for e in edges}
        for e in edges:
            if e.head not in self.node_id or e.tail not in self.node_id:
                raise ValueError(f"fact {e.fact} links {e.head!r} and {e.tail!r}, "
                                 f"which are not all known entities")

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def relation_id(self, step: str) -> int:
        """The embedding relation of a path step: ``rel`` -> its id, ``~rel`` -> id +
        n_relations (the reciprocal relation of ``tasks.kge``)."""
        name = step.removeprefix("~")
        if name not in self.relations:
            raise ValueError(f"unknown relation {name!r}; the graph has {self.relations}")
        return self.relations.index(name) + (len(self.relations) if step.startswith("~") else 0)

    def dataset(self, keep: Iterable[str] | None = None, name: str = "world") -> KGDataset:
        """The kept facts (all when ``keep`` is None) as a ``KGDataset`` with empty valid/test."""
        keep = None if keep is None else set(keep)
        rel = {r: i for i, r in enumerate(self.relations)}
        rows = [(self.node_id[e.head], rel[e.relation], self.node_id[e.tail])
                for e in self.edges if keep is None or e.fact in keep]
        train = torch.tensor(rows, dtype=torch.long).view(-1, 3)
        empty = torch.zeros(0, 3, dtype=torch.long)
        return KGDataset(name, list(self.nodes), list(self.relations), train, empty, empty)

    def adjacency(self, keep: Iterable[str] | None = None) -> dict[tuple[str, str], list[str]]:
        """{(node, step): next nodes} over the kept facts, both directions (``~rel`` backwards)."""
        keep = None if keep is None else set(keep)
        adj: dict[tuple[str, str], list[str]] = defaultdict(list)
        for e in self.edges:
            if keep is None or e.fact in keep:
                adj[e.head, e.relation].append(e.tail)
                adj[e.tail, "~" + e.relation].append(e.head)
        return dict(adj)

    @staticmethod
    def traverse(adj: Mapping[tuple[str, str], list[str]], starts: Iterable[str],
                 path: Sequence[str]) -> set[str]:
        """Every node the path reaches from any of ``starts``; empty when an edge is missing."""
        frontier = set(starts)
        for step in path:
            frontier = {t for node in frontier for t in adj.get((node, step), ())}
        return frontier

    def answer_node(self, chain) -> str:
        """The node a gold chain of ``Hop``s (fact id, inverse) ends at."""
        last = chain[-1]
        edge = self.edge_of[last.fact]
        return edge.head if last.inverse else edge.tail


def drop_facts(fact_ids: Sequence[str], fraction: float, seed: int = 0) -> set[str]:
    """A seeded random ``fraction`` of the facts (rounded to whole facts): the edges a KG lacks."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    ids = sorted(fact_ids)
    return set(random.Random(seed).sample(ids, round(fraction * len(ids))))


# ---- embedding composition --------------------------------------------------------------------
@torch.no_grad()
def compose(model, start: torch.Tensor, relations: Sequence[int], mode: str = "soft") -> torch.Tensor:
    """Scores of every node as the end of the path ``relations``: higher is better, (B, N).

    ``start``: (B,) node ids, or for ``soft`` also a (B, N) distribution over start nodes
    (several namesakes as subject). ``greedy``: at every hop but the last, move to the
    best-scoring node; the last hop's raw scores rank the answers. ``soft``: a distribution over
    nodes pushed through each hop's softmax, p_{k+1} = p_k @ softmax(score(·, r)); returns its
    log-probabilities."""
    if not len(relations):
        raise ValueError("an empty path has no answer; pass at least one relation")
    if mode not in ("greedy", "soft"):
        raise ValueError(f"mode must be 'greedy' or 'soft', got {mode!r}")
    start = torch.as_tensor(start)
    n = model.n_entities
    if start.dim() == 2:
        if mode != "soft" or start.size(1) != n or not start.is_floating_point():
            raise ValueError(f"a start distribution must be a (B, {n}) float tensor, and "
                             f"only soft composition takes one; greedy needs (B,) node ids")
    elif start.dim() != 1 or start.is_floating_point():
        raise ValueError(f"start must be (B,) node ids, got {start.dtype} {tuple(start.shape)}")
    was_training = model.training
    model.eval()
    if mode == "greedy":
        node = start.long()
        for r in relations[:-1]:
            node = model.score(node, torch.full_like(node, r)).argmax(1)
        out = model.score(node, torch.full_like(node, relations[-1]))
    else:
        everyone = torch.arange(n)
        p = start if start.dim() == 2 else torch.nn.functional.one_hot(start.long(), n).float()
        for r in relations:
            p = p @ torch.softmax(model.score(everyone, torch.full_like(everyone, r)), 1)  # (B, N)
        out = p.clamp_min(1e-30).log()
    model.train(was_training)
    return out


__all__ = ["Edge", "Parse", "PathKG", "QuestionParser", "compose", "drop_facts", "path_of"]
