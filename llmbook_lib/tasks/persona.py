"""Personalised dialogue: a persona as a prompt prefix, and a persona-consistency check.

Section 6.3.3. Speaker B of the synthetic world's persona chats is a person of the world; the
persona is that person's facts as first-person sentences (``我出生在雁阳。``). A reply is
**consistent** when what it states about B agrees with the fact table (Zhang et al., 2018,
PersonaChat, conditioned replies on such profile sentences).

- ``persona_context(persona, message)`` writes the persona in front of the message, so the
  single-turn dialogue format of ``tasks.chat`` (``prompt_of``, ``response_nll``,
  ``GPTResponder``) is reused unchanged: ``用户：（人设：…）<message>\\n机器人：<reply>``.
- ``reply_pairs`` turns dialogues into (context, reply) pairs, with or without the persona;
  ``ReplyBatches`` pads them for fine-tuning with the loss on the reply characters only.
- ``parse_statements`` reads which persona slot and value a reply states (the world's persona
  sentences are templated); ``judge`` labels a reply against the fact table as ``entails``,
  ``contradicts`` or ``neither``; ``consistency`` gives the rates over a set of replies.
- ``rule_reply`` is the hand-written baseline: pick the persona sentence whose slot the
  question asks about. ``PersonaBot`` answers one message, with the book's input checks.

The check is closed-world: the world's fact table lists every persona fact of a person, so a
stated birthplace (employer, hobby, ...) that is not in the table is false.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..data.batches import step_generator
from ..data.world.dialogue import PERSONA
from .chat import check_context, encode, prompt_of

SLOTS = tuple(PERSONA)                        # born_in, occupation, works_for, studied_at, hobby, ~founded_by
LABELS = ("entails", "contradicts", "neither")
MAX_MESSAGE_CHARS = 40                        # leaves room for a persona and a reply in 128 characters

# "我出生在{born_in}。" -> ^我出生在(?P<v>.+?)$ ; one regular expression per slot, from the templates
_STATEMENT = {k: re.compile("^" + re.escape(PERSONA[k][0][0].rstrip("。")).replace(
    re.escape("{" + k + "}"), "(?P<v>.+?)") + "$") for k in SLOTS}
_SENTENCE_END = re.compile(r"[。！？!?；;]")


def persona_context(persona: Sequence[str] | None, message: str) -> str:
    """The message with the persona written in front: ``（人设：我出生在雁阳。…）你是哪里人？``.
    ``persona=None`` (or empty) gives the bare message, the no-persona condition."""
    check_context(message)
    if persona is not None and (isinstance(persona, str)
                                or not all(isinstance(s, str) for s in persona)):
        raise TypeError("persona must be a list of sentences (str), e.g. ['我出生在雁阳。'], "
                        "or None for no persona")
    if not persona:
        return message
    return f"（人设：{''.join(persona)}）{message}"


def person_of(dialogue) -> str:
    """The entity id of speaker B, the person whose persona the dialogue uses."""
    if dialogue.kind != "persona":
        raise ValueError(f"dialogue {dialogue.id} is a {dialogue.kind} dialogue, not a persona chat")
    return dialogue.entities[0]


@dataclass
class ReplyItem:
    """One reply of B to evaluate: the person, the gold slots the reply answers, the texts."""
    person: str
    message: str
    reply: str
    persona: list[str]
    slots: list[str]


def reply_items(world, dialogues) -> list[ReplyItem]:
    """Every B turn that answers with persona facts (acts ask(...), inform+ask), with the A turn
    before it. Greetings and goodbyes carry no fact and are left out."""
    relation = {f.id: ("~founded_by" if f.relation == "founded_by" else f.relation) for f in world.facts}
    items = []
    for d in dialogues:
        p = person_of(d)
        for prev, turn in zip(d.turns, d.turns[1:]):
            if turn.speaker == "B" and turn.facts:
                items.append(ReplyItem(p, prev.text, turn.text, list(d.persona),
                                       [relation[f] for f in turn.facts]))
    return items


def reply_pairs(items: Sequence[ReplyItem], with_persona: bool) -> list[tuple[str, str]]:
    """(context, reply) pairs in the ``tasks.chat`` format, with or without the persona prefix."""
    return [(persona_context(it.persona if with_persona else None, it.message), it.reply)
            for it in items]


class ReplyBatches:
    """Random batches of whole (context, reply) examples for a char GPT: ``batches(step) ->
    (x, y)``, with targets only on the reply characters and the line end that closes it
    (-100 elsewhere, so the prompt and the persona are read but not learned). Right-padded."""

    def __init__(self, tok, pairs: Sequence[tuple[str, str]], batch_size: int, seed: int = 0):
        if not pairs:
            raise ValueError("no (context, reply) pairs to train on")
        self.rows, self.batch_size, self.seed = [], batch_size, seed
        for context, reply in pairs:
            p, r = encode(tok, prompt_of(context)), encode(tok, reply + "\n")
            self.rows.append((p + r, [-100] * len(p) + r))

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        pick = torch.randint(len(self.rows), (self.batch_size,), generator=g).tolist()
        width = max(len(self.rows[i][0]) for i in pick) - 1
        x = torch.zeros((len(pick), width), dtype=torch.long)
        y = torch.full((len(pick), width), -100, dtype=torch.long)
        for j, i in enumerate(pick):
            ids, tgt = self.rows[i]
            x[j, :len(ids) - 1] = torch.tensor(ids[:-1])
            y[j, :len(ids) - 1] = torch.tensor(tgt[1:])
        return x, y


# ---- the consistency check ------------------------------------------------------------------
def parse_statements(text: str) -> list[tuple[str, str]]:
    """(slot, value) for each sentence of ``text`` that has the form of a persona statement,
    e.g. ``"我是一名医生。我喜欢下棋。"`` -> ``[("occupation", "医生"), ("hobby", "下棋")]``.
    Sentences of any other form are skipped."""
    if not isinstance(text, str):
        raise TypeError(f"a reply must be a string, got {type(text).__name__}")
    out = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        for k, pattern in _STATEMENT.items():
            m = pattern.match(sentence)
            if m:
                out.append((k, m.group("v")))
                break
    return out


def persona_values(world, person: str) -> dict[str, set[str]]:
    """The fact table's value(s) of each persona slot of ``person``, as Chinese surface names."""
    if person not in world.entities:
        raise ValueError(f"unknown entity {person!r}")
    values: dict[str, set[str]] = {}

    def name(obj) -> str:
        return world.entities[obj].zh if isinstance(obj, str) and obj in world.entities else obj.zh

    for f in world.facts:
        if f.subject == person and f.relation in SLOTS:
            values.setdefault(f.relation, set()).add(name(f.object))
        elif f.relation == "founded_by" and f.object == person:
            values.setdefault("~founded_by", set()).add(world.entities[f.subject].zh)
    return values


