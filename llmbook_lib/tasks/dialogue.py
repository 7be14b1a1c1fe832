"""A task-oriented dialogue pipeline on the synthetic world's train-ticket dialogues (section 6.3.1).

The classic modular pipeline (Young et al., 2013): natural language understanding (NLU: the
intent of a user turn and its slot values), dialogue state tracking (DST: accumulate the slot
values over turns), a policy (what the system does next) and natural language generation (NLG:
the system's words). Everything here is Chinese-only and character-level.

- ``bio_tags`` / ``spans_from_bio``: character offsets <-> BIO tags (``B-date``, ``I-date``, ``O``),
  adapters over ``data.ner``'s ``spans_to_bio`` / ``bio_to_spans``;
- ``ticket_split`` / ``user_examples``: the ticket dialogues split by dialogue, and their user turns
  as ``NLUExample`` (text, intent = the turn's act, BIO tags, gold state after the turn);
- ``Normalizer``: surface form -> canonical value (``9月14日`` -> ``09-14``, a city name -> its id)
  and back; ``None`` for a surface it does not know;
- ``RuleNLU``: the keyword/regex/gazetteer baseline; ``JointNLU`` + ``fit_joint_nlu`` +
  ``NLUModel``: a character BiGRU with an intent head and a slot-tag head, trained jointly
  (Goo et al., 2018 share one encoder the same way, without the slot gate);
- ``update_state`` / ``track``: rule-based DST, and ``joint_goal_accuracy``;
- ``policy`` (request the first missing slot, confirm when complete) and ``realise`` (templates);
- learned NLG: ``system_examples``, ``delexicalise`` / ``relexicalise`` (slot values <-> ``{slot}``
  placeholders, the standard trick of Wen et al., 2015), ``fit_nlg`` -> ``NLGModel`` (a small
  encoder-decoder ``models.transformer.Transformer``, greedy or sampled), ``slot_errors`` /
  ``slot_error_rate`` (missing + redundant values over required ones);
- ``SimulatedUser`` / ``run_episode``: an agenda-style scripted user with a goal (Schatzmann et
  al., 2007) that talks to the pipeline; task success and turns per dialogue. The NLG is
  pluggable, and the user can answer the system's words (``read_system``) instead of its acts;
- ``add_noise`` / ``add_noise_tagged``: ASR-style character substitutions and deletions.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows
from ..data.ner import bio_to_spans, spans_to_bio
from ..data.world.dialogue import SEAT, TICKET, ZH_COUNT, fill
from ..models.decoding import greedy_decode
from ..models.sampling import next_token_probs
from ..runtime.device import eval_mode
from ..runtime.inputs import check_texts
from ..text.tokenize import CharTokenizer, SpecialVocab

SLOTS = ("from", "to", "date", "count", "seat")   # the order in which the policy asks
PAD, UNK = "[PAD]", "[UNK]"


# -- BIO -----------------------------------------------------------------------------------------
# Thin adapters over data.ner's ``spans_to_bio`` / ``bio_to_spans``: the dialogue code carries
# ``SlotValue`` records and (slot, start, end, surface) tuples rather than (start, end, kind).
def bio_tags(text: str, slots: Sequence) -> list[str]:
    """One BIO tag per character from slot spans (objects with slot, start, end; end exclusive)."""
    return spans_to_bio(len(text), [(s.start, s.end, s.slot) for s in slots])


def spans_from_bio(text: str, tags: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """(slot, start, end, surface) for each chunk; an ``I-x`` that does not continue an ``x``
    chunk starts a new one (as seqeval does)."""
    if len(tags) != len(text):
        raise ValueError(f"{len(tags)} tags for a text of {len(text)} characters")
    return [(slot, a, b, text[a:b]) for a, b, slot in bio_to_spans(tags)]


# -- data ----------------------------------------------------------------------------------------
@dataclass
class NLUExample:
    text: str
    intent: str
    tags: list[str]
    state: dict = field(default_factory=dict)
    slots: list = field(default_factory=list)     # the gold SlotValue records


def ticket_split(world, lang: str = "zh", test_every: int = 3) -> dict[str, list]:
    """The train-ticket dialogues split by dialogue: every ``test_every``-th one is test.
    (The world's own entity split puts all of them in train: their entities are cities.)"""
    if lang != "zh":
        raise ValueError("this pipeline is character-level Chinese; lang must be 'zh'")
    if test_every < 2:
        raise ValueError(f"test_every must be >= 2, got {test_every}")
    ds = sorted((d for d in world.dialogues("task", lang) if d.domain == "train_ticket"), key=lambda d: d.id)
    return {"train": [d for i, d in enumerate(ds) if i % test_every != test_every - 1],
            "test": [d for i, d in enumerate(ds) if i % test_every == test_every - 1]}


def user_examples(dialogues: Sequence) -> list[NLUExample]:
    """The user turns of the dialogues as NLU examples."""
    return [NLUExample(t.text, t.act, bio_tags(t.text, t.slots), dict(t.state), list(t.slots))
            for d in dialogues for t in d.turns if t.speaker == "user"]


# -- values --------------------------------------------------------------------------------------
class Normalizer:
    """Surface <-> canonical slot values: cities by the world's names, dates ``M月D日`` <->
    ``MM-DD``, counts 一..四 <-> "1".."4", seats 一等座/二等座 <-> first/second."""

    DATE = re.compile(r"^(\d{1,2})月(\d{1,2})日$")

    def __init__(self, cities: dict[str, str]):
        if not cities:
            raise ValueError("Normalizer needs at least one city (id -> name)")
        self.city_name = dict(cities)
        self.city_id = {name: cid for cid, name in cities.items()}

    @classmethod
    def from_world(cls, world) -> "Normalizer":
        return cls({e.id: e.name("zh") for e in world.corpus.entities.values() if e.type == "city"})

    def canonical(self, slot: str, surface: str) -> str | None:
        if slot in ("from", "to"):
            return self.city_id.get(surface)
        if slot == "date":
            m = self.DATE.match(surface)
            if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31):
                return None
            return f"{int(m[1]):02d}-{int(m[2]):02d}"
        if slot == "count":
            return str(ZH_COUNT.index(surface) + 1) if surface in ZH_COUNT else None
        if slot == "seat":
            return {v[0]: k for k, v in SEAT.items()}.get(surface)
        raise ValueError(f"unknown slot {slot!r}; slots are {SLOTS}")

    def surface(self, slot: str, value: str) -> str:
        if slot in ("from", "to"):
            return self.city_name[value]
        if slot == "date":
            m, d = map(int, value.split("-"))
            return f"{m}月{d}日"
        if slot == "count":
            return ZH_COUNT[int(value) - 1]
        if slot == "seat":
            return SEAT[value][0]
        raise ValueError(f"unknown slot {slot!r}; slots are {SLOTS}")


