"""Summarisation: sentence splitting, lead-k, TextRank, ROUGE and a faithfulness check.

Extractive summarisation picks sentences of the text. ``lead`` takes the first k (news puts
the main point first); ``textrank`` (Mihalcea and Tarau, 2004) builds a graph whose nodes are
sentences and whose edge weights are word-overlap similarities, and ranks the sentences by
PageRank, computed here by power iteration (``pagerank``).

Abstractive summaries are generated and may state what the text does not. ``FactChecker``
reads the facts a summary of the synthetic world (``llmbook_lib.data.world``) states and looks
each one up in the world's fact table. ``rouge`` scores overlap with a reference through the
``rouge-chinese`` package (Lin, 2004) after tokenising: jieba words for Chinese, lower-cased
words for English.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# -- sentences and words ------------------------------------------------------------------------
_ZH_END = "。！？；…"
_CLOSERS = "”’」』）)\"'"
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co",
                  "corp", "no", "gen", "gov", "sen", "rep", "rev", "mt", "ft", "jan", "feb", "aug",
                  "sept", "oct", "nov", "dec", "e.g", "i.e", "u.s", "u.k", "a.m", "p.m"}
_EN_END = re.compile(r"[.!?]+[" + re.escape(_CLOSERS) + r"]*(?=\s+[\"'“‘(A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split Chinese and English text into sentences, keeping the end punctuation.

    Chinese sentences end at 。！？；…, with any closing quote
    attached; a line break always ends a sentence. English sentences end at . ! ? followed by a
    space and a capital letter, digit or opening quote, except after a common abbreviation
    (Mr., Dr., U.S., ...) or a single capital letter (an initial, as in "J. K. Rowling").
    Commas never split (snownlp's ``SnowNLP.sentences`` splits at ，as well).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    out = []
    for line in text.splitlines():
        start = 0
        ends = [m.end() for m in re.finditer(f"[{_ZH_END}]+[{re.escape(_CLOSERS)}]*", line)]
        for m in _EN_END.finditer(line):
            word = re.search(r"([A-Za-z.]+)$", line[:m.start()])
            w = word.group(1).lower().rstrip(".") if word else ""
            if line[m.start()] == "." and (w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha())):
                continue
            ends.append(m.end())
        for end in sorted(set(ends)) + [len(line)]:
            piece = line[start:end].strip()
            if piece:
                out.append(piece)
            start = end
    return out


_PUNCT = re.compile(r"^[\W_]+$")


def words(text: str, lang: str, stopwords: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Word tokens without punctuation: jieba words for ``"zh"``; lower-cased letters and digits
    (``2,999`` is one token) for ``"en"``. Words in ``stopwords`` are dropped."""
    if lang == "zh":
        import jieba

        jieba.setLogLevel(60)              # silence "Building prefix dict ..." on stderr
        toks = [w for w in jieba.lcut(text) if w.strip() and not _PUNCT.match(w)]
    elif lang == "en":
        toks = re.findall(r"[a-z0-9]+(?:[,.][0-9]+)*", text.lower())
    else:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return [w for w in toks if w not in stopwords]


# -- extractive summaries ---------------------------------------------------------------------------
def lead(sentences: Sequence[str], k: int = 1) -> list[str]:
    """The first ``k`` sentences: the lead baseline of news summarisation."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return list(sentences[:k])


@dataclass
class PageRankResult:
    scores: np.ndarray          # (n,) stationary probabilities, summing to 1
    deltas: list[float]         # L1 change of the scores at each iteration

    @property
    def iterations(self) -> int:
        return len(self.deltas)


def pagerank(weights, damping: float = 0.85, tol: float = 1e-8, max_iter: int = 1000) -> PageRankResult:
    """PageRank of a weighted directed graph by power iteration.

    ``weights[i, j] >= 0`` is the weight of the edge i -> j. A walker at i follows an edge with
    probability ``damping`` (choosing j in proportion to the weights) and otherwise jumps to a
    node chosen uniformly; a node without out-edges (a dangling node) jumps uniformly always.
    With P the row-normalised weights, each step is

        r <- (1 - d) / n + d * (P^T r + (dangling mass) / n)

    a contraction by the factor d in L1 norm, so it converges from any start; iteration stops
    when the L1 change falls below ``tol`` (networkx stops at ``n * tol``). Self-loops are kept
    as given: TextRank's similarity matrices have a zero diagonal.
    """
    W = np.asarray(weights, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] == 0:
        raise ValueError(f"weights must be a non-empty square matrix, got shape {W.shape}")
    if not np.all(np.isfinite(W)) or (W < 0).any():
        raise ValueError("weights must be finite and non-negative (PageRank needs a random walk)")
    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    if tol <= 0 or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter >= 1, got {tol} and {max_iter}")
    n = len(W)
    out = W.sum(axis=1)
    dangling = out == 0
    P = np.divide(W, out[:, None], out=np.zeros_like(W), where=~dangling[:, None])
    r = np.full(n, 1.0 / n)
    deltas = []
    for _ in range(max_iter):
        new = (1 - damping) / n + damping * (P.T @ r + r[dangling].sum() / n)
        deltas.append(float(np.abs(new - r).sum()))
        r = new
        if deltas[-1] < tol:
            return PageRankResult(r / r.sum(), deltas)
    raise RuntimeError(f"PageRank did not converge to tol={tol} in {max_iter} iterations "
                       f"(last change {deltas[-1]:.2e}); raise max_iter or tol")


def overlap_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Mihalcea and Tarau's sentence similarity: shared distinct words / (log|a| + log|b|).

    |a| and |b| count tokens. Two one-word sentences have a zero denominator; they are given
    similarity 0 (the formula is undefined there).
    """
    shared = len(set(a) & set(b))
    denom = math.log(len(a)) + math.log(len(b)) if a and b else 0.0
    return shared / denom if shared and denom > 0 else 0.0


