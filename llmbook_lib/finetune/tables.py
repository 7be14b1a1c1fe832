"""Reading the reader's files for ``python -m llmbook_lib.finetune``: CSV, TSV, JSONL or plain text.

Every row keeps its line number, so that a problem names its line. Whatever is wrong with the
input raises ``InputError``, which the command line prints as one ``error: ...`` line (exit code
2). The file is decoded as UTF-8 in one piece: the first byte that is not UTF-8 is reported with
its line (and a hint when the line reads as GBK, the usual other encoding of Chinese files).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt"}
HOLD_OUT = 10                        # without --dev, 1 text in HOLD_OUT (by hash) is dev


class InputError(Exception):
    """A problem with what the user gave: printed as one line, exit code 2."""


@dataclass
class Table:
    path: Path
    format: str                      # "csv", "tsv", "jsonl" or "txt"
    columns: list[str]
    rows: list[tuple[int, dict]]     # (line number in the file, {column: value})

    def column(self, name: str) -> list[tuple[int, object]]:
        if name not in self.columns:
            raise InputError(f"{self.path} has no column {name!r}; its columns are: "
                             f"{', '.join(map(repr, self.columns)) or '(none)'}")
        return [(line, row.get(name)) for line, row in self.rows]


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(f"cannot tell the format of {path} from its extension; name it .csv, .tsv, "
                         ".jsonl or .txt, or pass --format") from None


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8 text (a BOM is dropped), or an InputError naming the first line that is not UTF-8."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        start = raw.rfind(b"\n", 0, e.start) + 1
        end = raw.find(b"\n", e.start)
        hint = ""
        try:
            raw[start:end if end >= 0 else len(raw)].decode("gbk")
            hint = f" (it decodes as GBK: convert it, e.g. iconv -f GBK -t UTF-8 {path.name} > utf8-{path.name})"
        except UnicodeDecodeError:
            pass
        raise InputError(f"{path} line {line} is not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte "
                         f"{e.start - start + 1} of the line); save the file as UTF-8{hint}") from None


def read_table(path: str | os.PathLike, fmt: str | None = None) -> Table:
    """The rows of a CSV / TSV / JSONL / TXT file, each with its line number (see the module doc)."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a {fmt.upper()} file")
    text = _decode(path, path.read_bytes())
    if not text.strip():
        raise InputError(f"{path} is empty")
    if fmt in ("csv", "tsv"):
        return _read_csv(path, fmt, text, "\t" if fmt == "tsv" else ",")
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    lines = enumerate(text.split("\n"), 1)
    return Table(path, fmt, ["text"], [(i, {"text": line.rstrip("\r")}) for i, line in lines if line.strip()])


def _read_csv(path: Path, fmt: str, text: str, delimiter: str) -> Table:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        rows = [(reader.line_num, {k: ("" if v is None else v) for k, v in row.items() if k is not None})
                for row in reader]      # line_num: the (last) line of the row just read
    except csv.Error as e:
        raise InputError(f"{path} line {reader.line_num} is not valid CSV ({e})") from None
    if not rows:
        raise InputError(f"{path} has a header ({', '.join(columns)}) but no rows")
    return Table(path, fmt, columns, rows)


def _read_jsonl(path: Path, text: str) -> Table:
    columns: dict[str, None] = {}
    rows = []
    for i, line in enumerate(text.split("\n"), 1):      # not splitlines: U+2028 may sit in a string
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path} line {i} is not valid JSON ({e.msg}); JSONL holds one object "
                             "per line") from None
        if not isinstance(obj, dict):
            raise InputError(f'{path} line {i} is a JSON {type(obj).__name__}, not an object like '
                             '{"text": "...", "label": "..."}')
        columns.update(dict.fromkeys(obj))
        rows.append((i, obj))
    return Table(path, "jsonl", list(columns), rows)


def texts_of(table: Table, col: str) -> list[tuple[int, str]]:
    """(line, text) of every row; a text that is not a string is an error."""
    out = []
    for line, value in table.column(col):
        if value is not None and not isinstance(value, str):
            raise InputError(f"{table.path} line {line}: column {col!r} holds a {type(value).__name__}, "
                             "not a text")
        out.append((line, (value or "").strip()))
    return out


def _labels(table: Table, col: str) -> list[str]:
    out = []
    for line, value in table.column(col):
        if isinstance(value, (dict, list)):
            raise InputError(f"{table.path} line {line}: column {col!r} holds a {type(value).__name__}, "
                             "not a label")
        out.append("" if value is None else str(value).strip())
    return out


def labelled(table: Table, text_col: str, label_col: str) -> tuple[list[str], list[str], int]:
    """(texts, labels, rows skipped because the text or the label is empty)."""
    if table.format == "txt":
        raise InputError(f"{table.path} is plain text, without labels; training needs a CSV, TSV or JSONL "
                         "file with a text and a label column")
    pairs = [(t, y) for (_, t), y in zip(texts_of(table, text_col), _labels(table, label_col))]
    kept = [(t, y) for t, y in pairs if t and y]
    if not kept:
        raise InputError(f"{table.path}: no row has both a text in {text_col!r} and a label in {label_col!r}")
    return [t for t, _ in kept], [y for _, y in kept], len(pairs) - len(kept)


def is_held_out(text: str) -> bool:
    """Dev when no --dev file is given: 1 text in HOLD_OUT, by a hash of the text (so the same
    text always falls on the same side, and duplicates never straddle train and dev)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % HOLD_OUT == 0


def _is_span(x) -> bool:
    """[start, end, "TYPE"]: two integers and a type name (no "-": it would break the BIO tags)."""
    return (isinstance(x, list) and len(x) == 3 and all(type(v) is int for v in x[:2])
            and isinstance(x[2], str) and bool(x[2]) and "-" not in x[2])


def ner_examples(table: Table, text_col: str, entities_col: str) -> list:
    """``data.ner.Example`` s from rows whose ``entities_col`` lists [start, end, type] character
    spans (end exclusive) of ``text_col``."""
    from ..data.ner import Example, spans_to_bio

    if table.format != "jsonl":
        raise InputError(f"{table.path}: NER training data is JSONL, one object per line like "
                         f'{{"{text_col}": "...", "{entities_col}": [[0, 3, "PER"]]}}')
    out = []
    for (line, text), (_, spans) in zip(table.column(text_col), table.column(entities_col)):
        if not isinstance(text, str):          # not stripped: the spans count from the first character
            raise InputError(f"{table.path} line {line}: column {text_col!r} holds a {type(text).__name__}, "
                             "not a text")
        ok = isinstance(spans, list) and all(_is_span(x) for x in spans)
        if not ok:
            raise InputError(f"{table.path} line {line}: {entities_col!r} must be a list of [start, end, "
                             f'"TYPE"] spans (character offsets, end exclusive), got {json.dumps(spans)[:80]}')
        try:
            tags = spans_to_bio(len(text), [tuple(x) for x in spans])
        except ValueError as e:
            raise InputError(f"{table.path} line {line}: {e}") from None
        if text.strip():
            out.append(Example(text, tuple(tags), tuple(tuple(x) for x in spans), line))
    if not out:
        raise InputError(f"{table.path}: no row has a text in {text_col!r}")
    return out
