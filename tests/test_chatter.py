"""The ChatterBot dialogue data (data/chatter.py) and the dialogue task helpers (tasks/chat.py)."""

import importlib.metadata

import numpy as np
import pytest
import torch

from llmbook_lib.data import chatter
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.tasks import chat
from llmbook_lib.text.tokenize import CharTokenizer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_counts_of_the_shipped_corpus():
    st = chatter.stats("zh")
    assert (st["files"], st["raw_conversations"]) == (17, 467)
    assert st["conversations"] == st["raw_conversations"] - st["duplicate_conversations"] - st["short_conversations"]
    assert sum(st[f"{s}_conversations"] for s in chatter.SPLITS) == st["conversations"]
    assert sum(st["categories"].values()) == st["conversations"]
    en = chatter.stats("en")
    assert en["raw_conversations"] == 2026 and en["conversations"] < en["raw_conversations"]
    for lang in ("zh", "en"):
        s = chatter.stats(lang)
        assert s["train_pairs"] > 4 * s["test_pairs"] > 0
        for split in chatter.SPLITS:
            assert len(chatter.pairs(lang, split)) == s[f"{split}_pairs"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_splits_are_disjoint_by_conversation_and_opening(lang):
    convs = chatter.conversations(lang)
    assert len({c.turns for c in convs}) == len(convs)                 # no repeated conversation
    split_of_opening = {}
    for c in convs:
        assert len(c.turns) >= 2 and all(t and t == t.strip() for t in c.turns)
        assert c.split == chatter.split_of(c.turns[0])
        assert split_of_opening.setdefault(c.turns[0].casefold(), c.split) == c.split
    by_split = {s: {c.turns for c in chatter.conversations(lang, s)} for s in chatter.SPLITS}
    assert not (by_split["train"] & by_split["test"]) and not (by_split["train"] & by_split["dev"])
    train_ctx = {c.turns[0].casefold() for c in chatter.conversations(lang, "train")}
    assert not train_ctx & {c.turns[0].casefold() for c in chatter.conversations(lang, "test")}


def test_split_is_deterministic_and_independent_of_order():
    assert chatter.split_of("你好") == chatter.split_of("你好")
    buckets = [chatter.split_of(f"句子{i}") for i in range(2000)]
    shares = {s: buckets.count(s) / len(buckets) for s in chatter.SPLITS}
    assert 0.75 < shares["train"] < 0.85 and 0.07 < shares["test"] < 0.13
    first = chatter.chat_splits("zh")
    chatter._load.cache_clear()
    assert chatter.chat_splits("zh") == first


def test_chinese_punctuation_is_restored_after_nfkc():
    assert chatter.clean_turn("  嗨，最近如何?  ", "zh") == "嗨，最近如何？"
    assert chatter.clean_turn("你好.", "zh") == "你好。"
    assert chatter.clean_turn("pi is 3.14", "zh") == "pi is 3.14"          # no 。 inside numbers
    assert chatter.clean_turn("Hi,  how   are you?", "en") == "Hi, how are you?"
    assert chatter.clean_turn("ｆｕｌｌ", "en") == "full"


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="lang must be one of"):
        chatter.pairs("fr", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        chatter.pairs("zh", "validation")
    with pytest.raises(TypeError, match="must be a string"):
        chatter.clean_turn(42, "zh")
    bot = chat.RetrievalResponder([("你好", "你好呀"), ("再见", "下次见")], "zh")
    with pytest.raises(ValueError, match="empty"):
        bot.respond("")
    with pytest.raises(ValueError, match="empty"):
        bot.respond("   ")
    with pytest.raises(TypeError, match="must be a string"):
        bot.respond(None)
    with pytest.raises(TypeError, match="must be a string"):
        bot.respond_batch(["你好", 3])
    with pytest.raises(ValueError, match="lang must be one of"):
        chat.RetrievalResponder([("a", "b")], "english")
    with pytest.raises(ValueError, match="no .*pairs"):
        chat.RetrievalResponder([], "zh")


def test_missing_package_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(chatter.importlib.metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match=r"pip install chatterbot-corpus==1\.3\.3"):
        chatter.corpus_dir("zh")


def test_distinct_n_on_hand_examples():
    assert chat.distinct_n(["我不知道", "我不知道"], 1) == pytest.approx(4 / 8)
    assert chat.distinct_n(["我不知道", "我不知道"], 2) == pytest.approx(3 / 6)
    assert chat.distinct_n(["你好", "再见"], 2) == 1.0
    assert chat.distinct_n(["a b a", "b a"], 1, "en") == pytest.approx(2 / 5)
    assert chat.distinct_n(["I don't know.", "i DON'T know"], 2, "en") == pytest.approx(5 / 9)
    assert chat.distinct_n(["好"], 2) == 0.0                              # no bigram at all
    with pytest.raises(ValueError):
        chat.distinct_n(["好"], 0)
    assert chat.top_share(["好", "好", "不"]) == ("好", pytest.approx(2 / 3))
    assert chat.length_stats(["你好", "再见了"])["mean"] == 2.5


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_retrieval_returns_the_stored_reply_for_a_training_context(lang):
    train = chatter.pairs(lang, "train")
    bot = chat.RetrievalResponder(train, lang)
    first = {}
    for c, r in train:
        first.setdefault(c, r)
    for ctx in list(first)[:40]:
        assert bot.respond(ctx) == first[ctx]


def test_retrieval_with_an_embedding_function():
    pairs = [("一", "one"), ("二", "two"), ("三", "three")]
    table = {"一": [1.0, 0.0], "二": [0.0, 1.0], "三": [-1.0, 0.0], "壹": [0.9, 0.1]}
    bot = chat.RetrievalResponder(pairs, "zh", embed=lambda ts: np.array([table[t] for t in ts]))
    assert bot.respond("壹") == "one"
    idx, score = bot.nearest(["二"])
    assert idx[0] == 1 and score[0] == pytest.approx(1.0)


def test_mean_pooling_ignores_padding():
    def states(x):                                # each position's state is its id
        return x.float().unsqueeze(-1).repeat(1, 1, 2)
    out = chat.mean_pooled(states, [[2, 4], [6]], pad_id=0)
    np.testing.assert_allclose(out, [[3.0, 3.0], [6.0, 6.0]])


def _tiny_gpt():
    tok = CharTokenizer.from_text("用户：机器人你好再见\n", unk="<unk>")
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, max_len=32, n_layer=1, n_head=2, d_model=16)), tok


