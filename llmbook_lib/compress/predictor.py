"""The predictor of ``LMCompressor``: the bytes coded so far in, next-byte frequencies out.

Encoder and decoder run this one step function, ``Predictor.predict`` then
``Predictor.observe``, with the same arguments in the same order, so they compute bit-identical
frequencies (a batched whole-sequence forward would round differently from the decoder's
byte-by-byte one, and the decoder would derail). The GPT is fed one byte per stream through its
own KV cache (``GPT.forward(..., cache=)``); an ``AdaptiveModel`` (``adaptive.py``: context
counts and a match model learned from the file itself, mixed with the GPT) turns its
probabilities into better ones, a side model (a byte n-gram) can be mixed in with a weight
learned online, and ``DynamicEval`` keeps training a copy of the GPT on the bytes already coded.
All of them learn only from bytes the decoder already has, and the decoder repeats every update.
``torch_threads`` fixes the thread count, since float results depend on it too.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from .adaptive import AdaptiveModel
from .arithmetic import quantize_probs


@contextlib.contextmanager
def torch_threads(n: int):
    """Run with exactly ``n`` intra-op threads (results depend on it), then restore."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class _SlabCache:
    """One layer's KV cache in buffers of ``capacity`` positions allocated once: appending writes
    in place (a ``torch.cat`` per step would copy the whole cache, the main cost of a step), and
    the keys and values so far are views. Used through ``GPT.forward(..., cache=)`` like
    ``LayerCache``."""

    def __init__(self, capacity: int):
        self.capacity, self.n = capacity, 0
        self.k = self.v = None

    def __len__(self) -> int:
        return self.n

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, H, T, D = k.shape                                            # (B, nh, T_new, hs)
        if self.k is None:
            self.k, self.v = k.new_empty(B, H, self.capacity, D), v.new_empty(B, H, self.capacity, D)
        self.k[:, :, self.n:self.n + T] = k
        self.v[:, :, self.n:self.n + T] = v
        self.n += T
        return self.k[:, :, :self.n], self.v[:, :, :self.n]


@dataclass(frozen=True)
class DynamicEval:
    """Dynamic evaluation (Krause et al. 2018): keep training on the bytes already coded.

    After every ``every`` coding steps, one Adam step (learning rate ``lr``) on the last
    ``window`` bytes of every stream (a batch of ``streams`` rows). The decoder has decoded
    exactly these bytes by then and repeats the identical update, so the code stays lossless.
    The caller's model is never modified: each call works on a copy. (Adam beat plain SGD on
    the book's held-out text: it adapts the step per weight.)
    """

    lr: float = 3e-4
    every: int = 32
    window: int = 32

    def valid_for(self, max_len: int) -> bool:
        """lr > 0, every in 1..65535 (it is stored as u16) and a window the model can take."""
        return 0 < self.lr < 1e6 and 1 <= self.every <= 65535 and 1 <= self.window <= max_len