# -- NLU -----------------------------------------------------------------------------------------
@dataclass
class NLUResult:
    intent: str
    spans: list[tuple[str, int, int, str]]        # (slot, start, end, surface)


class RuleNLU:
    """Keyword rules for the intent; a city gazetteer and regular expressions for the slots.
    One city -> ``to`` if 去/到 precedes it, else ``from``; two cities -> from, then to."""

    def __init__(self, normalizer: Normalizer):
        names = sorted(normalizer.city_id, key=len, reverse=True)
        self.city = re.compile("|".join(map(re.escape, names)))
        self.date = re.compile(r"\d{1,2}月\d{1,2}日")
        self.count = re.compile(r"[一两三四](?=张|个人|位)")
        self.seat = re.compile(r"[一二]等座")

    def __call__(self, text: str) -> NLUResult:
        spans = [("date", m.start(), m.end(), m[0]) for m in self.date.finditer(text)]
        spans += [("count", m.start(), m.end(), m[0]) for m in self.count.finditer(text)]
        spans += [("seat", m.start(), m.end(), m[0]) for m in self.seat.finditer(text)]
        cities = list(self.city.finditer(text))
        if len(cities) == 1:
            m = cities[0]
            slot = "to" if m.start() > 0 and text[m.start() - 1] in "去到" else "from"
            spans.append((slot, m.start(), m.end(), m[0]))
        else:
            spans += [(s, m.start(), m.end(), m[0]) for s, m in zip(("from", "to"), cities)]
        spans.sort(key=lambda s: s[1])
        kinds = {s[0] for s in spans}
        if "谢" in text:
            intent = "thank"
        elif "改" in text:
            intent = "correct(date)"
        elif len(kinds) >= 2:
            intent = "oneshot"
        elif len(kinds) == 1:
            intent = f"inform({kinds.pop()})"
        else:
            intent = "hello"
        return NLUResult(intent, spans)


