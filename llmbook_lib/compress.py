"""Lossless compression with a language model: an exact arithmetic coder, an LM-driven
compressor for byte-level GPTs, and the classical baselines (gzip, bz2, xz, zstd).

A model that assigns probability q(x) to the next byte can code it in -log2 q(x) bits; an
arithmetic coder realises that to within a few bits for the whole message. So a better
predictor is a better compressor, and cross-entropy in bits per byte IS the compressed size.

**Exactness.** The coder works on integers only: 32-bit ``low``/``high`` registers,
renormalised bit by bit (Witten, Neal & Cleary 1987, in the formulation of Nayuki's reference
coder), with every distribution quantised to integer frequencies that are all >= 1 and sum
to ``2**16``. Given the same frequencies, encoder and decoder agree bit for bit on any machine.

**Determinism of the model (the real pitfall).** The frequencies come from floating-point
logits, and float results depend on the exact computation: a batched forward over the whole
sequence (the fast way to *encode*) and a token-by-token forward (the only way to *decode*)
give logits that differ in the last bits, the quantised frequencies occasionally differ by
one, and the decoder derails. ``LMCompressor`` therefore runs ONE step function,
``_Stepper.step``, in both directions: the encoder replays the decoder's computation exactly
(same batch layout, same tensor shapes, same KV-cache schedule, same thread count, fixed with
``torch_threads``), and merely knows the answer in advance. Speed comes not from a whole-
sequence forward but from batching *independent streams*: the input is cut into ``streams``
contiguous chunks that are predicted side by side in one batch (each chunk starts from a
fresh context), and their symbols are interleaved into one arithmetic code. A sliding context
longer than ``block_size`` is handled by a KV cache that, when full, is rebuilt from the last
``keep`` bytes (``keep == context`` gives an exact sliding window at ``context`` times the cost).

Identical code on a different CPU, torch version or BLAS may still round differently; the blob
stores a hash of the original bytes, so such a mismatch raises ``ValueError`` instead of
returning wrong bytes. Blobs decode reliably on the machine set-up that wrote them.

Blob format (little-endian): header ``magic "LLMZ" | version u8 | model fingerprint 8 B |
original length u64 | streams u16 | context u16 | keep u16 | threads u8 | freq bits u8 |
start byte u8 | sha256(original)[:8]``, then the arithmetic code, then crc32 of everything
before it. A wrong model, a truncated blob or a flipped bit raises ``ValueError``.

Command line::

    python -m llmbook_lib.compress compress IN OUT [--model gpt-en-byte]
    python -m llmbook_lib.compress decompress IN OUT [--model gpt-en-byte]
    python -m llmbook_lib.compress bench IN [OUT.json] [--model gpt-en-byte]
"""

from __future__ import annotations

import argparse
import bisect
import bz2
import contextlib
import gzip
import hashlib
import json
import lzma
import math
import struct
import sys
import time
import zlib
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import hash_tensors

STATE_BITS = 32
_FULL = 1 << STATE_BITS
_HALF = _FULL >> 1
_QUARTER = _FULL >> 2
_MASK = _FULL - 1
FREQ_BITS = 16                     # every quantised distribution sums to 2**16

MAGIC = b"LLMZ"
VERSION = 1
_HEADER = struct.Struct("<4sB8sQHHHBBB8s")
_CRC = struct.Struct("<I")


# --------------------------------------------------------------------------- arithmetic coder