def similarity_matrix(tokens: Sequence[Sequence[str]],
                      similarity: Callable[[Sequence[str], Sequence[str]], float] = overlap_similarity
                      ) -> np.ndarray:
    """(n, n) symmetric matrix of ``similarity`` between tokenised sentences, zero diagonal."""
    n = len(tokens)
    S = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            S[i, j] = S[j, i] = similarity(tokens[i], tokens[j])
    return S


def textrank(tokens: Sequence[Sequence[str]], damping: float = 0.85, tol: float = 1e-8,
             similarity: Callable[[Sequence[str], Sequence[str]], float] = overlap_similarity
             ) -> PageRankResult:
    """TextRank scores of tokenised sentences: PageRank on their similarity graph."""
    if not tokens:
        raise ValueError("textrank needs at least one sentence")
    return pagerank(similarity_matrix(tokens, similarity), damping, tol)


def textrank_summary(sentences: Sequence[str], k: int = 1,
                     tokenize: Callable[[str], list[str]] | None = None, lang: str = "zh",
                     damping: float = 0.85) -> list[str]:
    """The ``k`` highest-ranked sentences, in document order (ties: the earlier sentence).

    ``tokenize`` defaults to ``words(s, lang)``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not sentences:
        return []
    tokenize = tokenize or (lambda s: words(s, lang))
    scores = textrank([tokenize(s) for s in sentences], damping).scores
    top = sorted(range(len(sentences)), key=lambda i: (-round(scores[i], 12), i))[:k]
    return [sentences[i] for i in sorted(top)]


# -- ROUGE -------------------------------------------------------------------------------------------
def rouge(hypotheses: Sequence[str], references: Sequence[str], lang: str) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 from ``rouge-chinese`` over word tokens (``words``).

    rouge-chinese scores whitespace-separated tokens, so each text is tokenised first: jieba
    words for Chinese (its default character-less split would see one token per sentence),
    lower-cased words for English. An empty hypothesis scores 0 (the package refuses it).
    """
    from rouge_chinese import Rouge

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("rouge needs at least one hypothesis")
    scorer = Rouge(metrics=["rouge-1", "rouge-2", "rouge-l"])
    total = {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    for hyp, ref in zip(hypotheses, references):
        h, r = " ".join(words(hyp, lang)), " ".join(words(ref, lang))
        if not r:
            raise ValueError(f"reference {ref!r} has no words")
        if not h:
            continue
        for name, s in scorer.get_scores(h, r)[0].items():
            total[name] += s["f"]
    return {name: v / len(hypotheses) for name, v in total.items()}


# -- faithfulness ------------------------------------------------------------------------------------
# (subject type, kind of the mention) -> the relation a sentence about the subject states with it.
# ("person", "company") depends on the wording: founded (a founder cue) or works for.
_RELATION = {
    ("person", "city"): "born_in", ("person", "university"): "studied_at",
    ("person", "year"): "birth_year", ("person", "occupation"): "occupation", ("person", "hobby"): "hobby",
    ("company", "city"): "headquartered_in", ("company", "person"): "founded_by",
    ("company", "year"): "founded_year", ("company", "industry"): "industry",
    ("company", "count"): "employees", ("company", "product"): "~made_by",
    ("university", "city"): "located_in", ("university", "year"): "founded_year",
    ("university", "count"): "students", ("university", "person"): "~studied_at",
    ("product", "company"): "made_by", ("product", "year"): "launch_year",
    ("product", "price"): "price", ("product", "category"): "category",
    ("city", "population"): "population", ("city", "count"): "population",
    ("city", "company"): "~headquartered_in", ("city", "university"): "~located_in",
    ("city", "person"): "~born_in",
}
_FOUNDER_CUES = {"zh": ("创办", "创始人", "创立", "创建"), "en": ("found", "start", "built")}
_CLAUSE = {"zh": re.compile(r"[，。；！？]"), "en": re.compile(r"(?:, |[.;!?](?:\s|$))")}


@dataclass(frozen=True)
class Claim:
    """One fact a text states about its subject: ``relation`` and the value's surface ``text``.

    ``kind`` is what the value is: an entity type ("person", "city", ...), "year", "price",
    "count", "population", or a vocabulary kind ("occupation", ...). ``fact`` is the id of the
    fact-table entry that supports the claim, None when none does (``reason`` says why)."""
    relation: str | None
    text: str
    start: int
    kind: str
    fact: str | None
    reason: str = ""

    @property
    def supported(self) -> bool:
        return self.fact is not None


@dataclass
class FactCheck:
    text: str
    subject: str
    claims: list[Claim] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)   # spans that are neither a known name, a value
    subject_named: bool = False                        # nor template wording

    @property
    def unsupported(self) -> list[Claim]:
        return [c for c in self.claims if not c.supported]

    @property
    def faithful(self) -> bool:
        """True when every claim is in the fact table, nothing is unreadable and the subject is named."""
        return self.subject_named and not self.unsupported and not self.unknown

    @property
    def facts(self) -> list[str]:
        """The ids of the supported facts, in order of mention."""
        return [c.fact for c in self.claims if c.supported]


