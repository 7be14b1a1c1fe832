"""Knowledge-graph embeddings from scratch: TransE, DistMult, ComplEx, trained 1-N with
reciprocal relations, evaluated with filtered ranking.

Every model maps a query (head h, relation r) to a score for *every* entity as tail:
``model.score(h, r) -> (B, n_entities)``. That one interface serves training and evaluation:

- **TransE** (Bordes et al., 2013): a relation is a translation, t ≈ h + r;
  score = -‖e_h + w_r - e_t‖₁.
- **DistMult** (Yang et al., 2015): a diagonal bilinear form, score = Σ_k e_h[k] w_r[k] e_t[k].
  It is symmetric in h and t, so it gives (h, r, t) and (t, r, h) the same score.
- **ComplEx** (Trouillon et al., 2016): the same product in complex numbers with the tail
  conjugated, score = Re(Σ_k e_h[k] w_r[k] conj(e_t[k])); swapping h and t conjugates the
  sum, so antisymmetric relations become expressible.

Training follows Lacroix et al. (2018): each triple (h, r, t) also enters as its reciprocal
(t, r⁻¹, h) with a relation of its own, every query is scored against all entities (1-N) with
softmax cross-entropy, and DistMult/ComplEx get the N3 regulariser (the cube of the factors'
moduli). Head prediction (?, r, t) is then tail prediction (t, r⁻¹, ?).

Evaluation ranks the right entity among all, for tails and heads, in the filtered setting: the
other true answers known from train, valid and test are excluded (``llmbook_lib.tasks.ranking``).
The loop is the book's ``training.train`` (AdamW, no weight decay: the N3 term regularises).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..training.train import History, TrainConfig, train
from .ranking import rank_of, report


class KGEModel(nn.Module):
    """Entity and relation embeddings; subclasses define ``score``.

    ``n_relations`` counts the dataset's relations; with ``reciprocal`` the model holds twice as
    many (relation r + n_relations is the inverse of r).
    """

    def __init__(self, n_entities: int, n_relations: int, dim: int, reciprocal: bool = True,
                 init_scale: float = 1e-1):
        super().__init__()
        self.n_entities, self.n_relations, self.dim = n_entities, n_relations, dim
        self.reciprocal = reciprocal
        self.entity = nn.Embedding(n_entities, dim)
        self.relation = nn.Embedding(2 * n_relations if reciprocal else n_relations, dim)
        nn.init.normal_(self.entity.weight, std=init_scale)
        nn.init.normal_(self.relation.weight, std=init_scale)

    def score(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """Scores of every entity as tail of (h, r, ?): (B,) ids -> (B, n_entities)."""
        raise NotImplementedError

    def score_triples(self, h, r, t) -> torch.Tensor:
        """Score of each given triple: (B,)."""
        return self.score(h, r).gather(1, t.view(-1, 1)).squeeze(1)

    def regularizer(self, h, r, t) -> torch.Tensor:
        return torch.zeros((), device=self.entity.weight.device)


class TransE(KGEModel):
    """t ≈ h + r: score = -‖e_h + w_r - e_t‖₁."""

    def score(self, h, r):
        query = self.entity(h) + self.relation(r)                        # (B, d)
        return -torch.cdist(query, self.entity.weight, p=1)               # (B, N)


class DistMult(KGEModel):
    """score = <e_h, w_r, e_t> = Σ_k e_h[k] w_r[k] e_t[k]."""

    def score(self, h, r):
        return (self.entity(h) * self.relation(r)) @ self.entity.weight.T  # (B, N)

    def regularizer(self, h, r, t):
        factors = (self.entity(h), self.relation(r), self.entity(t))
        return sum(f.abs().pow(3).sum() for f in factors) / len(h)


class ComplEx(KGEModel):
    """score = Re(<e_h, w_r, conj(e_t)>); ``dim`` real numbers hold dim/2 complex ones."""

    def __init__(self, n_entities, n_relations, dim, reciprocal=True, init_scale=1e-1):
        if dim % 2:
            raise ValueError(f"ComplEx stores (real, imaginary) halves: dim must be even, got {dim}")
        super().__init__(n_entities, n_relations, dim, reciprocal, init_scale)

    def _split(self, x):
        return x[..., : self.dim // 2], x[..., self.dim // 2:]

    def score(self, h, r):
        h_re, h_im = self._split(self.entity(h))
        r_re, r_im = self._split(self.relation(r))
        e_re, e_im = self._split(self.entity.weight)
        # (h·r) = (h_re r_re - h_im r_im) + i (h_re r_im + h_im r_re); Re((h·r) conj(t))
        q_re = h_re * r_re - h_im * r_im
        q_im = h_re * r_im + h_im * r_re
        return q_re @ e_re.T + q_im @ e_im.T                               # (B, N)

    def regularizer(self, h, r, t):
        total = 0.0
        for f in (self.entity(h), self.relation(r), self.entity(t)):
            re, im = self._split(f)
            total = total + torch.sqrt(re**2 + im**2 + 1e-12).pow(3).sum()  # N3 on |z|
        return total / len(h)


MODELS = {"transe": TransE, "distmult": DistMult, "complex": ComplEx}


@dataclass
class KGEConfig:
    model: str = "complex"
    dim: int = 200                 # real numbers per embedding (ComplEx: dim/2 complex ones)
    epochs: int = 50
    batch_size: int = 256
    lr: float = 0.01
    reg: float = 0.01              # N3 weight (DistMult, ComplEx); ignored by TransE
    label_smoothing: float = 0.0
    seed: int = 0
    progress: bool = False


def with_reciprocals(triples: torch.Tensor, n_relations: int) -> torch.Tensor:
    """(n, 3) triples -> (2n, 3): each (h, r, t) and its inverse (t, r + n_relations, h)."""
    h, r, t = triples.unbind(1)
    return torch.cat([triples, torch.stack([t, r + n_relations, h], 1)])


def make_model(cfg: KGEConfig, n_entities: int, n_relations: int) -> KGEModel:
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {sorted(MODELS)}")
    torch.manual_seed(cfg.seed)
    return MODELS[cfg.model](n_entities, n_relations, cfg.dim)


def fit_kge(ds, cfg: KGEConfig, model: KGEModel | None = None, on_step=None
            ) -> tuple[KGEModel, History]:
    """Train ``cfg.model`` on ``ds.train`` (a ``llmbook_lib.data.kg.KGDataset`` or anything with
    .train, .n_entities, .n_relations) with 1-N softmax cross-entropy over reciprocal queries."""
    model = model or make_model(cfg, ds.n_entities, ds.n_relations)
    queries = with_reciprocals(ds.train, ds.n_relations)                   # (2n, 3)
    per_epoch = math.ceil(len(queries) / cfg.batch_size)

    def batches(step):
        epoch, i = divmod(step, per_epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        order = torch.randperm(len(queries), generator=gen)
        return (queries[order[i * cfg.batch_size:(i + 1) * cfg.batch_size]],)

    def loss_fn(m, batch):
        (q,) = batch
        h, r, t = q.unbind(1)
        loss = F.cross_entropy(m.score(h, r), t, label_smoothing=cfg.label_smoothing)
        return loss + cfg.reg * m.regularizer(h, r, t)

    tc = TrainConfig(max_steps=cfg.epochs * per_epoch, lr=cfg.lr, min_lr=cfg.lr / 10,
                     warmup_steps=min(50, per_epoch), weight_decay=0.0, betas=(0.9, 0.999),
                     grad_clip=None, amp=None, progress=cfg.progress)
    history = train(model, batches, tc, loss_fn=loss_fn, on_step=on_step)
    model.eval()
    return model, history


def known_answers(ds, n_relations: int | None = None) -> dict[tuple[int, int], list[int]]:
    """{(h, r): every t with (h, r, t) in train, valid or test}, reciprocal queries included."""
    n_relations = ds.n_relations if n_relations is None else n_relations
    every = torch.cat([ds.train, ds.valid, ds.test])
    known: dict[tuple[int, int], list[int]] = {}
    for h, r, t in with_reciprocals(every, n_relations).tolist():
        known.setdefault((h, r), []).append(t)
    return known


@torch.no_grad()
def rank_queries(model: KGEModel, queries: torch.Tensor, known=None,
                 batch_size: int = 512) -> torch.Tensor:
    """Rank of the tail of each (h, r, t) in ``queries`` among all entities: filtered when
    ``known`` ({(h, r): true tails}) is given, raw otherwise. Returns (n,) float ranks."""
    ranks = []
    for chunk in queries.split(batch_size):
        h, r, t = chunk.unbind(1)
        scores = model.score(h, r)
        exclude = None
        if known is not None:
            exclude = torch.zeros_like(scores, dtype=torch.bool)
            for i, (hi, ri) in enumerate(zip(h.tolist(), r.tolist())):
                exclude[i, known.get((hi, ri), [])] = True
        ranks.append(rank_of(scores, t, exclude))
    return torch.cat(ranks)


def evaluate_kge(model: KGEModel, ds, split: str = "test", filtered: bool = True,
                 ks=(1, 3, 10)) -> dict[str, float]:
    """MRR and Hits@k over tail and head prediction of ``split`` (head queries as reciprocals)."""
    queries = with_reciprocals(ds.split(split), ds.n_relations)
    known = known_answers(ds) if filtered else None
    was_training = model.training
    model.eval()
    ranks = rank_queries(model, queries, known)
    model.train(was_training)
    return report(ranks, ks)
