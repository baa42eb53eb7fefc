"""Inception module: four parallel branches concatenated on channels."""
import torch
import torch.nn as nn


class Inception(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.b1 = nn.Conv2d(c_in, 8, 1)
        self.b2 = nn.Sequential(nn.Conv2d(c_in, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(c_in, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c_in, 8, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class Model(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.inception = Inception(c_in)

    def forward(self, x):
        return torch.relu(self.inception(x))


def get_inputs():
    return [torch.randn(2, 8, 8, 8)]


def get_init_inputs():
    return [8]
