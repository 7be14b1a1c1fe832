"""The viz layer, the top of the library: plots (``plots``: a CJK font, learning curves, glue
for numbers in the prose), the attention explorer (``explorer``) and the cloze widget (``cloze``).

``from llmbook_lib.viz import use_cjk_font, plot_history, glue, show_attention,
attention_explorer, apply_temperature`` works as before the split.
"""

from .explorer import apply_temperature, attention_explorer, show_attention
from .plots import CJK_FAMILIES, CJK_FILES, glue, plot_history, stable_format, use_cjk_font

__all__ = ["CJK_FAMILIES", "CJK_FILES", "apply_temperature", "attention_explorer", "glue", "plot_history",
           "show_attention", "stable_format", "use_cjk_font"]
