"""LoRA from scratch: fine-tune a frozen weight through a trainable low-rank update.

Hu et al. (2021), "LoRA: Low-Rank Adaptation of Large Language Models". A pretrained linear
layer y = W x + b keeps W (out x in) frozen; beside it sit two small matrices, A (r x in) and
B (out x r) with r much smaller than in and out, and the layer computes

    y = W x + b + (alpha / r) B A x.

A starts random (Kaiming, as ``nn.Linear`` initialises its weights) and B starts at zero, so at
step 0 the model is exactly the pretrained one, and only A and B train: r (in + out) numbers per
layer instead of in x out. After training, W + (alpha / r) B A can be folded into W
(``merge``): the fine-tuned model then costs nothing extra at inference, and ``unmerge``
subtracts the update again (the weight comes back to float rounding).

``add_lora(model, r, alpha, targets)`` wraps the chosen ``nn.Linear`` layers of a model in
``LoRALinear`` and freezes everything else. Targets name roles or modules: ``"q_proj"``,
``"k_proj"`` and ``"v_proj"`` match the projections of both the book's encoder and Hugging Face
BERT (``query``, ``key``, ``value``); any other string matches a module name (``"dense"``,
``"out_proj"``, ``"layers.0.ffn.fc"``); a predicate ``(name, linear) -> bool`` picks freely.

The book's ``MultiHeadAttention`` stores q, k and v as one fused ``in_proj`` (3d x d: the rows of
W_q, then W_k, then W_v). LoRA on "q and v" there is two adapters on two row blocks of one
matrix (``parts``): B A updates rows 0..d-1 and 2d..3d-1 and leaves the k rows alone, exactly as
separate q and v layers would be adapted (loralib's ``MergedLinear`` does the same for GPT-2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.attention import MultiHeadAttention

Targets = Sequence[str] | Callable[[str, nn.Linear], bool]

# Role -> module names that play it: the book's/LLaMA's spelling and Hugging Face BERT's.
ROLES = {"q_proj": ("q_proj", "query"), "k_proj": ("k_proj", "key"), "v_proj": ("v_proj", "value")}
FUSED = ("q_proj", "k_proj", "v_proj")          # row blocks of MultiHeadAttention.in_proj, in order


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus the trainable update (alpha / r) B A (see the module docstring).

    ``parts`` lists the output row ranges ``(start, stop)`` that get an adapter of their own
    (default: one adapter over all rows). With P parts ``lora_A`` is (P r, in), the P blocks of r
    rows stacked, and ``lora_B`` is (sum of the part sizes, r), the P blocks stacked likewise;
    with one part they are the paper's A (r x in) and B (out x r). ``dropout`` applies to the
    input of the LoRA path only, in training.
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0,
                 parts: Sequence[tuple[int, int]] | None = None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"rank r must be a positive integer, got {r!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.parts = self._check_parts(parts, base.out_features)
        self.base, self.r, self.alpha, self.scaling = base, r, float(alpha), alpha / r
        base.requires_grad_(False)
        like = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Parameter(torch.empty(len(self.parts) * r, base.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(sum(e - s for s, e in self.parts), r, **like))
        for A in self.lora_A.split(r):          # per adapter, as nn.Linear (and peft) initialise
            nn.init.kaiming_uniform_(A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        # saved with the weights, so that a loaded state says whether W already holds B A; the
        # Python copy spares forward a device sync
        self.register_buffer("merged_flag", torch.zeros((), dtype=torch.bool, device=like["device"]))
        self._merged = False

    @staticmethod
    def _check_parts(parts, out_features: int) -> tuple[tuple[int, int], ...]:
        if parts is None:
            return ((0, out_features),)
        parts = tuple(sorted((int(s), int(e)) for s, e in parts))
        if not parts:
            raise ValueError("parts is empty: give at least one (start, stop) row range, or None for all rows")
        end = 0
        for s, e in parts:
            if not end <= s < e <= out_features:
                raise ValueError(f"parts {parts} must be non-overlapping row ranges within 0..{out_features}")
            end = e
        return parts

    @property
    def merged(self) -> bool:
        return self._merged

    def _set_merged(self, value: bool) -> None:
        self._merged = value
        self.merged_flag.fill_(value)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "merged_flag" in state_dict:
            self._merged = bool(state_dict[prefix + "merged_flag"])

    # -- what the layer looks like from outside: an nn.Linear whose weight includes the update --
    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight W + (alpha / r) B A (differentiable in A and B). Code that calls
        ``F.linear(x, layer.weight)`` itself (MultiHeadAttention's cross-attention) sees the update."""
        return self.base.weight if self.merged else self.base.weight + self.delta_weight()

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    def _blocks(self) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
        """(start, stop, A_k (r, in), B_k (stop - start, r)) of every adapter."""
        sizes = [e - s for s, e in self.parts]
        return [(s, e, A, B) for (s, e), A, B in zip(self.parts, self.lora_A.split(self.r),
                                                      self.lora_B.split(sizes))]

    def delta_weight(self) -> torch.Tensor:
        """(alpha / r) B A placed in its rows: (out, in)."""
        if len(self.parts) == 1 and self.parts[0] == (0, self.out_features):
            return self.scaling * (self.lora_B @ self.lora_A)
        delta = self.lora_A.new_zeros(self.out_features, self.in_features)
        rows = [self.scaling * (B @ A) for _, _, A, B in self._blocks()]
        return delta.index_put((self._row_index(),), torch.cat(rows))

    def _row_index(self) -> torch.Tensor:
        return torch.cat([torch.arange(s, e, device=self.lora_A.device) for s, e in self.parts])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)                                              # (..., out)
        if self.merged:
            return y
        z = self.dropout(x) @ self.lora_A.T                           # (..., P r)
        if len(self.parts) == 1 and self.parts[0] == (0, self.out_features):
            return y + self.scaling * (z @ self.lora_B.T)
        pieces, end = [], 0
        for k, (s, e, _, B) in enumerate(self._blocks()):
            if s > end:
                pieces.append(z.new_zeros(*z.shape[:-1], s - end))
            pieces.append(z[..., k * self.r:(k + 1) * self.r] @ B.T)  # (..., e - s)
            end = e
        if end < self.out_features:
            pieces.append(z.new_zeros(*z.shape[:-1], self.out_features - end))
        return y + self.scaling * torch.cat(pieces, dim=-1)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight: W <- W + (alpha / r) B A. Same outputs, one matmul."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self._set_merged(True)

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out again: W <- W - (alpha / r) B A (equal to W up to float rounding)."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self._set_merged(False)

    def extra_repr(self) -> str:
        parts = "" if len(self.parts) == 1 and self.parts[0] == (0, self.out_features) else f", parts={self.parts}"
        return f"r={self.r}, alpha={self.alpha:g}{parts}, merged={self.merged}"


