import itertools
import lzma
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbook_lib.compress import (AdaptiveConfig, AdaptiveModel, DynamicEval, LMCompressor, baseline_bits_per_byte,
                                  model_fingerprint, torch_threads)
from llmbook_lib.compress.adaptive import ContextCounts, MatchModel, Mixer, witten_bell
from llmbook_lib.compress.arithmetic import FREQ_BITS, ArithmeticDecoder, ArithmeticEncoder, cdf_from_probs, quantize_probs
from llmbook_lib.compress.ngram import ByteNGram
from llmbook_lib.models.transformer import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny_gpt(seed: int = 0, max_len: int = 16) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=256, max_len=max_len, n_layer=2, n_head=2, d_model=32)).eval()


@pytest.fixture(scope="module")
def comp() -> LMCompressor:
    return LMCompressor(tiny_gpt(), streams=4, min_chunk=16, fallback=False)


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
    "压缩即智能。Compression is intelligence.\n".encode() * 9,             # > max_len (16)
], ids=["empty", "one-byte", "all-bytes", "invalid-utf8", "long-text"])
def test_round_trip(comp, data):
    blob = comp.compress(data)
    assert comp.decompress(blob) == data


def test_round_trip_random_bytes_and_settings():
    data = random.Random(1).randbytes(700)
    model = tiny_gpt(1)
    for kw in [{"streams": 1}, {"streams": 8, "min_chunk": 8, "keep": 16}, {"streams": 3, "context": 8, "keep": 1}]:
        c = LMCompressor(model, **kw, fallback=False)
        assert c.decompress(c.compress(data)) == data, kw
    c = LMCompressor(model, threads=2, streams=5, min_chunk=4, fallback=False)      # the thread count travels in the blob
    blob = c.compress(data[:60])
    assert LMCompressor(model, threads=1, fallback=False).decompress(blob) == data[:60]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=80))
def test_round_trip_property(comp, data):
    assert comp.decompress(comp.compress(data)) == data


def test_random_bytes_cost_about_eight_bits(comp):
    data = random.Random(2).randbytes(2000)
    blob = comp.compress(data)
    assert 8 * len(blob) / len(data) < 8.4            # an untrained model is ~uniform: no blow-up
    assert comp.stats["ideal_bits"] <= 8 * len(blob)


def test_predictor_step_matches_model_forward():
    """The compressor's GPT step (one byte per stream through the KV cache, rebuilt from the
    last ``keep`` bytes once ``context`` are cached) predicts what a full forward over the same
    window predicts."""
    from llmbook_lib.compress import _Predictor
    model = tiny_gpt(3).eval()
    x = torch.randint(0, 256, (3, 24))
    pred = _Predictor(model, context=16, keep=8, side=None, mix_lr=0.05, dynamic=None, min_length=24)
    with torch.no_grad():
        for t in range(24):
            lo = 0 if t < 16 else 9                   # at t = 16 the cache is rebuilt from x[:, 9:17]
            ref = torch.softmax(model(x[:, lo:t + 1])[0][:, -1], dim=-1)
            torch.testing.assert_close(pred._gpt_probs(t, x), ref, atol=1e-5, rtol=1e-5)
            assert len(pred.cache) == t + 1 - lo


def test_threads_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_rejects_non_byte_models():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="vocab_size"):
        LMCompressor(GPT(GPTConfig(vocab_size=100, max_len=8, n_layer=1, n_head=1, d_model=8)), fallback=False)
    with pytest.raises(ValueError, match="context"):
        LMCompressor(tiny_gpt(), context=17, fallback=False)


# ---------------------------------------------------------------- n-gram side model, mixing, dynamic evaluation

TEXT = ("压缩即智能。It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife.\n").encode() * 12


def test_ngram_witten_bell_by_hand():
    ng = ByteNGram(b"abracadabra", n=2)
    p0 = (torch.bincount(torch.tensor(list(b"abracadabra")), minlength=256).double().numpy() + 1) / (11 + 256)
    # after "a" the training text has b, c, d, b: counts b=2, c=1, d=1, u=3 distinct, total 4
    want = p0 * 3 / 7
    for sym, c in [(ord("b"), 2), (ord("c"), 1), (ord("d"), 1)]:
        want[sym] += c / 7
    assert ng.probs(b"xa") == pytest.approx(want, abs=1e-15)
    assert ng.probs(b"x") == pytest.approx(p0, abs=1e-15)       # unseen context: the unigram
    assert ng.probs(b"") == pytest.approx(p0, abs=1e-15)
    for ctx in [b"", b"abr", b"\xff\xfe", TEXT[:40]]:
        p = ByteNGram(TEXT, n=5).probs(ctx)
        assert p.shape == (256,) and (p > 0).all() and abs(p.sum() - 1) < 1e-12
    with pytest.raises(ValueError, match="n must"):
        ByteNGram(TEXT, n=0)


