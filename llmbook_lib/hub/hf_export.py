"""The book's GPT and character tokenizer as Hugging Face ``transformers`` objects.

``to_hf_gpt2(model)`` copies a ``models.transformer.GPT`` into ``transformers.GPT2LMHeadModel``,
weight by weight (``WEIGHT_MAP`` lists every pair). The two are the same network:

- learned absolute positions added to the token embeddings (``wpe``), no scaling;
- pre-LN blocks: x += Attn(LN1(x)); x += MLP(LN2(x)); a final LayerNorm (``ln_f``);
- causal multi-head attention scaled by 1/sqrt(d_head), q, k, v from one (3d, d) projection;
- a 4d feed-forward with exact (erf) GELU: ``activation_function="gelu"``. Released GPT-2
  checkpoints use ``"gelu_new"``, the tanh approximation; ours does not;
- the output layer tied to the token embedding.

GPT-2 stores its linear layers as ``Conv1D`` (weight (in, out), y = x W + b), so every linear
weight is transposed on the way. A model built with ``bias=False`` gets zero biases: the same
function (though a model fine-tuned in ``transformers`` would then train them). In eval mode and
float32 the logits agree bit for bit with the default ``attn_implementation="sdpa"`` (both sides
call the same attention kernel) and to ~1e-5 with "eager" (another order of float operations);
``tests/test_hf_export.py`` checks 1e-5, greedy generation, ``save_pretrained`` /
``from_pretrained`` offline and ``pipeline("text-generation")``.

Every ``GPTConfig`` option can be expressed. What GPT-2 cannot express (rotary positions in
attention, post-LN, a non-causal layer, another activation or norm, a model that is not the
book's GPT) is found by ``check_exportable`` before anything is copied, and raised as a
ValueError that names the part and says what to do.

``hf_char_tokenizer(tok)`` wraps a ``text.tokenize.CharTokenizer`` as a
``PreTrainedTokenizerFast``: a ``tokenizers`` WordLevel model over the same characters and ids,
a pre-tokenizer that isolates every character, and a decoder that joins them with nothing in
between. It encodes exactly like the book's tokenizer, unknown characters included.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..models.layers import EncoderLayer
from ..models.transformer import GPT, GPTConfig
from ..text.tokenize import CharTokenizer

INSTALL_HINT = "pip install transformers tokenizers"

# ours -> GPT-2, for layer i ("{i}"); True where the weight is transposed (nn.Linear -> Conv1D)
WEIGHT_MAP: tuple[tuple[str, str, bool], ...] = (
    ("tok_emb.weight", "transformer.wte.weight", False),
    ("pos_emb.weight", "transformer.wpe.weight", False),
    ("blocks.{i}.ln1.weight", "transformer.h.{i}.ln_1.weight", False),
    ("blocks.{i}.ln1.bias", "transformer.h.{i}.ln_1.bias", False),
    ("blocks.{i}.attn.in_proj.weight", "transformer.h.{i}.attn.c_attn.weight", True),
    ("blocks.{i}.attn.in_proj.bias", "transformer.h.{i}.attn.c_attn.bias", False),
    ("blocks.{i}.attn.out_proj.weight", "transformer.h.{i}.attn.c_proj.weight", True),
    ("blocks.{i}.attn.out_proj.bias", "transformer.h.{i}.attn.c_proj.bias", False),
    ("blocks.{i}.ln2.weight", "transformer.h.{i}.ln_2.weight", False),
    ("blocks.{i}.ln2.bias", "transformer.h.{i}.ln_2.bias", False),
    ("blocks.{i}.ffn.fc.weight", "transformer.h.{i}.mlp.c_fc.weight", True),
    ("blocks.{i}.ffn.fc.bias", "transformer.h.{i}.mlp.c_fc.bias", False),
    ("blocks.{i}.ffn.proj.weight", "transformer.h.{i}.mlp.c_proj.weight", True),
    ("blocks.{i}.ffn.proj.bias", "transformer.h.{i}.mlp.c_proj.bias", False),
    ("ln_f.weight", "transformer.ln_f.weight", False),
    ("ln_f.bias", "transformer.ln_f.bias", False),
)
_ACTIVATIONS = {"gelu": "gelu", "relu": "relu"}     # F.<name> -> GPT-2's activation_function


def _transformers():
    try:
        import transformers
    except ImportError as e:
        raise ImportError(f"exporting to Hugging Face needs {e.name}, which is not installed; "
                          f"install it with:  {INSTALL_HINT}") from e
    return transformers


def _unsupported(what: str, todo: str) -> ValueError:
    return ValueError(f"transformers.GPT2LMHeadModel cannot express {what}; {todo}")


def _layer_norm_eps(norm: nn.Module, where: str) -> float:
    if type(norm) is not nn.LayerNorm:
        raise _unsupported(f"the {type(norm).__name__} at {where} (GPT-2 uses LayerNorm only)",
                           "put nn.LayerNorm back, or export to an architecture with that norm "
                           "(RMSNorm: LlamaForCausalLM)")
    if norm.weight is None:
        raise _unsupported(f"a LayerNorm without a scale at {where}",
                           "build it with elementwise_affine=True")
    return norm.eps


def check_exportable(model: nn.Module) -> None:
    """Raise a ValueError naming each feature of ``model`` that GPT-2 cannot express; return None
    when ``to_hf_gpt2`` can copy it exactly."""
    if not isinstance(model, GPT):
        kind = type(model).__name__
        if hasattr(model, "decoder"):
            todo = ("GPT2LMHeadModel is a decoder-only language model; an encoder-decoder model maps to "
                    "a seq2seq class such as BartForConditionalGeneration (not provided here)")
        elif hasattr(model, "encoder"):
            todo = "GPT2LMHeadModel is a causal language model; a bidirectional encoder maps to BertModel"
        else:
            todo = "export a llmbook_lib.models.transformer.GPT"
        raise _unsupported(f"a {kind}", todo)
    if type(model.pos_emb) is not nn.Embedding:
        raise _unsupported(f"the position encoding {type(model.pos_emb).__name__} (GPT-2 adds one "
                           "learned vector per position)", "use the GPT's nn.Embedding positions")
    eps = {_layer_norm_eps(model.ln_f, "ln_f")}
    d = model.config.d_model
    for i, block in enumerate(model.blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, EncoderLayer):
            raise _unsupported(f"the layer {type(block).__name__} at {where}", "use models.layers.Block")
        if getattr(block.attn, "rotary", None) is not None:
            raise _unsupported(
                f"rotary position embeddings (RoPE) in {where}.attn: GPT-2 only adds learned absolute "
                "positions to the input",
                "export a model without RoPE, or use an architecture with rotary positions "
                "(e.g. LlamaForCausalLM or GPTNeoXForCausalLM) and map the weights to it")
        if not block.norm_first:
            raise _unsupported(f"post-LN in {where} (x = LN(x + Attn(x))); GPT-2 is pre-LN",
                               "train the model with norm_first=True (the GPT's Block)")
        if not block.causal:
            raise _unsupported(f"the bidirectional (non-causal) attention of {where}",
                               "a GPT layer must be causal; an encoder maps to BertModel")
        act = getattr(block.ffn.act, "__name__", repr(block.ffn.act))
        if act not in _ACTIVATIONS:
            raise _unsupported(f"the activation {act!r} in {where}.ffn",
                               f"use one of {sorted(_ACTIVATIONS)}")
        if block.ffn.fc.out_features != model.blocks[0].ffn.fc.out_features:
            raise _unsupported(f"a feed-forward width in {where} that differs from blocks[0]",
                               "give every layer the same d_ff")
        if block.attn.d_model != d or block.attn.n_head != model.config.n_head:
            raise _unsupported(f"attention of width {block.attn.d_model} with {block.attn.n_head} heads "
                               f"in {where}", "every layer must match GPTConfig's d_model and n_head")
        eps |= {_layer_norm_eps(block.ln1, f"{where}.ln1"), _layer_norm_eps(block.ln2, f"{where}.ln2")}
        if _ACTIVATIONS[act] != _ACTIVATIONS[getattr(model.blocks[0].ffn.act, "__name__", "")]:
            raise _unsupported(f"a different activation in {where} than in blocks[0]",
                               "use one activation in every layer")
    if len(eps) > 1:
        raise _unsupported(f"LayerNorms with different eps {sorted(eps)}", "use one eps everywhere")
    if model.lm_head.bias is not None:
        raise _unsupported("a bias on the output layer", "build lm_head with bias=False")


def hf_gpt2_config(model: GPT, **kwargs):
    """The ``transformers.GPT2Config`` of ``model`` (``kwargs`` override fields)."""
    check_exportable(model)
    transformers = _transformers()
    c: GPTConfig = model.config
    fields = dict(
        vocab_size=c.vocab_size, n_positions=c.max_len, n_embd=c.d_model, n_layer=c.n_layer,
        n_head=c.n_head, n_inner=model.blocks[0].ffn.fc.out_features if c.n_layer else None,
        activation_function=_ACTIVATIONS[model.blocks[0].ffn.act.__name__] if c.n_layer else "gelu",
        resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
        layer_norm_epsilon=model.ln_f.eps, tie_word_embeddings=tied(model),
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )
    return transformers.GPT2Config(**{**fields, **kwargs})


def tied(model: GPT) -> bool:
    """Whether the output layer shares the token embedding (the book's GPT always does)."""
    return model.lm_head.weight is model.tok_emb.weight


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """``model``'s weights under GPT-2's names and layouts (copies; ``WEIGHT_MAP`` says which)."""
    check_exportable(model)
    ours = model.state_dict()
    out = {}
    for i in range(model.config.n_layer):
        for src, dst, transpose in WEIGHT_MAP:
            if "{i}" in src:
                out[dst.format(i=i)] = _take(ours, src.format(i=i), transpose, model)
    for src, dst, transpose in WEIGHT_MAP:
        if "{i}" not in src:
            out[dst] = _take(ours, src, transpose, model)
    out["lm_head.weight"] = ours["lm_head.weight"].clone()
    return out


def _take(ours: dict, name: str, transpose: bool, model: GPT) -> torch.Tensor:
    if name in ours:
        w = ours[name]
        return (w.t() if transpose else w).detach().clone().contiguous()
    # bias=False: GPT-2 always has biases; zeros compute the same function
    weight = ours[name.removesuffix(".bias") + ".weight"]
    return torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)


