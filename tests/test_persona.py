"""Personalised dialogue (tasks/persona.py): the statement parser, the consistency check against
the world's fact table, the rule baseline, the training batches and the chatbot's input checks."""

import pytest
import torch

from llmbook_lib.data import make_world
from llmbook_lib.data.world.dialogue import CHAT, PERSONA
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.tasks import persona as P
from llmbook_lib.tasks.chat import GPTResponder, prompt_of
from llmbook_lib.text.tokenize import CharTokenizer


@pytest.fixture(scope="module")
def world():
    return make_world()


@pytest.fixture(scope="module")
def items(world):
    return {s: P.reply_items(world, world.dialogues("persona", lang="zh", split=s))
            for s in ("train", "test")}


def test_parser_reads_every_statement_template():
    for slot in P.SLOTS:
        sentence = PERSONA[slot][0][0].replace("{" + slot + "}", "某某")
        assert P.parse_statements(sentence) == [(slot, "某某")]
    assert P.parse_statements("我是一名医生。我喜欢下棋！") == [("occupation", "医生"), ("hobby", "下棋")]
    assert P.parse_statements("我也是，再见！") == []
    assert P.parse_statements("") == []
    with pytest.raises(TypeError, match="string"):
        P.parse_statements(None)


def test_gold_replies_entail_and_other_persons_contradict(world, items):
    test = items["test"]
    assert len(test) > 0 and all(it.slots for it in test)
    gold = P.consistency(world, test, [it.reply for it in test])
    assert gold["entails"] == 1.0 and gold["right_slot"] == 1.0
    # the reply of another person to the same kind of question states that person's value
    swapped, kept = [], []
    for it in test:
        other = next((o for o in items["train"] if o.slots == it.slots and o.reply != it.reply), None)
        if other is not None:
            swapped.append(other.reply)
            kept.append(it)
    res = P.consistency(world, kept, swapped)
    values = [P.persona_values(world, it.person) for it in kept]
    expect = sum(P.judge(v, r)[0] == "contradicts" for v, r in zip(values, swapped)) / len(kept)
    assert res["contradicts"] == expect > 0.5
    assert P.judge(values[0], "今天天气不错。") == ("neither", [])


def test_persona_values_read_the_fact_table(world, items):
    it = items["test"][0]
    values = P.persona_values(world, it.person)
    for sentence in it.persona:                         # every persona sentence is in the table
        ((slot, value),) = P.parse_statements(sentence)
        assert value in values[slot]
    assert sum(len(v) for v in values.values()) == len(it.persona)
    with pytest.raises(ValueError, match="unknown entity"):
        P.persona_values(world, "person-9999")


def test_rule_baseline_recognises_every_question_template(items):
    for slot in P.SLOTS:
        assert P.asked_slot(PERSONA[slot][1][0]) == slot
    for key in ("share:born_in", "share:hobby"):
        text = CHAT[key][0][0].replace("{x}", "雁阳") + "你呢？"
        assert P.asked_slot(text) == key.split(":")[1]
    assert P.asked_slot(CHAT["intro?"][0][0]) is None
    persona = ["我出生在雁阳。", "我是一名医生。", "我喜欢下棋。"]
    assert P.rule_reply(persona, "你平时喜欢做什么？") == "我喜欢下棋。"
    assert P.rule_reply(persona, "介绍一下你自己吧。") == "我出生在雁阳。我是一名医生。"
    with pytest.raises(ValueError, match="empty"):
        P.rule_reply(persona, "  ")
    with pytest.raises(TypeError, match="list of sentences"):
        P.rule_reply("我出生在雁阳。", "你是哪里人？")
    with pytest.raises(TypeError, match="list of sentences"):
        P.persona_context(["我出生在雁阳。", 3], "你是哪里人？")


def test_persona_context_and_pairs(items):
    it = items["train"][0]
    with_p, without = P.reply_pairs([it], True)[0], P.reply_pairs([it], False)[0]
    assert without == (it.message, it.reply)
    assert with_p[0] == f"（人设：{''.join(it.persona)}）{it.message}" and with_p[1] == it.reply


def _tiny():
    tok = CharTokenizer.from_text("（人设：我出生在雁阳。）你是哪里人？用户机器人：\n", unk="<unk>")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, max_len=64, n_layer=1, n_head=2, d_model=16))
    return model.eval(), tok


def test_reply_batches_score_only_the_reply():
    model, tok = _tiny()
    pairs = [("（人设：我出生在雁阳。）你是哪里人？", "我出生在雁阳。"), ("你是哪里人？", "雁阳。")]
    x, y = P.ReplyBatches(tok, pairs, batch_size=4, seed=0)(0)
    assert x.shape == y.shape and x.shape[0] == 4
    for row_x, row_y in zip(x, y):
        scored = row_y[row_y != -100].tolist()
        assert tok.decode(scored) in ("我出生在雁阳。\n", "雁阳。\n")
    assert torch.equal(P.ReplyBatches(tok, pairs, 4, seed=3)(5)[0], P.ReplyBatches(tok, pairs, 4, seed=3)(5)[0])
    with pytest.raises(ValueError, match="no"):
        P.ReplyBatches(tok, [], 4)


def test_bot_rejects_bad_input():
    model, tok = _tiny()
    bot = P.PersonaBot(GPTResponder(model, tok, max_new_tokens=8, temperature=0.0, top_p=None),
                       ["我出生在雁阳。"])
    assert isinstance(bot.reply("你是哪里人？"), str)
    assert bot.context("你是哪里人？") == "（人设：我出生在雁阳。）你是哪里人？"
    with pytest.raises(ValueError, match="empty"):
        bot.reply("")
    with pytest.raises(TypeError, match="string"):
        bot.reply(42)
    with pytest.raises(ValueError, match="shorten"):
        bot.reply("你" * (P.MAX_MESSAGE_CHARS + 1))
    with pytest.raises(ValueError, match="fewer or shorter persona"):
        P.PersonaBot(bot.responder, ["我出生在雁阳。" * 6]).reply("你是哪里人？")
    with pytest.raises(TypeError, match="list of sentences"):
        P.PersonaBot(bot.responder, "我出生在雁阳。")
    assert P.PersonaBot(bot.responder, None).context("你好") == "你好"
    assert len(prompt_of("你好")) < model.config.max_len
