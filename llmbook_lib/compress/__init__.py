"""Lossless compression with a language model: an LM-driven compressor for byte-level GPTs,
and the classical baselines (gzip, bz2, xz, zstd).

A model that assigns probability q(x) to the next byte can code it in -log2 q(x) bits; the
exact integer arithmetic coder in ``llmbook_lib.compress.arithmetic`` realises that to within a few bits
for the whole message. So a better predictor is a better compressor, and cross-entropy in bits
per byte IS the compressed size.

**Determinism of the model (the real pitfall).** The frequencies come from floating-point
logits, and float results depend on the exact computation: a batched forward over the whole
sequence (the fast way to *encode*) and a token-by-token forward (the only way to *decode*)
give logits that differ in the last bits, the quantised frequencies occasionally differ by
one, and the decoder derails. ``LMCompressor`` therefore runs ONE step function,
``Predictor.predict``, in both directions: the encoder replays the decoder's computation exactly
(same batch layout, same tensor shapes, same KV-cache schedule, same thread count, fixed with
``torch_threads``), and merely knows the answer in advance. Speed comes not from a whole-
sequence forward but from batching *independent streams*: the input is cut into ``streams``
contiguous chunks that are predicted side by side in one batch (each chunk starts from a
fresh context), and their symbols are interleaved into one arithmetic code. Each step feeds one
byte per stream to the GPT with its KV cache (``GPT.forward(..., cache=)``); a sliding context
is handled by rebuilding the cache, once it holds ``context`` bytes, from the last ``keep``
bytes (``keep == context`` gives an exact sliding window at ``context`` times the cost).

**A model knows only what it has seen.** Outside its training text (another domain, the file's
own names and repeats) a pretrained GPT predicts badly, and xz, which learns from the file
itself, wins. ``adaptive=AdaptiveConfig()`` (the default) therefore mixes the GPT with models
learned online from the very bytes being coded (``adaptive``: byte-context counts of orders 1-6
and a match model, combined with the GPT by a geometric mixer whose weights follow the code
length); their statistics are shared by all streams and updated in stream order, which the
decoder repeats.

Two optional improvements keep that rule: ``side=`` mixes in a second predictor (a byte
n-gram, ``llmbook_lib.compress.ngram``) with a weight learned online from the code length, and
``dynamic=DynamicEval(...)`` keeps training a copy of the GPT on the bytes already coded. Both
learn only from bytes the decoder already has, and the decoder repeats every update.

Identical code on a different CPU, torch version or BLAS may still round differently; the blob
stores a hash of the original bytes, so such a mismatch raises ``ValueError`` instead of
returning wrong bytes. Blobs decode reliably on the machine set-up that wrote them.

One module per concern:

- ``baselines``: gzip, bz2, xz and zstd sizes;
- ``adaptive``: the models learned from the file being coded and the mixer (``AdaptiveConfig``);
- ``predictor``: the GPT with its KV cache, the adaptive models, the side-model mixer, dynamic
  evaluation;
- ``blob``: the byte format (magic, version, fingerprints, parameters) and the stream layout;
- ``core``: ``LMCompressor``, compress and decompress built from the three above;
- ``benchmark``: ``bench`` and ``model_bytes``, for reports;
- ``cli`` (``python -m llmbook_lib.compress``): compress, decompress or bench a file.
"""

from .adaptive import AdaptiveConfig, AdaptiveModel
from .baselines import baseline_bits_per_byte, baseline_sizes
from .benchmark import bench, model_bytes
from .blob import MAGIC, VERSION, BlobHeader, StreamLayout, model_fingerprint, read_blob, write_blob
from .cli import main
from .core import LMCompressor
from .predictor import DynamicEval, Predictor, torch_threads

_Predictor = Predictor          # the name the tests knew it by

__all__ = ["AdaptiveConfig", "AdaptiveModel", "MAGIC", "VERSION", "BlobHeader", "DynamicEval", "LMCompressor", "Predictor", "StreamLayout",
           "baseline_bits_per_byte", "baseline_sizes", "bench", "main", "model_bytes", "model_fingerprint",
           "read_blob", "torch_threads", "write_blob"]
