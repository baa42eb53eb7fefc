import torch.nn as nn
import torch.nn.functional as F

from .act import GeluNew
from .norm import RMSNorm


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        h = config.hidden_size
        self.num_heads = config.num_heads
        self.norm1 = RMSNorm(h, config.eps)
        self.qkv = nn.Linear(h, 3 * h)
        self.out = nn.Linear(h, h)
        self.norm2 = RMSNorm(h, config.eps)
        self.up = nn.Linear(h, 4 * h)
        self.down = nn.Linear(4 * h, h)
        self.act = GeluNew()

    def forward(self, x):
        b, t, h = x.shape
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        q, k, v = (z.view(b, t, self.num_heads, h // self.num_heads).transpose(1, 2) for z in (q, k, v))
        att = F.softmax(q @ k.transpose(-2, -1) / (h // self.num_heads) ** 0.5, dim=-1)
        x = x + self.out((att @ v).transpose(1, 2).reshape(b, t, h))
        return x + self.down(self.act(self.up(self.norm2(x))))
