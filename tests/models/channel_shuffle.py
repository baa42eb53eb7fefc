"""ShuffleNet family: stem, a unit of grouped 1x1 conv, view/transpose/view channel shuffle, depthwise conv, grouped 1x1 conv with skip add, and a split unit using chunk, cat and shuffle."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def channel_shuffle(x, groups):
    b, c, h, w = x.size(0), x.size(1), x.size(2), x.size(3)
    x = x.view(b, groups, c // groups, h, w)
    x = x.transpose(1, 2).contiguous()
    return x.view(b, c, h, w)


class GroupedShuffleUnit(nn.Module):
    """grouped 1x1 conv -> shuffle -> depthwise 3x3 -> grouped 1x1 conv, plus skip."""

    def __init__(self, channels, groups):
        super().__init__()
        mid = channels // 2
        self.groups = groups
        self.gconv1 = nn.Conv2d(channels, mid, 1, groups=groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.dwconv = nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.gconv2 = nn.Conv2d(mid, channels, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.gconv1(x)))
        out = channel_shuffle(out, self.groups)
        out = self.bn2(self.dwconv(out))
        out = self.bn3(self.gconv2(out))
        return F.relu(out + x)


class SplitShuffleUnit(nn.Module):
    """channel split with chunk, one half through 1x1 -> dw 3x3 -> 1x1, cat, shuffle."""

    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False),
            nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        parts = x.chunk(2, dim=1)
        out = torch.cat((parts[0], self.branch(parts[1])), dim=1)
        return channel_shuffle(out, 2)


class Model(nn.Module):
    def __init__(self, in_channels, channels, groups, num_classes):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.unit1 = GroupedShuffleUnit(channels, groups)
        self.unit2 = SplitShuffleUnit(channels)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.unit2(self.unit1(self.stem(x)))
        x = x.mean([2, 3])
        return self.fc(x)


batch_size = 2
in_channels = 3
image_size = 32
channels = 32
groups = 4
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, channels, groups, num_classes]
