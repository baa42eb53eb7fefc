"""Inputs of every kind: a float tensor, int64 indices, a bool mask, a Python int and a bool."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x, ids, mask, repeats, use_mask):
        h = self.fc(x + self.embed(ids))
        if use_mask:
            h = h.masked_fill(mask.unsqueeze(-1), 0.0)
        return h.repeat(1, repeats, 1)


def get_inputs():
    return [torch.randn(2, 5, 8), torch.randint(0, 12, (2, 5)), torch.rand(2, 5) > 0.5, 2, True]


def get_init_inputs():
    return [12, 8]
