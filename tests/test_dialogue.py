"""The task-oriented dialogue pipeline of section 6.3.1: BIO, normaliser, NLU, DST, policy, NLG,
simulated user, noise."""

import random

import pytest

from llmbook_lib.data import make_world
from llmbook_lib.data.world.records import SlotValue
from llmbook_lib.tasks import dialogue as D

CITIES = {"city-1": "桐浦", "city-2": "银港", "city-3": "芦滨"}


@pytest.fixture(scope="module")
def world():
    return make_world(seed=0)


@pytest.fixture(scope="module")
def norm():
    return D.Normalizer(CITIES)


def test_bio_from_char_offsets_and_back():
    text = "我想订两张3月5日从桐浦到银港的火车票。"
    slots = [SlotValue("count", "2", 3, 4, "两"), SlotValue("date", "03-05", 5, 9, "3月5日"),
             SlotValue("from", "city-1", 10, 12, "桐浦"), SlotValue("to", "city-2", 13, 15, "银港")]
    assert all(text[s.start:s.end] == s.text for s in slots)
    tags = D.bio_tags(text, slots)
    assert tags[3] == "B-count" and tags[5:9] == ["B-date", "I-date", "I-date", "I-date"]
    assert tags[10:12] == ["B-from", "I-from"] and tags[12] == "O"
    assert D.spans_from_bio(text, tags) == [(s.slot, s.start, s.end, s.text) for s in slots]


def test_bio_rejects_bad_spans_and_tags():
    with pytest.raises(ValueError, match="outside"):
        D.bio_tags("去桐浦。", [SlotValue("to", "city-1", 1, 9, "桐浦")])
    with pytest.raises(ValueError, match="overlaps"):
        D.bio_tags("去桐浦。", [SlotValue("to", "c", 1, 3, "桐浦"), SlotValue("from", "c", 2, 3, "浦")])
    with pytest.raises(ValueError, match="tags for a text"):
        D.spans_from_bio("abc", ["O"])
    with pytest.raises(ValueError, match="not a BIO tag"):
        D.spans_from_bio("ab", ["O", "X-to"])
    # an I- without its B- starts a chunk, as in seqeval
    assert D.spans_from_bio("abc", ["O", "I-to", "I-to"]) == [("to", 1, 3, "bc")]


def test_world_user_turns_round_trip(world):
    split = D.ticket_split(world)
    assert split["train"] and split["test"]
    assert not {d.id for d in split["train"]} & {d.id for d in split["test"]}
    n = D.Normalizer.from_world(world)
    for e in D.user_examples(split["train"] + split["test"]):
        spans = D.spans_from_bio(e.text, e.tags)
        assert [(s.slot, s.text) for s in e.slots] == [(s[0], s[3]) for s in spans]
        for s in e.slots:                       # the normaliser reads every gold surface
            assert n.canonical(s.slot, s.text) == s.value
            assert n.surface(s.slot, s.value) == s.text
    with pytest.raises(ValueError, match="lang"):
        D.ticket_split(world, lang="en")


def test_normaliser(norm):
    assert norm.canonical("date", "12月3日") == "12-03"
    assert norm.canonical("date", "13月3日") is None and norm.canonical("date", "2月日") is None
    assert norm.canonical("count", "两") == "2" and norm.canonical("count", "五") is None
    assert norm.canonical("seat", "一等座") == "first" and norm.canonical("from", "桐X") is None
    with pytest.raises(ValueError, match="unknown slot"):
        norm.canonical("price", "3")
    with pytest.raises(ValueError):
        D.Normalizer({})


def test_rule_nlu(norm):
    rule = D.RuleNLU(norm)
    r = rule("帮我买3月5日从桐浦去银港的票，两张。")
    assert r.intent == "oneshot"
    assert [(s[0], s[3]) for s in r.spans] == [("date", "3月5日"), ("from", "桐浦"), ("to", "银港"),
                                                ("count", "两")]
    assert rule("到芦滨。").spans[0][0] == "to" and rule("我在芦滨上车。").spans[0][0] == "from"
    assert rule("要一等座。").intent == "inform(seat)" and rule("谢谢！").intent == "thank"


