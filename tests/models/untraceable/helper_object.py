"""Rotary position tables kept by a helper object that is no nn.Module (older GPT-NeoX and RoFormer code keeps them so): its tensors are the model's state, named by the attribute path (rot.cos), in the files and in the composition test. torch.fx cannot slice its tables by a traced length."""
import torch
import torch.nn as nn


class Rotary:
    def __init__(self, dim, max_len):
        inv = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        freqs = torch.outer(torch.arange(max_len).float(), inv)
        self.cos, self.sin = freqs.cos(), freqs.sin()

    def __call__(self, x):
        n = x.shape[-2]
        x1, x2 = x[..., ::2], x[..., 1::2]
        cos, sin = self.cos[:n], self.sin[:n]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


class Model(nn.Module):
    def __init__(self, dim, max_len):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.rot = Rotary(dim, max_len)

    def forward(self, x):
        q, k = self.rot(self.q(x)), self.rot(self.k(x))
        return (q @ k.transpose(-1, -2)).softmax(-1) @ x


def get_inputs():
    return [torch.randn(2, 10, 16)]


def get_init_inputs():
    return [16, 32]
