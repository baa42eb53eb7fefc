"""Weights made by torch.nn.utils.parametrize: convs under torch's parametrized spectral norm (torch 2.x's weight_norm is one too), repeated in a residual loop, an orthogonal mixing of the pooled features, and a linear whose bias the model's own parametrization keeps positive."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrizations, parametrize


class Positive(nn.Module):
    def __init__(self, floor):
        super().__init__()
        self.floor = floor

    def forward(self, x):
        return F.softplus(x) + self.floor


class Model(nn.Module):
    def __init__(self, channels, classes):
        super().__init__()
        self.stem = parametrizations.spectral_norm(nn.Conv2d(3, channels, 3, padding=1))
        self.convs = nn.ModuleList(parametrizations.spectral_norm(nn.Conv2d(channels, channels, 3, padding=1))
                                   for _ in range(2))
        self.mix = parametrizations.orthogonal(nn.Linear(channels, channels, bias=False))
        self.head = nn.Linear(channels, classes)
        parametrize.register_parametrization(self.head, "bias", Positive(0.1))

    def forward(self, x):
        x = torch.relu(self.stem(x))
        for conv in self.convs:
            x = x + torch.relu(conv(x))
        return self.head(torch.tanh(self.mix(x.mean((2, 3)))))


channels = 8
classes = 4


def get_inputs():
    return [torch.randn(2, 3, 8, 8)]


def get_init_inputs():
    return [channels, classes]