def to_hf_gpt2(model: GPT, attn_implementation: str = "sdpa"):
    """A ``transformers.GPT2LMHeadModel`` (eval mode, on ``model``'s device and dtype) that computes
    the same logits as ``model``. Raises ValueError for a feature GPT-2 cannot express."""
    transformers = _transformers()
    config = hf_gpt2_config(model)
    p = next(model.parameters())
    hf = transformers.GPT2LMHeadModel(config)
    hf.set_attn_implementation(attn_implementation)
    hf.to(device=p.device, dtype=p.dtype)
    state = gpt2_state_dict(model)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:     # a transformers version that renamed GPT-2's weights
        raise RuntimeError(f"GPT-2's weights in transformers {transformers.__version__} do not match "
                           f"WEIGHT_MAP: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        hf.tie_weights()
    hf.generation_config.pad_token_id = None
    return hf.eval()


def hf_char_tokenizer(tok: CharTokenizer, model_max_length: int | None = None):
    """``tok`` as a ``transformers.PreTrainedTokenizerFast`` with the same ids.

    Each character is one token (a ``Split`` pre-tokenizer on every code point, a ``WordLevel``
    model over ``tok.itos``); decoding joins the characters with nothing in between. With an
    ``<unk>`` (``CharTokenizer(..., unk="<unk>")``) unknown characters map to its id, as in the
    book; the text "<unk>" itself is still read as five characters. Without one, an unknown
    character makes ``encode`` raise, as the book's tokenizer does.
    """
    if not isinstance(tok, CharTokenizer):
        raise TypeError(f"hf_char_tokenizer wraps a CharTokenizer, got {type(tok).__name__}; a byte "
                        "or BPE tokenizer maps to tokenizers' ByteLevel BPE instead (BPETokenizer.to_hf)")
    transformers = _transformers()
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {s: i for i, s in enumerate(tok.itos)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=tok.unk))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"(?m:.)"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    kwargs = {"unk_token": tok.unk} if tok.unk is not None else {}
    if model_max_length is not None:
        kwargs["model_max_length"] = model_max_length
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, clean_up_tokenization_spaces=False, split_special_tokens=True, **kwargs)


__all__ = ["WEIGHT_MAP", "check_exportable", "gpt2_state_dict", "hf_char_tokenizer", "hf_gpt2_config",
           "tied", "to_hf_gpt2"]
