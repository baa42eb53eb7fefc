"""Research code's ModelArgs (untraceable: the forward unpacks x.shape and asserts its length against max_seq): a dataclass of settings handed to a leaf rotary-embedding module, whose file must build the record again to build the module."""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class ModelArgs:
    dim: int = 32
    n_heads: int = 4
    base: float = 10000.0
    max_seq: int = 16


class Rotary(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        half = args.dim // args.n_heads // 2
        inv = 1.0 / (args.base ** (torch.arange(0, half).float() / half))
        t = torch.arange(args.max_seq).float()
        freqs = torch.outer(t, inv)
        self.register_buffer("cos", freqs.cos(), persistent=False)
        self.register_buffer("sin", freqs.sin(), persistent=False)

    def forward(self, x):
        seq = x.shape[-2]
        x1, x2 = x.chunk(2, dim=-1)
        cos, sin = self.cos[:seq], self.sin[:seq]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Model(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.qkv = nn.Linear(args.dim, 3 * args.dim)
        self.rot = Rotary(args)
        self.out = nn.Linear(args.dim, args.dim)

    def forward(self, x):
        b, t, d = x.shape
        assert t <= self.args.max_seq, f"{t} tokens, but max_seq is {self.args.max_seq}"
        q, k, v = self.qkv(x).view(b, t, 3, self.args.n_heads, d // self.args.n_heads).permute(2, 0, 3, 1, 4)
        q, k = self.rot(q), self.rot(k)
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.args.n_heads) ** 0.5, dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, t, d))


def get_inputs():
    return [torch.randn(2, 16, 32)]


def get_init_inputs():
    return [ModelArgs()]
