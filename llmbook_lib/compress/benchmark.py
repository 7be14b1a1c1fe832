"""Measuring an ``LMCompressor``: bits per byte next to the classical baselines, with speeds.

Kept out of the compressor itself: ``bench`` is what ``bench/compress.py`` and the command
line's ``bench`` report, ``model_bytes`` what a fair comparison adds for the model's weights.
"""

from __future__ import annotations

import torch

from .baselines import baseline_bits_per_byte
from .core import LMCompressor


def model_bytes(model: torch.nn.Module, bytes_per_param: int = 4) -> int:
    """Size of the unique weights (tied ones counted once), as the decompressor must store them."""
    seen, total = set(), 0
    for p in model.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            total += p.numel() * bytes_per_param
    return total


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
