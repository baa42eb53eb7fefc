"""KernelBench level-2 style: conv, scale by a parameter, add a bias, relu: one fusion."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3)
        self.scale = nn.Parameter(torch.ones(c_out, 1, 1))
        self.bias = nn.Parameter(torch.zeros(c_out, 1, 1))

    def forward(self, x):
        return torch.relu(self.conv(x) * self.scale + self.bias)


def get_inputs():
    return [torch.randn(2, 3, 16, 16)]


def get_init_inputs():
    return [3, 8]