def test_ngram_probs_many_equals_probs_bit_for_bit():
    ng = ByteNGram(TEXT, n=6)
    rng = random.Random(0)
    contexts = [TEXT[max(0, i - rng.randint(0, 8)):i] for i in range(0, len(TEXT), 7)] + [b"", b"\x00\xff", b"zzzzzz"]
    for n in [1, 3, 6]:
        assert (ng.probs_many(contexts, n) == [ng.probs(c, n) for c in contexts]).all()


def test_ngram_fingerprint_follows_counts_and_n():
    a, b = ByteNGram(TEXT, n=4), ByteNGram(TEXT[:-1], n=4)
    assert a.fingerprint() == ByteNGram(TEXT, n=4).fingerprint() != b.fingerprint()
    fp = a.fingerprint()
    a.n = 3
    assert a.fingerprint() != fp and a.context_bytes == 2


@pytest.mark.parametrize("kw", [
    {"side": "ngram"},
    {"dynamic": DynamicEval(lr=1e-3, every=8, window=16)},
    {"side": "ngram", "dynamic": DynamicEval(lr=1e-3, every=4, window=8)},
], ids=["mix", "dynamic", "both"])
def test_round_trip_with_side_model_and_dynamic_evaluation(kw):
    model = tiny_gpt(4)
    kw = {**kw, "side": ByteNGram(TEXT, n=4)} if "side" in kw else kw
    before = model_fingerprint(model)
    c = LMCompressor(model, streams=4, min_chunk=16, **kw, fallback=False)
    for data in [TEXT[:300], b"", b"q", random.Random(3).randbytes(100)]:
        assert c.decompress(c.compress(data)) == data
    assert model_fingerprint(model) == before               # dynamic evaluation works on a copy


def test_dynamic_evaluation_with_two_threads_replays_exactly():
    c = LMCompressor(tiny_gpt(8), streams=2, min_chunk=8, threads=2, dynamic=DynamicEval(lr=1e-3, every=2, window=8), fallback=False)
    assert c.decompress(c.compress(TEXT[:32])) == TEXT[:32]


def test_mixing_with_ngram_and_dynamic_evaluation_shrink_the_blob():
    model, data = tiny_gpt(5), TEXT[:600]
    static = {"streams": 2, "min_chunk": 16, "fallback": False, "adaptive": None}     # the GPT's own effects
    plain = len(LMCompressor(model, **static).compress(data))
    mixed = LMCompressor(model, **static, side=ByteNGram(TEXT[600:], n=5))
    assert len(mixed.compress(data)) < 0.6 * plain          # the n-gram knows this text; the GPT is untrained
    assert mixed.stats["mix_weight"] < 0.2                  # and the mixer learned to trust it
    dyn = LMCompressor(model, **static, dynamic=DynamicEval(lr=3e-3, every=4, window=16))
    assert len(dyn.compress(data)) < 0.95 * plain
    assert dyn.stats["dynamic_updates"] == 300 // 4


def test_side_model_must_match():
    model = tiny_gpt(6)
    blob = LMCompressor(model, side=ByteNGram(TEXT, n=3), min_chunk=16, fallback=False).compress(TEXT[:100])
    with pytest.raises(ValueError, match="side model"):
        LMCompressor(model, fallback=False).decompress(blob)
    with pytest.raises(ValueError, match="side model"):
        LMCompressor(model, side=ByteNGram(TEXT, n=4), fallback=False).decompress(blob)
    with pytest.raises(ValueError, match="side model"):
        LMCompressor(model, side=ByteNGram(TEXT, n=3), fallback=False).decompress(LMCompressor(model, fallback=False).compress(TEXT[:100]))
    with pytest.raises(ValueError, match="side must"):
        LMCompressor(model, side=object(), fallback=False)
    with pytest.raises(ValueError, match="DynamicEval"):
        LMCompressor(model, dynamic=DynamicEval(window=17), fallback=False)


# ---------------------------------------------------------------- one blob format, one stream layout

