import pytest
import torch

from llmbook_lib import data
from llmbook_lib.text.tokenize import CharTokenizer


def test_corpora_load_offline_with_expected_sizes():
    sh = data.shakespeare_text()
    assert 5.0e6 < len(sh.encode("utf-8")) < 5.2e6
    assert "To be, or not to be" in sh
    assert len(data.tiny_shakespeare()) == 1_115_394
    pd = data.peoples_daily_text()
    assert 1.8e6 < len(pd) < 1.9e6
    assert pd.startswith("迈向充满希望的新世纪")
    assert "/" not in pd[:1000] and "[" not in pd[:100000]
    assert len(data.stdlib_source(max_bytes=100_000).encode("utf-8")) <= 100_000


def test_peoples_daily_tags_and_text_agree():
    paras = data.peoples_daily_tagged()
    assert len(paras) == 19_484
    assert ("江", "nr") in paras[1]
    text = data.peoples_daily_text()
    assert text.split("\n")[1] == "".join(w for w, _ in paras[1])


def test_split_is_contiguous_and_deterministic():
    tr, va = data.split_train_val("abcdefghij", 0.2)
    assert (tr, va) == ("abcdefgh", "ij")
    with pytest.raises(ValueError):
        data.split_train_val("abc", 1.0)


def test_random_batches_are_deterministic_shifted_windows():
    ids = torch.arange(1000)
    b = data.RandomBatches(ids, max_len=8, batch_size=4, seed=5)
    x, y = b(3)
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y, x + 1)
    assert torch.equal(x, data.RandomBatches(ids, 8, 4, seed=5)(3)[0])
    assert not torch.equal(x, b(4)[0])
    with pytest.raises(ValueError, match="max_len"):
        data.RandomBatches(torch.arange(5), max_len=8, batch_size=2)


def test_encode_corpus():
    tok = CharTokenizer.from_text("你好世界")
    assert data.encode_corpus("世界你好", tok).tolist() == tok.encode("世界你好")


def test_importing_data_does_not_import_faker_until_the_world_is_used():
    import subprocess
    import sys

    code = ("import sys, llmbook_lib.data as d; assert 'faker' not in sys.modules; "
            "from llmbook_lib.data import make_world; assert 'faker' in sys.modules; "
            "assert d.World.__name__ == 'World'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_bbc_news_reads_every_file_offline():
    from llmbook_lib.data.corpora import bbc_news

    news = bbc_news()
    assert len(news) == 2225
    assert sorted({a.topic for a in news}) == ["business", "entertainment", "politics", "sports", "tech"]
    assert all(a.headline and a.body and a.headline == a.headline.strip() for a in news)
    assert sum("\ufffd" in a.body + a.headline for a in news) == 1    # the one file that is not UTF-8
    assert len({a.body for a in news}) < len(news)                     # duplicates are kept: pages dedupe
