"""The models layer: attention, positions, layers, the GPT and the encoder-decoder
(``transformer``), the book's BERT-style encoder (``bertlike``), the real pretrained MiniLM
(``minilm``), and decoding (``sampling`` for GPTs, ``decoding`` for sequence-to-sequence).

Imports ``runtime``, ``text`` and ``data`` (the pretraining objectives), never a layer above.
"""
