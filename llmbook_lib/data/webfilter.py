"""Filtering web text the way C4, Gopher and FineWeb did: language, quality, repetition, PII.

Each rule set returns the *reasons* a document fails (an empty list: it passes), so a pipeline
can count what each rule removes. Thresholds are the published ones, gathered in frozen
dataclasses with their source; where a rule assumes English (spaces between words, English stop
words) the Chinese variant is marked ``# zh:`` and is this book's adaptation, not a published rule.

- ``script_of`` / ``script_shares``: the Unicode script of each letter (Han, Latin, Cyrillic...).
- ``NaiveBayesLangID``: a character 1-3-gram multinomial naive Bayes language identifier.
- ``c4_clean``: C4's line and page rules (Raffel et al., 2020, section 2.2).
- ``gopher_quality`` / ``gopher_repetition``: MassiveText's quality and repetition rules
  (Rae et al., 2021, appendix A.1.1).
- ``fineweb_lines``: two of FineWeb's line rules (Penedo et al., 2024).
- ``scrub_pii``: e-mail addresses, phone numbers and Chinese resident ID numbers (with their
  check digit) replaced by placeholders.
Near-duplicate removal (MinHash) lives in ``cleaning``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# ---- scripts ------------------------------------------------------------------------------
_SCRIPT_RANGES = [            # (first, last, name): the blocks a web crawl mostly meets
    (0x0041, 0x024F, "Latin"), (0x0370, 0x03FF, "Greek"), (0x0400, 0x052F, "Cyrillic"),
    (0x0590, 0x05FF, "Hebrew"), (0x0600, 0x06FF, "Arabic"), (0x0900, 0x097F, "Devanagari"),
    (0x3040, 0x30FF, "Kana"), (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"),
    (0xAC00, 0xD7AF, "Hangul"), (0xF900, 0xFAFF, "Han"),
]


def script_of(ch: str) -> str | None:
    """The script of a letter ("Han", "Latin", "Cyrillic", ...), "Other" for a letter outside
    the table, None for digits, punctuation and spaces."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    for first, last, name in _SCRIPT_RANGES:
        if first <= cp <= last:
            return name
    return "Other"


def script_shares(text: str) -> dict[str, float]:
    """Share of the text's letters in each script, largest first ({} for a text with no letter)."""
    counts = Counter(s for s in map(script_of, text) if s is not None)
    total = sum(counts.values())
    return {s: n / total for s, n in counts.most_common()}


# ---- language identification --------------------------------------------------------------
def char_ngrams(text: str, n_max: int = 3, limit: int | None = 1000) -> Counter:
    """Counts of the character 1..n_max-grams of the lower-cased text (its first ``limit``
    characters), with a space at both ends so that word beginnings and endings count."""
    t = " " + " ".join(text[:limit].lower().split()) + " "
    return Counter(t[i:i + n] for n in range(1, n_max + 1) for i in range(len(t) - n + 1))


class NaiveBayesLangID:
    """Multinomial naive Bayes over character n-grams (the idea behind langid.py and the
    character n-gram models of Cavnar & Trenkle, 1994): log P(lang | text) = log P(lang) +
    sum over the text's n-grams g of count(g) * log P(g | lang), with add-``alpha`` smoothing.
    Unseen n-grams get the smoothed floor of each language. With a large n-gram table (about
    200k entries for four languages) a large ``alpha`` swamps a language with little training
    text, so the default is small."""

    def __init__(self, n_max: int = 3, alpha: float = 0.01, limit: int | None = 1000):
        self.n_max, self.alpha, self.limit = n_max, alpha, limit

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "NaiveBayesLangID":
        self.labels = sorted(set(labels))
        counts = {lab: Counter() for lab in self.labels}
        for text, lab in zip(texts, labels):
            counts[lab].update(char_ngrams(text, self.n_max, self.limit))
        vocab = sorted(set().union(*counts.values()))
        self.index = {g: i for i, g in enumerate(vocab)}
        table = np.array([[counts[lab][g] for g in vocab] for lab in self.labels], dtype=float)
        table += self.alpha
        self.log_prob = np.log(table / table.sum(1, keepdims=True))      # (L, V)
        docs = Counter(labels)
        self.log_prior = np.log(np.array([docs[lab] for lab in self.labels]) / len(labels))
        return self

    def scores(self, text: str) -> np.ndarray:
        """Unnormalised log posterior of each language, shape (L,)."""
        grams = char_ngrams(text, self.n_max, self.limit)
        idx = [self.index[g] for g in grams if g in self.index]
        cnt = np.array([grams[g] for g in grams if g in self.index], dtype=float)
        return self.log_prior + (self.log_prob[:, idx] @ cnt if idx else 0.0)

    def predict_proba(self, text: str) -> dict[str, float]:
        s = self.scores(text)
        p = np.exp(s - s.max())
        return dict(zip(self.labels, (p / p.sum()).tolist()))

    def predict(self, text: str) -> tuple[str, float]:
        """(most probable language, its posterior probability)."""
        proba = self.predict_proba(text)
        lab = max(proba, key=proba.get)
        return lab, proba[lab]


