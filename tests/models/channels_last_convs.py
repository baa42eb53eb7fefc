"""A conv net that runs in channels_last memory format (weights moved with .to(memory_format=...), the input made channels_last in forward), beside a shortcut conv of the same shape on the NCHW input: a conv on NHWC data is another kernel than on NCHW, so each has its own file (..._channels_last), whose input is drawn laid out as the model's was."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.SiLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))
        self.body.to(memory_format=torch.channels_last)
        self.shortcut = nn.Conv2d(channels, channels, 3, padding=1)
        self.head = nn.Linear(channels, 5)

    def forward(self, x):
        y = self.body(x.contiguous(memory_format=torch.channels_last)) + self.shortcut(x)
        return self.head(y.mean((2, 3)))


def get_inputs():
    return [torch.randn(2, 8, 12, 12)]


def get_init_inputs():
    return [8]