UNEVEN = TEXT[:203]                 # 203 = 4 * 50 + 3: the chunks differ in length


@pytest.mark.parametrize("kw,data", [
    ({"streams": 4, "min_chunk": 16}, UNEVEN),
    ({"streams": 1}, UNEVEN),
    ({"streams": 7, "min_chunk": 1, "context": 8, "keep": 3, "start_byte": 0}, UNEVEN[:20]),
    ({"streams": 3, "min_chunk": 16, "side": "ngram", "mix_lr": 0.1}, UNEVEN),
    ({"streams": 2, "min_chunk": 16, "dynamic": DynamicEval(lr=1e-3, every=4, window=8)}, UNEVEN),
    ({"streams": 4}, b""),
], ids=["uneven", "one-stream", "short-context", "side", "dynamic", "empty"])
def test_compress_and_decompress_share_one_header_and_layout(monkeypatch, kw, data):
    """The header read back from a blob equals the one written, it re-packs to the same bytes,
    and both directions take their stream layout from the same ``BlobHeader.layout`` call."""
    from llmbook_lib.compress import VERSION, BlobHeader, read_blob, write_blob
    kw = {**kw, "side": ByteNGram(TEXT, n=3)} if "side" in kw else kw
    seen, layout = [], BlobHeader.layout

    def spy(self):
        seen.append((self, layout(self)))
        return seen[-1][1]

    monkeypatch.setattr(BlobHeader, "layout", spy)
    c = LMCompressor(tiny_gpt(10), **kw, fallback=False)
    blob = c.compress(data)
    header, payload = read_blob(blob)
    assert header == c._header(data) and write_blob(header, payload) == blob
    assert c.decompress(blob) == data
    assert len(seen) == 2 and seen[0] == seen[1]             # (header, layout) of compress == of decompress
    lay = seen[0][1]
    assert len(lay.lengths) == header.streams and sum(lay.lengths) == len(data)
    assert max(lay.lengths, default=0) - min(lay.lengths, default=0) <= 1
    assert lay.join(lay.split(data, 7)) == data
    with pytest.raises(ValueError, match="version"):
        read_blob(blob[:4] + bytes([VERSION + 1]) + blob[5:])


# ---------------------------------------------------------------- damaged blobs and wrong models

SAMPLE = b"It is a truth universally acknowledged, that a single man in possession of a good fortune" * 3


