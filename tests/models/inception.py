"""Inception family: stem, two inception modules of 4 parallel branches (1x1, 1x1-3x3, 1x1-3x3-3x3, maxpool-1x1) joined with torch.cat, pool, fc."""
import torch
import torch.nn as nn


class ConvBNReLU(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    def __init__(self, in_ch, c1, c3_red, c3, c5_red, c5, pool_proj):
        super().__init__()
        self.branch1 = ConvBNReLU(in_ch, c1, 1)
        self.branch2 = nn.Sequential(
            ConvBNReLU(in_ch, c3_red, 1),
            ConvBNReLU(c3_red, c3, 3, padding=1),
        )
        self.branch3 = nn.Sequential(
            ConvBNReLU(in_ch, c5_red, 1),
            ConvBNReLU(c5_red, c5, 3, padding=1),
            ConvBNReLU(c5, c5, 3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1),
            ConvBNReLU(in_ch, pool_proj, 1),
        )

    def forward(self, x):
        b1 = self.branch1(x)
        b2 = self.branch2(x)
        b3 = self.branch3(x)
        b4 = self.branch4(x)
        return torch.cat([b1, b2, b3, b4], dim=1)


class Model(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.stem = ConvBNReLU(in_channels, 16, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2)
        self.inc1 = InceptionModule(16, 8, 8, 16, 4, 8, 8)    # -> 40 channels
        self.inc2 = InceptionModule(40, 16, 12, 24, 4, 8, 8)  # -> 56 channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(56, num_classes)

    def forward(self, x):
        x = self.pool1(self.stem(x))
        x = self.inc2(self.inc1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


batch_size = 2
in_channels = 3
image_size = 32
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, num_classes]
