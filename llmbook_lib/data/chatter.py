"""Open-domain chit-chat: the ChatterBot corpus (Chinese and English), cleaned and split once.

``chatterbot-corpus`` 1.3.3 ships one YAML file per topic (``greetings.yml``, ``humor.yml``, ...)
under ``chatterbot_corpus/data/<language>/``; each holds ``categories`` and ``conversations``, a
conversation being a list of turns (user, bot, user, ...). The files are read directly with
``yaml.safe_load``; the ``chatterbot`` package itself is not needed. Chinese: 17 files, 467
conversations; English: 21 files, 2,026 conversations (half of them repeats).

Cleaning, each step counted by ``stats()``:

1. a turn that YAML did not read as a string (``yes`` -> True, ``42`` -> 42) is dropped as
   unreliable (there are none in 1.3.3, but the count says so);
2. normalise every turn: NFKC, whitespace runs to one space, strip. Chinese text then gets
   Chinese punctuation back: NFKC turns the full-width ``，？！：；（）`` into ASCII, and the
   corpus itself mixes both (``嗨，最近如何?``). ``, ? ! : ; ( )`` become full-width and ``.``
   after a Chinese character becomes ``。`` (the convention of People's Daily, on which the
   book's Chinese models were trained: their vocabulary has ``？`` but not ``?``);
3. drop the turns left empty; drop a conversation left with fewer than two turns;
4. drop exact repeats of a whole conversation (the first in file order is kept; the files are
   read in sorted order), so that no conversation is in two splits;
5. split 80/10/10 by a hash of the conversation's opening turn (casefolded): sha256 -> bucket
   0..9, 0-7 train, 8 dev, 9 test. Keying on the opening turn, not on the whole conversation,
   keeps every conversation that starts with the same words in one split: ``玩笑`` opens 47
   different jokes, ``嗨，最近如何?`` six answers. Split by whole conversation, a test context
   would sit verbatim in training with another reply, and retrieval would be scored on memory.

A conversation of n turns gives n - 1 (context, response) pairs: each turn answered by the
next; ``pairs()`` keeps only the preceding turn as context (these are single-exchange chats:
451 of the 467 Chinese conversations have two turns).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

LANGS = {"zh": "chinese", "en": "english"}
SPLITS = ("train", "dev", "test")
INSTALL_HINT = "pip install chatterbot-corpus==1.3.3"
_SPACES = re.compile(r"\s+")
_ZH_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"})
_ZH_STOP = re.compile(r"(?<=[\u3400-\u9fff])\.")     # a full stop right after a Chinese character


@dataclass(frozen=True)
class Conversation:
    category: str               # the file's topic, e.g. "greetings"
    turns: tuple[str, ...]      # cleaned, alternating speakers, at least two
    split: str                  # "train", "dev" or "test"


def check_lang(lang: str) -> str:
    """``lang`` itself if it is "zh" or "en"; a ValueError naming the choices otherwise."""
    if not isinstance(lang, str) or lang not in LANGS:
        raise ValueError(f"lang must be one of {sorted(LANGS)} (Chinese, English), got {lang!r}")
    return lang


def corpus_dir(lang: str) -> Path:
    """The folder of one language's YAML files inside the installed ``chatterbot-corpus``."""
    check_lang(lang)
    try:
        dist = importlib.metadata.distribution("chatterbot-corpus")
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the dialogue corpus package 'chatterbot-corpus' is not installed; "
                                f"run: {INSTALL_HINT}") from None
    path = Path(str(dist.locate_file(f"chatterbot_corpus/data/{LANGS[lang]}")))
    if not path.is_dir() or not any(path.glob("*.yml")):
        raise FileNotFoundError(f"{path} holds no YAML files; reinstall: pip install --force-reinstall "
                                f"chatterbot-corpus==1.3.3")
    return path


def clean_turn(text: str, lang: str) -> str:
    """One turn in the form the book uses: step 2 of the module docstring."""
    if not isinstance(text, str):
        raise TypeError(f"a turn must be a string, got {type(text).__name__}")
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    if check_lang(lang) == "zh":
        text = _ZH_STOP.sub("。", text.translate(_ZH_PUNCT))
    return text


def split_of(opening: str) -> str:
    """The split of a conversation from its cleaned opening turn: sha256 bucket of the casefolded
    text, 0-7 train, 8 dev, 9 test."""
    digest = hashlib.sha256(opening.casefold().encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


def _read(lang: str) -> list[tuple[str, list]]:
    import yaml                                  # a dependency of the corpus only

    out = []
    for path in sorted(corpus_dir(lang).glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out.append((path.stem, list(doc.get("conversations") or [])))
    return out


@functools.lru_cache(maxsize=None)
def _load(lang: str) -> tuple[tuple[Conversation, ...], dict]:
    counts = Counter()
    seen: set[tuple[str, ...]] = set()
    kept = []
    files = _read(lang)
    for category, convs in files:
        for conv in convs:
            counts["raw_conversations"] += 1
            turns = []
            for turn in conv:
                counts["raw_turns"] += 1
                if not isinstance(turn, str):
                    counts["non_string_turns"] += 1
                    continue
                cleaned = clean_turn(turn, lang)
                counts["changed_turns"] += cleaned != turn
                if not cleaned:
                    counts["empty_turns"] += 1
                    continue
                turns.append(cleaned)
            if len(turns) < 2:
                counts["short_conversations"] += 1
                continue
            key = tuple(turns)
            if key in seen:
                counts["duplicate_conversations"] += 1
                continue
            seen.add(key)
            kept.append(Conversation(category, key, split_of(turns[0])))
    counts["files"] = len(files)
    return tuple(kept), dict(counts)


def conversations(lang: str, split: str | None = None) -> list[Conversation]:
    """The cleaned conversations of one language (all, or one split), in file order."""
    convs, _ = _load(check_lang(lang))
    if split is None:
        return list(convs)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    return [c for c in convs if c.split == split]


def pairs(lang: str, split: str) -> list[tuple[str, str]]:
    """(context, response) pairs of one split: every turn answered by the next one."""
    return [(c.turns[i], c.turns[i + 1]) for c in conversations(lang, split) for i in range(len(c.turns) - 1)]


def chat_splits(lang: str) -> dict[str, list[tuple[str, str]]]:
    """{"train": pairs, "dev": pairs, "test": pairs} for one language."""
    return {s: pairs(lang, s) for s in SPLITS}


def stats(lang: str) -> dict:
    """What was read, what each cleaning step dropped, and what each split holds."""
    convs, counts = _load(check_lang(lang))
    out = {"files": counts["files"], "raw_conversations": counts.get("raw_conversations", 0),
           "raw_turns": counts.get("raw_turns", 0)}
    for key in ("non_string_turns", "changed_turns", "empty_turns", "short_conversations",
                "duplicate_conversations"):
        out[key] = counts.get(key, 0)
    out["conversations"] = len(convs)
    out["categories"] = dict(sorted(Counter(c.category for c in convs).items(), key=lambda kv: (-kv[1], kv[0])))
    for s in SPLITS:
        part = [c for c in convs if c.split == s]
        out[f"{s}_conversations"] = len(part)
        out[f"{s}_pairs"] = sum(len(c.turns) - 1 for c in part)
    return out