def char_vocab(texts: Sequence[str]) -> SpecialVocab:
    """The NLU's character vocabulary: [PAD] = 0, [UNK] = 1, then the sorted characters of ``texts``."""
    return SpecialVocab(CharTokenizer.from_text(texts, unk=UNK), (PAD,))


def encode_batch(vocab: SpecialVocab, texts: Sequence[str]) -> torch.Tensor:
    """(B, T) character ids padded with ``vocab.pad_id``; at least one column."""
    return pad_rows([vocab.encode(t) or [vocab.pad_id] for t in texts], vocab.pad_id)


class JointNLU(nn.Module):
    """Characters -> embedding -> BiGRU; the intent from the masked mean of the states, one slot
    tag per character from each state. One encoder, two heads, one summed loss."""

    def __init__(self, vocab_size: int, n_intents: int, n_tags: int, dim: int = 64, hidden: int = 64):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.rnn = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
        self.intent_head = nn.Linear(2 * hidden, n_intents)
        self.tag_head = nn.Linear(2 * hidden, n_tags)

    def forward(self, ids: torch.Tensor):
        mask = (ids != 0).unsqueeze(-1).float()
        h, _ = self.rnn(self.emb(ids))
        pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.intent_head(pooled), self.tag_head(h)


class NLUModel:
    """A trained ``JointNLU`` with its vocabularies: ``model(text) -> NLUResult``."""

    def __init__(self, net: JointNLU, vocab: SpecialVocab, intents: list[str], tags: list[str]):
        self.net, self.vocab, self.intents, self.tags = net, vocab, intents, tags

    @torch.no_grad()
    def predict(self, texts: Sequence[str]) -> list[NLUResult]:
        texts = check_texts(texts, "predict([text]), or model(text) for one text")
        if not texts:
            return []
        self.net.eval()
        logits_i, logits_t = self.net(encode_batch(self.vocab, texts))
        out = []
        for k, t in enumerate(texts):
            tags = [self.tags[j] for j in logits_t[k, :len(t)].argmax(-1).tolist()]
            out.append(NLUResult(self.intents[logits_i[k].argmax().item()], spans_from_bio(t, tags)))
        return out

    def __call__(self, text: str) -> NLUResult:
        if isinstance(text, (bytes, bytearray)):
            raise TypeError("expected a str, got bytes: decode it first, e.g. text.decode('utf-8')")
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        return self.predict([text])[0]


def fit_joint_nlu(examples: Sequence[NLUExample], seed: int = 0, epochs: int = 30, batch_size: int = 16,
                  lr: float = 3e-3, char_dropout: float = 0.0) -> tuple[NLUModel, list[float]]:
    """Train a ``JointNLU`` with Adam on the summed intent and tag cross-entropies.
    ``char_dropout``: the share of input characters replaced by [UNK] during training.
    Returns the model and the mean loss per epoch."""
    if not examples:
        raise ValueError("no training examples")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    vocab = char_vocab([e.text for e in examples])
    intents = sorted({e.intent for e in examples})
    tags = ["O"] + [f"{p}-{s}" for s in SLOTS for p in "BI"]
    net = JointNLU(len(vocab), len(intents), len(tags))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    y_int = torch.tensor([intents.index(e.intent) for e in examples])
    ids_all = encode_batch(vocab, [e.text for e in examples])
    y_tag = torch.full(ids_all.shape, -100, dtype=torch.long)
    for i, e in enumerate(examples):
        y_tag[i, :len(e.tags)] = torch.tensor([tags.index(t) for t in e.tags])
    losses = []
    for _ in range(epochs):
        net.train()
        order, total = torch.randperm(len(examples), generator=g), 0.0
        for b in range(0, len(examples), batch_size):
            idx = order[b:b + batch_size]
            ids = ids_all[idx]
            if char_dropout > 0:
                drop = (torch.rand(ids.shape, generator=g) < char_dropout) & (ids != 0)
                ids = ids.masked_fill(drop, 1)
            li, lt = net(ids)
            loss = F.cross_entropy(li, y_int[idx]) + F.cross_entropy(
                lt.reshape(-1, len(tags)), y_tag[idx].reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(examples))
    return NLUModel(net, vocab, intents, tags), losses


