"""Relative positions as Funnel Transformer makes them (untraceable: lengths read with len(); an arange whose ends are numbers held in 0-dim tensors, pos[0] - pos[-1], sizes what follows): the relative ids index a learned table, added to attention scores."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim, seq):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.rel_emb = nn.Embedding(2 * seq - 1, 1)

    def forward(self, x):
        pos = torch.arange(0, x.shape[1], 1.0, dtype=x.dtype, device=x.device)
        seq = len(pos)
        max_dist, min_dist = pos[-1] - pos[0], pos[0] - pos[-1]
        rel = torch.arange(max_dist, min_dist - 1, -1, dtype=torch.long, device=x.device)
        index = rel[None, :] + torch.arange(seq, device=x.device)[:, None]
        bias = self.rel_emb(index[:, :seq]).squeeze(-1)
        h = self.proj(x)
        return torch.softmax(h @ h.transpose(1, 2) + bias, dim=-1) @ h


batch_size = 2
dim = 16
seq = 8


def get_inputs():
    return [torch.randn(batch_size, seq, dim)]


def get_init_inputs():
    return [dim, seq]
