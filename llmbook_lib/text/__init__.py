"""The text layer: tokenizers (characters, bytes, BPE) behind one ``Tokenizer`` protocol, and
``SpecialVocab``, the one place special-token ids come from.

Imports only ``runtime``.
"""