def nlu_scores(examples: Sequence[NLUExample], results: Sequence[NLUResult]) -> dict:
    """Intent accuracy and macro-F1 (scikit-learn), slot micro-F1 over chunks (seqeval)."""
    from seqeval.metrics import f1_score
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import f1_score as sk_f1
    if len(examples) != len(results):
        raise ValueError(f"{len(examples)} examples but {len(results)} results")
    gold_i, pred_i = [e.intent for e in examples], [r.intent for r in results]
    pred_tags = [spans_to_bio(len(e.tags), [(a, b, slot) for slot, a, b, _ in r.spans])
                 for e, r in zip(examples, results)]
    return {"intent_acc": accuracy_score(gold_i, pred_i),
            "intent_f1": sk_f1(gold_i, pred_i, average="macro", zero_division=0),
            "slot_f1": f1_score([e.tags for e in examples], pred_tags)}


# -- DST -----------------------------------------------------------------------------------------
def update_state(state: dict, nlu: NLUResult, normalizer: Normalizer) -> dict:
    """The new state: every slot value the normaliser understands overwrites the old one (a
    correction is just a later value); values it cannot read are ignored."""
    new = dict(state)
    for slot, _, _, surface in nlu.spans:
        value = normalizer.canonical(slot, surface)
        if value is not None:
            new[slot] = value
    return new


def track(examples_per_dialogue: Sequence[Sequence[NLUExample]], results_per_dialogue, normalizer) -> list:
    """(predicted state, gold state) after every user turn."""
    pairs = []
    for exs, res in zip(examples_per_dialogue, results_per_dialogue, strict=True):
        state = {}
        for e, r in zip(exs, res, strict=True):
            state = update_state(state, r, normalizer)
            pairs.append((dict(state), {k: v for k, v in e.state.items() if k in SLOTS}))
    return pairs


def joint_goal_accuracy(pairs: Sequence[tuple[dict, dict]]) -> float:
    """The share of turns whose whole predicted state equals the gold state."""
    if not pairs:
        raise ValueError("no turns to score")
    return sum(p == g for p, g in pairs) / len(pairs)


def gold_nlu(example: NLUExample) -> NLUResult:
    return NLUResult(example.intent, spans_from_bio(example.text, example.tags))


# -- policy and NLG ------------------------------------------------------------------------------
def policy(state: dict, intent: str) -> list[str]:
    """System acts: bye after thanks; otherwise request the first missing slot, or confirm
    when all five are filled; acknowledge a date correction first."""
    if intent == "thank":
        return ["bye"]
    acts = ["ack(date)"] if intent == "correct(date)" and "date" in state else []
    missing = [s for s in SLOTS if s not in state]
    return acts + ([f"request({missing[0]})"] if missing else ["confirm"])


def realise(acts: Sequence[str], state: dict, normalizer: Normalizer, rng: random.Random,
            order: str = "00000") -> str:
    """Template NLG: one phrasing of each act from the world's templates, filled from the state."""
    vals = {s: (normalizer.surface(s, v), v) for s, v in state.items() if s in SLOTS}
    vals["order"] = (order, order)
    out = []
    for act in acts:
        if act not in TICKET:
            raise ValueError(f"no template for act {act!r}")
        zh = rng.choice(TICKET[act])[0]
        out.append(fill(zh, vals, annotate=())[0])
    return "".join(out)


# -- learned NLG ---------------------------------------------------------------------------------
NLG_SLOTS = SLOTS + ("order",)                        # the values a system turn may say
ORDER = re.compile(r"订单号(\d+)")
_HOLE = re.compile(r"\{(" + "|".join(NLG_SLOTS) + r")\}")
_DATE = re.compile(r"\d{1,2}月\d{1,2}日")
_COUNT = re.compile(r"[一两三四](?=张)")
_SEAT = re.compile(r"[一二]等座")


