"""Transformer (GPT-like) family: token nn.Embedding plus learned positions, pre-norm blocks in a ModuleList (LayerNorm, hand-written MHSA, LayerNorm, GELU MLP, residual adds), final LayerNorm, LM head."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
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
        att = F.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        out = (att @ v).transpose(1, 2).contiguous().view(b, -1, self.d_model)
        return self.out_proj(out)


class MLP(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, d_model)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, 4 * d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class Model(nn.Module):
    def __init__(self, vocab_size, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.drop = nn.Dropout(0.1)
        self.blocks = nn.ModuleList([Block(d_model, n_heads) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, idx):
        x = self.drop(self.tok_emb(idx) + self.pos_emb)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


batch_size = 2
seq_len = 16
vocab_size = 100
d_model = 64
n_heads = 4
n_layers = 2


def get_inputs():
    return [torch.randint(0, vocab_size, (batch_size, seq_len))]


def get_init_inputs():
    return [vocab_size, seq_len, d_model, n_heads, n_layers]
