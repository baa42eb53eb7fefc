"""KernelBench level-2 style fusion model: a straight chain of 4 ops, conv2d, multiply by a scale nn.Parameter, add a bias nn.Parameter, relu."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.scale = nn.Parameter(torch.randn(out_channels, 1, 1))
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.1)

    def forward(self, x):
        x = self.conv(x)
        x = x * self.scale
        x = x + self.bias
        return torch.relu(x)


batch_size = 2
in_channels = 3
out_channels = 16
kernel_size = 3
image_size = 32


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
