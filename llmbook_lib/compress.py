"""Lossless compression with a language model: an LM-driven compressor for byte-level GPTs,
and the classical baselines (gzip, bz2, xz, zstd).

A model that assigns probability q(x) to the next byte can code it in -log2 q(x) bits; the
exact integer arithmetic coder in ``llmbook_lib.arithmetic`` realises that to within a few bits
for the whole message. So a better predictor is a better compressor, and cross-entropy in bits
per byte IS the compressed size.

**Determinism of the model (the real pitfall).** The frequencies come from floating-point
logits, and float results depend on the exact computation: a batched forward over the whole
sequence (the fast way to *encode*) and a token-by-token forward (the only way to *decode*)
give logits that differ in the last bits, the quantised frequencies occasionally differ by
one, and the decoder derails. ``LMCompressor`` therefore runs ONE step function,
``_Predictor.predict``, in both directions: the encoder replays the decoder's computation exactly
(same batch layout, same tensor shapes, same KV-cache schedule, same thread count, fixed with
``torch_threads``), and merely knows the answer in advance. Speed comes not from a whole-
sequence forward but from batching *independent streams*: the input is cut into ``streams``
contiguous chunks that are predicted side by side in one batch (each chunk starts from a
fresh context), and their symbols are interleaved into one arithmetic code. Each step feeds one
byte per stream to the GPT with its KV cache (``GPT.forward(..., cache=)``); a sliding context
is handled by rebuilding the cache, once it holds ``context`` bytes, from the last ``keep``
bytes (``keep == context`` gives an exact sliding window at ``context`` times the cost).

Two optional improvements keep that rule: ``side=`` mixes in a second predictor (a byte
n-gram, ``llmbook_lib.ngram``) with a weight learned online from the code length, and
``dynamic=DynamicEval(...)`` keeps training a copy of the GPT on the bytes already coded. Both
learn only from bytes the decoder already has, and the decoder repeats every update.

Identical code on a different CPU, torch version or BLAS may still round differently; the blob
stores a hash of the original bytes, so such a mismatch raises ``ValueError`` instead of
returning wrong bytes. Blobs decode reliably on the machine set-up that wrote them.

Blob format (little-endian): header ``magic "LLMZ" | version u8 | model fingerprint 8 B |
original length u64 | streams u16 | context u16 | keep u16 | threads u8 | freq bits u8 |
start byte u8 | sha256(original)[:8] | flags u8``, then (flag 1) ``side-model fingerprint
8 B | mixing rate f32``, then (flag 2) ``dynamic-evaluation lr f32 | every u16 | window u16``,
then the arithmetic code, then crc32 of everything before it. A wrong model, a truncated blob or a
flipped bit raises ``ValueError``.

Command line::

    python -m llmbook_lib.compress compress IN OUT [--model gpt-en-byte] [--ngram 7] [--dynamic]
    python -m llmbook_lib.compress decompress IN OUT [--model gpt-en-byte] [--ngram 7]
    python -m llmbook_lib.compress bench IN [OUT.json] [--model gpt-en-byte] [--ngram 7] [--dynamic]

``--ngram N`` mixes in a byte N-gram counted on the model's training text (decompress needs the
same N); ``--dynamic`` turns on dynamic evaluation (recorded in the blob).
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import copy
import gzip
import hashlib
import json
import lzma
import math
import struct
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .arithmetic import FREQ_BITS, ArithmeticDecoder, ArithmeticEncoder, quantize_probs
from .checkpoint import hash_tensors
from .device import eval_mode

MAGIC = b"LLMZ"
VERSION = 2
_HEADER = struct.Struct("<4sB8sQHHHBBB8sB")     # ... | sha256[:8] | flags
_SIDE = struct.Struct("<8sf")                           # flag 1: side fingerprint, mixing rate
_DYNAMIC = struct.Struct("<fHH")                        # flag 2: lr, every, window
_FLAG_SIDE, _FLAG_DYNAMIC = 1, 2
_CRC = struct.Struct("<I")


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


def _f32(x: float) -> float:
    """``x`` rounded to float32: the value the blob stores, so both directions use the same one."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


