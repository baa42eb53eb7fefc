"""A gated residual block, in a file of its own beside the model that uses it."""
import torch
import torch.nn as nn

from .scales import layer_scale


class GatedBlock(nn.Module):
    def __init__(self, dim, depth_index):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.value = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)
        self.scale = layer_scale(depth_index)

    def forward(self, x):
        h = self.norm(x)
        return x + self.scale * self.value(h) * torch.sigmoid(self.gate(h))
