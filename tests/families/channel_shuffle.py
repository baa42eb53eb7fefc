"""ShuffleNet-style unit: channel split, grouped convs, channel shuffle by view/transpose."""
import torch
import torch.nn as nn


def shuffle(x, groups):
    b, c, h, w = x.size()
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c // 2, c // 2, 1, groups=2, bias=False)
        self.bn1 = nn.BatchNorm2d(c // 2)
        self.conv2 = nn.Conv2d(c // 2, c // 2, 3, padding=1, groups=c // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(c // 2)

    def forward(self, x):
        keep, work = x.chunk(2, dim=1)
        work = torch.relu(self.bn1(self.conv1(work)))
        work = self.bn2(self.conv2(work))
        return shuffle(torch.cat([keep, work], 1), 2)


def get_inputs():
    return [torch.randn(2, 16, 8, 8)]


def get_init_inputs():
    return [16]
