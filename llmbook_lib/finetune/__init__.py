"""Fine-tune a shipped encoder on the reader's own labelled texts, from the command line.

    python -m llmbook_lib.finetune classify --train my.csv --text-col text --label-col label \\
        [--dev dev.csv] [--base bert-zh-mlm] [--lora R] [--steps N] [--out model.safetensors]
    python -m llmbook_lib.finetune ner --train spans.jsonl [--dev dev.jsonl] [--head crf|linear]
    python -m llmbook_lib.finetune predict --model model.safetensors --input texts.csv

``classify`` trains a ``tasks.classifier.TextClassifier`` on ``hub.pretrained(base)`` and writes
the model (safetensors, atomically) and a JSON report of its dev metrics beside it; ``ner`` does
the same for a ``tasks.tagger.NERModel`` from lines like ``{"text": "...", "entities": [[0, 3,
"PER"]]}``; ``predict`` prints one JSON line per input text (a label, or the entities).
Problems with the input (a missing file or column, one class only, a line that is not UTF-8)
are reported in one line, exit code 2, no traceback.
"""

from .cli import main
from .tables import InputError, read_table

__all__ = ["InputError", "main", "read_table"]
