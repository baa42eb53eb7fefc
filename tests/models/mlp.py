"""MLP family: three linear layers with ReLU and dropout in a flat nn.Sequential."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, d_out),
        )

    def forward(self, x):
        return self.net(x)


batch_size = 2
d_in = 32
hidden = 64
d_out = 10


def get_inputs():
    return [torch.randn(batch_size, d_in)]


def get_init_inputs():
    return [d_in, hidden, d_out]
