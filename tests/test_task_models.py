"""The shipped task models as a reader calls them: pretrained("sentiment-zh"), ("ner-zh") and ("mt-zh-en")."""
import pytest
import torch

from llmbook_lib import hub
from llmbook_lib.tasks.classifier import TextClassifier
from llmbook_lib.tasks.tagger import NERModel


@pytest.fixture(scope="module")
def sentiment():
    return hub.pretrained("sentiment-zh", retrain=False)


@pytest.fixture(scope="module")
def ner():
    return hub.pretrained("ner-zh", retrain=False)


def test_sentiment_model_api_and_bad_input(sentiment):
    assert isinstance(sentiment, TextClassifier) and not sentiment.model.training
    assert sentiment.labels == ["negative", "positive"]
    probs = sentiment.predict_proba(["质量很好，很满意", "太差了，再也不买了"])
    assert probs.shape == (2, 2) and torch.allclose(probs.sum(-1), torch.ones(2))
    assert sentiment.predict(["质量很好，很满意", "太差了，再也不买了"]) == ["positive", "negative"]
    assert sentiment.predict([]) == [] and sentiment.predict_proba([]).shape == (0, 2)
    with pytest.raises(TypeError, match="text 1"):
        sentiment.predict(["好", None])
    with pytest.raises(TypeError, match="decode"):
        sentiment.predict([b"\xe5\xa5\xbd"])
    with pytest.raises(TypeError, match="wrap"):
        sentiment.predict("好")
    with pytest.raises(ValueError, match="text 1"):
        sentiment.predict(["好", " \n"])
    assert len(sentiment.predict(["好用" * 5000])) == 1          # 10,000 characters: the head is read


def test_ner_model_api_and_bad_input(ner):
    assert isinstance(ner, NERModel) and ner.labels == ("PER", "LOC", "ORG")
    text = "江泽民在北京会见了新华社的记者。"
    spans = ner.predict([text])[0]
    found = {(text[a:b], kind) for a, b, kind in spans}
    assert ("江泽民", "PER") in found and ("北京", "LOC") in found
    assert ner.predict([]) == [] and ner.predict(["", "  "]) == [[], []]
    with pytest.raises(TypeError, match="text 1 is a"):
        ner.predict([text, 3])
    long = "新华社北京一月一日电 " + "李鹏总理在上海考察。" * 1000          # 10,011 characters: windows
    spans = ner.predict([long])[0]
    assert all(0 <= a < b <= len(long) for a, b, _ in spans)
    assert sum(1 for a, b, k in spans if long[a:b] == "上海" and k == "LOC") > 900   # found far past 126


def test_mt_zh_en_as_a_reader_calls_it():
    mt = hub.pretrained("mt-zh-en", retrain=False)
    out = mt.translate(["我很喜欢喝茶。", "", "  "])
    assert len(out) == 3 and out[1:] == ["", ""]
    assert "tea" in out[0].lower() and out[0].isascii()
    assert mt.translate([]) == []
    assert mt.translate(["我很喜欢喝茶。"], beam=1)[0].isascii()
    with pytest.raises(TypeError, match="text 1 is a"):
        mt.translate(["你好", 3])
    with pytest.raises(TypeError, match="decode"):
        mt.translate(["你好".encode("gbk")])
    with pytest.raises(TypeError, match="wrap it"):
        mt.translate("你好")
    with pytest.raises(ValueError, match="text 0 has 10000 characters.*limit of 64"):
        mt.translate(["长" * 10_000])
