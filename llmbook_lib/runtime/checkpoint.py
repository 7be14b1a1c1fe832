"""Checkpoints: one safetensors file holding weights, optimizer state, RNG state and JSON metadata.

Written atomically (temporary file, fsync, rename), so a crash mid-write leaves the previous
checkpoint intact. Loading checks a sha256 of every tensor before touching the model, so a
truncated or corrupted file raises a ``ValueError`` and is never half-loaded. Nothing is
unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT = "llmbook-checkpoint/1"


def hash_tensors(h, tensors: dict[str, torch.Tensor]):
    """Feed every tensor (name, dtype, shape, raw bytes), in name order, into hash object ``h``."""
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h


def _digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """sha256 over every metadata string and every tensor."""
    h = hashlib.sha256()
    for key in sorted(metadata):
        if key != "sha256":
            h.update(f"{key}={metadata[key]}|".encode())
    return hash_tensors(h, tensors).hexdigest()


def _unique_state(model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """State dict without shared storage (tied weights), plus the aliases that restore it."""
    tensors, aliases, seen = {}, {}, {}
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), t.dtype, tuple(t.shape), t.stride()) if t.numel() else None
        if key is not None and key in seen:
            aliases[name] = seen[key]
            continue
        if key is not None:
            seen[key] = name
        tensors[name] = t.detach().cpu().contiguous()
    return tensors, aliases


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, state: dict | None = None,
                    rng: bool = True) -> Path:
    """Write model (+ optimizer, + RNG) and a JSON-serialisable ``state`` dict to ``path``."""
    path = Path(path)
    weights, aliases = _unique_state(model)
    tensors = {f"model.{k}": v for k, v in weights.items()}
    optim_meta = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars = {}
        for idx, pstate in sd["state"].items():
            for name, value in pstate.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{idx}.{name}"] = value.detach().cpu().contiguous()
                else:
                    scalars[f"{idx}.{name}"] = value
        optim_meta = {"param_groups": sd["param_groups"], "scalars": scalars}
    if rng:
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = s
    metadata = {
        "format": FORMAT,
        "state": json.dumps(state or {}, ensure_ascii=False),
        "aliases": json.dumps(aliases),
        "optimizer": json.dumps(optim_meta),
    }
    metadata["sha256"] = _digest(tensors, metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)
    except OSError:
        pass
    return path


@dataclass
class Checkpoint:
    """A verified checkpoint in memory; ``apply`` puts it into a model (and optimizer)."""

    path: Path
    tensors: dict[str, torch.Tensor]
    state: dict
    aliases: dict[str, str]
    optimizer_meta: dict | None

    def model_state(self) -> dict[str, torch.Tensor]:
        sd = {k[len("model."):]: v for k, v in self.tensors.items() if k.startswith("model.")}
        for alias, target in self.aliases.items():
            sd[alias] = sd[target]
        return sd

    def apply(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
              restore_rng: bool = False) -> None:
        sd = self.model_state()
        own = model.state_dict()
        missing, unexpected = sorted(set(own) - set(sd)), sorted(set(sd) - set(own))
        wrong = [k for k in own.keys() & sd.keys() if own[k].shape != sd[k].shape]
        if missing or unexpected or wrong:
            raise ValueError(
                f"checkpoint {self.path} does not fit this model: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}; build the model with the "
                "config stored in the checkpoint")
        if optimizer is not None and self.optimizer_meta is None:
            raise ValueError(f"checkpoint {self.path} holds no optimizer state; it cannot resume training")
        optim_sd = self._optimizer_state() if optimizer is not None else None
        model.load_state_dict(sd)
        if optimizer is not None:
            optimizer.load_state_dict(optim_sd)
        if restore_rng:
            torch.set_rng_state(self.tensors["rng.torch"])
            cuda = [self.tensors[k] for k in sorted(self.tensors) if k.startswith("rng.cuda.")]
            if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)

    def _optimizer_state(self) -> dict:
        meta = self.optimizer_meta
        state: dict[int, dict] = {}
        for key, value in self.tensors.items():
            if key.startswith("optim."):
                _, idx, name = key.split(".", 2)
                state.setdefault(int(idx), {})[name] = value
        for key, value in meta["scalars"].items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        return {"state": state, "param_groups": meta["param_groups"]}


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> Checkpoint:
    """Read and verify a checkpoint. Raises ``FileNotFoundError`` or a ``ValueError`` that says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for bad headers and sizes
        raise ValueError(f"checkpoint {path} is truncated or corrupted ({e}); delete it and train "
                         "again, or restore it from a copy") from None
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not an llmbook checkpoint (format {metadata.get('format')!r}, "
                         f"expected {FORMAT!r})")
    if _digest(tensors, metadata) != metadata.get("sha256"):
        raise ValueError(f"checkpoint {path} is corrupted: its contents do not match the stored sha256; "
                         "delete it and train again, or restore it from a copy")
    try:
        return Checkpoint(path, tensors, json.loads(metadata["state"]), json.loads(metadata["aliases"]),
                          json.loads(metadata["optimizer"]))
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"checkpoint {path} has damaged metadata ({e}); delete it and train again") from None
