import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from llmbook_lib.data import RandomBatches
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.runtime.checkpoint import load_checkpoint, save_checkpoint
from llmbook_lib.training.train import TrainConfig, make_optimizer, train

HERE = Path(__file__).parent
DATA = (torch.arange(4000) * 7 % 23)           # a periodic stream a model can learn


def tiny(seed=0, dropout=0.1):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=23, max_len=16, n_layer=2, n_head=2, d_model=32, dropout=dropout))


def batches(bs=8):
    return RandomBatches(DATA, 16, bs, seed=3)


def cfg(**kw):
    base = dict(max_steps=30, lr=3e-3, warmup_steps=5, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def test_loss_falls_and_history_is_complete():
    h = train(tiny(), batches(), cfg(max_steps=60, eval_every=20, eval_iters=3),
              val_batches=RandomBatches(DATA, 16, 8, seed=99))
    assert h.steps == list(range(60)) and len(h.train_loss) == len(h.lr) == 60
    assert h.val_steps == [20, 40, 60]
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.tokens == 60 * 8 * 16 and h.tokens_per_s > 0


def test_lr_schedule_warmup_then_cosine():
    c = TrainConfig(max_steps=110, lr=1.0, min_lr=0.1, warmup_steps=10)
    assert c.lr_at(0) == pytest.approx(0.1)
    assert c.lr_at(9) == pytest.approx(1.0)
    assert c.lr_at(10) == pytest.approx(1.0)
    assert c.lr_at(60) == pytest.approx(0.55)
    assert c.lr_at(110) == pytest.approx(0.1)
    lrs = [c.lr_at(s) for s in range(10, 110)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_resume_is_exact(tmp_path):
    """N steps in one go == N/2, stop, resume, N/2: same losses and bit-identical weights."""
    full = tiny()
    h_full = train(full, batches(), cfg())
    path = tmp_path / "ck.safetensors"
    first = tiny()

    class Stop(Exception):
        pass

    def crash(step, loss):
        if step == 15:
            raise Stop
    with pytest.raises(Stop):
        train(first, batches(), cfg(checkpoint_path=str(path), checkpoint_every=15), on_step=crash)
    torch.manual_seed(1234)                       # the resumed process has other RNG state
    second = tiny(seed=1)                         # and other initial weights
    h_resumed = train(second, batches(), cfg(checkpoint_path=str(path), checkpoint_every=15), resume=True)
    assert h_resumed.train_loss == h_full.train_loss
    for (n, a), (_, b) in zip(full.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), n


def test_gradient_accumulation_matches_one_big_batch():
    a, b = tiny(dropout=0.0), tiny(dropout=0.0)
    ha = train(a, batches(8), cfg(max_steps=5))
    hb = train(b, batches(8), cfg(max_steps=5, grad_accum=2))
    assert ha.train_loss == pytest.approx(hb.train_loss, abs=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


def _corrupt(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "truncate":
        raw = raw[: len(raw) // 2]
    elif how == "flip-data":
        raw[-100] ^= 0x01
    elif how == "flip-header":
        j = raw.index(b"5", raw.index(b"step"))      # the JSON metadata says step 5: make it 6
        raw[j] = ord("6")
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["truncate", "flip-data", "flip-header"])
def test_corrupted_checkpoint_is_reported_and_never_half_loaded(tmp_path, how):
    path = tmp_path / "ck.safetensors"
    model = tiny()
    opt = torch.optim.AdamW(model.parameters())
    model(*batches()(0))[1].backward()
    opt.step()
    save_checkpoint(path, model, opt, {"step": 5})
    _corrupt(path, how)
    victim = tiny(seed=9)
    before = {k: v.clone() for k, v in victim.state_dict().items()}
    with pytest.raises(ValueError, match="corrupted|truncated|damaged"):
        load_checkpoint(path).apply(victim)
    for k, v in victim.state_dict().items():
        assert torch.equal(v, before[k])


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    path = tmp_path / "ck.safetensors"
    model = tiny()
    save_checkpoint(path, model, state={"note": "大模型"})
    ck = load_checkpoint(path)
    assert ck.state == {"note": "大模型"}
    other = tiny(seed=5)
    ck.apply(other)
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    assert other.lm_head.weight is other.tok_emb.weight
    with pytest.raises(ValueError, match="does not fit"):
        ck.apply(GPT(GPTConfig(vocab_size=23, max_len=16, n_layer=1, n_head=2, d_model=32)))
    with pytest.raises(ValueError, match="no optimizer state"):
        ck.apply(tiny(), torch.optim.AdamW(tiny().parameters()))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["ck.safetensors"]   # no temp files left


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    path = tmp_path / "ck.safetensors"
    model = tiny()

    def loss_fn(m, batch):
        loss = m(*batch)[1]
        return loss * float("nan") if loss_fn.step >= 10 else loss
    loss_fn.step = 0

    def count(step, loss):
        loss_fn.step = step
    with pytest.raises(FloatingPointError, match="step 10.*last good checkpoint"):
        train(model, batches(), cfg(checkpoint_path=str(path), checkpoint_every=5), loss_fn=loss_fn, on_step=count)
    assert load_checkpoint(path).state["step"] == 10
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_bad_config_errors():
    with pytest.raises(ValueError, match="grad_accum"):
        train(tiny(), batches(), cfg(grad_accum=0))
    with pytest.raises(ValueError, match="checkpoint_path"):
        train(tiny(), batches(), cfg(checkpoint_every=5))
    with pytest.raises(ValueError, match="cannot be split"):
        train(tiny(), batches(8), cfg(grad_accum=3))


def test_ddp_two_cpu_processes_match_one_process(tmp_path):
    sys.path.insert(0, str(HERE))
    import ddp_worker
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single_loss, single_weights = ddp_worker.run()
    finally:
        torch.set_num_threads(threads)
    out = tmp_path / "ddp.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(HERE / "ddp_worker.py"), str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = json.loads(out.read_text())
    assert ddp["world"] == 2
    assert ddp["loss"] == pytest.approx(single_loss, abs=1e-5)
    assert math.isclose(ddp["weights"], single_weights, rel_tol=1e-6)


def test_compile_gives_the_same_losses_as_eager():
    """torch.compile is an optimisation only: same losses to float tolerance (costs ~30 s to compile)."""
    eager = train(tiny(dropout=0.0), batches(), cfg(max_steps=6))
    compiled = train(tiny(dropout=0.0), batches(), cfg(max_steps=6, compile=True))
    assert compiled.train_loss == pytest.approx(eager.train_loss, abs=1e-5)


def test_bf16_autocast_on_cpu_trains_close_to_fp32():
    """amp="bf16" runs the matmuls in bfloat16 (8 mantissa bits): the run follows the fp32 one
    closely and learns just as well, while the weights and the optimizer stay in fp32."""
    full = train(tiny(dropout=0.0), batches(), cfg(amp=None))
    half = train(model := tiny(dropout=0.0), batches(), cfg(amp="bf16"))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert half.train_loss != full.train_loss                          # bf16 really was used
    assert max(abs(a - b) for a, b in zip(half.train_loss[:5], full.train_loss[:5])) < 0.05
    assert half.train_loss[-1] < half.train_loss[0] - 1.0 and abs(half.train_loss[-1] - full.train_loss[-1]) < 0.05


def test_lr_scales_multiply_the_scheduled_rate_of_named_parameters():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)
            self.lr_scales = {"head": 10.0}

        def forward(self, x, y):
            return None, torch.nn.functional.cross_entropy(self.head(self.body(x)), y)

    net = Net()
    config = TrainConfig(max_steps=3, lr=1e-3, warmup_steps=1, progress=False, amp=None)
    groups = make_optimizer(net, config).param_groups
    by_param = {id(p): g for g in groups for p in g["params"]}
    assert by_param[id(net.head.weight)]["lr_scale"] == 10.0 and by_param[id(net.body.weight)]["lr_scale"] == 1.0
    assert by_param[id(net.head.bias)]["weight_decay"] == 0.0 and by_param[id(net.head.weight)]["weight_decay"] > 0
    # without lr_scales: the two groups of before, decayed matrices first, in parameter order
    plain = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    g = make_optimizer(plain, config).param_groups
    assert [len(x["params"]) for x in g] == [2, 2] and g[0]["params"][0] is plain[0].weight
    # train applies the multiplier every step: the head moves 10x as far on its first step
    # (Adam's first step moves every weight by lr, whatever its gradient)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = torch.randn(8, 4), torch.randint(2, (8,))
    train(net, lambda step: (x, y), TrainConfig(max_steps=1, lr=1e-3, warmup_steps=0, weight_decay=0.0,
                                                grad_clip=None, progress=False, amp=None))
    moved = {k: (net.state_dict()[k] - before[k]).abs().max().item() for k in before}
    assert moved["head.bias"] == pytest.approx(10 * moved["body.bias"], rel=1e-3)