# ---- words and lines ----------------------------------------------------------------------
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def words(text: str, lang: str = "en") -> list[str]:
    """Whitespace-separated words; zh: every Han character is one "word" and the runs of other
    non-space characters between them are words too (Chinese has no spaces between words)."""
    if lang == "zh":
        return re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+",
                          text)
    return text.split()


TERMINAL = (".", "!", "?", '"', "'", "”", "’")     # C4: period, !, ?, or an end quotation mark
TERMINAL_ZH = ("。", "！", "？", "”", "’", "」", "』", "…")   # zh: the full-width forms


@dataclass(frozen=True)
class C4Rules:
    """Raffel et al. (2020), section 2.2 (the rules used to build C4 from Common Crawl)."""
    min_words_per_line: int = 5        # keep only lines with at least 5 words
    min_sentences: int = 3             # discard pages with fewer than 3 sentences
    min_chars_per_line_zh: int = 10    # zh: our stand-in for "5 words" (about 2 characters a word)


def _sentences(text: str) -> int:
    # a Chinese sentence end needs no space after it
    return len(re.findall(r"[。！？]+|[.!?]+(?=[\s\"'”’」』\u4e00-\u9fff]|$)", text))


def c4_clean(text: str, lang: str = "en", rules: C4Rules = C4Rules()) -> tuple[str, list[str]]:
    """C4's rules: keep only lines that end in terminal punctuation and have at least 5 words,
    drop any line mentioning "javascript"; then fail the page if it has fewer than 3 sentences,
    contains "lorem ipsum" or a curly bracket. Returns (kept text, reasons the page fails).
    Not applied here: the list of bad words (not shipped offline) and the 3-sentence-span
    deduplication (MinHash stands in for it)."""
    kept = []
    for line in text.split("\n"):
        s = line.strip()
        if not s or "javascript" in s.lower():
            continue
        if lang == "zh":
            ok = s.endswith(TERMINAL_ZH + TERMINAL) and len(s) >= rules.min_chars_per_line_zh
        else:
            ok = s.endswith(TERMINAL) and len(s.split()) >= rules.min_words_per_line
        if ok:
            kept.append(s)
    out = "\n".join(kept)
    reasons = []
    if _sentences(out) < rules.min_sentences:
        reasons.append("c4_few_sentences")
    if "lorem ipsum" in text.lower():
        reasons.append("c4_lorem_ipsum")
    if "{" in text or "}" in text:
        reasons.append("c4_curly_bracket")
    return out, reasons


@dataclass(frozen=True)
class GopherRules:
    """Rae et al. (2021), appendix A.1.1, quality filters of MassiveText."""
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_len: float = 3.0
    max_mean_word_len: float = 10.0
    max_symbol_word_ratio: float = 0.1       # "#" per word, and ellipses per word
    max_bullet_lines: float = 0.9            # share of lines starting with a bullet point
    max_ellipsis_lines: float = 0.3          # share of lines ending in an ellipsis
    min_alpha_words: float = 0.8             # share of words with at least one alphabetic character
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
    min_stop_words: int = 2
    # zh: our adaptation. Length in characters (about 2 per word), no mean-word-length rule,
    # and common function characters standing in for the English stop words.
    min_chars_zh: int = 100
    max_chars_zh: int = 200_000
    stop_words_zh: tuple[str, ...] = ("的", "了", "是", "在", "和", "有", "不", "这", "也", "就")


