"""Squeeze-and-excite: global pool, two 1x1 convs, sigmoid gate, channel-wise multiply."""
import torch
import torch.nn as nn


class SqueezeExcite(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, c // r, 1)
        self.expand = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = torch.sigmoid(self.expand(torch.relu(self.reduce(self.pool(x)))))
        return x * s


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.se = SqueezeExcite(c, 4)

    def forward(self, x):
        return self.se(torch.relu(self.conv(x)))


def get_inputs():
    return [torch.randn(2, 3, 8, 8)]


def get_init_inputs():
    return [16]
