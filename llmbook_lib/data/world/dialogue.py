"""Dialogues: task-oriented (train tickets, knowledge-base look-ups) and persona chit-chat.

Ticket dialogues annotate the slots in each user turn (surface span and canonical value) and
the dialogue state after every turn. Look-up dialogues answer from the world's facts with the
fact templates, so each system answer is checkable. Persona chats give one speaker a persona
(first-person facts about a person of the world) that all of that speaker's answers respect.
"""

from __future__ import annotations

import random
import re

from .corpus import Corpus
from .graph import Entity
from .lexicon import HOBBIES
from .records import Dialogue, SlotValue, Turn
from .render import render
from .templates import Template

ZH_COUNT = ["一", "两", "三", "四"]
EN_COUNT = ["one", "two", "three", "four"]
EN_MONTH = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December"]
SEAT = {"first": ("一等座", "first class"), "second": ("二等座", "second class")}

# act -> [(zh, en)] phrasings; {slot} marks an annotated value, {tickets} only English number agreement
TICKET = {
    "oneshot": [("我想订{count}张{date}从{from}到{to}的火车票。", "I'd like to book {count} train {tickets} from {from} to {to} on {date}."),
                ("帮我买{date}从{from}去{to}的票，{count}张。", "Please get me {count} {tickets} from {from} to {to} for {date}."),
                ("你好，请帮我订{count}张{date}{from}到{to}的车票。", "Hello, can you book {count} {tickets} from {from} to {to} on {date}?")],
    "hello": [("你好，我想买火车票。", "Hi, I need train tickets."), ("我要订票。", "I want to book a train ticket.")],
    "request(from)": [("请问您从哪里出发？", "Where will you depart from?"), ("您从哪座城市出发？", "Which city are you leaving from?")],
    "inform(from)": [("从{from}出发。", "From {from}."), ("我在{from}上车。", "I'm leaving from {from}.")],
    "request(to)": [("您要去哪里？", "Where are you going?"), ("请问目的地是哪里？", "What is your destination?")],
    "inform(to)": [("去{to}。", "To {to}."), ("到{to}。", "I'm going to {to}.")],
    "request(date)": [("哪天出发？", "What date would you like to travel?"), ("请问出发日期是？", "Which day are you leaving?")],
    "inform(date)": [("{date}。", "On {date}."), ("{date}出发。", "{date}, please.")],
    "request(count)": [("一共几位乘客？", "How many passengers?"), ("需要几张票？", "How many tickets do you need?")],
    "inform(count)": [("{count}张。", "{count}."), ("{count}个人。", "{count}, please.")],
    "request(seat)": [("请问您要一等座还是二等座？", "Would you like first class or second class?"),
                      ("需要什么座位：一等座还是二等座？", "Which class: first or second?")],
    "inform(seat)": [("{seat}。", "{seat}, please."), ("要{seat}。", "I'll take {seat}.")],
    "correct(date)": [("不好意思，日期改成{date}。", "Sorry, please change the date to {date}."),
                      ("等一下，我想改到{date}出发。", "Wait, I want to leave on {date} instead.")],
    "ack(date)": [("好的，已改为{date}。", "OK, changed to {date}.")],
    "confirm": [("好的，已为您预订{date}从{from}到{to}的{count}张{seat}车票，订单号{order}。",
                 "Done: {count} {seat} {tickets} from {from} to {to} on {date}. Your booking number is {order}.")],
    "thank": [("谢谢！", "Thanks!"), ("好的，谢谢。", "Great, thank you.")],
    "bye": [("不客气，祝您旅途愉快！", "You're welcome. Have a nice trip!")],
}

LOOKUP = {  # flow -> (first question about the named entity, follow-ups about "it"), each with its slot path
    "product": [("price", "{e}多少钱？", "How much is {e}?"), ("made_by", "它是哪家公司出的？", "Which company makes it?"),
                (">headquartered_in", "这家公司的总部在哪儿？", "Where is that company based?")],
    "company": [("headquartered_in", "{e}的总部在哪里？", "Where is {e} headquartered?"),
                ("founded_by", "它是谁创办的？", "Who founded it?"),
                ("founded_year", "这家公司是哪年成立的？", "When was it founded?")],
    "launch": [("launch_year", "{e}是什么时候上市的？", "When did {e} come out?"),
               ("category", "它是什么类型的产品？", "What kind of product is it?"),
               ("price", "它卖多少钱？", "How much does it cost?")],
}

