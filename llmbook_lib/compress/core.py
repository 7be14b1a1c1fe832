"""``LMCompressor``: compress and decompress with a byte-level GPT.

Both directions take their parameters from one ``BlobHeader``, their stream layout from
``BlobHeader.layout()`` and their frequencies from one ``Predictor`` step (``_steps``), so the
decoder replays the encoder exactly; they differ only in what they do with each step's
frequencies (encode the known bytes, or decode them).
"""

from __future__ import annotations

import contextlib
import hashlib
import lzma
import time
from dataclasses import replace

import numpy as np
import torch
from tqdm.auto import tqdm

from ..runtime.device import eval_mode
from .adaptive import AdaptiveConfig, AdaptiveModel
from .arithmetic import FREQ_BITS, ArithmeticDecoder, ArithmeticEncoder
from .blob import BlobHeader, StreamLayout, f32, model_fingerprint, read_blob, side_fingerprint, write_blob
from .predictor import DynamicEval, Predictor, torch_threads


class LMCompressor:
    """Lossless compressor driven by a byte-level ``GPT`` (vocab 256), trained or not.

    ``compress(data) -> bytes`` and ``decompress(blob) -> bytes`` round-trip any input. The
    data is cut into at most ``streams`` contiguous chunks of at least ``min_chunk`` bytes,
    predicted in one batch (more streams: faster, slightly worse, since every chunk starts
    cold). ``context`` (default the model's ``max_len``) is the longest context; when
    the KV cache is full it keeps the last ``keep`` bytes (default ``context // 2``).
    ``threads`` is fixed during coding and stored in the blob.

    ``adaptive`` (an ``AdaptiveConfig``, on by default; None: the GPT alone) mixes the GPT with
    models learned from the file being coded (byte-context counts and a match model, see
    ``adaptive.py``): they know the file's own names and repeats, which no training text had.

    Two more ways to predict better, both lossless because the decoder repeats them exactly:
    ``side`` (e.g. an ``llmbook_lib.compress.ngram.ByteNGram``: ``probs(context) -> (256,)`` floats,
    ``context_bytes``, ``fingerprint()``) is mixed in with a weight learned online at rate
    ``mix_lr``; ``dynamic`` (a ``DynamicEval``) fine-tunes a copy of the GPT on the bytes
    already coded. The blob records both (the side model by fingerprint: decompressing needs
    the same one). After each call, ``self.stats`` holds sizes, timings and the ideal code length.

    A model knows only what it has seen: on bytes unlike its training text (random bytes, another
    language) the arithmetic code can be longer than the input. With ``fallback`` (the default)
    the blob then stores the bytes as they are, or coded by xz, whichever is smallest, and says
    so in its header (``stats["coder"]``; ``stats["lm_bytes"]`` is the model's own blob size).
    """

    def __init__(self, model, context: int | None = None, keep: int | None = None, streams: int = 64,
                 min_chunk: int = 256, threads: int = 1, start_byte: int = 10, progress: bool = False,
                 side=None, mix_lr: float = 0.05, dynamic: DynamicEval | None = None,
                 fallback: bool = True, adaptive: AdaptiveConfig | None = AdaptiveConfig()):
        config = getattr(model, "config", None)
        if config is None or getattr(config, "vocab_size", None) != 256:
            raise ValueError("LMCompressor needs a byte-level GPT (config.vocab_size == 256), got "
                             f"vocab_size={getattr(config, 'vocab_size', None)}; build it with GPTConfig(vocab_size=256)")
        context = config.max_len if context is None else context
        if not 1 <= context <= min(config.max_len, 65535):
            raise ValueError(f"context must lie in 1..{config.max_len} (the model's max_len), got {context}")
        keep = max(1, context // 2) if keep is None else keep
        if not 1 <= keep <= context:
            raise ValueError(f"keep must lie in 1..context={context}, got {keep}")
        if not 1 <= streams <= 65535 or min_chunk < 1:
            raise ValueError(f"streams must lie in 1..65535 and min_chunk >= 1, got {streams}, {min_chunk}")
        if not 1 <= threads <= 255 or not 0 <= start_byte <= 255:
            raise ValueError(f"threads must lie in 1..255 and start_byte in 0..255, got {threads}, {start_byte}")
        if side is not None and not all(hasattr(side, a) for a in ("probs", "context_bytes", "fingerprint")):
            raise ValueError("side must have probs(context: bytes) -> (256,) array, context_bytes and "
                             "fingerprint(), e.g. llmbook_lib.compress.ngram.ByteNGram(train_bytes)")
        if not 0 < mix_lr < 1e6:
            raise ValueError(f"mix_lr must be positive, got {mix_lr}")
        if dynamic is not None and not dynamic.valid_for(config.max_len):
            raise ValueError(f"DynamicEval needs lr > 0, every in 1..65535 and window in 1..{config.max_len} "
                             f"(the model's max_len), got {dynamic}")
        self.model, self.context, self.keep = model, context, keep
        self.streams, self.min_chunk, self.threads = streams, min_chunk, threads
        self.start_byte, self.progress = start_byte, progress
        self.side, self.mix_lr = side, f32(mix_lr)
        self.dynamic = None if dynamic is None else DynamicEval(f32(dynamic.lr), dynamic.every, dynamic.window)
        self.fingerprint = model_fingerprint(model)
        self.fallback = fallback
        if adaptive is not None and not isinstance(adaptive, AdaptiveConfig):
            raise ValueError(f"adaptive must be an AdaptiveConfig or None, got {type(adaptive).__name__}")
        # as stored in the blob (lr as float32), so both directions use the same numbers
        self.adaptive = None if adaptive is None else AdaptiveConfig.unpack_from(adaptive.pack(), 0)
        self.stats: dict = {}

    # -- shared by both directions
    def _header(self, data: bytes) -> BlobHeader:
        """The header that ``compress(data)`` writes: this compressor's settings."""
        n = len(data)
        return BlobHeader(self.fingerprint, n, StreamLayout.count(n, self.streams, self.min_chunk), self.context,
                          self.keep, self.threads, self.start_byte, hashlib.sha256(data).digest()[:8],
                          side_fingerprint(self.side), self.mix_lr if self.side is not None else 0.0, self.dynamic,
                          adaptive=self.adaptive)

    def _check(self, header: BlobHeader) -> None:
        """Raise ``ValueError`` unless this compressor can decode a blob with ``header``."""
        if header.fingerprint != self.fingerprint:
            raise ValueError(f"blob was compressed with a different model (fingerprint {header.fingerprint.hex()}, "
                             f"this model is {self.fingerprint.hex()}); decompress with the same weights")
        mine, theirs = side_fingerprint(self.side), header.side_fingerprint
        if theirs != mine:
            need = "no side model" if theirs is None else f"the side model with fingerprint {theirs.hex()}"
            have = "none" if mine is None else mine.hex()
            raise ValueError(f"blob was compressed with {need}, this compressor has {have}; "
                             "pass the same side= (e.g. the same ByteNGram) to decompress")
        header.check(self.model.config.max_len)

    @contextlib.contextmanager
    def _coding(self, threads: int):
        with eval_mode(self.model), torch_threads(threads), torch.no_grad():
            yield

    def _predictor(self, header: BlobHeader, layout: StreamLayout) -> Predictor | None:
        """The predictor for one call; build it inside ``_coding`` (a dynamic-evaluation copy of
        the model must be taken in eval mode)."""
        if not layout.lengths:
            return None
        adaptive = None if header.adaptive is None else AdaptiveModel(header.adaptive, header.streams,
                                                                      header.length, header.start_byte)
        return Predictor(self.model, header.context, header.keep, self.side, header.mix_lr, header.dynamic,
                         min(layout.lengths), adaptive)

    def _steps(self, predictor: Predictor | None, layout: StreamLayout, hist: torch.Tensor, hist_np: np.ndarray,
               desc: str):
        """Yield ``(t, active, cdf)`` for every coding step; the caller makes sure column ``t + 1``
        of ``hist`` and ``hist_np`` holds the step's bytes before asking for the next step."""
        bar = tqdm(total=sum(layout.lengths), desc=desc, unit="B", unit_scale=True, disable=not self.progress,
                   leave=False)
        for t in range(layout.steps):
            active = layout.active(t)                  # longer chunks come first
            cdf = predictor.predict(t, hist, hist_np, active)
            bar.update(active)
            yield t, active, cdf
            predictor.observe(t, hist, hist_np, hist_np[:active, t + 1].astype(np.int64))
        bar.close()

    def compress(self, data: bytes) -> bytes:
        data = bytes(data)
        t0 = time.perf_counter()
        header = self._header(data)
        layout = header.layout()
        hist_np = layout.split(data, header.start_byte)
        hist = torch.from_numpy(hist_np).long().to(next(self.model.parameters()).device)
        enc, ideal = ArithmeticEncoder(), 0.0
        with self._coding(header.threads):
            predictor = self._predictor(header, layout)
            for t, active, cdf in self._steps(predictor, layout, hist, hist_np, "压缩"):
                sym = hist[:active, t + 1:t + 2]
                lo = cdf[:active].gather(1, sym)
                hi = cdf[:active].gather(1, sym + 1)
                ideal += float(torch.log2((hi - lo).double()).sum())
                for a, b in zip(lo.view(-1).tolist(), hi.view(-1).tolist()):
                    enc.encode_range(a, b, 1 << FREQ_BITS)
        n = len(data)
        payload = enc.finish() if n else b""
        blob = lm_blob = write_blob(header, payload)
        if self.fallback and n:
            for coder, body in (("xz", lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)), ("stored", data)):
                other = write_blob(replace(header, coder=coder, adaptive=None), body)       # no model settings
                if len(other) < len(blob):
                    blob, payload = other, body
        seconds = time.perf_counter() - t0
        self.stats = {"original_bytes": n, "compressed_bytes": len(blob), "header_bytes": len(blob) - len(payload),
                      "coder": read_blob(blob)[0].coder, "lm_bytes": len(lm_blob),
                      "streams": header.streams, "ideal_bits": n * FREQ_BITS - ideal if n else 0.0,
                      "bits_per_byte": 8 * len(blob) / n if n else float("nan"),
                      "seconds": seconds, "kb_per_s": n / 1000 / seconds,
                      "mix_weight": predictor.weight if predictor and self.side is not None else None,
                      "dynamic_updates": predictor.updates if predictor else 0,
                      "adaptive": header.adaptive is not None}
        return blob

    def _unwrap(self, header: BlobHeader, payload: bytes, t0: float, size: int) -> bytes:
        """The original bytes of a blob whose payload the model did not code."""
        try:
            out = payload if header.coder == "stored" else lzma.decompress(payload)
        except lzma.LZMAError:
            raise ValueError("the blob's xz payload is corrupted") from None
        if len(out) != header.length or hashlib.sha256(out).digest()[:8] != header.digest:
            raise ValueError(f"the blob's {header.coder} payload fails the checksum: corrupted blob")
        seconds = time.perf_counter() - t0
        self.stats = {"original_bytes": len(out), "compressed_bytes": size, "coder": header.coder,
                      "seconds": seconds, "kb_per_s": len(out) / 1000 / seconds if seconds else float("nan")}
        return out

    def decompress(self, blob: bytes) -> bytes:
        t0 = time.perf_counter()
        header, payload = read_blob(blob)
        if header.coder != "lm":                   # stored or xz: no model needed
            return self._unwrap(header, payload, t0, len(blob))
        self._check(header)
        layout = header.layout()
        device = next(self.model.parameters()).device
        hist_np = layout.empty(header.start_byte)
        hist = torch.from_numpy(hist_np).long().to(device)
        dec = ArithmeticDecoder(payload)
        with self._coding(header.threads):
            predictor = self._predictor(header, layout)
            for t, active, cdf in self._steps(predictor, layout, hist, hist_np, "解压"):
                syms = np.array([dec.decode(row) for row in cdf[:active].tolist()], dtype=np.int64)
                hist_np[:active, t + 1] = syms
                hist[:active, t + 1] = torch.from_numpy(syms).to(device)
        out = layout.join(hist_np)
        if hashlib.sha256(out).digest()[:8] != header.digest:
            raise ValueError("decompressed bytes fail the checksum: this model computed different "
                             "probabilities than when compressing (another machine, torch version or BLAS?) "
                             "or the blob is corrupted")
        seconds = time.perf_counter() - t0
        n = header.length
        self.stats = {"original_bytes": n, "compressed_bytes": len(blob), "streams": header.streams,
                      "coder": "lm", "seconds": seconds, "kb_per_s": n / 1000 / seconds if seconds else float("nan"),
                      "adaptive": header.adaptive is not None}
        return out
