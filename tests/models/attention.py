"""Attention family: hand-written multi-head self-attention (q/k/v linears, view/transpose, q@k^T * scale, softmax, @v, output projection)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        b = x.size(0)
        q = self.q_proj(x).view(b, -1, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, -1, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, -1, self.n_heads, self.head_dim).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = F.softmax(att, dim=-1)
        out = att @ v
        out = out.transpose(1, 2).contiguous().view(b, -1, self.d_model)
        return self.out_proj(out)


batch_size = 2
seq_len = 16
d_model = 64
n_heads = 4


def get_inputs():
    return [torch.randn(batch_size, seq_len, d_model)]


def get_init_inputs():
    return [d_model, n_heads]
