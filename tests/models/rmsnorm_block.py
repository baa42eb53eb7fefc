"""Custom leaf module family: RMSNorm(nn.Module) with one weight nn.Parameter and no submodules, used in 2 pre-norm gated blocks (linear + SiLU gate * linear, down linear, residual), final RMSNorm and linear head."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * rms * self.weight


class GatedBlock(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        h = self.norm(x)
        h = F.silu(self.gate(h)) * self.up(h)
        return x + self.down(h)


class Model(nn.Module):
    def __init__(self, dim, hidden, num_blocks, num_classes):
        super().__init__()
        self.blocks = nn.Sequential(*[GatedBlock(dim, hidden) for _ in range(num_blocks)])
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.head(self.norm(self.blocks(x)))


batch_size = 2
seq_len = 8
dim = 32
hidden = 64
num_blocks = 2
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, seq_len, dim)]


def get_init_inputs():
    return [dim, hidden, num_blocks, num_classes]