class ArithmeticEncoder:
    """Integer arithmetic encoder (32-bit registers, renormalising, exact).

    ``encode(symbol, cdf)`` codes ``symbol`` with the cumulative frequencies ``cdf`` (length
    V + 1, ``cdf[0] == 0``, strictly increasing, ``cdf[-1]`` = total <= 2**30);
    ``encode_range(lo, hi, total)`` does the same from the symbol's interval [lo, hi).
    ``finish()`` returns the code as bytes.
    """

    def __init__(self):
        self.low, self.high = 0, _MASK
        self.pending = 0               # underflow bits waiting for the next decided bit
        self._out = bytearray()
        self._acc, self._nacc = 0, 0
        self.bits_written = 0

    def _bit(self, bit: int) -> None:
        self._acc = (self._acc << 1) | bit
        self._nacc += 1
        if self._nacc == 8:
            self._out.append(self._acc)
            self._acc, self._nacc = 0, 0
        self.bits_written += 1

    def encode_range(self, lo: int, hi: int, total: int) -> None:
        if not 0 <= lo < hi <= total <= _QUARTER:
            raise ValueError(f"invalid symbol interval [{lo}, {hi}) of total {total}")
        low, high = self.low, self.high
        rng = high - low + 1
        high = low + hi * rng // total - 1
        low = low + lo * rng // total
        while True:
            if (low ^ high) & _HALF == 0:              # top bits agree: emit it
                bit = low >> (STATE_BITS - 1)
                self._bit(bit)
                for _ in range(self.pending):
                    self._bit(bit ^ 1)
                self.pending = 0
                low = (low << 1) & _MASK
                high = ((high << 1) & _MASK) | 1
            elif low & ~high & _QUARTER:               # [Q, 3Q): undecided, expand around 1/2
                self.pending += 1
                low = (low << 1) ^ _HALF
                high = ((high ^ _HALF) << 1) | _HALF | 1
            else:
                break
        self.low, self.high = low, high

    def encode(self, symbol: int, cdf: Sequence[int]) -> None:
        self.encode_range(cdf[symbol], cdf[symbol + 1], cdf[-1])

    def finish(self) -> bytes:
        """Flush: one 1-bit puts the code value at 1/2 of the final interval (pending bits
        are the implied zeros that follow). Returns the code, zero-padded to whole bytes."""
        self._bit(1)
        out = bytearray(self._out)
        if self._nacc:
            out.append(self._acc << (8 - self._nacc))
        return bytes(out)


class ArithmeticDecoder:
    """Inverse of ``ArithmeticEncoder``; bits past the end of ``data`` read as 0.

    Each call does a bounded amount of work, so a corrupt input yields garbage symbols (caught
    by the caller's checksum), never an endless loop.
    """

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0                     # next bit to read
        self.low, self.high = 0, _MASK
        self.code = 0
        for _ in range(STATE_BITS):
            self.code = (self.code << 1) | self._bit()

    def _bit(self) -> int:
        i = self.pos
        self.pos += 1
        byte = i >> 3
        if byte >= len(self.data):
            return 0
        return (self.data[byte] >> (7 - (i & 7))) & 1

    def target(self, total: int) -> int:
        """The cumulative frequency the code value points at, in 0..total-1."""
        rng = self.high - self.low + 1
        value = ((self.code - self.low + 1) * total - 1) // rng
        return min(max(value, 0), total - 1)           # clamp: only corrupt input leaves the range

    def update(self, lo: int, hi: int, total: int) -> None:
        low, high, code = self.low, self.high, self.code
        rng = high - low + 1
        high = low + hi * rng // total - 1
        low = low + lo * rng // total
        while True:
            if (low ^ high) & _HALF == 0:
                low = (low << 1) & _MASK
                high = ((high << 1) & _MASK) | 1
                code = ((code << 1) & _MASK) | self._bit()
            elif low & ~high & _QUARTER:
                low = (low << 1) ^ _HALF
                high = ((high ^ _HALF) << 1) | _HALF | 1
                code = (code & _HALF) | ((code << 1) & (_MASK >> 1)) | self._bit()
            else:
                break
        self.low, self.high, self.code = low, high, code

    def decode(self, cdf: Sequence[int]) -> int:
        total = cdf[-1]
        symbol = bisect.bisect_right(cdf, self.target(total)) - 1
        symbol = min(max(symbol, 0), len(cdf) - 2)
        self.update(cdf[symbol], cdf[symbol + 1], total)
        return symbol


def quantize_probs(probs: torch.Tensor, freq_bits: int = FREQ_BITS) -> torch.Tensor:
    """Probabilities (..., V) -> cumulative integer frequencies (..., V + 1), int64.

    Every symbol gets at least 1 (so any byte can still be coded), the total is exactly
    ``2**freq_bits``; the rounding remainder goes to the most probable symbol. Non-finite
    rows (a broken model) become uniform rather than crashing the coder.
    """
    total = 1 << freq_bits
    V = probs.size(-1)
    if V + 1 > total:
        raise ValueError(f"{V} symbols do not fit into 2**{freq_bits} frequencies")
    probs = probs.float()
    bad = ~torch.isfinite(probs).all(dim=-1, keepdim=True)
    probs = torch.where(bad, torch.full_like(probs, 1.0 / V), probs.clamp(min=0.0))
    freq = torch.floor(probs * (total - V)).long() + 1
    deficit = total - freq.sum(dim=-1, keepdim=True)
    freq.scatter_add_(-1, freq.argmax(dim=-1, keepdim=True), deficit)
    cdf = torch.zeros(*freq.shape[:-1], V + 1, dtype=torch.long, device=freq.device)
    cdf[..., 1:] = freq.cumsum(dim=-1)
    return cdf