_BULLET = re.compile(r"^\s*[•·●▪‣◦\-*–]\s")


def gopher_quality(text: str, lang: str = "en", rules: GopherRules = GopherRules()) -> list[str]:
    """The reasons ``text`` fails Gopher's quality rules (an empty list: it passes)."""
    reasons = []
    ws = words(text, lang)
    n = max(len(ws), 1)
    if lang == "zh":
        chars = len(re.sub(r"\s", "", text))
        if not rules.min_chars_zh <= chars <= rules.max_chars_zh:
            reasons.append("gopher_length")
    else:
        if not rules.min_words <= len(ws) <= rules.max_words:
            reasons.append("gopher_length")
        mean_len = sum(map(len, ws)) / n
        if not rules.min_mean_word_len <= mean_len <= rules.max_mean_word_len:
            reasons.append("gopher_word_length")
    ellipses = text.count("...") + text.count("…")
    if max(text.count("#"), ellipses) / n > rules.max_symbol_word_ratio:   # each symbol on its own
        reasons.append("gopher_symbols")
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if lines and sum(bool(_BULLET.match(ln)) for ln in lines) / len(lines) > rules.max_bullet_lines:
        reasons.append("gopher_bullets")
    if lines and sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines) > rules.max_ellipsis_lines:
        reasons.append("gopher_ellipsis")
    if sum(any(c.isalpha() for c in w) for w in ws) / n < rules.min_alpha_words:
        reasons.append("gopher_alpha")
    stop = rules.stop_words_zh if lang == "zh" else rules.stop_words
    present = set(ws) if lang == "zh" else {w.lower().strip(".,;:!?\"'()") for w in ws}
    if len(present.intersection(stop)) < rules.min_stop_words:
        reasons.append("gopher_stop_words")
    return reasons


@dataclass(frozen=True)
class GopherRepetitionRules:
    """Rae et al. (2021), appendix A.1.1, repetition removal (its table of thresholds)."""
    max_dup_line_frac: float = 0.30          # share of lines that repeat an earlier line
    max_dup_para_frac: float = 0.30
    max_dup_line_char_frac: float = 0.20     # share of characters in repeated lines
    max_dup_para_char_frac: float = 0.20
    # the most frequent n-gram's characters, as a share of all word characters, n = 2, 3, 4
    top_ngram: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    # characters inside n-grams that occur more than once, n = 5..10
    dup_ngram: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12),
                                                (9, 0.11), (10, 0.10))


def _dup_fraction(parts: list[str]) -> tuple[float, float]:
    """(share of parts equal to an earlier part, share of characters in those parts)."""
    seen, dup, dup_chars = set(), 0, 0
    for p in parts:
        if p in seen:
            dup, dup_chars = dup + 1, dup_chars + len(p)
        seen.add(p)
    total_chars = sum(map(len, parts))
    return dup / max(len(parts), 1), dup_chars / max(total_chars, 1)


def gopher_repetition(text: str, lang: str = "en",
                      rules: GopherRepetitionRules = GopherRepetitionRules()) -> list[str]:
    """The reasons ``text`` fails Gopher's repetition rules (an empty list: it passes).
    zh: the n-grams are over characters, and n is doubled (a Chinese word averages about two
    characters, so a 5-word n-gram is about 10 characters); our adaptation."""
    reasons = []
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    line_frac, line_chars = _dup_fraction(lines)
    para_frac, para_chars = _dup_fraction(paras)
    if line_frac > rules.max_dup_line_frac:
        reasons.append("rep_dup_lines")
    if para_frac > rules.max_dup_para_frac:
        reasons.append("rep_dup_paras")
    if line_chars > rules.max_dup_line_char_frac:
        reasons.append("rep_dup_line_chars")
    if para_chars > rules.max_dup_para_char_frac:
        reasons.append("rep_dup_para_chars")
    ws = words(text, lang) if lang == "zh" else [w.lower() for w in text.split()]
    total = sum(map(len, ws))
    if total == 0:
        return reasons
    _, ids = np.unique(np.array(ws, dtype=object), return_inverse=True)
    ids = ids.astype(np.uint64) + np.uint64(1)
    lens = np.array([len(w) for w in ws])
    scale = 2 if lang == "zh" else 1
    for n, limit in rules.top_ngram:
        n *= scale
        keys = _ngram_keys(ids, n)
        if len(keys):
            uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
            top = np.argmax(counts)
            if counts[top] > 1 and lens[first[top]:first[top] + n].sum() * counts[top] / total > limit:
                reasons.append(f"rep_top_{n // scale}gram")
    for n, limit in rules.dup_ngram:
        n *= scale
        keys = _ngram_keys(ids, n)
        if not len(keys):
            continue
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        starts = np.flatnonzero(counts[inverse] > 1)          # n-grams seen more than once
        cover = np.zeros(len(ws) + 1, dtype=np.int64)         # +1 where one starts, -1 where it ends
        np.add.at(cover, starts, 1)
        np.add.at(cover, starts + n, -1)
        covered = np.cumsum(cover)[:-1] > 0
        if lens[covered].sum() / total > limit:
            reasons.append(f"rep_dup_{n // scale}gram")
    return reasons


