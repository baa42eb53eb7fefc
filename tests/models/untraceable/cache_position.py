"""One decoding step of a model that keeps its keys and values in a static cache, written at a position it counts itself (`self.pos += 1`, a Python number), and a childless temperature that anneals with its own count of calls, one kernel. Every run of each step starts from the cache, the position and the count as built, the kernel file's own count too. torch.fx cannot index the cache by a traced position; ours records the model."""
import torch
import torch.nn as nn


class AnnealedTemperature(nn.Module):
    def __init__(self, start):
        super().__init__()
        self.start = start
        self.calls = 0

    def forward(self, scores):
        self.calls += 1
        return scores / (self.start / self.calls ** 0.5)


class CachedAttention(nn.Module):
    def __init__(self, dim, max_len):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.temperature = AnnealedTemperature(4.0)
        self.register_buffer("k_cache", torch.zeros(1, max_len, dim))
        self.register_buffer("v_cache", torch.zeros(1, max_len, dim))
        self.pos = 0

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        self.k_cache[:, self.pos] = k[:, 0]
        self.v_cache[:, self.pos] = v[:, 0]
        self.pos += 1
        keys, values = self.k_cache[:, :self.pos], self.v_cache[:, :self.pos]
        attn = torch.softmax(self.temperature(q @ keys.transpose(1, 2)), dim=-1)
        return self.out(attn @ values)


class Model(nn.Module):
    def __init__(self, vocab, dim, max_len):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.attn = CachedAttention(dim, max_len)
        self.head = nn.Linear(dim, vocab)

    def forward(self, token):
        return self.head(self.attn(self.embed(token)))


def get_inputs():
    return [torch.randint(0, 32, (1, 1))]


def get_init_inputs():
    return [32, 16, 8]