def judge(values: dict[str, set[str]], reply: str) -> tuple[str, list[tuple[str, str]]]:
    """Label a reply against a person's persona values (from ``persona_values``):

    - ``contradicts``: some statement gives a slot a value the fact table does not have for
      this person (another city, a made-up company, a company for a person who founded none);
    - ``entails``: every statement is in the fact table, and there is at least one;
    - ``neither``: no persona statement at all (off topic, unreadable).
    Returns the label and the parsed statements."""
    stated = parse_statements(reply)
    if not stated:
        return "neither", stated
    if any(v not in values.get(k, set()) for k, v in stated):
        return "contradicts", stated
    return "entails", stated


def consistency(world, items: Sequence[ReplyItem], replies: Sequence[str]) -> dict:
    """Rates over replies to ``items``: each label's share, and ``right_slot``, the share that
    entail *and* state a slot the question asked about (the gold reply's slots)."""
    if len(items) != len(replies):
        raise ValueError(f"{len(items)} items but {len(replies)} replies")
    if not items:
        raise ValueError("no replies to judge")
    cache: dict[str, dict] = {}
    labels, right = Counter(), 0
    for it, r in zip(items, replies):
        values = cache.setdefault(it.person, persona_values(world, it.person))
        label, stated = judge(values, r)
        labels[label] += 1
        right += label == "entails" and any(k in it.slots for k, _ in stated)
    n = len(items)
    return {**{lab: labels[lab] / n for lab in LABELS}, "right_slot": right / n, "n": n}


# ---- the rule baseline ------------------------------------------------------------------------
_ASKS = (("哪里人", "born_in"), ("人。", "born_in"), ("什么工作", "occupation"),
         ("哪家公司上班", "works_for"), ("大学", "studied_at"), ("喜欢", "hobby"),
         ("开了一家公司", "~founded_by"))


def asked_slot(message: str) -> str | None:
    """Which persona slot a message asks about, by keywords of the world's question templates;
    None when no keyword matches (e.g. "介绍一下你自己吧。")."""
    for key, slot in _ASKS:
        if key in message:
            return slot
    return None


def rule_reply(persona: Sequence[str], message: str) -> str:
    """Copy the persona sentence of the slot the message asks about; the first two sentences
    when no slot is recognised. A hand-written baseline that knows the question templates."""
    persona_context(persona, message)                     # type checks on both
    slot = asked_slot(message)
    for sentence in persona:
        stated = parse_statements(sentence)
        if slot is not None and stated and stated[0][0] == slot:
            return sentence
    return "".join(persona[:2])


# ---- a chatbot --------------------------------------------------------------------------------
class PersonaBot:
    """Answer as the person of ``persona`` with a dialogue-tuned GPT responder
    (``tasks.chat.GPTResponder``). ``reply(message)`` checks its input: a str, not empty, at
    most ``MAX_MESSAGE_CHARS`` characters, and a prompt that fits the model's context."""

    def __init__(self, responder, persona: Sequence[str] | None):
        persona_context(persona, "？")                       # the same type check, up front
        self.responder, self.persona = responder, list(persona) if persona else None

    def context(self, message: str) -> str:
        check_context(message)
        if len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"the message has {len(message)} characters; this small model reads "
                             f"at most {MAX_MESSAGE_CHARS}: shorten it or split it into turns")
        context = persona_context(self.persona, message)
        n = len(prompt_of(context)) + self.responder.max_new_tokens
        limit = self.responder.model.config.max_len
        if n > limit:
            raise ValueError(f"persona, message and reply need {n} characters, more than the "
                             f"model's context of {limit}: use fewer or shorter persona sentences")
        return context

    def reply(self, message: str, generator: torch.Generator | None = None) -> str:
        return self.responder.respond(self.context(message), generator)
