"""Structured outputs: forward returns {"logits": ..., "hidden": (a, b)} from two attention encoder layers and a linear head (untraceable: `if x.dim() == 2:` rank check on the input)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class EncoderLayer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.ff = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        x = self.norm(x + F.softmax(scores, dim=-1) @ v)
        return x + F.relu(self.ff(x))


class Model(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.layer1 = EncoderLayer(dim)
        self.layer2 = EncoderLayer(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        if x.dim() == 2:                                 # accept a single sequence (T, D)
            x = x.unsqueeze(0)
        a = self.layer1(x)
        b = self.layer2(a)
        logits = self.head(b[:, 0])
        return {"logits": logits, "hidden": (a, b)}


batch_size = 2
seq_len = 8
dim = 32
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, seq_len, dim)]


def get_init_inputs():
    return [dim, num_classes]