def test_dst_accumulates_and_corrections_overwrite(norm):
    r1 = D.NLUResult("oneshot", [("date", 0, 4, "3月5日"), ("from", 5, 7, "桐浦")])
    s1 = D.update_state({}, r1, norm)
    assert s1 == {"date": "03-05", "from": "city-1"}
    s2 = D.update_state(s1, D.NLUResult("correct(date)", [("date", 0, 4, "3月6日")]), norm)
    assert s2 == {"date": "03-06", "from": "city-1"} and s1["date"] == "03-05"   # no mutation
    s3 = D.update_state(s2, D.NLUResult("inform(to)", [("to", 1, 3, "桐X")]), norm)
    assert s3 == s2                               # an unreadable value is ignored
    assert D.joint_goal_accuracy([(s1, s1), (s2, s1)]) == 0.5
    with pytest.raises(ValueError):
        D.joint_goal_accuracy([])


def test_policy_decisions():
    assert D.policy({}, "hello") == ["request(from)"]
    assert D.policy({"from": "a", "to": "b", "date": "d"}, "oneshot") == ["request(count)"]
    full = {"from": "a", "to": "b", "date": "d", "count": "1", "seat": "first"}
    assert D.policy(full, "inform(seat)") == ["confirm"]
    assert D.policy({"date": "d"}, "correct(date)") == ["ack(date)", "request(from)"]
    assert D.policy(full, "thank") == ["bye"]


def test_nlg_fills_templates(norm):
    state = {"from": "city-1", "to": "city-2", "date": "03-05", "count": "2", "seat": "second"}
    text = D.realise(["confirm"], state, norm, random.Random(0), order="12345")
    assert all(w in text for w in ("桐浦", "银港", "3月5日", "两张", "二等座", "12345"))
    with pytest.raises(ValueError, match="no template"):
        D.realise(["dance"], state, norm, random.Random(0))


def test_simulator_terminates_and_succeeds_with_perfect_nlu(norm):
    rule = D.RuleNLU(norm)
    goal = {"from": "city-1", "to": "city-3", "date": "11-28", "count": "4", "seat": "first"}
    for seed in range(10):
        ep = D.run_episode(goal, rule, norm, seed=seed)
        assert ep.success and ep.state == goal and ep.user_turns in (2, 6) and ep.ending == "confirmed"
    # a hopeless NLU never fills a slot: the episode stops at the turn limit, as a failure
    deaf = lambda text: D.NLUResult("hello", [])   # noqa: E731
    ep = D.run_episode(goal, deaf, norm, max_user_turns=7)
    assert not ep.success and ep.user_turns == 7 and ep.ending == "turn limit"
    thanker = lambda text: D.NLUResult("thank", [])   # noqa: E731
    assert D.run_episode(goal, thanker, norm).ending == "hung up"
    with pytest.raises(ValueError, match="goal lacks"):
        D.SimulatedUser({"from": "city-1"}, norm, random.Random(0))


def test_noise_rate_and_determinism():
    text = "我想订两张三月五日从桐浦到银港的火车票" * 50
    alphabet = "甲乙丙"
    assert D.add_noise(text, 0.0, random.Random(0), alphabet) == text
    a = D.add_noise(text, 0.2, random.Random(3), alphabet)
    assert a == D.add_noise(text, 0.2, random.Random(3), alphabet)
    assert a != D.add_noise(text, 0.2, random.Random(4), alphabet)
    deleted = len(text) - len(a)
    substituted = sum(c in alphabet for c in a)
    n = len(text)
    assert abs(deleted / n - 0.1) < 0.03 and abs(substituted / n - 0.1) < 0.03
    with pytest.raises(ValueError, match="rate"):
        D.add_noise(text, 1.5, random.Random(0), alphabet)
    with pytest.raises(ValueError, match="alphabet"):
        D.add_noise(text, 0.1, random.Random(0), "")


