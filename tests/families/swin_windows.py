"""Swin-style: shifted windows (torch.roll), window partition by view/permute, window attention
with a learned relative position bias, window reverse."""
import torch
import torch.nn as nn


class WindowAttention(nn.Module):
    def __init__(self, dim, window, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.bias = nn.Parameter(torch.zeros(heads, window * window, window * window))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) + self.bias
        att = att.softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, d))


class Model(nn.Module):
    def __init__(self, dim, window, heads):
        super().__init__()
        self.window = window
        self.norm = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)

    def forward(self, x):
        b, h, w, c = x.shape
        s, ws = self.window // 2, self.window
        y = torch.roll(self.norm(x), shifts=(-s, -s), dims=(1, 2))
        y = y.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        y = self.attn(y)
        y = y.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        return x + torch.roll(y, shifts=(s, s), dims=(1, 2))


def get_inputs():
    return [torch.randn(2, 8, 8, 16)]


def get_init_inputs():
    return [16, 4, 2]
