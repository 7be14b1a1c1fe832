"""llmbook_lib: the small shared library of 大语言模型应用指南.

Subpackages, one per layer of the book, each importing only the layers listed before it
(``tests/test_layout.py`` checks this on every import in the library):

- ``runtime``   devices, seeding, ``eval_mode``, atomic safetensors checkpoints;
- ``text``      tokenizers (char, byte, BPE), ``SpecialVocab`` and its ids;
- ``data``      real corpora that load offline, splits, batch samplers, pretraining data, the
                synthetic world;
- ``models``    attention, positions, layers, GPT and encoder-decoder, the BERT-style encoder,
                the real MiniLM, sampling and beam search;
- ``training``  the training loop, evaluation, resumable checkpoints;
- ``tasks``     task heads, LoRA, a CRF: pretrained models turned into applications;
- ``hub``       recipes and shipped weights: ``pretrained(name)``;
- ``compress``  arithmetic coding, n-grams and the LM compressor;
- ``finetune``  the command line that fine-tunes a shipped encoder on the reader's own data;
- ``viz``       plots, the attention explorer, the cloze widget.

The modules kept the names they had when the library was flat, and those import paths still
work: ``llmbook_lib.transformer`` IS ``llmbook_lib.models.transformer`` (the same module object),
and likewise for every name in ``MOVED``. Nothing in the library downloads data or weights.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# Flat module name -> its home since the library was grouped into layers.
MOVED = {
    "device": "runtime.device",
    "checkpoint": "runtime.checkpoint",
    "tokenize": "text.tokenize",
    "bpe": "text.bpe",
    "attention": "models.attention",
    "position": "models.position",
    "layers": "models.layers",
    "transformer": "models.transformer",
    "bertlike": "models.bertlike",
    "bert": "models.minilm",
    "sampling": "models.sampling",
    "decoding": "models.decoding",
    "pretrain": "data.pretraining",
    "train": "training.train",
    "arithmetic": "compress.arithmetic",
    "ngram": "compress.ngram",
    "explorer": "viz.explorer",
    "cloze": "viz.cloze",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``llmbook_lib.<old>`` to the module now at ``llmbook_lib.<MOVED[old]>``."""

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(f"{__name__}.{MOVED[spec.name.partition('.')[2]]}")
        self._own = {k: getattr(module, k) for k in _OWN if hasattr(module, k)}
        return module

    def exec_module(self, module):
        # already executed under its own name; the import system has just stamped the alias's
        # name, spec and loader on it: give the module back its own
        for k, v in self._own.items():
            setattr(module, k, v)


_OWN = ("__name__", "__spec__", "__loader__", "__package__", "__file__")


if not any(isinstance(f, _Alias) for f in sys.meta_path):
    sys.meta_path.insert(0, _Alias())


def __getattr__(name: str):
    # ``import llmbook_lib; llmbook_lib.transformer`` without importing it first
    if name in MOVED:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