# ------------------------------------------------------------------------------ whole models

def _linears(model: nn.Module) -> Iterable[tuple[str, nn.Module, str, nn.Linear]]:
    """(qualified name, parent, attribute name, layer) of every plain nn.Linear in ``model``."""
    for parent_name, parent in list(model.named_modules()):
        if isinstance(parent, LoRALinear):
            continue
        for attr, child in parent.named_children():
            if type(child) is nn.Linear:
                yield (f"{parent_name}.{attr}" if parent_name else attr), parent, attr, child


def _plan(name: str, parent: nn.Module, attr: str, layer: nn.Linear,
          targets: Targets) -> list[tuple[int, int]] | None:
    """The row ranges of ``layer`` that get adapters, [] for all rows, None for none."""
    if callable(targets):
        return [] if targets(name, layer) else None
    if any(name == t or name.endswith("." + t) for t in targets):
        return []
    if isinstance(parent, MultiHeadAttention) and attr == "in_proj":
        d = parent.d_model
        blocks = [(i * d, (i + 1) * d) for i, role in enumerate(FUSED) if role in targets]
        return blocks or None
    return [] if any(attr in ROLES.get(t, ()) for t in targets) else None


def add_lora(model: nn.Module, r: int = 8, alpha: float = 16.0, targets: Targets = ("q_proj", "v_proj"),
             dropout: float = 0.0, freeze: bool = True) -> list[str]:
    """Wrap the target ``nn.Linear`` layers of ``model`` in ``LoRALinear`` (in place).

    With ``freeze`` every other parameter of ``model`` stops training, so only the adapters
    do (add a task head afterwards: it trains). Returns the names of the wrapped layers; raises
    ValueError when no layer matches, listing the Linear layers the model has.
    """
    if isinstance(targets, str):
        targets = (targets,)
    plans = [(name, parent, attr, layer, _plan(name, parent, attr, layer, targets))
             for name, parent, attr, layer in _linears(model)]
    chosen = [p for p in plans if p[4] is not None]
    if not chosen:
        if lora_layers(model):
            raise ValueError(f"no plain nn.Linear layer matches targets {targets!r}; the model already has "
                             "LoRA adapters (add_lora wraps each layer once)")
        names = sorted({name.rsplit(".", 1)[-1] for name, *_ in plans})
        raise ValueError(f"no nn.Linear layer matches targets {targets!r}; the model's Linear layers "
                         f"are named {names} (roles q_proj/k_proj/v_proj also match query/key/value "
                         "and the fused in_proj)")
    if freeze:
        model.requires_grad_(False)
    for name, parent, attr, layer, parts in chosen:
        setattr(parent, attr, LoRALinear(layer, r, alpha, dropout, parts or None))
    return [name for name, *_ in chosen]


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every A and B of the model, in module order (what the optimizer needs in LoRA mode)."""
    return [p for m in lora_layers(model) for p in (m.lora_A, m.lora_B)]


def count_trainable(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge_lora(model: nn.Module, unload: bool = False) -> nn.Module:
    """Merge every adapter into its base weight. With ``unload`` the wrappers are replaced by
    their (merged) plain ``nn.Linear`` layers: a model without LoRA, same outputs. Returns model."""
    for layer in lora_layers(model):
        layer.merge()
    if unload:
        for parent in list(model.modules()):
            for attr, child in list(parent.named_children()):
                if isinstance(child, LoRALinear):
                    setattr(parent, attr, child.base)
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Undo ``merge_lora`` (not after ``unload``: the adapters are gone then)."""
    for layer in lora_layers(model):
        layer.unmerge()
    return model


__all__ = ["LoRALinear", "add_lora", "count_trainable", "lora_layers", "lora_parameters", "merge_lora",
           "unmerge_lora"]