def test_noise_keeps_tags_aligned():
    text, tags = "去3月15日", ["O", "B-date", "I-date", "I-date", "I-date", "I-date"]
    for seed in range(50):
        t, g = D.add_noise_tagged(text, tags, 0.4, random.Random(seed), "甲")
        assert len(t) == len(g)
        spans = D.spans_from_bio(t, g)
        assert len(spans) <= 1                  # one date chunk stays one chunk (or vanishes)
        assert all(x.startswith("B-") or i > 0 and g[i - 1] != "O"
                   for i, x in enumerate(g) if x != "O")


def test_joint_model_learns_and_checks_input(world):
    split = D.ticket_split(world)
    train = D.user_examples(split["train"])
    test = D.user_examples(split["test"])
    model, losses = D.fit_joint_nlu(train, seed=0, epochs=8)
    assert losses[-1] < losses[0] / 5
    scores = D.nlu_scores(test, model.predict([e.text for e in test]))
    assert scores["intent_acc"] > 0.9 and scores["slot_f1"] > 0.8
    assert model.predict([]) == []
    with pytest.raises(TypeError, match="wrap it"):
        model.predict("去桐浦。")
    with pytest.raises(TypeError):
        model(3)
    with pytest.raises(TypeError, match="decode it first"):
        model("去桐浦".encode())
    with pytest.raises(TypeError, match="text 1 is bytes.*decode"):
        model.predict(["去桐浦。", b"x"])
    with pytest.raises(TypeError, match="text 0 is a int"):
        model.predict([3])
    with pytest.raises(TypeError, match="not NoneType"):
        model.predict(None)
    assert len(model.predict(["", "我要去" * 200])) == 2      # empty and long texts get an answer
    with pytest.raises(ValueError, match="no training"):
        D.fit_joint_nlu([])


def test_char_vocab_layout_and_padding():
    v = D.char_vocab(["乙甲", "甲丙"])
    assert (v.pad_id, v.unk_id, len(v)) == (0, 1, 5)
    assert v.encode("甲乙丙丁") == [4, 3, 2, 1]     # code-point order after [PAD], [UNK]; 丁 unknown
    ids = D.encode_batch(v, ["甲", "", "乙丙"])
    assert ids.tolist() == [[4, 0], [0, 0], [3, 2]]


# -- learned NLG --------------------------------------------------------------------------------
def test_delexicalise_round_trips_the_world_system_turns(world):
    import itertools

    from llmbook_lib.data.world.dialogue import TICKET
    split = D.ticket_split(world)
    n = D.Normalizer.from_world(world)
    exs = D.system_examples(split["train"] + split["test"], n)
    assert {a for e in exs for a in e.acts} == {"request(from)", "request(to)", "request(date)",
                                                "request(count)", "request(seat)", "ack(date)",
                                                "confirm", "bye"}
    for e in exs:       # the delexicalised text is exactly the template the world filled
        options = {"".join(p) for p in itertools.product(*[[z for z, _ in TICKET[a]] for a in e.acts])}
        assert e.delex in options
        assert D.relexicalise(e.delex, e.values) == e.text
        assert D.slot_errors(e.text, e.acts, e.values, n)[1:] == (0, 0)


def test_delexicalise_counts_only_before_zhang_and_checks_input():
    vals = {"count": "一", "seat": "一等座", "date": "1月2日", "order": "12345"}
    text = "已预订1月2日的一张一等座车票，订单号12345。一共一位。"
    assert D.delexicalise(text, vals) == "已预订{date}的{count}张{seat}车票，订单号{order}。一共一位。"
    assert D.relexicalise("{count}张{to}", vals) == "一张{to}"        # no value: stays visible
    with pytest.raises(ValueError, match="unknown slots"):
        D.delexicalise(text, {"price": "3"})
    with pytest.raises(ValueError, match="empty surface"):
        D.delexicalise(text, {"date": ""})


