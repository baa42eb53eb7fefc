"""Three blocks, each with a gate that anneals its temperature by its own count of calls (Gumbel-softmax style schedules kept in forward): a childless module, one kernel, counting in a number attribute. One refactored model serves the three instances of each component, and each original instance counts its own calls: each instance's run starts from the count that build left for it, or from the count as built. Before, the block's step FAILED (max diff 1.2e-01): one count ran ahead of all three."""
import torch
import torch.nn as nn


class AnnealedGate(nn.Module):
    def __init__(self, start, rate):
        super().__init__()
        self.start = start
        self.rate = rate
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        temperature = max(0.25, self.start - self.rate * self.calls)
        return torch.sigmoid(x / temperature) * x


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.gate = AnnealedGate(1.0, 0.2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x + self.gate(self.fc(x)))


class Model(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim) for _ in range(3)])
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def get_inputs():
    return [torch.randn(4, 16)]


def get_init_inputs():
    return [16, 3]
