"""The library's layers import only downward, and the flat import paths of old still work."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import llmbook_lib

ROOT = Path(llmbook_lib.__file__).parent
# Bottom to top: a module may import its own layer and the layers before it, never one after.
LAYERS = ["runtime", "text", "data", "models", "training", "tasks", "hub", "compress", "finetune", "viz"]


def layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "llmbook_lib" and len(parts) > 1, module
    return parts[1]


def imports_of(path: Path) -> set[str]:
    """Every llmbook_lib module that ``path`` imports, at the top or inside a function."""
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    package = module.rpartition(".")[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> set[str]:
    """The llmbook_lib modules imported by ``source``, a module of package ``package``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("llmbook_lib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("llmbook_lib"):
                # "from . import world" names a module; "from .x import name" names x
                found |= ({f"{target}.{a.name}" for a in node.names} if not node.module else {target})
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT)


def test_every_module_belongs_to_a_layer():
    assert {p.relative_to(ROOT).parts[0] for p in MODULES} <= set(LAYERS)
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["__init__.py"], "the top level holds only the package"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_layer_above_its_own(path):
    own = LAYERS.index(path.relative_to(ROOT).parts[0])
    upward = sorted(m for m in imports_of(path) if m != "llmbook_lib" and LAYERS.index(layer_of(m)) > own)
    assert not upward, f"{path.relative_to(ROOT)} ({LAYERS[own]}) imports from a layer above: {upward}"


def test_the_checker_sees_every_form_of_import():
    # the layer check can fail: each way of writing an import inside llmbook_lib.data is seen
    source = ("import llmbook_lib.viz\n"
              "from ..models.transformer import GPT\n"
              "from ..training import train\n"
              "from . import world\n"
              "def late():\n"
              "    from ..hub import pretrained\n")
    found = imports_in(source, "llmbook_lib.data")
    assert found == {"llmbook_lib.viz", "llmbook_lib.models.transformer", "llmbook_lib.training",
                     "llmbook_lib.data.world", "llmbook_lib.hub"}
    assert sorted(layer_of(m) for m in found if LAYERS.index(layer_of(m)) > LAYERS.index("data")) == [
        "hub", "models", "training", "viz"]
    assert "llmbook_lib.data.pretraining" in imports_of(ROOT / "models" / "bertlike.py")


@pytest.mark.parametrize("old, new", sorted(llmbook_lib.MOVED.items()))
def test_flat_import_paths_still_work(old, new):
    a = importlib.import_module(f"llmbook_lib.{old}")
    b = importlib.import_module(f"llmbook_lib.{new}")
    assert a is b and a.__spec__.name == f"llmbook_lib.{new}"


def test_flat_names_in_a_fresh_interpreter():
    code = ("from llmbook_lib.transformer import GPT\n"
            "import llmbook_lib.models.transformer as m\n"
            "assert GPT is m.GPT\n"
            "import llmbook_lib\n"
            "assert llmbook_lib.tokenize.CharTokenizer is llmbook_lib.text.tokenize.CharTokenizer\n"
            "from llmbook_lib.train import train, TrainConfig\n"
            "assert callable(train)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
