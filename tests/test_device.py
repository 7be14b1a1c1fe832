import random

import numpy as np
import torch

from llmbook_lib.runtime.device import autocast, get_device, seed_everything


def test_seed_everything_repeats_all_generators():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_get_device_prefers_accelerators_and_honours_override(monkeypatch):
    monkeypatch.delenv("LLMBOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected
    monkeypatch.setenv("LLMBOOK_DEVICE", "cpu")
    assert get_device().type == "cpu"


def test_autocast_bf16_on_cpu_only_when_asked():
    a = torch.randn(4, 4)
    with autocast("cpu"):
        assert (a @ a).dtype == torch.float32
    with autocast("cpu", "bf16"):
        assert (a @ a).dtype == torch.bfloat16


def test_eval_mode_restores_the_mode_even_on_error():
    import torch.nn as nn
    from llmbook_lib.runtime.device import eval_mode

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with eval_mode(model):
        assert not model.training and not model[1].training
    assert model.training and model[1].training
    try:
        with eval_mode(model):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert model.training
    model.eval()
    with eval_mode(model):
        pass
    assert not model.training                 # a model in eval mode stays in eval mode