def slot_values(state: dict, normalizer: Normalizer, order: str | None = None) -> dict[str, str]:
    """The surfaces the system may say: ``{"from": "松滨", "date": "9月14日", ..., "order": "99217"}``."""
    vals = {s: normalizer.surface(s, v) for s, v in state.items() if s in SLOTS}
    if order is not None:
        vals["order"] = order
    return vals


def delexicalise(text: str, values: dict[str, str]) -> str:
    """Replace each value's surface in ``text`` by its placeholder ``{slot}``, in one left-to-right
    pass, longest surface first. A count (一/两/三/四) is replaced only before 张, so the 一 of
    一等座 stays. Surfaces that do not occur are ignored."""
    if bad := [s for s in values if s not in NLG_SLOTS]:
        raise ValueError(f"unknown slots {bad}; slots are {NLG_SLOTS}")
    pats = []
    for slot, surface in sorted(values.items(), key=lambda kv: -len(kv[1])):
        if not surface:
            raise ValueError(f"slot {slot!r} has an empty surface")
        pats.append(f"(?P<{slot}>{re.escape(surface)}{'(?=张)' if slot == 'count' else ''})")
    if not pats:
        return text
    return re.sub("|".join(pats), lambda m: "{" + m.lastgroup + "}", text)


def relexicalise(delex: str, values: dict[str, str]) -> str:
    """Fill the placeholders of a delexicalised text; one without a value stays as ``{slot}``."""
    return _HOLE.sub(lambda m: values.get(m[1], m[0]), delex)


def required_slots(acts: Sequence[str]) -> Counter:
    """The placeholders the templates of ``acts`` hold: what a correct utterance must say."""
    need = Counter()
    for act in acts:
        if act not in TICKET:
            raise ValueError(f"unknown system act {act!r}")
        need.update(_HOLE.findall(TICKET[act][0][0]))
    return need


def slot_errors(text: str, acts: Sequence[str], values: dict[str, str],
                normalizer: Normalizer) -> tuple[int, int, int]:
    """(required, missing, redundant) slot mentions of a realised system utterance (Wen et al.,
    2015). Required: the placeholders of the acts' templates, with ``values``' surfaces.
    Missing: required mentions absent from ``text``. Redundant: mentions of a slot the acts do not
    need, an unfilled ``{slot}``, and any other city, date, ``N张`` count or order number (a wrong
    value: a substitution counts as one missing plus one redundant); seat names count only when
    the acts state a seat (a seat request names both classes)."""
    need = required_slots(acts)
    if lost := [s for s in need if s not in values]:
        raise ValueError(f"acts {list(acts)} need values for {lost}")
    delex = delexicalise(text, {s: values[s] for s in need})
    have = Counter(_HOLE.findall(delex))
    missing = sum((need - have).values())
    redundant = sum((have - need).values())
    rest = _HOLE.sub("#", delex)
    redundant += len(_DATE.findall(rest)) + len(_COUNT.findall(rest)) + len(ORDER.findall(rest))
    redundant += sum(rest.count(name) for name in normalizer.city_id)
    if "seat" in need:
        redundant += len(_SEAT.findall(rest))
    return sum(need.values()), missing, redundant


def slot_error_rate(errors: Sequence[tuple[int, int, int]]) -> float:
    """(missing + redundant) / required over utterances, from ``slot_errors``."""
    required = sum(e[0] for e in errors)
    if required == 0:
        raise ValueError("no required slot mentions to score (no acts that carry values)")
    return sum(e[1] + e[2] for e in errors) / required


@dataclass
class NLGExample:
    acts: list[str]
    state: dict
    values: dict                  # slot -> surface (slot_values), order included when said
    text: str                     # the reference system utterance

    @property
    def delex(self) -> str:
        return delexicalise(self.text, self.values)


def system_examples(dialogues: Sequence, normalizer: Normalizer) -> list[NLGExample]:
    """The system turns of the dialogues (``bye`` included) with their acts, the state they
    speak from and the surfaces of its values; the order number is read from the text."""
    out = []
    for d in dialogues:
        for t in d.turns:
            if t.speaker == "system":
                m = ORDER.search(t.text)
                out.append(NLGExample(t.act.split("+"), dict(t.state),
                                      slot_values(t.state, normalizer, m[1] if m else None), t.text))
    return out


