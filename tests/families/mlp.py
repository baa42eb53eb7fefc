"""MLP: linear-relu stacks in a flat Sequential."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, d_out))

    def forward(self, x):
        return self.net(x)


def get_inputs():
    return [torch.randn(4, 32)]


def get_init_inputs():
    return [32, 64, 10]
