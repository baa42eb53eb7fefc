"""Mamba2-style chunked scan: an upper-case input name, a boolean mask made with dtype=bool, cumsum, einsum, and shapes read in forward."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, n_heads, d_head, block_len):
        super().__init__()
        self.block_len = block_len
        self.A = nn.Parameter(torch.randn(n_heads) * 0.1)
        self.proj = nn.Linear(d_head, d_head)

    def segsum(self, x):
        length = x.size(-1)
        cumsum = torch.cumsum(x, dim=-1)
        segsum = cumsum[..., :, None] - cumsum[..., None, :]
        mask = torch.tril(torch.ones(length, length, dtype=bool), diagonal=0)
        return segsum.masked_fill(~mask, -torch.inf)

    def forward(self, X):
        b, length, h, d = X.shape
        chunks = length // self.block_len
        X = X.reshape(b, chunks, self.block_len, h, d)
        A = self.A.expand(b, chunks, self.block_len, h).permute(0, 3, 1, 2)
        L = torch.exp(self.segsum(A))
        Y = torch.einsum("bhcls,bcshp->bclhp", L, X)
        return self.proj(Y.reshape(b, length, h, d))


batch_size = 2
seq_length = 16
n_heads = 4
d_head = 8
block_len = 4


def get_inputs():
    return [torch.randn(batch_size, seq_length, n_heads, d_head)]


def get_init_inputs():
    return [n_heads, d_head, block_len]
