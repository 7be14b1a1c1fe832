"""llmbook_lib: the small shared library of 大语言模型应用指南.

One module per idea: ``device``, ``tokenize``, ``attention``, ``transformer``, ``data``,
``train``, ``checkpoint``, ``hub`` and ``viz``. Notebooks import from here; nothing in the
library downloads data or weights.
"""

__version__ = "0.1.0"
