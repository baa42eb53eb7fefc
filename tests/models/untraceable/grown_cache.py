"""A rotary embedding whose cos and sin tables are buffers registered again, longer, when an input is longer than they are (Hugging Face's LLaMA rotary before its cache was dropped): after a forward the model's buffers have other shapes than a fresh build's, which the composition test takes as they are. torch.fx cannot branch on the traced length; ours keeps the rotary one kernel."""
import torch
import torch.nn as nn


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, max_position_embeddings, base=10000):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._set_cos_sin_cache(max_position_embeddings)

    def _set_cos_sin_cache(self, seq_len):
        self.max_seq_len_cached = seq_len
        t = torch.arange(self.max_seq_len_cached, dtype=self.inv_freq.dtype)
        emb = torch.cat([torch.outer(t, self.inv_freq)] * 2, dim=-1)
        self.register_buffer("cos_cached", emb.cos(), persistent=False)
        self.register_buffer("sin_cached", emb.sin(), persistent=False)

    def forward(self, x, seq_len):
        if seq_len > self.max_seq_len_cached:
            self._set_cos_sin_cache(seq_len)
        return self.cos_cached[:seq_len], self.sin_cached[:seq_len]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Model(nn.Module):
    def __init__(self, dim, cached):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.rotary = RotaryEmbedding(dim, cached)

    def forward(self, x):
        q, k = self.q(x), self.k(x)
        tables = self.rotary(q, seq_len=x.shape[1])
        cos, sin = tables[0], tables[1]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        return (q @ k.transpose(-1, -2)).softmax(-1) @ x


def get_inputs():
    return [torch.randn(2, 10, 16)]


def get_init_inputs():
    return [16, 4]
