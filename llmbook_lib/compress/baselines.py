"""The classical compressors an LM compressor is measured against: gzip, bz2, xz and zstd.

Sizes include each format's container header, as a file on disk would; zstd counts only when
the ``zstandard`` package is installed.
"""

from __future__ import annotations

import bz2
import gzip
import lzma


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