@dataclass(frozen=True)
class DynamicEval:
    """Dynamic evaluation (Krause et al. 2018): keep training on the bytes already coded.

    After every ``every`` coding steps, one Adam step (learning rate ``lr``) on the last
    ``window`` bytes of every stream (a batch of ``streams`` rows). The decoder has decoded
    exactly these bytes by then and repeats the identical update, so the code stays lossless.
    The caller's model is never modified: each call works on a copy. (Adam beat plain SGD on
    the book's held-out text: it adapts the step per weight.)
    """

    lr: float = 3e-4
    every: int = 32
    window: int = 32

    def valid_for(self, block_size: int) -> bool:
        """lr > 0, every in 1..65535 (it is stored as u16) and a window the model can take."""
        return 0 < self.lr < 1e6 and 1 <= self.every <= 65535 and 1 <= self.window <= block_size


class _Predictor:
    """Everything that turns the bytes coded so far into the next distributions, run identically
    by the encoder and the decoder: the GPT with a KV cache, optionally mixed with a side model
    as ``a * p_gpt + (1 - a) * p_side``, where ``a = sigmoid(z)`` follows the gradient of the
    code length of every coded byte, and optionally dynamic evaluation of the GPT.

    ``predict(t, hist, hist_np, active)`` -> cumulative frequencies (N, 257) for ``hist[:, t + 1]``;
    ``observe(t, hist, symbols)`` then learns from the ``active`` symbols just coded.
    """

    def __init__(self, model, context: int, keep: int, side, mix_lr: float,
                 dynamic: DynamicEval | None, min_length: int):
        if dynamic is not None:
            model = copy.deepcopy(model)               # the updates must not touch the caller's model
        self.model, self.side, self.mix_lr, self.dynamic = model, side, mix_lr, dynamic
        self.context, self.keep = context, keep
        self.cache = None                              # the GPT's KV cache; None: rebuild it
        self.min_length = min_length                   # every stream holds at least this many bytes
        if dynamic is not None:
            self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=dynamic.lr)
        self.z = 0.0                                   # mixing weight logit: a = 0.5 at the start
        self.updates = 0

    @property
    def weight(self) -> float:
        return 1.0 / (1.0 + math.exp(-self.z))

    def _gpt_probs(self, t: int, hist: torch.Tensor) -> torch.Tensor:
        """Feed ``hist[:, t]`` and return the GPT's probabilities (N, 256) for ``hist[:, t + 1]``.

        Reads only ``hist[:, :t + 1]``, so the decoder can fill ``hist`` as it goes; the encoder
        runs the very same operations with ``hist`` already full. When the cache holds
        ``context`` tokens, or the weights changed (dynamic evaluation), it is rebuilt from the
        last ``keep`` tokens.
        """
        if self.cache is None or len(self.cache) == self.context:
            n = min(self.keep, t + 1)
            self.cache = self.model.new_cache()
            logits = self.model(hist[:, t + 1 - n:t + 1], cache=self.cache)[0][:, -1]
        else:
            logits = self.model(hist[:, t:t + 1], cache=self.cache)[0][:, -1]   # (N, V)
        return torch.softmax(logits.float(), dim=-1)

    def predict(self, t: int, hist: torch.Tensor, hist_np: np.ndarray, active: int) -> torch.Tensor:
        probs = self._gpt_probs(t, hist)                                          # (N, 256)
        if self.side is None:
            return quantize_probs(probs)
        pm = probs.double().cpu().numpy()
        ps = pm.copy()
        k = self.side.context_bytes                  # stream i has coded hist[i, 1:t + 1]
        contexts = [hist_np[i, max(1, t + 1 - k):t + 1].tobytes() for i in range(active)]
        if hasattr(self.side, "probs_many"):         # one batched call (ByteNGram), same numbers
            ps[:active] = self.side.probs_many(contexts)
        else:
            for i, c in enumerate(contexts):
                ps[i] = self.side.probs(c)
        self._pm, self._ps = pm, ps
        a = self.weight
        return quantize_probs(torch.from_numpy(a * pm + (1 - a) * ps)).to(probs.device)

    def observe(self, t: int, hist: torch.Tensor, symbols: np.ndarray) -> None:
        if self.side is not None:                    # d(-ln p(x))/dz for p = a pm + (1 - a) ps
            rows = np.arange(len(symbols))
            pm, ps = self._pm[rows, symbols], self._ps[rows, symbols]
            a = self.weight
            grad = -float(np.sum((pm - ps) / (a * pm + (1 - a) * ps))) * a * (1 - a)
            if math.isfinite(grad):                  # |z| <= 30 keeps both models' share > 0
                self.z = min(max(self.z - self.mix_lr * grad, -30.0), 30.0)
        d = self.dynamic
        if d is not None and (t + 1) % d.every == 0 and t + 1 <= self.min_length:
            lo = max(0, t + 1 - d.window)                # inputs hist[:, lo:t+1], targets one ahead
            with torch.enable_grad():
                _, loss = self.model(hist[:, lo:t + 1], hist[:, lo + 1:t + 2])
                self.optimizer.zero_grad()
                loss.backward()
            self.optimizer.step()
            self.cache = None                            # keys and values of the old weights
            self.updates += 1