PERSONA = {  # slot -> (first-person statement, question to the other speaker)
    "born_in": (("我出生在{born_in}。", "I was born in {born_in}."), ("你是哪里人？", "Where are you from?")),
    "occupation": (("我是一名{occupation}。", "I am {a_occupation}."), ("你是做什么工作的？", "What do you do?")),
    "works_for": (("我在{works_for}工作。", "I work at {works_for}."), ("你在哪家公司上班？", "Which company do you work for?")),
    "studied_at": (("我毕业于{studied_at}。", "I graduated from {studied_at}."),
                   ("你在哪儿上的大学？", "Where did you go to university?")),
    "hobby": (("我喜欢{hobby}。", "I like {hobby}."), ("你平时喜欢做什么？", "What do you like to do in your free time?")),
    "~founded_by": (("我创办了{~founded_by}。", "I founded {~founded_by}."),
                    ("听说你自己开了一家公司？", "I heard you started a company?")),
}
CHAT = {
    "hello": [("你好！", "Hi!"), ("嗨，你好啊。", "Hey, hello there.")],
    "hello2": [("你好，很高兴认识你。", "Hello, nice to meet you."), ("你好呀！", "Hi, good to meet you!")],
    "intro?": [("介绍一下你自己吧。", "Tell me about yourself.")],
    "you?": [("你呢？", "What about you?")],
    "bye": [("很高兴和你聊天，再见！", "Nice talking to you, bye!")],
    "bye2": [("我也是，再见！", "Me too, goodbye!")],
    "share:born_in": [("我是{x}人。", "I'm from {x}.")],
    "share:hobby": [("我喜欢{x}。", "I like {x}.")],
}

_SLOT = re.compile(r"\{([a-z]+)\}")


def fill(pattern: str, values: dict[str, tuple[str, str]], annotate=("from", "to", "date", "count", "seat")):
    """Fill ``{slot}`` placeholders; return the text and the annotated slot spans."""
    out, slots, pos, last = [], [], 0, 0
    for m in _SLOT.finditer(pattern):
        lit = pattern[last:m.start()]
        out.append(lit)
        pos += len(lit)
        surface, canonical = values[m.group(1)]
        if pos == 0:
            surface = surface[:1].upper() + surface[1:]
        out.append(surface)
        if m.group(1) in annotate:
            slots.append(SlotValue(m.group(1), canonical, pos, pos + len(surface), surface))
        pos += len(surface)
        last = m.end()
    out.append(pattern[last:])
    return "".join(out), slots


def _pick(rng: random.Random, table: dict, act: str, lang: str) -> str:
    zh, en = rng.choice(table[act])
    return zh if lang == "zh" else en