class FactChecker:
    """Check the facts a sentence about an entity of the synthetic world states.

    How a claim is read: every entity name of the world, every vocabulary value (occupations,
    hobbies, industries, product categories) and every number is found in the text, longest
    match first. Each one, other than the subject's own name or pronoun, becomes a claim
    about the subject; its relation follows from the subject's type and the kind of the value
    (a city in a sentence about a person is the birthplace; a company is the employer, or the
    company founded when the clause says so). A claim is supported when the fact table holds
    exactly that fact. What is left of the text must be the fixed wording of the world's fact
    and summary templates; anything else (an invented name, a misspelt value, a garbled
    phrase) is reported in ``unknown``.

    What it cannot detect: a claim about an entity other than the subject ("宏图食品的创始人
    郑磊生于银港" checked with subject 宏图食品 reads 银港 as the company's city); negation or
    paraphrase outside the templates' wording (reported as unknown, not judged); a fact that is
    true in the world but absent from the source text (it checks the world, not the document);
    and facts the summary leaves out (that is coverage, which ROUGE measures).
    """

    def __init__(self, world, lang: str = "zh"):
        from ..data.world import lexicon as L
        from ..data.world.render import PRONOUNS
        from ..data.world.templates import FACTS, SLOT, SUMMARIES

        if lang not in ("zh", "en"):
            raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
        self.world, self.lang = world, lang
        self.names: dict[str, list[str]] = {}
        for e in world.entities.values():
            self.names.setdefault(e.name(lang), []).append(e.id)
        vocab = {"occupation": L.OCCUPATIONS + L.FREELANCE + [L.FOUNDER], "hobby": L.HOBBIES,
                 "industry": L.INDUSTRIES, "category": [w for w, _ in L.CATEGORIES.values()]}
        self.values: dict[str, str] = {}           # surface form -> kind
        for kind, ws in vocab.items():
            for w in ws:
                if lang == "zh":
                    self.values[w.zh] = kind
                else:
                    art, noun = w.en_a()
                    self.values[noun] = kind
                    self.values[art + noun] = kind
        self.pronouns: dict[str, tuple[str, str | None]] = {}   # pronoun -> (type, gender)
        for etype, forms in PRONOUNS.items():
            for gender, f in (forms.items() if etype == "person" else [(None, forms)]):
                for p in (f[:1] if lang == "zh" else f[1:]):
                    self.pronouns[p] = (etype, gender)
        literals = sorted([*self.names, *self.values, *self.pronouns], key=lambda s: (-len(s), s))
        if lang == "zh":
            number = r"(?<![0-9A-Za-z])[0-9]+(?:年|元|万)?"
            lit = "|".join(map(re.escape, literals))
        else:
            # 1,390 and 2,999 yuan (thousands separators), or a plain 1982 / 870
            number = (r"(?<![0-9A-Za-z,])(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
                      r"(?: yuan)?(?![0-9])")
            lit = r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, literals)) + r")(?![A-Za-z0-9])"
        self._scanner = re.compile(f"(?P<lit>{lit})|(?P<num>{number})")
        pieces = set()
        for t in [t for ts in FACTS.values() for t in ts] + [t for ts in SUMMARIES.values() for t in ts]:
            pieces.update(p for p in SLOT.split(t.zh if lang == "zh" else t.en)[::2] if p.strip())
        # "Hetai Electronics' products", and "The company's products" (the pronoun takes the 's)
        pieces |= {q + p[2:] for p in pieces if p.startswith("'s ") for q in ("'", "")}
        self._pieces = sorted(pieces, key=lambda s: (-len(s), s))

    # -- reading ---------------------------------------------------------------------------------
    def _kind(self, text: str, literal: bool) -> tuple[str, object]:
        """(kind, value) of a matched span: an entity type with its ids, a vocabulary kind, or a number."""
        if literal:
            if text in self.names:
                ids = self.names[text]
                return self.world.entities[ids[0]].type, ids
            if text in self.values:
                return self.values[text], text
            return "pronoun", self.pronouns[text]
        digits = int(re.sub(r"[^0-9]", "", text.split(" ")[0]))
        if self.lang == "zh":
            suffix = text[-1]
            if suffix == "年":
                return "year", digits
            if suffix == "元":
                return "price", digits
            if suffix == "万":
                return "population", digits * 10_000
            return "count", digits
        if text.endswith(" yuan"):
            return "price", digits
        if "," not in text and len(text) == 4 and 1800 <= digits <= 2100:
            return "year", digits
        return "count", digits

    def _clause(self, text: str, start: int) -> str:
        cuts = [0] + [m.end() for m in _CLAUSE[self.lang].finditer(text)] + [len(text)]
        lo = max(c for c in cuts if c <= start)
        hi = min(c for c in cuts if c > start)
        return text[lo:hi]

    def _lookup(self, subject: str, relation: str, value) -> str | None:
        for f in self.world.corpus.out[subject].get(relation, []):
            if relation.startswith("~"):
                if f.subject in value:
                    return f.id
            elif not f.is_attribute:
                if f.object in value:
                    return f.id
            elif isinstance(value, int):
                if f.object == value:
                    return f.id
            elif self.lang == "zh":
                if f.object.zh == value:
                    return f.id
            elif value in (f.object.en, "".join(f.object.en_a())):
                return f.id
        return None

    def check(self, text: str, subject: str) -> FactCheck:
        """Read the claims ``text`` makes about the entity ``subject`` (an id) and look them up."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if subject not in self.world.entities:
            raise ValueError(f"unknown subject id {subject!r}")
        subj = self.world.entities[subject]
        result = FactCheck(text, subject)
        rest, last = [], 0
        for m in self._scanner.finditer(text):
            span = m.group()
            rest.append(text[last:m.start()])
            last = m.end()
            kind, value = self._kind(span, m.group("lit") is not None)
            if kind == "pronoun":
                etype, gender = value
                if etype == subj.type and gender in (None, subj.attrs.get("gender")):
                    result.subject_named = True
                else:
                    result.claims.append(Claim("pronoun", span, m.start(), etype, None,
                                               f"the pronoun does not fit a {subj.type}"))
                continue
            if kind == subj.type and subject in value:
                result.subject_named = True
                continue
            relation = _RELATION.get((subj.type, kind))
            if (subj.type, kind) == ("person", "company"):
                clause = self._clause(text, m.start())
                founder = any(c in (clause if self.lang == "zh" else clause.lower())
                              for c in _FOUNDER_CUES[self.lang])
                relation = "~founded_by" if founder else "works_for"
            if relation is None:
                result.claims.append(Claim(None, span, m.start(), kind, None,
                                           f"a {kind} has no relation to a {subj.type} in this world"))
                continue
            fact = self._lookup(subject, relation, value)
            reason = "" if fact else f"the fact table has no {relation} = {span} for {subj.name(self.lang)}"
            result.claims.append(Claim(relation, span, m.start(), kind, fact, reason))
        rest.append(text[last:])
        for piece in rest:
            for p in self._pieces:
                piece = piece.replace(p, "\x00")
            result.unknown += [u for u in re.split(r"\x00|\s+", piece) if u and not _PUNCT.match(u)]
        return result
