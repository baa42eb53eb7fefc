"""DenseNet-style block: each bn-relu-conv layer sees the concatenation of all before it."""
import torch
import torch.nn as nn


class DenseBlock(nn.Module):
    def __init__(self, layers, c_in, growth):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Sequential(nn.BatchNorm2d(c_in + i * growth), nn.ReLU(inplace=True),
                          nn.Conv2d(c_in + i * growth, growth, 3, padding=1, bias=False))
            for i in range(layers)])

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Model(nn.Module):
    def __init__(self, c_in, growth):
        super().__init__()
        self.block = DenseBlock(3, c_in, growth)
        self.transition = nn.Sequential(nn.BatchNorm2d(c_in + 3 * growth), nn.ReLU(inplace=True),
                                        nn.Conv2d(c_in + 3 * growth, c_in, 1, bias=False), nn.AvgPool2d(2))

    def forward(self, x):
        return self.transition(self.block(x))


def get_inputs():
    return [torch.randn(2, 8, 8, 8)]


def get_init_inputs():
    return [8, 4]
