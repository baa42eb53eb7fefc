"""Subclasses of torch.nn's classes that compute in a forward of their own, as timm, ConvNeXt and LoRA write them: a conv that pads 'SAME' first, a channels-first layer norm, a linear with a low-rank path. Each is one kernel named by its class (conv2d_same, layer_norm2d, lo_ra_linear), apart from torch's plain class of the same settings."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv2dSame(nn.Conv2d):
    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__(cin, cout, k, stride, 0, 1, groups, True)

    def forward(self, x):
        ih, iw = x.shape[-2:]
        pad_h = max((math.ceil(ih / self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - ih, 0)
        pad_w = max((math.ceil(iw / self.stride[1]) - 1) * self.stride[1] + self.kernel_size[1] - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LoRALinear(nn.Linear):
    def __init__(self, fin, fout, rank):
        super().__init__(fin, fout)
        self.lora_a = nn.Parameter(torch.randn(rank, fin) * 0.1)
        self.lora_b = nn.Parameter(torch.randn(fout, rank) * 0.1)

    def forward(self, x):
        return super().forward(x) + x @ self.lora_a.t() @ self.lora_b.t()


class Model(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.stem = Conv2dSame(3, 8, 3, stride=2)
        self.norm = LayerNorm2d(8)
        self.conv = nn.Conv2d(8, 8, 3, stride=2)  # torch's conv of the same settings as a Conv2dSame
        self.same = Conv2dSame(8, 8, 3, stride=2)
        self.adapted = LoRALinear(16, 16, 2)
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        x = self.norm(self.stem(x))
        x = torch.cat([self.conv(x).mean((2, 3)), self.same(x).mean((2, 3))], 1)
        return self.head(torch.relu(self.adapted(x)))


def get_inputs():
    return [torch.randn(2, 3, 15, 15)]


def get_init_inputs():
    return [4]
