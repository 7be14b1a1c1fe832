import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny models: on a 2-core machine two threads fight any
    other process for the cores (about 10x slower). Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def hub_sandbox(tmp_path, monkeypatch):
    """``hub_sandbox(recipes, **loaders)``: a private weights dir, manifest and cache holding only
    ``recipes``, with corpus ``loaders`` added to ``llmbook_lib.data`` and 3 BERT validation batches."""
    from llmbook_lib import data, hub

    def make(recipes: dict, **loaders):
        monkeypatch.setattr(hub.registry, "WEIGHTS_DIR", tmp_path / "weights")
        monkeypatch.setattr(hub.registry, "MANIFEST", tmp_path / "weights" / "manifest.json")
        monkeypatch.setattr(hub.recipes, "RECIPES", recipes)
        monkeypatch.setattr(hub.families, "BERT_VAL_BATCHES", 3)
        for name, loader in loaders.items():
            monkeypatch.setattr(data, name, loader, raising=False)
        monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path / "cache"))
        hub.registry.WEIGHTS_DIR.mkdir()
        return tmp_path

    return make
