"""The runtime layer: devices, seeding, eval mode, and atomic safetensors checkpoints.

Imports nothing else from ``llmbook_lib``; every other layer may import it.
"""