def ticket(flow: str, corpus: Corpus, rng: random.Random, lang: str, goal: dict) -> list[Turn]:
    """A train-ticket booking in one of three flows; ``goal`` holds the canonical slot values."""
    cities = corpus.entities
    n = int(goal["count"])
    month, day = map(int, goal["date"].split("-"))
    vals = {"from": (cities[goal["from"]].name(lang), goal["from"]), "to": (cities[goal["to"]].name(lang), goal["to"]),
            "date": (f"{month}月{day}日" if lang == "zh" else f"{EN_MONTH[month - 1]} {day}", goal["date"]),
            "count": ((ZH_COUNT if lang == "zh" else EN_COUNT)[n - 1], goal["count"]),
            "seat": (SEAT[goal["seat"]][0 if lang == "zh" else 1], goal["seat"]),
            "tickets": ("ticket" if n == 1 else "tickets", ""), "order": (goal["order"], goal["order"])}
    turns, state = [], {}

    def user(act, **override):
        text, slots = fill(_pick(rng, TICKET, act, lang), {**vals, **override})
        state.update({s.slot: s.value for s in slots})
        turns.append(Turn("user", text, act, slots, dict(state)))

    def system(*acts):  # one turn may carry several acts: "ack(date)+request(seat)"
        texts = [fill(_pick(rng, TICKET, act, lang), vals, annotate=())[0] for act in acts]
        text = ("" if lang == "zh" else " ").join(texts)
        turns.append(Turn("system", text, "+".join(acts), [], dict(state)))

    if flow == "stepwise":
        user("hello")
        for slot in ("from", "to", "date", "count", "seat"):
            system(f"request({slot})")
            user(f"inform({slot})")
    else:
        first = goal["first_date"] if flow == "correction" else goal["date"]
        m0, d0 = map(int, first.split("-"))
        user("oneshot", date=(f"{m0}月{d0}日" if lang == "zh" else f"{EN_MONTH[m0 - 1]} {d0}", first))
        system("request(seat)")
        if flow == "correction":  # the user corrects the date instead of answering; asked again
            user("correct(date)")
            system("ack(date)", "request(seat)")
        user("inform(seat)")
    system("confirm")
    user("thank")
    system("bye")
    return turns


def lookup(flow: str, e: Entity, corpus: Corpus, pool: str, rng: random.Random, lang: str):
    """Questions about one product or company; answers are fact sentences of the world.
    Returns (turns, fact templates used, entities mentioned), or None if ``e`` lacks a fact."""
    turns, cur, templates, mentioned = [], e, [], [e.id]
    for slot, zh, en in LOOKUP[flow]:
        if slot.startswith(">"):
            slot = slot[1:]
            cur = corpus.entities[corpus.one(cur.id, "made_by").object]
        f = corpus.one(cur.id, slot)
        t = corpus.pick(f"{cur.type}:{slot}", pool, rng)
        if f is None or t is None:
            return None
        q = (zh if lang == "zh" else en)
        text, slots = fill(q, {"e": (e.name(lang), e.id)}, annotate=("e",))
        slots = [SlotValue("entity", s.value, s.start, s.end, s.text) for s in slots]
        state = {"domain": "lookup", "entity": cur.id, "attribute": slot}
        turns.append(Turn("user", text, f"request({slot})", slots, state))
        answer = render(t, lang, cur, {slot: f}, corpus.entities)
        turns.append(Turn("system", answer.text, f"inform({slot})", [], dict(state), [f.id]))
        templates += answer.templates
        mentioned += [sp.entity for sp in answer.spans if sp.entity]
    return turns, templates, list(dict.fromkeys(mentioned))


def persona_chat(flow: str, p: Entity, corpus: Corpus, rng: random.Random, lang: str):
    """A short chat in which speaker B is person ``p``.
    Returns (persona sentences, persona fact ids, turns, entities mentioned)."""
    facts = {k: corpus.one(p.id, k) for k in PERSONA if corpus.one(p.id, k) is not None}
    say = {k: render(Template(f"persona:{k}", "persona", *PERSONA[k][0]), lang, p, {k: f}, corpus.entities)
           for k, f in facts.items()}
    keys = list(facts)
    rng.shuffle(keys)
    mentioned = [p.id] + [sp.entity for r in say.values() for sp in r.spans if sp.entity]
    turns = [Turn("A", _pick(rng, CHAT, "hello", lang), "greet"), Turn("B", _pick(rng, CHAT, "hello2", lang), "greet")]

    def answer(k, act="answer"):
        turns.append(Turn("B", say[k].text, act, facts=[facts[k].id]))

    def ask(k):
        turns.append(Turn("A", PERSONA[k][1][0 if lang == "zh" else 1], f"ask({k})"))

    if flow == "introduce":
        turns.append(Turn("A", _pick(rng, CHAT, "intro?", lang), "ask(intro)"))
        turns.append(Turn("B", (" " if lang == "en" else "").join(say[k].text for k in keys[:2]), "answer",
                          facts=[facts[k].id for k in keys[:2]]))
        if len(keys) > 2:
            ask(keys[2])
            answer(keys[2])
    else:
        for k in keys[:3]:
            share = f"share:{k}"
            if flow == "exchange" and share in CHAT:
                if k == "born_in":
                    city = rng.choice([c for c in corpus.entities.values() if c.type == "city"])
                    other = city.name(lang)
                    mentioned.append(city.id)
                else:
                    other = getattr(rng.choice(HOBBIES), lang)
                text, _ = fill(_pick(rng, CHAT, share, lang), {"x": (other, other)}, annotate=())
                sep = " " if lang == "en" else ""
                turns.append(Turn("A", text + sep + _pick(rng, CHAT, "you?", lang), "inform+ask"))
            else:
                ask(k)
            answer(k)
    turns.append(Turn("A", _pick(rng, CHAT, "bye", lang), "bye"))
    turns.append(Turn("B", _pick(rng, CHAT, "bye2", lang), "bye"))
    return [say[k].text for k in facts], [f.id for f in facts.values()], turns, list(dict.fromkeys(mentioned))