def _ngram_keys(ids: np.ndarray, n: int) -> np.ndarray:
    """One uint64 key per word n-gram (a polynomial hash; collisions ~2^-64 per pair)."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    for j in range(n):
        h = h * np.uint64(1_000_003) + ids[j:j + m]
    return h


@dataclass(frozen=True)
class FineWebRules:
    """Penedo et al. (2024), FineWeb's own filters (two of the three)."""
    min_punct_lines: float = 0.12     # fail if at most 12% of lines end in punctuation
    max_short_lines: float = 0.67     # fail if at least 67% of lines are short ...
    short_line_chars: int = 30        # ... i.e. at most 30 characters


def fineweb_lines(text: str, lang: str = "en", rules: FineWebRules = FineWebRules()) -> list[str]:
    """The reasons ``text`` fails FineWeb's line rules. zh: full-width terminal punctuation
    counts too; a 30-character Chinese line holds far more words than an English one, so the
    short-line rule uses 15 characters for zh (our adaptation)."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if not lines:
        return ["fineweb_empty"]
    reasons = []
    ends = TERMINAL + TERMINAL_ZH
    if sum(ln.endswith(ends) for ln in lines) / len(lines) <= rules.min_punct_lines:
        reasons.append("fineweb_punct_lines")
    short = rules.short_line_chars // 2 if lang == "zh" else rules.short_line_chars
    if sum(len(ln) <= short for ln in lines) / len(lines) >= rules.max_short_lines:
        reasons.append("fineweb_short_lines")
    return reasons


# ---- personal information -------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_check_digit(first17: str) -> str:
    """The 18th character of a Chinese resident ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


PII_PATTERNS = {
    "EMAIL": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # 6-digit region, birth date 18xx-20xx, 3-digit sequence, check digit (verified below)
    "ID": re.compile(r"(?<![\dA-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                     r"\d{3}[\dXx](?![\dA-Za-z])"),
    # mainland mobile numbers, optionally +86 and written 3-4-4
    "PHONE_CN": re.compile(r"(?<![\d+])(?:\+86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"),
    # North American numbers: (555) 010-4477, 555-010-4477, +1 555 010 4477
    "PHONE_US": re.compile(r"(?<![\d+])(?:\+1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)"),
}


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every match, left to right, overlaps resolved in favour of the
    earlier kind in ``PII_PATTERNS``; ID numbers must carry a valid check digit."""
    spans: list[tuple[int, int, str]] = []
    for kind, pattern in PII_PATTERNS.items():
        for m in pattern.finditer(text):
            s, e = m.span()
            if kind == "ID" and cn_id_check_digit(m.group()[:17]) != m.group()[17].upper():
                continue
            if any(s < e2 and s2 < e for s2, e2, _ in spans):
                continue
            spans.append((s, e, kind))
    return sorted(spans)


def scrub_pii(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Replace each match of ``find_pii`` with ``<KIND>``: (scrubbed text, spans in the input)."""
    spans = find_pii(text)
    out, last = [], 0
    for s, e, kind in spans:
        out += [text[last:s], f"<{kind.split('_')[0]}>"]
        last = e
    return "".join(out) + text[last:], spans

