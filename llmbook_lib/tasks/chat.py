"""Open-domain dialogue: a retrieval responder, a GPT responder, and what to measure on replies.

Two ways to answer a message (section 6.3.2):

- **retrieval**: find the training context nearest to the message and return the reply stored
  with it (``RetrievalResponder``). Nearness is a cosine between vectors: TF-IDF over characters
  (Chinese) or words (English) by default, or any ``embed(texts) -> (n, d)`` function, such as
  the mean-pooled states of a pretrained encoder (``mean_pooled``, ``minilm_embedder``). Replies
  are always fluent, human-written, and never new.
- **generation**: a causal language model continues the prompt ``用户：<message>\\n机器人：`` and
  stops at the end of the line (``GPTResponder``, sampling with the KV cache of
  ``models.sampling.generate``). ``dialogue_text`` writes whole conversations in that format for
  fine-tuning; ``response_nll`` scores the reply tokens only, given the context.

Metrics: ``distinct_n`` (Li et al., 2016, "A Diversity-Promoting Objective Function for Neural
Conversation Models"): the number of distinct n-grams in a set of replies divided by the number
of n-grams, low when the same bland reply recurs; ``length_stats``; ``top_share``, the share of
replies equal to the most frequent one. Chinese is counted in characters, English in words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..data.chatter import check_lang
from .tagger import encode_chars

USER, BOT = "用户：", "机器人："
_EN_TOKEN = re.compile(r"\w+|[^\w\s]")


def check_context(text) -> str:
    """``text`` if it is a non-empty string; a TypeError or ValueError a reader can act on."""
    if not isinstance(text, str):
        raise TypeError(f"a message must be a string, got {type(text).__name__}: {text!r}")
    if not text.strip():
        raise ValueError("the message is empty (or only whitespace); give the responder some text")
    return text


# ---- metrics -------------------------------------------------------------------------------------
def units(text: str, lang: str = "zh") -> list[str]:
    """Counting units: characters without spaces for Chinese, lowercased words and punctuation
    marks for English."""
    if check_lang(lang) == "zh":
        return [c for c in text if not c.isspace()]
    return _EN_TOKEN.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int, lang: str = "zh") -> float:
    """distinct-n of a set of replies: distinct n-grams / all n-grams, pooled over the set
    (Li et al., 2016). 0.0 for a set with no n-gram at all."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams = Counter()
    for t in texts:
        u = units(t, lang)
        grams.update(tuple(u[i:i + n]) for i in range(len(u) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def length_stats(texts: Sequence[str], lang: str = "zh") -> dict:
    """Mean, standard deviation and median length of replies in units (characters or words)."""
    lengths = np.array([len(units(t, lang)) for t in texts], dtype=float)
    if not len(lengths):
        raise ValueError("no replies to measure")
    return {"mean": float(lengths.mean()), "sd": float(lengths.std()), "median": float(np.median(lengths))}


def top_share(texts: Sequence[str]) -> tuple[str, float]:
    """The most frequent reply and the share of replies equal to it (a bland model scores high)."""
    if not texts:
        raise ValueError("no replies to count")
    reply, count = Counter(texts).most_common(1)[0]
    return reply, count / len(texts)


# ---- retrieval -----------------------------------------------------------------------------------
def tfidf_vectorizer(lang: str = "zh"):
    """TF-IDF over character 1-2-grams (Chinese: no word boundaries needed) or word 1-2-grams."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if check_lang(lang) == "zh":
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                           token_pattern=r"(?u)\b\w+\b")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class RetrievalResponder:
    """Answer with the stored reply of the most similar training context (cosine similarity).

    ``embed(texts) -> array (n, d)``: None means TF-IDF fitted on the training contexts. Ties go
    to the earlier pair, so a context seen in training gets the first reply stored with it.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]], lang: str = "zh",
                 embed: Callable[[list[str]], np.ndarray] | None = None):
        if not pairs:
            raise ValueError("no (context, response) pairs to retrieve from")
        self.lang = check_lang(lang)
        self.contexts = [c for c, _ in pairs]
        self.responses = [r for _, r in pairs]
        if embed is None:
            vec = tfidf_vectorizer(lang).fit(self.contexts)
            self._embed = lambda texts: vec.transform(texts)          # rows already L2-normalised
            self._keys = vec.transform(self.contexts)
        else:
            self._embed = lambda texts: _unit_rows(np.asarray(embed(list(texts)), dtype=np.float64))
            self._keys = self._embed(self.contexts)

    def scores(self, contexts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each message to every training context, (B, N)."""
        for c in contexts:
            check_context(c)
        s = self._embed(list(contexts)) @ self._keys.T
        return s.toarray() if hasattr(s, "toarray") else np.asarray(s)

    def nearest(self, contexts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest training pair and its similarity, for each message."""
        s = self.scores(contexts)
        idx = s.argmax(axis=1)                                    # first maximum: earliest pair
        return idx, s[np.arange(len(idx)), idx]

    def respond_batch(self, contexts: Sequence[str]) -> list[str]:
        idx, _ = self.nearest(contexts)
        return [self.responses[i] for i in idx]

    def respond(self, context: str) -> str:
        return self.respond_batch([check_context(context)])[0]


@torch.no_grad()
def mean_pooled(states_fn: Callable[[torch.Tensor], torch.Tensor], ids: Sequence[Sequence[int]],
                pad_id: int, batch_size: int = 64) -> np.ndarray:
    """Mean of an encoder's final states over the real tokens of each sequence, (n, d)."""
    out = []
    for i in range(0, len(ids), batch_size):
        chunk = ids[i:i + batch_size]
        width = max(len(x) for x in chunk)
        x = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        for j, seq in enumerate(chunk):
            x[j, :len(seq)] = torch.as_tensor(seq)
        mask = (x != pad_id).unsqueeze(-1).float()                       # (B, T, 1)
        h = states_fn(x)                                                 # (B, T, d)
        out.append(((h * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
    return np.concatenate(out)


def bert_embedder(encoder, vocab, max_len: int = 64) -> Callable[[list[str]], np.ndarray]:
    """``embed(texts)`` for the book's BertLike encoder: mean-pooled final states of
    ``[CLS] text [SEP]`` (characters read as in ``tagger.encode_chars``)."""
    def embed(texts: list[str]) -> np.ndarray:
        ids = [[vocab.cls_id, *encode_chars(vocab, t[:max_len - 2]), vocab.sep_id] for t in texts]
        encoder.eval()
        return mean_pooled(encoder.states, ids, vocab.pad_id)
    return embed


def minilm_embedder(model, tokenizer, batch_size: int = 64) -> Callable[[list[str]], np.ndarray]:
    """``embed(texts)`` for all-MiniLM-L6-v2 as sentence-transformers uses it: mean pooling of
    the last hidden states over the attention mask."""
    @torch.no_grad()
    def embed(texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))   # little padding per batch
        out = np.zeros((len(texts), model.config.hidden_size))
        for i in range(0, len(texts), batch_size):
            rows = order[i:i + batch_size]
            enc = tokenizer([texts[j] for j in rows], padding=True, truncation=True, max_length=128,
                            return_tensors="pt")
            h = model(**enc).last_hidden_state                          # (B, T, 384)
            mask = enc["attention_mask"].unsqueeze(-1).float()
            out[rows] = ((h * mask).sum(1) / mask.sum(1)).numpy()
        return out
    return embed


# ---- generation ----------------------------------------------------------------------------------
def prompt_of(context: str) -> str:
    """The prompt a dialogue-tuned GPT continues: ``用户：<context>\\n机器人：``."""
    return f"{USER}{check_context(context)}\n{BOT}"


def dialogue_text(conversations: Sequence[Sequence[str]]) -> str:
    """Conversations in the dialogue format, turns alternating 用户/机器人, one per line, and a blank
    line after each conversation."""
    blocks = []
    for turns in conversations:
        lines = [f"{USER if i % 2 == 0 else BOT}{t}\n" for i, t in enumerate(turns)]
        blocks.append("".join(lines) + "\n")
    return "".join(blocks)


def encode(tok, text: str) -> list[int]:
    """Character ids for the book's char GPT: unknown ASCII read as its full-width form when the
    vocabulary has it (People's Daily writes ``１`` and ``Ａ``), else <unk>."""
    return encode_chars(tok, text)


@torch.no_grad()
def response_nll(model, tok, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> dict:
    """Negative log-likelihood of each reply's characters given ``prompt_of(context)``.

    Only reply characters are scored (not the prompt, not the line end), and a reply character
    that is <unk> to the model is skipped (predicting <unk> says nothing about the reply).
    Returns {"nll": total nats, "tokens": scored characters, "skipped_unk": ..., "ppl": ...}.
    """
    unk = tok.unk_id
    rows = []
    for context, response in pairs:
        p, r = encode(tok, prompt_of(context)), encode(tok, response)
        ids = (p + r)[-(model.config.max_len + 1):]
        tgt = ([-100] * len(p) + [-100 if t == unk else t for t in r])[-(model.config.max_len + 1):]
        rows.append((ids, tgt, sum(t == unk for t in r)))
    total, count = 0.0, 0
    model.eval()
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        width = max(len(ids) for ids, _, _ in chunk) - 1
        x = torch.zeros((len(chunk), width), dtype=torch.long)
        y = torch.full((len(chunk), width), -100, dtype=torch.long)
        for j, (ids, tgt, _) in enumerate(chunk):
            x[j, :len(ids) - 1] = torch.as_tensor(ids[:-1])
            y[j, :len(ids) - 1] = torch.as_tensor(tgt[1:])
        logits = model(x)[0]
        total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1),
                                                   ignore_index=-100, reduction="sum").item()
        count += int((y != -100).sum())
    return {"nll": total, "tokens": count, "skipped_unk": sum(k for _, _, k in rows),
            "ppl": math.exp(total / count) if count else float("nan")}


class GPTResponder:
    """Reply by sampling a char GPT after ``prompt_of(context)`` until the end of the line.

    Sampling uses ``model.generate`` (temperature, top-k, top-p, the KV cache) and stops at the
    newline. A reply that does not end within ``max_new_tokens`` is cut there.
    """

    def __init__(self, model, tok, max_new_tokens: int = 40, temperature: float = 0.8,
                 top_k: int | None = None, top_p: float | None = 0.9):
        self.model, self.tok = model, tok
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self.top_k, self.top_p = top_k, top_p
        self.newline = tok.encode("\n")[0]

    def respond(self, context: str, generator: torch.Generator | None = None) -> str:
        ids = torch.tensor([encode(self.tok, prompt_of(context))])
        out = self.model.generate(ids, self.max_new_tokens, temperature=self.temperature,
                                  top_k=self.top_k, top_p=self.top_p, generator=generator,
                                  use_cache=True, stop_token=self.newline)[0, ids.size(1):].tolist()
        if self.newline in out:
            out = out[:out.index(self.newline)]
        return self.tok.decode(out).strip()

    def respond_batch(self, contexts: Sequence[str], generator: torch.Generator | None = None) -> list[str]:
        for c in contexts:
            check_context(c)
        return [self.respond(c, generator) for c in contexts]
