"""HuggingFace-style shape unpacking (untraceable: `b, t, d = x.shape`, t checked against the position table, then used in torch.arange and b/t in view): position embedding, multi-head attention with a causal mask, linear output."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, dim, n_heads, max_len):
        super().__init__()
        self.n_heads = n_heads
        self.pos = nn.Embedding(max_len, dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        if t > self.pos.num_embeddings:
            raise ValueError(f"{t} tokens, but only {self.pos.num_embeddings} positions")
        positions = torch.arange(t, device=x.device)
        x = x + self.pos(positions)[None]
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
        k = k.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
        v = v.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) * (d // self.n_heads) ** -0.5
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        scores = scores.masked_fill(causal, float("-inf"))
        y = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
        return self.out(y)


batch_size = 2
seq_len = 16
dim = 32
n_heads = 4
max_len = 64


def get_inputs():
    return [torch.randn(batch_size, seq_len, dim)]


def get_init_inputs():
    return [dim, n_heads, max_len]
