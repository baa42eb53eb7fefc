"""Residual blocks whose modules differ only in a number: torchvision's StochasticDepth at a drop rate that grows block by block (as Swin, ConvNeXt and EfficientNet build it), and a residual scale of the model's own class at a value per block (as ESRGAN scales its blocks' outputs)."""
import torch
import torch.nn as nn
from torchvision.ops import StochasticDepth


class ResidualScale(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


class Block(nn.Module):
    def __init__(self, width, rate, scale):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width)
        self.scale = ResidualScale(scale)
        self.drop = StochasticDepth(rate, "row")

    def forward(self, x):
        return x + self.drop(self.scale(torch.relu(self.fc(self.norm(x)))))


class Model(nn.Module):
    def __init__(self, width, depth, classes):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(width, 0.1 * i / (depth - 1), 1.0 / (i + 1)) for i in range(depth)])
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.blocks(x).mean(1))


width = 16
depth = 4
classes = 4


def get_inputs():
    return [torch.randn(2, 6, width)]


def get_init_inputs():
    return [width, depth, classes]