def cdf_from_probs(probs: Sequence[float], freq_bits: int = FREQ_BITS) -> list[int]:
    """The same rule as ``quantize_probs`` for one distribution (a list or NumPy array, e.g.
    from an n-gram model), computed in float64 NumPy: fast enough to call once per symbol."""
    total = 1 << freq_bits
    p = np.asarray(probs, dtype=np.float64)
    V = p.size
    if V + 1 > total:
        raise ValueError(f"{V} symbols do not fit into 2**{freq_bits} frequencies")
    p = np.clip(p, 0.0, None) if np.isfinite(p).all() else np.full(V, 1.0 / V)
    freq = np.floor(p * (total - V)).astype(np.int64) + 1
    freq[int(freq.argmax())] += total - int(freq.sum())
    cdf = np.zeros(V + 1, dtype=np.int64)
    np.cumsum(freq, out=cdf[1:])
    return cdf.tolist()


def code_length_bits(probs_of_symbols: Sequence[float]) -> float:
    """Ideal code length -sum log2 q(x): what an arithmetic coder reaches within ~2 bits."""
    return -sum(math.log2(p) for p in probs_of_symbols)


# --------------------------------------------------------------------------- classical baselines

def baseline_sizes(data: bytes) -> dict[str, int]:
    """Compressed sizes in bytes: gzip -9, bz2 -9, xz -9e and (if installed) zstd -19."""
    out = {
        "gzip -9": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "bz2 -9": len(bz2.compress(data, compresslevel=9)),
        "xz -9e": len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)),
    }
    try:
        import zstandard
    except ImportError:
        return out
    out["zstd -19"] = len(zstandard.ZstdCompressor(level=19).compress(data))
    return out


def baseline_bits_per_byte(data: bytes) -> dict[str, float]:
    """Bits per byte of the original for each classical compressor (container headers included)."""
    if not data:
        raise ValueError("bits per byte of empty data is undefined")
    return {name: 8 * size / len(data) for name, size in baseline_sizes(data).items()}


# --------------------------------------------------------------------------- the LM compressor

