"""Mixture-of-experts token dispatch (Mixtral's loop; untraceable: how many tokens each expert gets is read from the data): a router's top-1 choice as a one-hot mask, then per expert torch.nonzero of its column, the chosen tokens gathered, its MLP on them, and the results added back with index_add_."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Expert(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.down(F.silu(self.up(x)))


class Model(nn.Module):
    def __init__(self, dim, hidden, experts):
        super().__init__()
        self.router = nn.Linear(dim, experts)
        self.experts = nn.ModuleList([Expert(dim, hidden) for _ in range(experts)])

    def forward(self, x):
        logits = self.router(x)
        weight, choice = torch.softmax(logits, dim=-1).max(dim=-1)
        mask = F.one_hot(choice, num_classes=len(self.experts))
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            idx = torch.nonzero(mask[:, e]).squeeze(1)
            if idx.numel() == 0:
                continue
            out.index_add_(0, idx, expert(x[idx]) * weight[idx, None])
        return out


tokens = 12
dim = 16
hidden = 32
experts = 3


def get_inputs():
    return [torch.randn(tokens, dim)]


def get_init_inputs():
    return [dim, hidden, experts]