def nlg_source(acts: Sequence[str], values: dict[str, str], lexical: bool = False) -> str:
    """The generator's input: the acts and the slots it knows, ``confirm|count date from seat to``;
    with ``lexical=True`` the values themselves, ``confirm|count=三 date=9月14日 ...``."""
    known = [s for s in SLOTS if s in values]
    slots = [f"{s}={values[s]}" for s in known] if lexical else known
    return "+".join(acts) + "|" + " ".join(slots)


_PUA = {s: chr(0xE000 + i) for i, s in enumerate(NLG_SLOTS)}   # one token per placeholder
_UNPUA = {c: "{" + s + "}" for s, c in _PUA.items()}


def _pack(delex: str) -> str:
    return _HOLE.sub(lambda m: _PUA[m[1]], delex)


def _unpack(text: str) -> str:
    return "".join(_UNPUA.get(c, c) for c in text)


class NLGModel:
    """A trained encoder-decoder that writes a system utterance from acts and state.

    Delexicalised (the default): it writes ``{slot}`` placeholders, one token each, which are
    then filled from the state; lexical: it must copy the values from its input itself.
    ``model(acts, state, rng)`` fits ``run_episode(nlg=...)``; ``temperature=0`` is greedy
    (``models.decoding.greedy_decode``, cached per input), above 0 samples, seeded from ``rng``."""

    def __init__(self, net, src_vocab: SpecialVocab, tgt_vocab: SpecialVocab, normalizer: Normalizer,
                 lexical: bool = False, temperature: float = 0.0):
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.net, self.src_vocab, self.tgt_vocab, self.norm = net, src_vocab, tgt_vocab, normalizer
        self.lexical, self.temperature = lexical, temperature
        self.max_new_tokens = net.config.max_len - 1
        self._greedy: dict[str, str] = {}

    def with_temperature(self, temperature: float) -> "NLGModel":
        return NLGModel(self.net, self.src_vocab, self.tgt_vocab, self.norm, self.lexical, temperature)

    def _src(self, sources: Sequence[str]) -> torch.Tensor:
        return pad_rows([self.src_vocab.encode(s) for s in sources], self.src_vocab.pad_id)

    def _text(self, ids: Sequence[int]) -> str:
        eos = self.tgt_vocab.eos_id
        ids = list(ids)
        return _unpack(self.tgt_vocab.base.decode(
            [i - self.tgt_vocab.offset for i in ids[:ids.index(eos) if eos in ids else None]
             if i >= self.tgt_vocab.offset]))

    @torch.no_grad()
    def _sample(self, src: torch.Tensor, g: torch.Generator) -> list[int]:
        net, c = self.net, self.net.config
        with eval_mode(net):
            memory, mask, _ = net.encode(src)
            ys, cache = [c.bos_id], net.new_cache()
            for _ in range(self.max_new_tokens):
                logits = net.decode(torch.tensor([ys[-1:]]), memory, mask, cache=cache)[0][0, -1]
                logits[[c.pad_id, c.bos_id]] = float("-inf")
                probs = next_token_probs(logits, self.temperature)
                nxt = int(torch.multinomial(probs, 1, generator=g))
                ys.append(nxt)
                if nxt == c.eos_id:
                    break
        return ys[1:]

    def generate_delex(self, sources: Sequence[str], rng: random.Random | None = None) -> list[str]:
        """The model's raw outputs (placeholders as ``{slot}``) for ``nlg_source`` strings."""
        if isinstance(sources, str):
            raise TypeError("generate_delex takes a list of sources")
        if self.temperature == 0:
            todo = [s for s in dict.fromkeys(sources) if s not in self._greedy]
            if todo:
                outs = greedy_decode(self.net, self._src(todo), max_new_tokens=self.max_new_tokens)
                self._greedy.update(zip(todo, map(self._text, outs)))
            return [self._greedy[s] for s in sources]
        if rng is None:
            raise ValueError("sampling (temperature > 0) needs an rng")
        g = torch.Generator().manual_seed(rng.randrange(2 ** 31))
        return [self._text(self._sample(self._src([s]), g)) for s in sources]

    def realise(self, acts: Sequence[str], values: dict[str, str], rng: random.Random | None = None) -> str:
        out = self.generate_delex([nlg_source(acts, values, self.lexical)], rng)[0]
        return out if self.lexical else relexicalise(out, values)

    def __call__(self, acts: Sequence[str], state: dict, rng: random.Random | None = None,
                 order: str = "00000") -> str:
        return self.realise(acts, slot_values(state, self.norm, order), rng)