class LMCompressor:
    """Lossless compressor driven by a byte-level ``GPT`` (vocab 256), trained or not.

    ``compress(data) -> bytes`` and ``decompress(blob) -> bytes`` round-trip any input. The
    data is cut into at most ``streams`` contiguous chunks of at least ``min_chunk`` bytes,
    predicted in one batch (more streams: faster, slightly worse, since every chunk starts
    cold). ``context`` (default the model's ``block_size``) is the longest context; when
    the KV cache is full it keeps the last ``keep`` bytes (default ``context // 2``).
    ``threads`` is fixed during coding and stored in the blob.

    Two ways to predict better, both lossless because the decoder repeats them exactly:
    ``side`` (e.g. an ``llmbook_lib.ngram.ByteNGram``: ``probs(context) -> (256,)`` floats,
    ``context_bytes``, ``fingerprint()``) is mixed in with a weight learned online at rate
    ``mix_lr``; ``dynamic`` (a ``DynamicEval``) fine-tunes a copy of the GPT on the bytes
    already coded. The blob records both (the side model by fingerprint: decompressing needs
    the same one). After each call, ``self.stats`` holds sizes, timings and the ideal code length.
    """

    def __init__(self, model, context: int | None = None, keep: int | None = None, streams: int = 64,
                 min_chunk: int = 256, threads: int = 1, start_byte: int = 10, progress: bool = False,
                 side=None, mix_lr: float = 0.05, dynamic: DynamicEval | None = None):
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
        if side is not None and not all(hasattr(side, a) for a in ("probs", "context_bytes", "fingerprint")):
            raise ValueError("side must have probs(context: bytes) -> (256,) array, context_bytes and "
                             "fingerprint(), e.g. llmbook_lib.ngram.ByteNGram(train_bytes)")
        if not 0 < mix_lr < 1e6:
            raise ValueError(f"mix_lr must be positive, got {mix_lr}")
        if dynamic is not None and not dynamic.valid_for(config.block_size):
            raise ValueError(f"DynamicEval needs lr > 0, every in 1..65535 and window in 1..{config.block_size} "
                             f"(the model's block_size), got {dynamic}")
        self.model, self.context, self.keep = model, context, keep
        self.streams, self.min_chunk, self.threads = streams, min_chunk, threads
        self.start_byte, self.progress = start_byte, progress
        self.side, self.mix_lr = side, _f32(mix_lr)
        self.dynamic = None if dynamic is None else DynamicEval(_f32(dynamic.lr), dynamic.every, dynamic.window)
        self.fingerprint = model_fingerprint(model)
        self.stats: dict = {}

    # -- layout shared by both directions
    @staticmethod
    def _chunk_lengths(n: int, streams: int) -> list[int]:
        base, rem = divmod(n, streams) if streams else (0, 0)
        return [base + (i < rem) for i in range(streams)]

    def _n_streams(self, n: int) -> int:
        return 0 if n == 0 else max(1, min(self.streams, n // self.min_chunk))

    def _side_fingerprint(self) -> bytes | None:
        return None if self.side is None else bytes(self.side.fingerprint())[:8].ljust(8, b"\0")

    @contextlib.contextmanager
    def _coding(self, threads: int):
        with eval_mode(self.model), torch_threads(threads), torch.no_grad():
            yield

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
        hist_np = np.zeros((N, L + 1), dtype=np.uint8)
        hist_np[:, 0] = self.start_byte
        offset = 0
        for i, m in enumerate(lengths):
            hist_np[i, 1:m + 1] = np.frombuffer(data, dtype=np.uint8, count=m, offset=offset)
            offset += m
        hist = torch.from_numpy(hist_np).long().to(device)
        enc = ArithmeticEncoder()
        ideal = 0.0
        predictor = None
        with self._coding(self.threads):
            if N:
                predictor = _Predictor(self.model, self.context, self.keep, self.side, self.mix_lr,
                                       self.dynamic, min(lengths))
            bar = self._bar(n, "压缩")
            for t in range(L):
                active = sum(1 for m in lengths if m > t)      # longer chunks come first
                cdf = predictor.predict(t, hist, hist_np, active)
                bar.update(active)
                sym = hist[:active, t + 1:t + 2]
                lo = cdf[:active].gather(1, sym)
                hi = cdf[:active].gather(1, sym + 1)
                ideal += float(torch.log2((hi - lo).double()).sum())
                for a, b in zip(lo.view(-1).tolist(), hi.view(-1).tolist()):
                    enc.encode_range(a, b, 1 << FREQ_BITS)
                predictor.observe(t, hist, hist_np[:active, t + 1].astype(np.int64))
            bar.close()
        payload = enc.finish() if n else b""
        flags = (_FLAG_SIDE if self.side is not None else 0) | (_FLAG_DYNAMIC if self.dynamic else 0)
        header = _HEADER.pack(MAGIC, VERSION, self.fingerprint, n, N, self.context, self.keep, self.threads,
                              FREQ_BITS, self.start_byte, hashlib.sha256(data).digest()[:8], flags)
        if self.side is not None:
            header += _SIDE.pack(self._side_fingerprint(), self.mix_lr)
        if self.dynamic:
            header += _DYNAMIC.pack(self.dynamic.lr, self.dynamic.every, self.dynamic.window)
        blob = header + payload
        blob += _CRC.pack(zlib.crc32(blob))
        seconds = time.perf_counter() - t0
        self.stats = {"original_bytes": n, "compressed_bytes": len(blob), "header_bytes": len(header) + _CRC.size,
                      "streams": N, "ideal_bits": n * FREQ_BITS - ideal if n else 0.0,
                      "bits_per_byte": 8 * len(blob) / n if n else float("nan"),
                      "seconds": seconds, "kb_per_s": n / 1000 / seconds,
                      "mix_weight": predictor.weight if predictor and self.side is not None else None,
                      "dynamic_updates": predictor.updates if predictor else 0}
        return blob

    def _parse(self, blob: bytes) -> tuple:
        blob = bytes(blob)
        if len(blob) < _HEADER.size + _CRC.size:
            raise ValueError(f"not an LMCompressor blob: {len(blob)} bytes is shorter than the "
                             f"{_HEADER.size + _CRC.size}-byte header (truncated?)")
        if blob[:4] != MAGIC:
            raise ValueError(f"not an LMCompressor blob (magic {blob[:4]!r}, expected {MAGIC!r})")
        if blob[4] != VERSION:
            raise ValueError(f"blob format version {blob[4]} is not supported (this library reads {VERSION})")
        (crc,) = _CRC.unpack_from(blob, len(blob) - _CRC.size)
        if zlib.crc32(blob[:-_CRC.size]) != crc:
            raise ValueError("blob checksum mismatch: the blob is truncated or corrupted")
        _, _, fp, n, N, context, keep, threads, freq_bits, start, digest, flags = _HEADER.unpack_from(blob)
        pos = _HEADER.size
        side_fp, mix_lr, dynamic = None, 0.0, None
        if flags & ~(_FLAG_SIDE | _FLAG_DYNAMIC) or len(blob) < pos + _CRC.size + (
                _SIDE.size if flags & _FLAG_SIDE else 0) + (_DYNAMIC.size if flags & _FLAG_DYNAMIC else 0):
            raise ValueError("blob header holds unknown flags or is cut short: corrupted blob")
        if flags & _FLAG_SIDE:
            side_fp, mix_lr = _SIDE.unpack_from(blob, pos)
            pos += _SIDE.size
        if flags & _FLAG_DYNAMIC:
            dynamic = DynamicEval(*_DYNAMIC.unpack_from(blob, pos))
            pos += _DYNAMIC.size
        if fp != self.fingerprint:
            raise ValueError(f"blob was compressed with a different model (fingerprint {fp.hex()}, this "
                             f"model is {self.fingerprint.hex()}); decompress with the same weights")
        if side_fp != self._side_fingerprint():
            need = "no side model" if side_fp is None else f"the side model with fingerprint {side_fp.hex()}"
            have = "none" if self.side is None else self._side_fingerprint().hex()
            raise ValueError(f"blob was compressed with {need}, this compressor has {have}; "
                             "pass the same side= (e.g. the same ByteNGram) to decompress")
        if (n == 0) != (N == 0) or not 1 <= keep <= context or context > self.model.config.block_size \
                or freq_bits != FREQ_BITS or threads < 1 or (N and n // N < 1) \
                or (side_fp is not None and not 0 < mix_lr < 1e6) \
                or (dynamic and not dynamic.valid_for(self.model.config.block_size)):
            raise ValueError("blob header holds inconsistent parameters: corrupted blob")
        return blob[pos:-_CRC.size], n, N, context, keep, threads, start, digest, mix_lr, dynamic

    def decompress(self, blob: bytes) -> bytes:
        t0 = time.perf_counter()
        payload, n, N, context, keep, threads, start, digest, mix_lr, dynamic = self._parse(blob)
        lengths = self._chunk_lengths(n, N)
        L = max(lengths, default=0)
        device = next(self.model.parameters()).device
        hist_np = np.zeros((N, L + 1), dtype=np.uint8)
        hist_np[:, 0] = start
        hist = torch.from_numpy(hist_np).long().to(device)
        dec = ArithmeticDecoder(payload)
        with self._coding(threads):
            if N:
                predictor = _Predictor(self.model, context, keep, self.side, mix_lr, dynamic, min(lengths))
            bar = self._bar(n, "解压")
            for t in range(L):
                active = sum(1 for m in lengths if m > t)
                cdf = predictor.predict(t, hist, hist_np, active)
                bar.update(active)
                syms = np.array([dec.decode(row) for row in cdf[:active].tolist()], dtype=np.int64)
                hist_np[:active, t + 1] = syms
                hist[:active, t + 1] = torch.from_numpy(syms).to(device)
                predictor.observe(t, hist, syms)
            bar.close()
        out = b"".join(hist_np[i, 1:m + 1].tobytes() for i, m in enumerate(lengths))
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
    parser.add_argument("--ngram", type=int, default=0, metavar="N",
                        help="mix in a byte N-gram (1..7) counted on the model's training text; "
                             "decompress needs the same N")
    parser.add_argument("--dynamic", action="store_true",
                        help="dynamic evaluation: keep training a copy of the model on the bytes already "
                             "coded (slower; the blob records it, decompress needs no flag)")
    args = parser.parse_args(argv)
    if args.cmd != "bench" and not args.output:
        parser.error(f"{args.cmd} needs IN and OUT")
    from . import hub
    model, _ = hub.pretrained(args.model)
    side = None
    if args.ngram:
        from .ngram import ByteNGram
        try:
            side = ByteNGram(hub.train_val_text(args.model)[0].encode("utf-8"), n=args.ngram)
        except ValueError as e:
            parser.error(f"--ngram: {e}")
    comp = LMCompressor(model, streams=args.streams, threads=args.threads, progress=True, side=side,
                        dynamic=DynamicEval() if args.dynamic else None)
    with open(args.input, "rb") as f:
        data = f.read()
    if args.cmd == "compress":
        out = comp.compress(data)
    elif args.cmd == "decompress":
        try:
            out = comp.decompress(data)
        except ValueError as e:
            hint = " (on the command line: the same --ngram N as for compress)" if "side model" in str(e) else ""
            print(f"error: {e}{hint}", file=sys.stderr)
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
