"""``python -m llmbook_lib.compress ...``: see ``llmbook_lib.compress.cli``."""

from .cli import main

raise SystemExit(main())
