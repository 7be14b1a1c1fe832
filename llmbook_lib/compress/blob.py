"""What an ``LMCompressor`` blob holds, and the stream layout it records: the one place where
the byte format and the cutting of the input into streams are written, read by both directions.

Blob format (little-endian): header ``magic "LLMZ" | version u8 | model fingerprint 8 B |
original length u64 | streams u16 | context u16 | keep u16 | threads u8 | freq bits u8 |
start byte u8 | sha256(original)[:8] | flags u8``, then (flag 1) ``side-model fingerprint
8 B | mixing rate f32``, then (flag 2) ``dynamic-evaluation lr f32 | every u16 | window u16``,
then (flag 16) the ``AdaptiveConfig`` of the adaptive models (``AdaptiveConfig.pack``), then the payload, then crc32 of everything before it. The payload is the arithmetic code, or,
where the model would lose (flag 4) the original bytes stored as they are, or (flag 8) the
original bytes coded by xz (``lzma``, preset 9e): the compressor keeps whichever blob is
smallest, so a blob is never more than the header longer than the input. A truncated blob or a flipped
bit raises ``ValueError``; so does a wrong model (checked by the compressor against
``BlobHeader.fingerprint``).

Stream layout: ``length`` bytes are cut into ``streams`` contiguous chunks, the first
``length % streams`` one byte longer; step ``t`` codes byte ``t`` of every chunk still that
long (the longer chunks come first, so they are rows ``0..active(t) - 1``).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from ..runtime.checkpoint import hash_tensors
from .adaptive import AdaptiveConfig
from .arithmetic import FREQ_BITS
from .predictor import DynamicEval

MAGIC = b"LLMZ"
VERSION = 3                                             # 3: adaptive models (flag 16)
_HEADER = struct.Struct("<4sB8sQHHHBBB8sB")     # ... | sha256[:8] | flags
_SIDE = struct.Struct("<8sf")                           # flag 1: side fingerprint, mixing rate
_DYNAMIC = struct.Struct("<fHH")                        # flag 2: lr, every, window
_FLAG_SIDE, _FLAG_DYNAMIC, _FLAG_STORED, _FLAG_XZ, _FLAG_ADAPTIVE = 1, 2, 4, 8, 16
_FLAGS = _FLAG_SIDE | _FLAG_DYNAMIC | _FLAG_STORED | _FLAG_XZ | _FLAG_ADAPTIVE
CODERS = ("lm", "stored", "xz")                         # what a payload holds; see the flags
_CRC = struct.Struct("<I")


def model_fingerprint(model: torch.nn.Module) -> bytes:
    """8 bytes of sha256 over the config and every weight (name, dtype, shape, bytes)."""
    h = hashlib.sha256()
    config = getattr(model, "config", None)
    if config is not None:
        h.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    return hash_tensors(h, model.state_dict()).digest()[:8]


def side_fingerprint(side) -> bytes | None:
    """The 8 bytes a blob stores for a side model (``side.fingerprint()``), None without one."""
    return None if side is None else bytes(side.fingerprint())[:8].ljust(8, b"\0")


def f32(x: float) -> float:
    """``x`` rounded to float32: the value the blob stores, so both directions use the same one."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