def test_wrong_model_raises(comp):
    blob = comp.compress(SAMPLE)
    other = LMCompressor(tiny_gpt(seed=5), streams=4, min_chunk=16, fallback=False)
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
    blob = LMCompressor(model, streams=3, min_chunk=32, fallback=False).compress(data)
    dyn = LMCompressor(model, streams=3, min_chunk=32, dynamic=DynamicEval(lr=1e-3, every=8, window=16), fallback=False)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    (tmp_path / "blob").write_bytes(blob)
    (tmp_path / "dyn").write_bytes(dyn.compress(data))       # the Adam updates must replay exactly too
    script = f"""
import sys, torch
from llmbook_lib.compress import LMCompressor
from llmbook_lib.models.transformer import GPT, GPTConfig
m = GPT(GPTConfig(vocab_size=256, max_len=16, n_layer=2, n_head=2, d_model=32))
m.load_state_dict(torch.load({str(tmp_path / 'w.pt')!r}))
out = LMCompressor(m.eval(), fallback=False).decompress(open({str(tmp_path / 'blob')!r}, 'rb').read())
assert LMCompressor(m, fallback=False).decompress(open({str(tmp_path / 'dyn')!r}, 'rb').read()) == out
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


def test_cli_ngram_and_dynamic_evaluation_round_trip(tmp_path, monkeypatch, capsys):
    from llmbook_lib import compress, hub
    model = tiny_gpt(9, max_len=32)                     # DynamicEval's default window is 32
    monkeypatch.setattr(hub, "pretrained", lambda name, **kw: (model, None))
    monkeypatch.setattr(hub, "train_val_text", lambda name: (SAMPLE.decode("latin-1") * 3, ""))
    src, packed, back = tmp_path / "in.bin", tmp_path / "packed.llmz", tmp_path / "back.bin"
    src.write_bytes(SAMPLE)
    assert compress.main(["compress", str(src), str(packed), "--streams", "2", "--ngram", "3", "--dynamic"]) == 0
    blob = packed.read_bytes()
    assert compress.main(["decompress", str(packed), str(back), "--ngram", "3"]) == 0
    assert back.read_bytes() == SAMPLE
    plain = tmp_path / "plain.llmz"
    assert compress.main(["compress", str(src), str(plain), "--streams", "2"]) == 0
    assert plain.read_bytes() != blob                       # the side model and the updates change the code
    capsys.readouterr()
    assert compress.main(["decompress", str(packed), str(back)]) == 1
    assert "the same --ngram N" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compress.main(["compress", str(src), str(packed), "--ngram", "9"])



def test_cli_runs_as_module():
    res = subprocess.run([sys.executable, "-m", "llmbook_lib.compress", "--help"], capture_output=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert b"python -m llmbook_lib.compress" in res.stdout and b"--ngram" in res.stdout


def test_never_expands_beyond_the_header(comp):
    """Where the model loses, the blob holds the bytes stored or xz-coded, and says so."""
    comp = LMCompressor(comp.model, streams=64, min_chunk=16)         # fallback on (the default)
    noise = random.Random(3).randbytes(3000)
    blob = comp.compress(noise)
    assert comp.stats["coder"] == "stored" and comp.stats["lm_bytes"] > len(noise)
    assert len(blob) - len(noise) == comp.stats["header_bytes"] <= 48
    assert comp.decompress(blob) == noise and comp.stats["coder"] == "stored"
    repetitive = b"abcdefgh" * 2000                    # xz codes this in a few dozen bytes
    blob = comp.compress(repetitive)
    assert len(blob) <= len(lzma.compress(repetitive, preset=9 | lzma.PRESET_EXTREME)) + 48
    assert comp.decompress(blob) == repetitive
    for data in (noise[:100], repetitive[:500], "人民日报".encode() * 50):
        blob = comp.compress(data)
        assert len(blob) <= len(data) + 48 and comp.decompress(blob) == data


def test_fallback_off_keeps_the_model_blob_and_corrupt_fallback_is_refused(comp):
    noise = random.Random(4).randbytes(1000)
    pure = comp                                                       # the fixture: fallback off
    blob = pure.compress(noise)
    assert pure.stats["coder"] == "lm" and len(blob) == pure.stats["lm_bytes"]
    stored = LMCompressor(comp.model, streams=4, min_chunk=16).compress(noise)
    bad = bytearray(stored)
    bad[-10] ^= 1                                       # inside the stored bytes
    with pytest.raises(ValueError, match="checksum|corrupted"):
        pure.decompress(bytes(bad))


# ---------------------------------------------------------------- adaptive models (learned from the file itself)

@pytest.mark.parametrize("data", [
    b"",
    b"x",
    random.Random(5).randbytes(500),
    b"\xff\xfe\xc3(\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc" * 9,            # invalid UTF-8
    TEXT[:400],
], ids=["empty", "one-byte", "random", "invalid-utf8", "text"])
@pytest.mark.parametrize("config", [AdaptiveConfig(), AdaptiveConfig(orders=(1, 3, 7), match_min=3, shared=False,
                                                                     count_limit=3, table_bits=8)],
                         ids=["default", "per-stream"])
def test_adaptive_round_trip(data, config):
    c = LMCompressor(tiny_gpt(11), streams=5, min_chunk=8, adaptive=config, fallback=False)
    blob = c.compress(data)
    assert c.decompress(blob) == data
    assert c.stats["coder"] == "lm"


def test_adaptive_encoder_and_decoder_are_deterministic():
    """Two compressors built alike write the same bytes, and a third one decodes them."""
    data = TEXT[:300] + random.Random(6).randbytes(50)
    blobs = [LMCompressor(tiny_gpt(12), streams=3, min_chunk=16, fallback=False).compress(data) for _ in range(2)]
    assert blobs[0] == blobs[1]
    assert LMCompressor(tiny_gpt(12), fallback=False).decompress(blobs[0]) == data


def test_adaptive_model_beats_the_static_one_on_repetitive_unseen_text():
    """An untrained GPT knows nothing; the context counts and the match model learn the
    repeats of the file itself, in every stream from all of them (shared statistics)."""
    rng = random.Random(7)
    words = ["adaptive", "模型", "context", "匹配", "mixer", "压缩"]
    data = " ".join(rng.choice(words) for _ in range(150)).encode()
    model = tiny_gpt(13)
    static = LMCompressor(model, streams=4, min_chunk=16, adaptive=None, fallback=False).compress(data)
    shared = LMCompressor(model, streams=4, min_chunk=16, fallback=False)
    blob = shared.compress(data)
    assert len(blob) < 0.35 * len(static)
    alone = LMCompressor(model, streams=4, min_chunk=16, adaptive=AdaptiveConfig(shared=False), fallback=False)
    assert len(blob) < len(alone.compress(data))                 # sharing across streams helps
    assert shared.decompress(blob) == data


def test_adaptive_components():
    # context counts: after "ab" twice, order 2 predicts "c" from "ab"
    cc = ContextCounts((1, 2), bits=10, limit=255, streams=1, shared=True)
    h = 0
    for b in b"abcabc":
        where = cc.lookup(np.array([h], dtype=np.uint64))
        cc.update(where, np.array([b]))
        h = (h << 8 | b) & (2 ** 64 - 1)
    counts = cc.gather(cc.lookup(np.array([h], dtype=np.uint64)))      # context "bc"
    assert counts[0][0, ord("a")] == 1 and counts[1][0, ord("a")] == 1 and counts[1].sum() == 1
    p1, p2 = witten_bell(counts, np.full((1, 256), 1 / 256))
    assert abs(p2.sum() - 1) < 1e-12 and p2[0, ord("a")] > 0.5 > p2[0, ord("b")]
    # match model: a repeat is predicted once min_len bytes agree
    data = b"0123456789" * 3
    hist = np.frombuffer(b"\n" + data, dtype=np.uint8)[None, :].copy()
    mm = MatchModel(min_len=4, bits=10, streams=1)
    right = 0
    for t in range(len(data)):
        logp = mm.predict(t, hist, 1)
        right += int(logp[0].argmax() == data[t] and logp[0].max() > logp[0].min())
        mm.update(t, hist, np.array([data[t]]))
    assert right >= len(data) - 10 - 4 - 1
    # mixer: learns to trust the model that is right
    mix = Mixer(n_sets=1, lr=0.02, init=np.array([0.5, 0.5]))
    good = np.log(np.full((1, 256), 0.1 / 255))
    good[0, 7] = np.log(0.9)
    flat = np.log(np.full((1, 256), 1 / 256))
    for _ in range(50):
        mix.mix(np.stack([good, flat], axis=1), np.zeros(1, dtype=np.int64))
        mix.update(np.array([7]))
    assert mix.w[0, 0] > 0.9 and mix.w[0, 0] > mix.w[0, 1]


def test_adaptive_config_header_round_trip_and_errors():
    from llmbook_lib.compress import VERSION, read_blob, write_blob
    cfg = AdaptiveConfig(orders=(2, 5), table_bits=12, count_limit=1000, match_min=8, lr=0.01, shared=False)
    back = AdaptiveConfig.unpack_from(cfg.pack(), 0)
    assert back.orders == (2, 5) and back.shared is False and back.lr == pytest.approx(0.01)
    c = LMCompressor(tiny_gpt(14), streams=2, min_chunk=16, adaptive=cfg, fallback=False)
    blob = c.compress(TEXT[:100])
    header, payload = read_blob(blob)
    assert header.adaptive == c.adaptive and write_blob(header, payload) == blob
    assert LMCompressor(tiny_gpt(14), adaptive=None, fallback=False).decompress(blob) == TEXT[:100]   # from the blob
    with pytest.raises(ValueError, match="older llmbook_lib"):
        read_blob(blob[:4] + bytes([VERSION - 1]) + blob[5:])
    for bad in [{"orders": (0, 3)}, {"orders": (3, 3)}, {"table_bits": 30}, {"count_limit": 5000},
                {"match_min": 1}, {"lr": 0.0}]:
        with pytest.raises(ValueError):
            AdaptiveConfig(**bad)
    with pytest.raises(ValueError, match="AdaptiveConfig"):
        LMCompressor(tiny_gpt(14), adaptive={"orders": (1, 2)})


def test_cli_reports_unreadable_input_and_unwritable_output_in_one_line(tmp_path, capsys):
    from llmbook_lib.compress.cli import main
    assert main(["compress", str(tmp_path / "missing.txt"), str(tmp_path / "out.llmz")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "in.txt").write_bytes(b"abc")
    assert main(["compress", str(tmp_path / "in.txt"), str(tmp_path / "no" / "out.llmz")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    with pytest.raises(SystemExit):
        main(["compress", str(tmp_path / "in.txt"), str(tmp_path / "out.llmz"), "--model", "gpt-zh-char"])
    assert "byte-level GPT" in capsys.readouterr().err
