"""A model whose blocks come from files of its own folder (a package beside it, one module of which imports another): the copies of the model the run writes (level_3_model/, a step's original.py) hold those files as source text, so that they and the composition test run without the folder."""
import torch
import torch.nn as nn

from parts.gated import GatedBlock


class Model(nn.Module):
    def __init__(self, dim, depth, classes):
        super().__init__()
        self.blocks = nn.ModuleList([GatedBlock(dim, i) for i in range(depth)])
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(1))


def get_inputs():
    return [torch.randn(2, 6, 16)]


def get_init_inputs():
    return [16, 2, 4]