class Predictor:
    """Everything that turns the bytes coded so far into the next distributions, run identically
    by the encoder and the decoder: the GPT with a KV cache, optionally mixed with a side model
    as ``a * p_gpt + (1 - a) * p_side``, where ``a = sigmoid(z)`` follows the gradient of the
    code length of every coded byte, then optionally mixed with the models of ``adaptive``
    (an ``AdaptiveModel``), and optionally dynamic evaluation of the GPT.

    ``predict(t, hist, hist_np, active)`` -> cumulative frequencies (N, 257) for ``hist[:, t + 1]``;
    ``observe(t, hist, hist_np, symbols)`` then learns from the ``active`` symbols just coded
    (already written into column ``t + 1`` of ``hist`` and ``hist_np``).
    """

    def __init__(self, model, context: int, keep: int, side, mix_lr: float,
                 dynamic: DynamicEval | None, min_length: int, adaptive: AdaptiveModel | None = None):
        if dynamic is not None:
            model = copy.deepcopy(model)               # the updates must not touch the caller's model
        self.model, self.side, self.mix_lr, self.dynamic = model, side, mix_lr, dynamic
        self.adaptive = adaptive
        self.context, self.keep = context, keep
        self.cache = None                              # the GPT's KV cache; None: rebuild it
        self.min_length = min_length                   # every stream holds at least this many bytes
        if dynamic is not None:
            self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=dynamic.lr)
        self.z = 0.0                                   # mixing weight logit: a = 0.5 at the start
        self.updates = 0

    @property
    def weight(self) -> float:
        """The GPT's share ``a`` in the mixture (0.5 until the side model has been tried)."""
        return 1.0 / (1.0 + math.exp(-self.z))

    def _gpt_probs(self, t: int, hist: torch.Tensor) -> torch.Tensor:
        """Feed ``hist[:, t]`` and return the GPT's probabilities (N, 256) for ``hist[:, t + 1]``.

        Reads only ``hist[:, :t + 1]``, so the decoder can fill ``hist`` as it goes; the encoder
        runs the very same operations with ``hist`` already full. When the cache holds
        ``context`` tokens, or the weights changed (dynamic evaluation), it is rebuilt from the
        last ``keep`` tokens.
        """
        if self.cache is None or len(self.cache) == self.context:
            n = min(self.keep, t + 1)
            self.cache = self.model.new_cache()
            self.cache.layers = [_SlabCache(self.context) for _ in self.cache.layers]
            logits = self.model(hist[:, t + 1 - n:t + 1], cache=self.cache)[0][:, -1]
        else:
            logits = self.model(hist[:, t:t + 1], cache=self.cache)[0][:, -1]   # (N, V)
        return torch.softmax(logits.float(), dim=-1)

    def predict(self, t: int, hist: torch.Tensor, hist_np: np.ndarray, active: int) -> torch.Tensor:
        """Cumulative frequencies (N, 257) of the next byte of every stream (rows past ``active``
        are computed but not coded: the batch keeps its shape, so the numbers do not change)."""
        probs = self._gpt_probs(t, hist)                                          # (N, 256)
        if self.side is None and self.adaptive is None:
            return quantize_probs(probs)
        pm = probs.double().cpu().numpy()
        if self.side is None:
            pm[:active] = self.adaptive.predict(t, hist_np, active, pm)
            return quantize_probs(torch.from_numpy(pm)).to(probs.device)
        ps = pm.copy()
        k = self.side.context_bytes                  # stream i has coded hist[i, 1:t + 1]
        contexts = [hist_np[i, max(1, t + 1 - k):t + 1].tobytes() for i in range(active)]
        if hasattr(self.side, "probs_many"):         # one batched call (ByteNGram), same numbers
            ps[:active] = self.side.probs_many(contexts)
        else:
            for i, c in enumerate(contexts):
                ps[i] = self.side.probs(c)
        self._pm, self._ps = pm, ps
        a = self.weight
        p = a * pm + (1 - a) * ps
        if self.adaptive is not None:
            p[:active] = self.adaptive.predict(t, hist_np, active, p)
        return quantize_probs(torch.from_numpy(p)).to(probs.device)

    def observe(self, t: int, hist: torch.Tensor, hist_np: np.ndarray, symbols: np.ndarray) -> None:
        """Learn from the bytes just coded: update the adaptive models, move the mixing weight,
        and every ``every`` steps take one dynamic-evaluation step (which invalidates the KV cache)."""
        if self.adaptive is not None:
            self.adaptive.update(t, hist_np, symbols)
        if self.side is not None:                    # d(-ln p(x))/dz for p = a pm + (1 - a) ps
            rows = np.arange(len(symbols))
            pm, ps = self._pm[rows, symbols], self._ps[rows, symbols]
            a = self.weight
            grad = -float(np.sum((pm - ps) / (a * pm + (1 - a) * ps))) * a * (1 - a)
            if math.isfinite(grad):                  # |z| <= 30 keeps both models' share > 0
                self.z = min(max(self.z - self.mix_lr * grad, -30.0), 30.0)
        d = self.dynamic
        if d is not None and (t + 1) % d.every == 0 and t + 1 <= self.min_length:
            lo = max(0, t + 1 - d.window)                # inputs hist[:, lo:t+1], targets one ahead
            with torch.enable_grad():
                _, loss = self.model(hist[:, lo:t + 1], hist[:, lo + 1:t + 2])
                self.optimizer.zero_grad()
                loss.backward()
            self.optimizer.step()
            self.cache = None                            # keys and values of the old weights
            self.updates += 1
