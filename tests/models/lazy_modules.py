"""Lazy modules (nn.LazyConv2d, nn.LazyBatchNorm2d, nn.LazyLinear), whose weights take their shapes from the first input they see: the model is built and run once before it is traced, and its composition test does the same."""
import torch
import torch.nn as nn


class Stage(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.LazyConv2d(channels, 3, padding=1)
        self.bn = nn.LazyBatchNorm2d()

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Model(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.stage1 = Stage(8)
        self.stage2 = Stage(12)
        self.head = nn.LazyLinear(classes)

    def forward(self, x):
        x = self.stage2(self.stage1(x))
        return self.head(x.mean((2, 3)))


def get_inputs():
    return [torch.randn(2, 3, 10, 10)]


def get_init_inputs():
    return [5]
