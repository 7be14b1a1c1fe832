import itertools
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbook_lib.compress import (
    FREQ_BITS,
    ArithmeticDecoder,
    ArithmeticEncoder,
    LMCompressor,
    baseline_bits_per_byte,
    cdf_from_probs,
    model_fingerprint,
    quantize_probs,
    torch_threads,
)
from llmbook_lib.transformer import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny_gpt(seed: int = 0, block_size: int = 16) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=256, block_size=block_size, n_layer=2, n_head=2, n_embd=32)).eval()


@pytest.fixture(scope="module")
def comp() -> LMCompressor:
    return LMCompressor(tiny_gpt(), streams=4, min_chunk=16)


# ---------------------------------------------------------------- arithmetic coder alone

def test_coder_reaches_ideal_code_length_with_fixed_distribution():
    probs = [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.03125]
    cdf = cdf_from_probs(probs)
    assert cdf[0] == 0 and cdf[-1] == 1 << FREQ_BITS and all(b > a for a, b in itertools.pairwise(cdf))
    rng = random.Random(0)
    msg = rng.choices(range(len(probs)), weights=probs, k=20_000)
    enc = ArithmeticEncoder()
    for s in msg:
        enc.encode(s, cdf)
    code = enc.finish()
    ideal = -sum(math.log2((cdf[s + 1] - cdf[s]) / cdf[-1]) for s in msg)
    assert abs(enc.bits_written - ideal) <= 3                 # within a few bits of -sum log2 q
    assert len(code) * 8 < ideal + 3 + 8
    dec = ArithmeticDecoder(code)
    assert [dec.decode(cdf) for _ in msg] == msg


def test_coder_handles_extreme_distributions():
    cdf = cdf_from_probs([1.0] + [0.0] * 255)                # every symbol keeps frequency >= 1
    msg = [0] * 500 + [255, 17, 0, 0, 3]
    enc = ArithmeticEncoder()
    for s in msg:
        enc.encode(s, cdf)
    dec = ArithmeticDecoder(enc.finish())
    assert [dec.decode(cdf) for _ in msg] == msg


def test_quantize_probs_every_symbol_nonzero_and_exact_total():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 256, generator=g) * 20
    logits[0] = float("nan")
    cdf = quantize_probs(torch.softmax(logits, -1))
    freq = cdf.diff(dim=-1)
    assert (freq >= 1).all() and (cdf[:, -1] == 1 << FREQ_BITS).all() and (cdf[:, 0] == 0).all()


def test_invalid_interval_is_rejected():
    with pytest.raises(ValueError, match="invalid symbol interval"):
        ArithmeticEncoder().encode_range(5, 5, 16)


# ---------------------------------------------------------------- LM compressor round trips

@pytest.mark.parametrize("data", [
    b"",
    b"x",
    bytes(range(256)),
    b"\xff\xfe\xc3(\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc" * 7,            # invalid UTF-8
    "压缩即智能。Compression is intelligence.\n".encode() * 9,             # > block_size (16)
], ids=["empty", "one-byte", "all-bytes", "invalid-utf8", "long-text"])
def test_round_trip(comp, data):
    blob = comp.compress(data)
    assert comp.decompress(blob) == data


def test_round_trip_random_bytes_and_settings():
    data = random.Random(1).randbytes(700)
    model = tiny_gpt(1)
    for kw in [{"streams": 1}, {"streams": 8, "min_chunk": 8, "keep": 16}, {"streams": 3, "context": 8, "keep": 1}]:
        c = LMCompressor(model, **kw)
        assert c.decompress(c.compress(data)) == data, kw
    c = LMCompressor(model, threads=2, streams=5, min_chunk=4)      # the thread count travels in the blob
    blob = c.compress(data[:60])
    assert LMCompressor(model, threads=1).decompress(blob) == data[:60]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=80))
def test_round_trip_property(comp, data):
    assert comp.decompress(comp.compress(data)) == data


def test_random_bytes_cost_about_eight_bits(comp):
    data = random.Random(2).randbytes(2000)
    blob = comp.compress(data)
    assert 8 * len(blob) / len(data) < 8.4            # an untrained model is ~uniform: no blow-up
    assert comp.stats["ideal_bits"] <= 8 * len(blob)


def test_stepper_matches_model_forward():
    from llmbook_lib.compress import _Stepper
    model = tiny_gpt(3)
    x = torch.randint(0, 256, (3, 16))
    with torch.no_grad():
        ref = model(x)[0]
        st_ = _Stepper(model, 3, 16, 8, FREQ_BITS)
        for t in range(16):                           # token by token through the KV cache
            torch.testing.assert_close(st_._forward(x[:, t:t + 1], t), ref[:, t], atol=1e-5, rtol=1e-5)
        st_ = _Stepper(model, 3, 16, 8, FREQ_BITS)    # a whole window at once (cache rebuild)
        torch.testing.assert_close(st_._forward(x[:, :10], 0), ref[:, 9], atol=1e-5, rtol=1e-5)


