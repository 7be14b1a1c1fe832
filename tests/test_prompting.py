"""Prompt-based classification: templates and truncation, verbaliser scores against mlm_logits,
PET and soft-prompt training (which parameters move), parameter counts, bad input."""

import pytest
import torch

from llmbook_lib.models.bertlike import BertConfig, BertLike
from llmbook_lib.tasks.prompting import PromptClassifier, Template, Verbaliser, describe, fit_prompt
from llmbook_lib.data.batches import pad_rows
from llmbook_lib.text.tokenize import BertVocab, CharTokenizer
from llmbook_lib.training.train import TrainConfig

VOCAB = BertVocab(CharTokenizer.from_text("很好不错喜欢推荐太差劲失望难看电影书酒店服务的了总之我觉得。！：评",
                                          unk="<unk>"))
POS = ["很好", "不错", "喜欢", "推荐", "电影很好", "书不错", "喜欢酒店", "服务很好"]
NEG = ["太差", "差劲", "失望", "难看", "电影太差", "书难看", "失望的酒店", "服务差劲"]
TEMPLATE = "{x}。总之很[MASK]。"
WORDS = {"negative": "差", "positive": "好"}
D = 32


def encoder(max_len: int = 24) -> BertLike:
    torch.manual_seed(0)
    return BertLike(BertConfig(VOCAB.vocab_size, max_len=max_len, d_model=D, n_head=2, n_layer=2, dropout=0.0))


def make(mode: str = "pet", template: str = TEMPLATE, **kw) -> PromptClassifier:
    return PromptClassifier(encoder(), VOCAB, template, WORDS, mode=mode, **kw)


def train_steps(model: PromptClassifier, steps: int = 3, lr: float = 1e-2):
    ids = model.encode(POS + NEG)
    return fit_prompt(model, ids, [1] * 8 + [0] * 8,
                      TrainConfig(max_steps=steps, lr=lr, warmup_steps=1, weight_decay=0.0, progress=False),
                      batch_size=16)


@pytest.mark.parametrize("template", [TEMPLATE, "[MASK]评：{x}", "我觉得{x}很[MASK]"])
def test_template_layout_and_mask_position(template):
    t = Template(template)
    ids = t.encode(VOCAB, "电影很好", max_len=24)
    assert ids[0] == VOCAB.cls_id and ids[-1] == VOCAB.sep_id and ids.count(VOCAB.mask_id) == 1
    assert VOCAB.decode(ids[1:-1]) == t.text.replace("{x}", "电影很好")
    model = make(template=template)
    rows = pad_rows(model.encode(["好", "电影很好"]), VOCAB.pad_id)
    mask = model.mask_positions(rows)
    assert rows[torch.arange(2), mask].tolist() == [VOCAB.mask_id] * 2


@pytest.mark.parametrize("template", [TEMPLATE, "[MASK]评：{x}"])
def test_long_input_is_cut_and_the_template_kept_whole(template):
    t = Template(template)
    x = "电影很好" * 20
    ids = t.encode(VOCAB, x, max_len=16)
    assert len(ids) == 16
    room = 16 - 3 - len(t.literal)
    assert VOCAB.decode(ids[1:-1]) == t.text.replace("{x}", x[:room])      # the head of x, every template char
    short = t.encode(VOCAB, "好", max_len=16)
    assert len(short) == 4 + len(t.literal)
    with pytest.raises(ValueError, match="no room"):
        t.encode(VOCAB, x, max_len=3 + len(t.literal))


def test_zero_shot_scores_are_the_mlm_logits_of_the_verbaliser_at_the_mask():
    model = make()
    texts = ["电影很好", "服务太差了", "书"]
    scores = model.scores(texts)
    enc = model.encoder.eval()
    words = [VOCAB.encode(w)[0] for w in WORDS.values()]
    for i, text in enumerate(texts):
        ids = torch.tensor([[VOCAB.cls_id, *VOCAB.encode(text + "。总之很"), VOCAB.mask_id,
                             *VOCAB.encode("。"), VOCAB.sep_id]])
        with torch.no_grad():
            logits = enc.mlm_logits(enc.states(ids))[0]                         # (T, V)
        at = len(text) + 5                                                       # [CLS] + text + 。总之很
        torch.testing.assert_close(scores[i], logits[at, words])
    assert model.predict(texts) == [model.labels[j] for j in scores.argmax(-1).tolist()]


def test_soft_prompt_starts_as_the_hard_template():
    hard, soft = make("pet"), make("soft")
    for s in (soft, make("soft", template="[MASK]评：{x}")):
        assert s.slots(pad_rows(s.encode(["好", "电影很好"]), 0)).shape == (2, len(s.template.literal))
    texts = POS + NEG
    torch.testing.assert_close(soft.scores(texts), hard.scores(texts))


@pytest.mark.parametrize("soft", ["template", "prefix"])
def test_soft_prompt_training_moves_only_the_prompt(soft):
    n = 3 if soft == "prefix" else 0
    model = make("soft", soft=soft, n_prompt=n)
    assert {name for name, p in model.named_parameters() if p.requires_grad} == {"prompt_delta"}
    before = {name: p.detach().clone() for name, p in model.encoder.state_dict().items()}
    start = model.prompt_vectors().detach().clone()
    train_steps(model)
    for name, p in model.encoder.state_dict().items():
        assert torch.equal(p, before[name]), f"{name} is frozen but changed"
    assert not torch.equal(model.prompt_vectors(), start)
    assert model.prompt_vectors().shape == (n or len(Template(TEMPLATE).literal), D)


def test_pet_trains_the_encoder_and_lowers_the_loss():
    model = make("pet")
    tok = model.encoder.encoder.embed.tok.weight.detach().clone()
    history = train_steps(model, steps=30, lr=3e-3)
    assert not torch.equal(model.encoder.encoder.embed.tok.weight, tok)
    assert history.train_loss[-1] < history.train_loss[0] - 0.2


def test_trainable_parameter_counts():
    total = encoder().num_params()
    unused = sum(p.numel() for m in ("pooler", "nsp_head") for p in getattr(encoder(), m).parameters()) + D
    assert describe(make("pet"))["trainable"] == total - unused
    n_chars = len(Template(TEMPLATE).literal)
    assert describe(make("soft"))["trainable"] == n_chars * D
    assert describe(make("soft", soft="prefix", n_prompt=4))["trainable"] == 4 * D
    assert describe(make("soft"))["total"] == total + n_chars * D


def test_bad_input_is_a_clear_error():
    for bad in ["{x}。总之很好。", "总之很[MASK]。", "{x}{x}[MASK]", "{x}[MASK][MASK]"]:
        with pytest.raises(ValueError, match="exactly once"):
            Template(bad)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        make(template="{x}。总之很[MASK]呀。")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        PromptClassifier(encoder(), VOCAB, TEMPLATE, {"negative": "糟", "positive": "好"})
    with pytest.raises(ValueError, match="exactly one character"):
        Verbaliser({"negative": "很差", "positive": "好"})
    with pytest.raises(ValueError, match="same character"):
        Verbaliser({"negative": "好", "positive": "好"})
    with pytest.raises(ValueError, match="mode"):
        make("lora")
    with pytest.raises(ValueError, match="n_prompt"):
        make("soft", soft="prefix")
    with pytest.raises(ValueError, match="exactly 1"):
        make().mask_positions(torch.tensor([[VOCAB.cls_id, 5, VOCAB.sep_id]]))
    with pytest.raises(TypeError, match="list of strings"):
        make().scores("电影很好")
