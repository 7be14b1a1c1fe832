"""The tasks layer: what turns a pretrained model into an application: task heads, LoRA, a CRF,
and the task models a reader can call (``predict``), trained by the fine-tuning code here.

Imports ``runtime``, ``text``, ``data``, ``models`` and ``training``; the base model is passed
in (``hub`` sits above and ships the trained task models).
"""