def build_dialogues(corpus: Corpus, seed: int, size: float) -> list[Dialogue]:
    """Ticket bookings, look-ups of every product and company, and one persona chat per person;
    each dialogue in Chinese and in English with the same content."""
    rng, out = random.Random(f"dialogues/{seed}"), []
    cities = [e for e in corpus.entities.values() if e.type == "city"]
    people = [e for e in corpus.entities.values() if e.type == "person"]
    targets = {"product": "product", "launch": "product", "company": "company"}

    def add(kind, domain, make, pool, flow_id, stream):
        for lang in ("zh", "en"):                        # the same random choices in both languages
            result = make(random.Random(stream), lang)
            if result is None:
                return
            turns, persona, persona_facts, templates, ents = result
            out.append(Dialogue(f"dlg-{len(out) // 2:05d}", lang, kind, domain, turns, persona, persona_facts,
                                ents, [flow_id] + templates, pool))

    n_ticket = max(10, round(60 * size))
    for i in range(n_ticket):
        pool = corpus.draw_pool(rng)
        flow = corpus.pick("dlg:ticket", pool, rng)
        a, b = rng.sample(cities, 2)
        m, d = rng.randint(1, 12), rng.randint(1, 28)
        goal = {"from": a.id, "to": b.id, "date": f"{m:02d}-{d:02d}", "count": str(rng.randint(1, 4)),
                "seat": rng.choice(["first", "second"]), "order": f"{rng.randint(10_000, 99_999)}",
                "first_date": f"{m:02d}-{(d % 28) + 1:02d}"}
        def make_ticket(r, lang, flow=flow, goal=goal, ends=(a.id, b.id)):
            return ticket(flow.zh, corpus, r, lang, goal), [], [], [], list(ends)
        add("task", "train_ticket", make_ticket, pool, flow.id, f"ticket/{seed}/{i}")
    for i, e in enumerate(x for x in corpus.entities.values() if x.type in ("product", "company")):
        pool = corpus.draw_pool(rng)
        flows = [t for t in corpus.templates("dlg:lookup", pool) if targets[t.zh] == e.type]
        if not flows:
            continue
        flow = rng.choice(flows)

        def make_lookup(r, lang, flow=flow, e=e, pool=pool):
            res = lookup(flow.zh, e, corpus, pool, r, lang)
            return None if res is None else (res[0], [], [], res[1], res[2])
        add("task", "lookup", make_lookup, pool, flow.id, f"lookup/{seed}/{i}")
    for i, p in enumerate(people):
        pool = corpus.draw_pool(rng)
        flow = corpus.pick("dlg:persona", pool, rng)

        def make_chat(r, lang, flow=flow, p=p):
            persona, facts, turns, ents = persona_chat(flow.zh, p, corpus, r, lang)
            return turns, persona, facts, [], ents
        add("persona", "chitchat", make_chat, pool, flow.id, f"persona/{seed}/{i}")
    return out
