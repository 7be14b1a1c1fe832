"""The models layer: attention, positions, layers, the GPT and the encoder-decoder
(``transformer``), the book's BERT-style encoder (``bertlike``), the real pretrained MiniLM
(``minilm``), decoding (``sampling`` for GPTs, ``decoding`` for sequence-to-sequence), and
arithmetic about models: parameter counts on the meta device (``sizing``) and FLOP, memory and
time estimates (``compute``).

Imports ``runtime``, ``text`` and ``data`` (the pretraining objectives), never a layer above.
"""
