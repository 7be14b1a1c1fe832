"""Run by test_train.py under torchrun: trains a tiny GPT with DDP and writes rank 0's losses."""

import json
import sys

import torch

from llmbook_lib.data import RandomBatches
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.training.train import TrainConfig, train

torch.set_num_threads(1)


def run(out_path: str | None = None) -> list[float]:
    torch.manual_seed(0)
    data = torch.arange(3000) % 37
    model = GPT(GPTConfig(vocab_size=37, max_len=16, n_layer=2, n_head=2, d_model=32))
    cfg = TrainConfig(max_steps=8, lr=3e-3, warmup_steps=2, progress=False)
    history = train(model, RandomBatches(data, 16, batch_size=8, seed=1), cfg)
    weights = float(sum(p.detach().double().sum() for p in model.parameters()))
    if out_path and torch.distributed.get_rank() == 0:
        with open(out_path, "w") as f:
            json.dump({"loss": history.train_loss, "weights": weights,
                       "world": torch.distributed.get_world_size()}, f)
    return history.train_loss, weights


if __name__ == "__main__":
    run(sys.argv[1])
    torch.distributed.destroy_process_group()