@contextlib.contextmanager
def torch_threads(n: int):
    """Run with exactly ``n`` intra-op threads (results depend on it), then restore."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def model_fingerprint(model: torch.nn.Module) -> bytes:
    """8 bytes of sha256 over the config and every weight (name, dtype, shape, bytes)."""
    h = hashlib.sha256()
    config = getattr(model, "config", None)
    if config is not None:
        h.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    return hash_tensors(h, model.state_dict()).digest()[:8]


class _Stepper:
    """One next-byte prediction step for ``N`` streams in lockstep, with a KV cache.

    ``step(t, hist)`` feeds token ``hist[:, t]`` and returns quantised cumulative frequencies
    (N, 257) for ``hist[:, t + 1]``. It reads only ``hist[:, :t + 1]``, so the decoder can fill
    ``hist`` as it goes; the encoder calls it with ``hist`` already full, through the very same
    operations. When the cache holds ``context`` tokens it is rebuilt from the last ``keep``.
    """

    def __init__(self, model, n_streams: int, context: int, keep: int, freq_bits: int):
        self.model, self.context, self.keep, self.freq_bits = model, context, keep, freq_bits
        c = model.config
        p = next(model.parameters())
        self.n_head, self.d = c.n_head, c.n_embd
        shape = (n_streams, c.n_head, context, c.n_embd // c.n_head)
        self.kv = [(torch.zeros(shape, dtype=p.dtype, device=p.device),
                    torch.zeros(shape, dtype=p.dtype, device=p.device)) for _ in model.blocks]
        self.scale = 1.0 / math.sqrt(c.n_embd // c.n_head)
        self.filled = 0                                                # tokens in the cache

    def _forward(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """tokens (N, T) at positions start..start+T-1 -> next-token logits (N, V)."""
        m = self.model
        N, T = tokens.shape
        x = m.tok_emb(tokens) + m.pos_emb.weight[start:start + T]                 # (N, T, d)
        mask = None
        if T > 1:
            mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(start)
        for blk, (kc, vc) in zip(m.blocks, self.kv):
            q, k, v = blk.attn.in_proj(blk.ln1(x)).split(self.d, dim=-1)
            q, k, v = (z.view(N, T, self.n_head, -1).transpose(1, 2) for z in (q, k, v))  # (N, h, T, hd)
            kc[:, :, start:start + T] = k
            vc[:, :, start:start + T] = v
            att = (q @ kc[:, :, :start + T].transpose(-2, -1)) * self.scale          # (N, h, T, start+T)
            if mask is not None:
                att = att.masked_fill(~mask, float("-inf"))
            y = torch.softmax(att, dim=-1) @ vc[:, :, :start + T]                   # (N, h, T, hd)
            x = x + blk.attn.out_proj(y.transpose(1, 2).reshape(N, T, self.d))
            x = x + blk.ffn(blk.ln2(x))
        return m.lm_head(m.ln_f(x[:, -1]))                                          # (N, V)

    def step(self, t: int, hist: torch.Tensor) -> torch.Tensor:
        if self.filled == self.context:                   # full: rebuild from the last `keep` tokens
            logits = self._forward(hist[:, t + 1 - self.keep:t + 1], 0)
            self.filled = self.keep
        else:
            logits = self._forward(hist[:, t:t + 1], self.filled)
            self.filled += 1
        return quantize_probs(torch.softmax(logits.float(), dim=-1), self.freq_bits)


class LMCompressor:
    """Lossless compressor driven by a byte-level ``GPT`` (vocab 256), trained or not.

    ``compress(data) -> bytes`` and ``decompress(blob) -> bytes`` round-trip any input. The
    data is cut into at most ``streams`` contiguous chunks of at least ``min_chunk`` bytes,
    predicted in one batch (more streams: faster, slightly worse, since every chunk starts
    cold). ``context`` (default the model's ``block_size``) is the longest context; when
    the KV cache is full it keeps the last ``keep`` bytes (default ``context // 2``).
    ``threads`` is fixed during coding and stored in the blob. After each call,
    ``self.stats`` holds sizes, timings and the ideal code length.
    """

    def __init__(self, model, context: int | None = None, keep: int | None = None, streams: int = 64,
                 min_chunk: int = 256, threads: int = 1, start_byte: int = 10, progress: bool = False):
        config = getattr(model, "config", None)
        if config is None or getattr(config, "vocab_size", None) != 256:
            raise ValueError("LMCompressor needs a byte-level GPT (config.vocab_size == 256), got "
                             f"vocab_size={getattr(config, 'vocab_size', None)}; build it with GPTConfig(vocab_size=256)")
        context = config.block_size if context is None else context
        if not 1 <= context <= min(config.block_size, 65535):
            raise ValueError(f"context must lie in 1..{config.block_size} (the model's block_size), got {context}")
        keep = max(1, context // 2) if keep is None else keep
        if not 1 <= keep <= context:
            raise ValueError(f"keep must lie in 1..context={context}, got {keep}")
        if not 1 <= streams <= 65535 or min_chunk < 1:
            raise ValueError(f"streams must lie in 1..65535 and min_chunk >= 1, got {streams}, {min_chunk}")
        if not 1 <= threads <= 255 or not 0 <= start_byte <= 255:
            raise ValueError(f"threads must lie in 1..255 and start_byte in 0..255, got {threads}, {start_byte}")
        self.model, self.context, self.keep = model, context, keep
        self.streams, self.min_chunk, self.threads = streams, min_chunk, threads
        self.start_byte, self.progress = start_byte, progress
        self.fingerprint = model_fingerprint(model)
        self.stats: dict = {}

    # -- layout shared by both directions
    @staticmethod
    def _chunk_lengths(n: int, streams: int) -> list[int]:
        base, rem = divmod(n, streams) if streams else (0, 0)
        return [base + (i < rem) for i in range(streams)]

    def _n_streams(self, n: int) -> int:
        return 0 if n == 0 else max(1, min(self.streams, n // self.min_chunk))

    @contextlib.contextmanager
    def _coding(self, threads: int):
        was_training = self.model.training
        self.model.eval()
        try:
            with torch_threads(threads), torch.inference_mode():
                yield
        finally:
            self.model.train(was_training)

    def _bar(self, n: int, desc: str):
        return tqdm(total=n, desc=desc, unit="B", unit_scale=True, disable=not self.progress, leave=False)

    def compress(self, data: bytes) -> bytes:
        data = bytes(data)
        t0 = time.perf_counter()
        n = len(data)
        N = self._n_streams(n)
        lengths = self._chunk_lengths(n, N)
        L = max(lengths, default=0)
        device = next(self.model.parameters()).device
        hist = torch.zeros(N, L + 1, dtype=torch.long)
        hist[:, 0] = self.start_byte
        offset = 0
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8) if n else torch.zeros(0, dtype=torch.uint8)
        for i, m in enumerate(lengths):
            hist[i, 1:m + 1] = buf[offset:offset + m]
            offset += m
        hist = hist.to(device)
        enc = ArithmeticEncoder()
        ideal = 0.0
        with self._coding(self.threads):
            stepper = _Stepper(self.model, N, self.context, self.keep, FREQ_BITS) if N else None
            bar = self._bar(n, "compress")
            for t in range(L):
                cdf = stepper.step(t, hist)
                active = sum(1 for m in lengths if m > t)      # longer chunks come first
                bar.update(active)
                sym = hist[:active, t + 1:t + 2]
                lo = cdf[:active].gather(1, sym)
                hi = cdf[:active].gather(1, sym + 1)
                ideal += float(torch.log2((hi - lo).double()).sum())
                for a, b in zip(lo.view(-1).tolist(), hi.view(-1).tolist()):
                    enc.encode_range(a, b, 1 << FREQ_BITS)
            bar.close()
        payload = enc.finish() if n else b""
        header = _HEADER.pack(MAGIC, VERSION, self.fingerprint, n, N, self.context, self.keep, self.threads,
                              FREQ_BITS, self.start_byte, hashlib.sha256(data).digest()[:8])
        blob = header + payload
        blob += _CRC.pack(zlib.crc32(blob))
        seconds = time.perf_counter() - t0
        self.stats = {"original_bytes": n, "compressed_bytes": len(blob), "header_bytes": _HEADER.size + _CRC.size,
                      "streams": N, "ideal_bits": n * FREQ_BITS - ideal if n else 0.0,
                      "bits_per_byte": 8 * len(blob) / n if n else float("nan"),
                      "seconds": seconds, "kb_per_s": n / 1000 / seconds}
        return blob

    def _parse(self, blob: bytes) -> tuple:
        blob = bytes(blob)
        if len(blob) < _HEADER.size + _CRC.size:
            raise ValueError(f"not an LMCompressor blob: {len(blob)} bytes is shorter than the "
                             f"{_HEADER.size + _CRC.size}-byte header (truncated?)")
        magic, version, fp, n, N, context, keep, threads, freq_bits, start, digest = _HEADER.unpack_from(blob)
        if magic != MAGIC:
            raise ValueError(f"not an LMCompressor blob (magic {magic!r}, expected {MAGIC!r})")
        if version != VERSION:
            raise ValueError(f"blob format version {version} is not supported (this library reads {VERSION})")
        (crc,) = _CRC.unpack_from(blob, len(blob) - _CRC.size)
        if zlib.crc32(blob[:-_CRC.size]) != crc:
            raise ValueError("blob checksum mismatch: the blob is truncated or corrupted")
        if fp != self.fingerprint:
            raise ValueError(f"blob was compressed with a different model (fingerprint {fp.hex()}, this "
                             f"model is {self.fingerprint.hex()}); decompress with the same weights")
        if (n == 0) != (N == 0) or not 1 <= keep <= context or context > self.model.config.block_size \
                or freq_bits != FREQ_BITS or threads < 1 or (N and n // N < 1):
            raise ValueError("blob header holds inconsistent parameters: corrupted blob")
        return blob[_HEADER.size:-_CRC.size], n, N, context, keep, threads, start, digest

    def decompress(self, blob: bytes) -> bytes:
        t0 = time.perf_counter()
        payload, n, N, context, keep, threads, start, digest = self._parse(blob)
        lengths = self._chunk_lengths(n, N)
        L = max(lengths, default=0)
        device = next(self.model.parameters()).device
        hist = torch.zeros(N, L + 1, dtype=torch.long, device=device)
        hist[:, 0] = start
        dec = ArithmeticDecoder(payload)
        with self._coding(threads):
            stepper = _Stepper(self.model, N, context, keep, FREQ_BITS) if N else None
            bar = self._bar(n, "decompress")
            for t in range(L):
                cdf = stepper.step(t, hist)
                active = sum(1 for m in lengths if m > t)
                bar.update(active)
                syms = [dec.decode(row) for row in cdf[:active].tolist()]
                hist[:active, t + 1] = torch.tensor(syms, dtype=torch.long, device=device)
            bar.close()
        rows = hist[:, 1:].to(torch.uint8).cpu()
        out = b"".join(rows[i, :m].numpy().tobytes() for i, m in enumerate(lengths))
        if hashlib.sha256(out).digest()[:8] != digest:
            raise ValueError("decompressed bytes fail the checksum: this model computed different "
                             "probabilities than when compressing (another machine, torch version or BLAS?) "
                             "or the blob is corrupted")
        seconds = time.perf_counter() - t0
        self.stats = {"original_bytes": n, "compressed_bytes": len(blob), "streams": N,
                      "seconds": seconds, "kb_per_s": n / 1000 / seconds if seconds else float("nan")}
        return out


def model_bytes(model: torch.nn.Module, bytes_per_param: int = 4) -> int:
    """Size of the unique weights (tied ones counted once), as the decompressor must store them."""
    seen, total = set(), 0
    for p in model.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            total += p.numel() * bytes_per_param
    return total


# --------------------------------------------------------------------------- command line

def bench(data: bytes, compressor: LMCompressor) -> dict:
    """Bits per byte of ``compressor`` (model size not counted and counted) next to the
    classical baselines, with compress/decompress speed; checks the round trip."""
    blob = compressor.compress(data)
    c_stats = compressor.stats
    back = compressor.decompress(blob)
    if back != data:
        raise RuntimeError("round trip failed")      # unreachable: decompress checks the hash
    d_stats = compressor.stats
    mbytes = model_bytes(compressor.model)
    return {"original_bytes": len(data), "lm_bytes": len(blob),
            "lm_bits_per_byte": 8 * len(blob) / len(data),
            "lm_ideal_bits_per_byte": c_stats["ideal_bits"] / len(data),
            "model_bytes_fp32": mbytes,
            "lm_bits_per_byte_with_model": 8 * (len(blob) + mbytes) / len(data),
            "compress_kb_per_s": c_stats["kb_per_s"], "decompress_kb_per_s": d_stats["kb_per_s"],
            "streams": c_stats["streams"], "threads": compressor.threads, "context": compressor.context,
            "baselines_bits_per_byte": baseline_bits_per_byte(data)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmbook_lib.compress",
                                     description="Lossless compression with a byte-level GPT from llmbook_lib.hub")
    parser.add_argument("cmd", choices=["compress", "decompress", "bench"])
    parser.add_argument("input")
    parser.add_argument("output", nargs="?", help="output file (bench: optional JSON report)")
    parser.add_argument("--model", default="gpt-en-byte", help="a byte-level model name from llmbook_lib.hub")
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd != "bench" and not args.output:
        parser.error(f"{args.cmd} needs IN and OUT")
    from .hub import pretrained
    model, _ = pretrained(args.model)
    comp = LMCompressor(model, streams=args.streams, threads=args.threads, progress=True)
    with open(args.input, "rb") as f:
        data = f.read()
    if args.cmd == "compress":
        out = comp.compress(data)
    elif args.cmd == "decompress":
        try:
            out = comp.decompress(data)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    else:
        report = bench(data, comp)
        print(json.dumps(report, indent=1))
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=1)
        return 0
    with open(args.output, "wb") as f:
        f.write(out)
    s = comp.stats
    print(f"{args.cmd}: {len(data):,} -> {len(out):,} bytes in {s['seconds']:.1f} s "
          f"({s['kb_per_s']:.1f} KB/s of original data)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
