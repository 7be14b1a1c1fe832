import json
import warnings

import pytest
import torch

from llmbook_lib import hub
from llmbook_lib.train import TrainConfig
from llmbook_lib.transformer import GPT, GPTConfig

TINY = hub.Recipe("tiny-test", "1-layer test model", corpus="tiny_shakespeare", tokenizer="char", max_vocab=None,
                  model=GPTConfig(vocab_size=0, block_size=16, n_layer=1, n_head=2, n_embd=16),
                  train=TrainConfig(max_steps=3, warmup_steps=1, progress=False, amp=None), batch_size=4)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A private weights dir, manifest and cache holding only the tiny recipe."""
    monkeypatch.setattr(hub, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(hub, "MANIFEST", tmp_path / "weights" / "manifest.json")
    monkeypatch.setattr(hub, "RECIPES", {"tiny-test": TINY})
    monkeypatch.setattr(hub, "VAL_TOKENS", 4096)
    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path / "cache"))
    hub.WEIGHTS_DIR.mkdir()
    return tmp_path


def test_shipped_models_load_with_their_manifest_config():
    manifest = json.loads(hub.MANIFEST.read_text(encoding="utf-8"))
    assert {"gpt-zh-char", "gpt-en-char"} <= set(manifest)
    for name, entry in manifest.items():
        model, tok = hub.pretrained(name, retrain=False)
        assert isinstance(model, GPT) and not model.training
        assert model.config.to_dict() == entry["model_config"]
        assert tok.vocab_size == model.config.vocab_size
        assert entry["recipe"] == hub.RECIPES[name].to_dict()
        assert (hub.WEIGHTS_DIR / f"{name}.safetensors").stat().st_size < 8e6    # "a few MB at most"


def test_shipped_chinese_model_writes_chinese():
    model, tok = hub.pretrained("gpt-zh-char", retrain=False)
    out = model.generate(torch.tensor([tok.encode("中国")]), 20, temperature=0)
    text = tok.decode(out[0].tolist())
    assert sum("\u4e00" <= c <= "\u9fff" for c in text) >= 15


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="gpt-zh-char"):
        hub.pretrained("no-such-model")


def test_ship_then_load_then_verify(sandbox):
    entry = hub.ship("tiny-test")
    assert entry["data_sha256"] and entry["sha256"] and entry["train_tokens"] == 3 * 4 * 16
    model, tok = hub.pretrained("tiny-test", retrain=False)
    assert hub.verify(["tiny-test"])


def test_tampered_weights_are_refused_then_retrained_into_cache(sandbox, monkeypatch):
    hub.ship("tiny-test")
    path = hub.WEIGHTS_DIR / "tiny-test.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="refused"):
        hub.pretrained("tiny-test", retrain=False)
    assert not hub.verify(["tiny-test"])
    with pytest.warns(UserWarning, match="refused"):
        model, _ = hub.pretrained("tiny-test")
    cached = sandbox / "cache" / "tiny-test.safetensors"
    assert cached.is_file() and (sandbox / "cache" / "tiny-test.json").is_file()

    def no_training(*a, **k):
        raise AssertionError("must load from the cache, not retrain")
    monkeypatch.setattr(hub, "train_recipe", no_training)
    with warnings.catch_warnings(record=True):
        again, _ = hub.pretrained("tiny-test")
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_missing_model_is_trained_on_first_use_and_corrupt_cache_retrained(sandbox):
    model, tok = hub.pretrained("tiny-test")            # nothing shipped: trained and cached
    cached = sandbox / "cache" / "tiny-test.safetensors"
    assert cached.is_file()
    cached.write_bytes(cached.read_bytes()[:100])       # truncated cache file
    with pytest.warns(UserWarning, match="damaged or stale"):
        again, _ = hub.pretrained("tiny-test")
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)                        # the recipe is deterministic
