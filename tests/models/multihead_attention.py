"""nn.MultiheadAttention used directly: sequence-first, a causal bool mask in a buffer, head-averaged weights returned."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, embed, heads, classes, seq_len):
        super().__init__()
        self.proj = nn.Linear(embed, embed)
        self.attn = nn.MultiheadAttention(embed, heads)
        self.norm = nn.LayerNorm(embed)
        self.head = nn.Linear(embed, classes)
        self.register_buffer("causal", torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), 1))

    def forward(self, x):
        h = self.proj(x)
        attended = self.attn(h, h, h, attn_mask=self.causal)
        out, weights = attended[0], attended[1]  # fx under Python 3.11 cannot unpack a call's result
        return self.head(self.norm(out + h)), weights


seq_len = 6
batch_size = 2
embed = 16
heads = 4
classes = 5


def get_inputs():
    return [torch.randn(seq_len, batch_size, embed)]


def get_init_inputs():
    return [embed, heads, classes, seq_len]