def fit_nlg(examples: Sequence[NLGExample], normalizer: Normalizer, lexical: bool = False, seed: int = 0,
            steps: int = 300, batch_size: int = 32, lr: float = 3e-3, d_model: int = 64,
            layers: int = 1) -> tuple[NLGModel, list[float]]:
    """Train a small ``models.transformer.Transformer`` (character input, character output; in
    the delexicalised mode each placeholder is one output token) with ``training.train``.
    Returns the model and the training loss per step."""
    from ..data.batches import PairBatches
    from ..models.transformer import Transformer, TransformerConfig
    from ..training.train import TrainConfig, train
    if not examples:
        raise ValueError("no training examples")
    specials = ("<pad>", "<s>", "</s>")
    sources = [nlg_source(e.acts, e.values, lexical) for e in examples]
    targets = [e.text if lexical else _pack(e.delex) for e in examples]
    src_vocab = SpecialVocab(CharTokenizer.from_text(sources, unk="<unk>"), specials)
    tgt_vocab = SpecialVocab(CharTokenizer.from_text(targets, unk="<unk>"), specials)
    torch.manual_seed(seed)
    cfg = TransformerConfig.from_vocabs(src_vocab, tgt_vocab, d_model=d_model, n_head=4,
                                        n_encoder_layers=layers, n_decoder_layers=layers, dropout=0.1,
                                        max_len=2 + max(map(len, sources + targets)))
    net = Transformer(cfg)
    pairs = [(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in zip(sources, targets)]
    hist = train(net, PairBatches(pairs, batch_size, seed=seed), TrainConfig(
        max_steps=steps, lr=lr, warmup_steps=min(30, steps // 5), weight_decay=0.0, amp=None,
        progress=False))
    net.eval()
    return NLGModel(net, src_vocab, tgt_vocab, normalizer, lexical), hist.train_loss


# -- noise ---------------------------------------------------------------------------------------
def _noise_ops(n: int, rate: float, rng: random.Random, alphabet: Sequence[str]):
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    if not alphabet:
        raise ValueError("alphabet for substitutions is empty")
    ops = []
    for _ in range(n):
        if rng.random() < rate:
            ops.append("del" if rng.random() < 0.5 else rng.choice(alphabet))
        else:
            ops.append(None)
    return ops


def add_noise(text: str, rate: float, rng: random.Random, alphabet: Sequence[str]) -> str:
    """Corrupt each character with probability ``rate``: half of the corruptions delete it, half
    substitute a random character of ``alphabet``. Deterministic given ``rng``'s state."""
    ops = _noise_ops(len(text), rate, rng, alphabet)
    return "".join(c if op is None else op for c, op in zip(text, ops) if op != "del")


def add_noise_tagged(text: str, tags: Sequence[str], rate: float, rng: random.Random,
                     alphabet: Sequence[str]) -> tuple[str, list[str]]:
    """``add_noise`` that keeps the BIO tags aligned: a substituted character keeps its tag, a
    deleted one loses it, and an ``I-x`` left without its ``B-x`` becomes ``B-x``."""
    if len(tags) != len(text):
        raise ValueError(f"{len(tags)} tags for a text of {len(text)} characters")
    ops = _noise_ops(len(text), rate, rng, alphabet)
    chars, out = [], []
    for c, t, op in zip(text, tags, ops):
        if op == "del":
            continue
        chars.append(c if op is None else op)
        if t.startswith("I-") and (not out or out[-1][2:] != t[2:] or out[-1] == "O"):
            t = "B-" + t[2:]
        out.append(t)
    return "".join(chars), out


# -- simulated user and end to end ---------------------------------------------------------------
_READ = (("confirm", ("预订", "订单号")), ("bye", ("旅途", "不客气")), ("request(seat)", ("等座",)),
         ("request(count)", ("几位", "几张", "几个")), ("request(date)", ("哪天", "日期")),
         ("request(to)", ("去哪", "目的地")), ("request(from)", ("出发",)))


def read_system(text: str) -> str | None:
    """What the simulated user takes a system utterance to ask, by keywords (the first rule that
    fires, in the order confirm, bye, seat, count, date, to, from), or None."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    return next((act for act, keys in _READ if any(k in text for k in keys)), None)


class SimulatedUser:
    """A scripted user with a goal (the five slots): opens with all but the seat in one sentence
    or with a bare greeting, answers every request for a slot with its goal value, thanks after
    a confirmation. Its words are the world's user templates."""

    def __init__(self, goal: dict, normalizer: Normalizer, rng: random.Random):
        missing = [s for s in SLOTS if s not in goal]
        if missing:
            raise ValueError(f"goal lacks slots {missing}")
        self.goal, self.norm, self.rng = dict(goal), normalizer, rng
        self.vals = {s: (normalizer.surface(s, goal[s]), goal[s]) for s in SLOTS}

    def _say(self, act: str) -> str:
        return fill(self.rng.choice(TICKET[act])[0], self.vals)[0]

    def open(self) -> str:
        return self._say("oneshot" if self.rng.random() < 0.5 else "hello")

    def hear(self, text: str) -> str | None:
        """Answer a system utterance by its words (``read_system``); None if it cannot read it."""
        act = read_system(text)
        return None if act in (None, "bye") else self.respond([act])

    def respond(self, acts: Sequence[str]) -> str:
        last = acts[-1]
        if last.startswith("request("):
            return self._say(f"inform({last[8:-1]})")
        if last == "confirm":
            return self._say("thank")
        raise ValueError(f"the simulated user cannot answer {acts}")


@dataclass
class Episode:
    success: bool
    user_turns: int
    state: dict
    transcript: list[tuple[str, str]]
    ending: str                   # "confirmed", "hung up" (heard a thank-you) or "turn limit"


def run_episode(goal: dict, nlu: Callable[[str], NLUResult], normalizer: Normalizer, seed: int = 0,
                noise: float = 0.0, alphabet: Sequence[str] = "的一是",
                max_user_turns: int = 10, nlg: Callable | None = None,
                user_reads: str = "acts") -> Episode:
    """One conversation between ``SimulatedUser(goal)`` and NLU -> DST -> policy -> NLG.
    Success: the system confirms a state equal to the goal within ``max_user_turns``.

    ``nlg(acts, state, rng) -> str`` replaces the templates (``realise``), e.g. an ``NLGModel``.
    ``user_reads="acts"``: the user answers the system's acts (the words do not matter);
    ``"text"``: it answers what ``read_system`` reads in the words, repeats its last utterance
    when it reads nothing, and success also needs the spoken confirmation to state every goal
    value and nothing else (``slot_errors``, order number "00000")."""
    if user_reads not in ("acts", "text"):
        raise ValueError(f"user_reads must be 'acts' or 'text', got {user_reads!r}")
    rng = random.Random(seed)
    user = SimulatedUser(goal, normalizer, random.Random(rng.random()))
    noise_rng, nlg_rng = random.Random(rng.random()), random.Random(rng.random())
    if nlg is None:
        def nlg(acts, state, rng):
            return realise(acts, state, normalizer, rng)
    state, transcript, text = {}, [], user.open()
    for n in range(1, max_user_turns + 1):
        heard = add_noise(text, noise, noise_rng, alphabet)
        transcript.append(("user", heard))
        r = nlu(heard)
        state = update_state(state, r, normalizer)
        acts = policy(state, r.intent)
        said = nlg(acts, state, nlg_rng)
        transcript.append(("system", said))
        if acts == ["bye"]:         # the system heard a thank-you and hung up: failure
            return Episode(False, n, state, transcript, "hung up")
        if "confirm" in acts:       # a thank-you would follow; the booking is what counts
            ok = state == {s: goal[s] for s in SLOTS}
            if user_reads == "text":
                _, missing, redundant = slot_errors(said, ["confirm"], slot_values(goal, normalizer, "00000"),
                                                    normalizer)
                ok = ok and missing == redundant == 0
            return Episode(ok, n, state, transcript, "confirmed")
        if user_reads == "acts":
            text = user.respond(acts)
        else:
            text = user.hear(said) or text
    return Episode(False, max_user_turns, state, transcript, "turn limit")
