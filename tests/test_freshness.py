"""`make fresh`: a notebook whose library, weights or code changed since it was executed is
named as stale; nothing else is."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import freshness  # noqa: E402


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A copy of the library and manifest, and one small notebook, in a private root."""
    lib = tmp_path / "llmbook_lib"
    shutil.copytree(freshness.LIBRARY, lib,
                    ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"))
    nb_dir = tmp_path / "notebooks" / "01"
    nb_dir.mkdir(parents=True)
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# 标题"]},
                    {"cell_type": "code", "execution_count": None, "metadata": {},
                     "outputs": [], "source": ["print(1)"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (nb_dir / "a.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    monkeypatch.setattr(freshness, "ROOT", tmp_path)
    monkeypatch.setattr(freshness, "LIBRARY", lib)
    monkeypatch.setattr(freshness, "MANIFEST", lib / "weights" / "manifest.json")
    freshness.main(["stamp"])
    return tmp_path


def test_stamped_notebook_is_fresh(book, capsys):
    assert freshness.main(["check"]) == 0
    assert "all 1 notebooks are fresh" in capsys.readouterr().out


def test_one_changed_library_line_makes_it_stale(book, capsys):
    module = book / "llmbook_lib" / "models" / "attention.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n# one more line\n",
                      encoding="utf-8")
    assert freshness.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "stale: notebooks/01/a.ipynb" in out and "llmbook_lib/" in out
    assert "make execute NOTEBOOKS=notebooks/01/a.ipynb" in out


def test_changed_code_cell_or_manifest_makes_it_stale(book, capsys):
    path = book / "notebooks" / "01" / "a.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = ["# 另一个标题"]          # markdown: outputs unaffected
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert freshness.main(["check"]) == 0
    nb["cells"][1]["source"] = ["print(2)"]
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert freshness.main(["check"]) == 1
    assert "its code cells" in capsys.readouterr().out
    freshness.main(["stamp"])
    manifest = book / "llmbook_lib" / "weights" / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert freshness.main(["check"]) == 1
    assert "the weights manifest" in capsys.readouterr().out


def test_unstamped_notebook_is_stale(book, capsys):
    path = book / "notebooks" / "01" / "a.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    del nb["metadata"]["llmbook"]
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert freshness.main(["check"]) == 1
    assert "never stamped" in capsys.readouterr().out


def test_stamp_records_how_long_the_run_took(book):
    import time

    path = book / "notebooks" / "01" / "a.ipynb"
    assert freshness.main(["stamp", str(path), "--started", str(time.time() - 12.0)]) == 0
    done = json.loads(path.read_text(encoding="utf-8"))["metadata"]["llmbook"]["executed"]
    assert 12.0 <= done["seconds"] < 60 and done["cpus"] >= 1 and done["torch"]
    assert freshness.main(["check"]) == 0