def test_threads_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_rejects_non_byte_models():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="vocab_size"):
        LMCompressor(GPT(GPTConfig(vocab_size=100, block_size=8, n_layer=1, n_head=1, n_embd=8)))
    with pytest.raises(ValueError, match="context"):
        LMCompressor(tiny_gpt(), context=17)


# ---------------------------------------------------------------- damaged blobs and wrong models

SAMPLE = b"It is a truth universally acknowledged, that a single man in possession of a good fortune" * 3


def test_wrong_model_raises(comp):
    blob = comp.compress(SAMPLE)
    other = LMCompressor(tiny_gpt(seed=5), streams=4, min_chunk=16)
    assert model_fingerprint(other.model) != comp.fingerprint
    with pytest.raises(ValueError, match="different model"):
        other.decompress(blob)


def test_truncated_blob_raises(comp):
    blob = comp.compress(SAMPLE)
    for cut in [0, 3, 20, len(blob) // 2, len(blob) - 1]:
        with pytest.raises(ValueError):
            comp.decompress(blob[:cut])


def test_every_flipped_bit_raises(comp):
    blob = comp.compress(SAMPLE[:60])
    for i in range(len(blob) * 8):
        bad = bytearray(blob)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(ValueError):
            comp.decompress(bytes(bad))


def test_wrong_bits_with_valid_crc_still_caught_by_checksum(comp):
    """Even a blob whose crc is recomputed after tampering never yields wrong bytes."""
    import zlib
    blob = bytearray(comp.compress(SAMPLE))
    blob[45] ^= 0x10                                   # inside the arithmetic code
    body = bytes(blob[:-4])
    forged = body + zlib.crc32(body).to_bytes(4, "little")
    with pytest.raises(ValueError, match="checksum"):
        comp.decompress(forged)


# ---------------------------------------------------------------- determinism across processes

def test_decompress_in_a_fresh_process(tmp_path):
    model = tiny_gpt(7)
    data = "跨进程解码必须逐位一致。The decoder must replay the encoder bit for bit.\n".encode() * 6
    blob = LMCompressor(model, streams=3, min_chunk=32).compress(data)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    (tmp_path / "blob").write_bytes(blob)
    script = f"""
import sys, torch
from llmbook_lib.transformer import GPT, GPTConfig
from llmbook_lib.compress import LMCompressor
m = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=2, n_head=2, n_embd=32))
m.load_state_dict(torch.load({str(tmp_path / 'w.pt')!r}))
out = LMCompressor(m.eval()).decompress(open({str(tmp_path / 'blob')!r}, 'rb').read())
sys.stdout.buffer.write(out)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, cwd=ROOT, timeout=120,
                         check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout == data


# ---------------------------------------------------------------- baselines

def test_baselines():
    text = ("the quick brown fox jumps over the lazy dog. " * 200).encode()
    bpb = baseline_bits_per_byte(text)
    assert {"gzip -9", "bz2 -9", "xz -9e"} <= set(bpb)
    assert all(0 < v < 1 for v in bpb.values())        # very repetitive text
    noise = random.Random(0).randbytes(5000)
    assert all(v > 7.9 for v in baseline_bits_per_byte(noise).values())
    with pytest.raises(ValueError):
        baseline_bits_per_byte(b"")


# ---------------------------------------------------------------- command line

def test_cli_round_trip_and_error(tmp_path, monkeypatch, capsys):
    from llmbook_lib import compress, hub
    model = tiny_gpt(9)
    monkeypatch.setattr(hub, "pretrained", lambda name, **kw: (model, None))
    src, packed, back = tmp_path / "in.bin", tmp_path / "packed.llmz", tmp_path / "back.bin"
    src.write_bytes(SAMPLE + b"\x00\xff")
    assert compress.main(["compress", str(src), str(packed), "--streams", "2"]) == 0
    assert compress.main(["decompress", str(packed), str(back)]) == 0
    assert back.read_bytes() == src.read_bytes()
    packed.write_bytes(packed.read_bytes()[:-3])
    assert compress.main(["decompress", str(packed), str(back)]) == 1
    assert "truncated or corrupted" in capsys.readouterr().err
    assert compress.main(["bench", str(src)]) == 0
    assert '"lm_bits_per_byte"' in capsys.readouterr().out
