"""Positions for the tokens a gate keeps: torch.arange over how many passed (keep.numel(), a size that values give, read into Python in the model's own forward, which also returns early where none passed), added before a projection."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gate = nn.Linear(dim, 1)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        keep = torch.nonzero(self.gate(x).squeeze(-1) > 0, as_tuple=True)[0]
        if keep.numel() == 0:  # no token kept: a branch on a count, which no symbolic trace takes
            return x.new_zeros(x.size(1))
        kept = x[keep]
        positions = torch.arange(keep.numel(), dtype=x.dtype)[:, None]
        return self.proj(kept + positions).sum(0)


def get_inputs():
    return [torch.randn(12, 8)]


def get_init_inputs():
    return [8]