def test_slot_errors(norm):
    state = {"from": "city-1", "to": "city-2", "date": "03-05", "count": "2", "seat": "second"}
    vals = D.slot_values(state, norm, "12345")
    good = D.realise(["confirm"], state, norm, random.Random(0), order="12345")
    assert D.slot_errors(good, ["confirm"], vals, norm) == (6, 0, 0)
    swapped = good.replace("银港", "芦滨")                   # a wrong city: one missing, one redundant
    assert D.slot_errors(swapped, ["confirm"], vals, norm) == (6, 1, 1)
    assert D.slot_errors(good.replace("3月5日", ""), ["confirm"], vals, norm) == (6, 1, 0)
    assert D.slot_errors(good + "{seat}", ["confirm"], vals, norm) == (6, 0, 1)
    # a seat request names both classes: not an error; a date in a request is one
    assert D.slot_errors("请问您要一等座还是二等座？", ["request(seat)"], vals, norm) == (0, 0, 0)
    assert D.slot_errors("3月5日哪天出发？", ["request(date)"], vals, norm) == (0, 0, 1)
    assert D.slot_error_rate([(6, 1, 1), (1, 0, 0), (0, 0, 1)]) == 3 / 7
    with pytest.raises(ValueError, match="no required"):
        D.slot_error_rate([(0, 0, 1)])
    with pytest.raises(ValueError, match="unknown system act"):
        D.slot_errors(good, ["dance"], vals, norm)
    with pytest.raises(ValueError, match="need values"):
        D.slot_errors(good, ["confirm"], {"date": "3月5日"}, norm)


def test_read_system_reads_every_system_template():
    from llmbook_lib.data.world.dialogue import TICKET
    for act in ("request(from)", "request(to)", "request(date)", "request(count)", "request(seat)",
                "confirm", "bye"):
        for zh, _ in TICKET[act]:
            assert D.read_system(zh) == act, zh
    assert D.read_system("好的，已改为{date}。请问您要一等座还是二等座？") == "request(seat)"
    assert D.read_system("嗯嗯。") is None
    with pytest.raises(TypeError):
        D.read_system(None)


def test_episode_with_a_pluggable_nlg_and_a_text_reading_user(norm):
    rule = D.RuleNLU(norm)
    goal = {"from": "city-1", "to": "city-3", "date": "11-28", "count": "4", "seat": "first"}
    for seed in range(5):              # the templates' words say what their acts say
        a = D.run_episode(goal, rule, norm, seed=seed)
        t = D.run_episode(goal, rule, norm, seed=seed, user_reads="text")
        assert a.transcript == t.transcript and a.success and t.success
    stuck = lambda acts, state, rng: "请问您从哪里出发？"   # noqa: E731  always the same question
    ep = D.run_episode(goal, rule, norm, seed=1, nlg=stuck, user_reads="text")
    assert ep.ending == "turn limit" and not ep.success
    # a confirmation that misstates a value fails only for a user who listens to the words
    liar = lambda acts, state, rng: D.realise(acts, {**state, "seat": "second"}, norm, rng)  # noqa: E731
    for seed in range(4):
        assert D.run_episode(goal, rule, norm, seed=seed, nlg=liar).success
        assert not D.run_episode(goal, rule, norm, seed=seed, nlg=liar, user_reads="text").success
    with pytest.raises(ValueError, match="user_reads"):
        D.run_episode(goal, rule, norm, user_reads="ears")


def test_learned_nlg_learns_the_delexicalised_templates(world):
    split = D.ticket_split(world)
    n = D.Normalizer.from_world(world)
    train, test = D.system_examples(split["train"], n), D.system_examples(split["test"], n)
    model, losses = D.fit_nlg(train, n, seed=0, steps=300, batch_size=16)
    assert losses[-1] < losses[0] / 20
    outs = [model.realise(e.acts, e.values) for e in test]
    assert D.slot_error_rate([D.slot_errors(o, e.acts, e.values, n) for o, e in zip(outs, test)]) < 0.05
    assert sum(D.read_system(o) == D.read_system(e.text) for o, e in zip(outs, test)) > 0.9 * len(test)
    sampled = model.with_temperature(1.0)
    assert sampled.generate_delex(["bye|"], random.Random(0)) == sampled.generate_delex(["bye|"], random.Random(0))
    with pytest.raises(ValueError, match="needs an rng"):
        sampled.generate_delex(["bye|"])
    with pytest.raises(ValueError, match="temperature"):
        model.with_temperature(-1.0)
    with pytest.raises(TypeError):
        model.generate_delex("bye|")
    with pytest.raises(ValueError, match="no training"):
        D.fit_nlg([], n)
