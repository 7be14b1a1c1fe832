"""The training layer: one loop (``train``) for CPU, GPU and several GPUs, with evaluation
(``evaluate``, ``validation_loss``) and checkpoints that resume exactly.

Imports only ``runtime``; the models it trains are passed in.
"""
