"""A router that keeps, in eval too, a running average of how often each expert is picked and a count of its calls: buffers its forward writes into in place (mul_, add_, +=). It is called twice, and its second call routes by what the first left. Every run of a step starts from the buffers as built, and what the refactored run leaves in them is compared with what the original's left. torch.fx cannot assign the in-place count to a buffer; ours records the model."""
import torch
import torch.nn as nn


class BalancedRouter(nn.Module):
    def __init__(self, dim, experts):
        super().__init__()
        self.gate = nn.Linear(dim, experts)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("usage", torch.full((experts,), 1.0 / experts))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        # experts picked often are picked less: their usage lowers their score
        scores = torch.softmax(self.gate(x) - self.usage.log(), dim=-1)
        self.usage.mul_(0.9).add_(scores.mean(dim=(0, 1)), alpha=0.1)
        self.calls += 1
        return torch.relu(self.proj(x)) * scores.max(dim=-1, keepdim=True).values


class Model(nn.Module):
    def __init__(self, dim, experts):
        super().__init__()
        self.inp = nn.Linear(dim, dim)
        self.router = BalancedRouter(dim, experts)
        self.out = nn.Linear(dim, 4)

    def forward(self, x):
        h = self.router(self.inp(x))
        return self.out(self.router(h))


def get_inputs():
    return [torch.randn(2, 6, 16)]


def get_init_inputs():
    return [16, 4]
