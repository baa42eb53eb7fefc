"""MobileNet-style depthwise-separable convs, and a grouped conv."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pointwise = nn.Conv2d(c, 2 * c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * c)
        self.grouped = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=4)

    def forward(self, x):
        x = torch.relu(self.bn1(self.depthwise(x)))
        x = torch.relu(self.bn2(self.pointwise(x)))
        return self.grouped(x)


def get_inputs():
    return [torch.randn(2, 8, 8, 8)]


def get_init_inputs():
    return [8]
