"""GPT-2's projections as transformers writes them: Conv1D, a library's own leaf (weight [in, out], addmm) rather than nn.Linear, in fused-QKV attention blocks whose split is unpacked (untraceable symbolically: the ids are checked against the context size, `if ids.size(-1) > self.n_positions`)."""
import math

import torch
import torch.nn as nn


class Conv1D(nn.Module):
    """transformers' Conv1D: a linear layer whose weight is transposed."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class Attention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.c_attn = Conv1D(3 * d_model, d_model)
        self.c_proj = Conv1D(d_model, d_model)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (y.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2) for y in (q, k, v))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(c // self.n_heads), dim=-1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(b, t, c))


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.c_fc = Conv1D(4 * d_model, d_model)
        self.c_proj = Conv1D(d_model, 4 * d_model)

    def forward(self, x):
        h = self.c_fc(x)
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        return self.c_proj(h)


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Model(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, n_positions):
        super().__init__()
        self.n_positions = n_positions
        self.wte = nn.Embedding(vocab_size, d_model)
        self.h = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, ids):
        if ids.size(-1) > self.n_positions:
            raise ValueError(f"{ids.size(-1)} tokens, but a context of {self.n_positions}")
        x = self.wte(ids)
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


def get_inputs():
    return [torch.randint(0, 50, (2, 8))]


def get_init_inputs():
    return [50, 32, 4, 2, 16]