def test_dialogue_format_and_reply_scoring():
    assert chat.dialogue_text([["你好", "再见"]]) == "用户：你好\n机器人：再见\n\n"
    assert chat.prompt_of("你好") == "用户：你好\n机器人："
    model, tok = _tiny_gpt()
    res = chat.response_nll(model, tok, [("你好", "再见"), ("你好", "好X")])
    assert res["tokens"] == 3 and res["skipped_unk"] == 1                # X is <unk>: not scored
    # the same number by hand: log-probabilities of the reply characters only
    total = 0.0
    for ctx, reply in [("你好", "再见"), ("你好", "好")]:
        p, r = tok.encode(chat.prompt_of(ctx)), tok.encode(reply)
        logp = torch.log_softmax(model(torch.tensor([p + r]))[0][0], -1)
        total -= sum(logp[len(p) - 1 + i, t].item() for i, t in enumerate(r))
    assert res["nll"] == pytest.approx(total, rel=1e-5)


def test_gpt_responder_stops_at_the_line_end_and_checks_input():
    model, tok = _tiny_gpt()
    bot = chat.GPTResponder(model, tok, max_new_tokens=8, temperature=1.0, top_p=None)
    reply = bot.respond("你好", torch.Generator().manual_seed(0))
    assert isinstance(reply, str) and "\n" not in reply and len(reply) <= 8 * len("<unk>")
    with pytest.raises(ValueError, match="empty"):
        bot.respond("")
    with pytest.raises(TypeError, match="must be a string"):
        bot.respond_batch([1])
