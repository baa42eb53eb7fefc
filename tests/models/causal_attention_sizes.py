"""Causal attention that reads its sizes off its input as minGPT does, scale `1 / math.sqrt(k.size(-1))` included."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, d_model, n_heads, seq_len):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.register_buffer("mask", torch.tril(torch.ones(seq_len, seq_len)).view(1, 1, seq_len, seq_len))

    def forward(self, x):
        b, t, c = x.size(0), x.size(1), x.size(2)
        q = self.q_proj(x).view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
        # a symbolic trace keeps math.sqrt of a size as a node: files made
        # from the graph must import math
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, c))


batch_size = 2
seq_len = 12
d_model = 32
n_heads = 4


def get_inputs():
    return [torch.randn(batch_size, seq_len, d_model)]


def get_init_inputs():
    return [d_model, n_heads, seq_len]
