"""Tiny U-Net: two down levels with max pooling, a bottleneck, two up levels with
transposed convs and skip concatenation."""
import torch
import torch.nn as nn


class DoubleConv(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.conv(x)


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.down1 = DoubleConv(3, c)
        self.down2 = DoubleConv(c, 2 * c)
        self.pool = nn.MaxPool2d(2)
        self.bottom = DoubleConv(2 * c, 4 * c)
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = DoubleConv(4 * c, 2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = DoubleConv(2 * c, c)
        self.out = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        b = self.bottom(self.pool(d2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], 1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], 1))
        return self.out(u1)


def get_inputs():
    return [torch.randn(1, 3, 16, 16)]


def get_init_inputs():
    return [4]
