"""Every third-party package that llmbook_lib imports is declared in pyproject.toml, or its
import is guarded (an ImportError that degrades gracefully or says what to pip install), so a
Colab `pip install` of the package cannot miss one."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[\s<>=!~\[;@]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in project["dependencies"]}


def third_party_imports() -> list[tuple[str, Path, int, bool]]:
    """(top-level module, file, line, guarded by `except ImportError`) for every import."""
    found = []
    for path in sorted((ROOT / "llmbook_lib").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name)
                    and h.type.id in {"ImportError", "ModuleNotFoundError"}
                    for h in node.handlers):
                guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "llmbook_lib" and top not in sys.stdlib_module_names:
                    found.append((top, path.relative_to(ROOT), node.lineno, id(node) in guarded))
    return found


def test_every_unguarded_import_is_declared():
    declared = declared_distributions()
    providers = importlib.metadata.packages_distributions()
    missing = []
    for module, path, line, guarded in third_party_imports():
        dists = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not guarded and not dists & declared:
            missing.append(f"{path}:{line} imports {module} (pip: {', '.join(sorted(dists))})")
    assert not missing, "declare these in pyproject.toml [project] dependencies:\n" + "\n".join(missing)


def test_the_check_sees_the_library_imports():
    modules = {m for m, *_ in third_party_imports()}
    assert {"torch", "numpy", "tokenizers", "safetensors"} <= modules
    guarded = {m for m, _, _, g in third_party_imports() if g}
    assert "transformers" in guarded          # bert.py raises with an install hint
