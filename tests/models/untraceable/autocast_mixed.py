"""Mixed precision in forward: attention under bfloat16 autocast, its softmax in a region with autocast off, the residual and norm outside (torch.fx's graph drops the autocast: the same node inside the block as outside it, and its output is float32's)."""

import torch
import torch.nn as nn


class AutocastAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.scale = dim ** -0.5

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scores = self.q(x) @ self.k(x).transpose(-1, -2)
            with torch.autocast("cpu", enabled=False):
                weights = (scores.float() * self.scale).softmax(dim=-1)
            mixed = weights @ self.v(x)
        return self.norm(x + mixed.float())


class Model(nn.Module):
    def __init__(self, dim=32, depth=2):
        super().__init__()
        self.blocks = nn.Sequential(*[AutocastAttention(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        return self.head(self.blocks(x).mean(dim=1))


def get_inputs():
    return [torch.randn(4, 12, 32)]


def get_init_inputs():
    return [32, 2]