@dataclass(frozen=True)
class StreamLayout:
    """How the input is cut into parallel streams: ``lengths[i]`` bytes in stream ``i``.

    ``hist`` arrays are (streams, steps + 1): column 0 holds the start byte, column ``t + 1``
    the byte coded at step ``t``.
    """

    lengths: tuple[int, ...]

    @staticmethod
    def count(length: int, streams: int, min_chunk: int) -> int:
        """The number of streams the encoder uses: at most ``streams``, each >= ``min_chunk`` bytes."""
        return 0 if length == 0 else max(1, min(streams, length // min_chunk))

    @classmethod
    def of(cls, length: int, streams: int) -> StreamLayout:
        base, rem = divmod(length, streams) if streams else (0, 0)
        return cls(tuple(base + (i < rem) for i in range(streams)))

    @property
    def steps(self) -> int:
        return max(self.lengths, default=0)

    def active(self, t: int) -> int:
        """How many streams code a byte at step ``t`` (the first ones)."""
        return sum(1 for m in self.lengths if m > t)

    def empty(self, start_byte: int) -> np.ndarray:
        """A (streams, steps + 1) uint8 history holding only the start byte: the decoder fills it."""
        hist = np.zeros((len(self.lengths), self.steps + 1), dtype=np.uint8)
        hist[:, 0] = start_byte
        return hist

    def split(self, data: bytes, start_byte: int) -> np.ndarray:
        """The full history of ``data``, as the encoder knows it in advance."""
        hist, offset = self.empty(start_byte), 0
        for i, m in enumerate(self.lengths):
            hist[i, 1:m + 1] = np.frombuffer(data, dtype=np.uint8, count=m, offset=offset)
            offset += m
        return hist

    def join(self, hist: np.ndarray) -> bytes:
        """The original bytes back from a filled history (inverse of ``split``)."""
        return b"".join(hist[i, 1:m + 1].tobytes() for i, m in enumerate(self.lengths))


@dataclass(frozen=True)
class BlobHeader:
    """Every parameter the decoder needs to replay the encoder, as stored in the blob."""

    fingerprint: bytes               # model_fingerprint of the GPT
    length: int                      # original bytes
    streams: int
    context: int
    keep: int
    threads: int
    start_byte: int
    digest: bytes                    # sha256(original)[:8]
    side_fingerprint: bytes | None = None
    mix_lr: float = 0.0              # stored only with a side model (0.0 without)
    dynamic: DynamicEval | None = None
    freq_bits: int = FREQ_BITS
    coder: str = "lm"                # "lm" (arithmetic code), "stored" or "xz": see CODERS
    adaptive: AdaptiveConfig | None = None     # the adaptive models mixed with the GPT, if any

    def layout(self) -> StreamLayout:
        """The stream layout that both compress and decompress iterate over."""
        return StreamLayout.of(self.length, self.streams)

    def pack(self) -> bytes:
        flags = (_FLAG_SIDE if self.side_fingerprint is not None else 0) | (_FLAG_DYNAMIC if self.dynamic else 0)
        flags |= {"lm": 0, "stored": _FLAG_STORED, "xz": _FLAG_XZ}[self.coder]
        flags |= _FLAG_ADAPTIVE if self.adaptive is not None else 0
        out = _HEADER.pack(MAGIC, VERSION, self.fingerprint, self.length, self.streams, self.context, self.keep,
                           self.threads, self.freq_bits, self.start_byte, self.digest, flags)
        if self.side_fingerprint is not None:
            out += _SIDE.pack(self.side_fingerprint, self.mix_lr)
        if self.dynamic:
            out += _DYNAMIC.pack(self.dynamic.lr, self.dynamic.every, self.dynamic.window)
        if self.adaptive is not None:
            out += self.adaptive.pack()
        return out

    def check(self, max_len: int) -> None:
        """Raise ``ValueError`` unless the parameters fit together and a model of ``max_len``."""
        n, N, d = self.length, self.streams, self.dynamic
        if (n == 0) != (N == 0) or not 1 <= self.keep <= self.context or self.context > max_len \
                or self.freq_bits != FREQ_BITS or self.threads < 1 or (N and n // N < 1) \
                or (self.side_fingerprint is not None and not 0 < self.mix_lr < 1e6) \
                or (d and not d.valid_for(max_len)) or self.coder not in CODERS:
            raise ValueError("blob header holds inconsistent parameters: corrupted blob")


def write_blob(header: BlobHeader, payload: bytes) -> bytes:
    """Header, arithmetic code, crc32 of both."""
    blob = header.pack() + payload
    return blob + _CRC.pack(zlib.crc32(blob))


def read_blob(blob: bytes) -> tuple[BlobHeader, bytes]:
    """The header and the arithmetic code of ``blob``; ``ValueError`` for anything that is not an
    intact blob of this version (the model-dependent checks are the compressor's)."""
    blob = bytes(blob)
    if len(blob) < _HEADER.size + _CRC.size:
        raise ValueError(f"not an LMCompressor blob: {len(blob)} bytes is shorter than the "
                         f"{_HEADER.size + _CRC.size}-byte header (truncated?)")
    if blob[:4] != MAGIC:
        raise ValueError(f"not an LMCompressor blob (magic {blob[:4]!r}, expected {MAGIC!r})")
    if blob[4] != VERSION:
        older = (f"; version {blob[4]} was written by an older llmbook_lib (before the adaptive models): "
                 "decompress it with that version" if blob[4] < VERSION else "")
        raise ValueError(f"blob format version {blob[4]} is not supported (this library reads {VERSION}){older}")
    (crc,) = _CRC.unpack_from(blob, len(blob) - _CRC.size)
    if zlib.crc32(blob[:-_CRC.size]) != crc:
        raise ValueError("blob checksum mismatch: the blob is truncated or corrupted")
    _, _, fp, n, N, context, keep, threads, freq_bits, start, digest, flags = _HEADER.unpack_from(blob)
    pos = _HEADER.size
    side_fp, mix_lr, dynamic, adaptive = None, 0.0, None, None
    if flags & ~_FLAGS or flags & _FLAG_STORED and flags & _FLAG_XZ or len(blob) < pos + _CRC.size + (
            _SIDE.size if flags & _FLAG_SIDE else 0) + (_DYNAMIC.size if flags & _FLAG_DYNAMIC else 0) + (
            AdaptiveConfig.size() if flags & _FLAG_ADAPTIVE else 0):
        raise ValueError("blob header holds unknown flags or is cut short: corrupted blob")
    if flags & _FLAG_SIDE:
        side_fp, mix_lr = _SIDE.unpack_from(blob, pos)
        pos += _SIDE.size
    if flags & _FLAG_DYNAMIC:
        dynamic = DynamicEval(*_DYNAMIC.unpack_from(blob, pos))
        pos += _DYNAMIC.size
    if flags & _FLAG_ADAPTIVE:
        try:
            adaptive = AdaptiveConfig.unpack_from(blob, pos)
        except ValueError:
            raise ValueError("blob header holds invalid adaptive-model settings: corrupted blob") from None
        pos += AdaptiveConfig.size()
    coder = "stored" if flags & _FLAG_STORED else "xz" if flags & _FLAG_XZ else "lm"
    header = BlobHeader(fp, n, N, context, keep, threads, start, digest, side_fp, mix_lr, dynamic, freq_bits,
                        coder, adaptive)
    return header, blob[pos:-_CRC.size]
