"""Control flow on tensor values: `if x.mean() > 0`, and `int(mask.sum())` used as a size."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.a = nn.Linear(dim, dim)
        self.b = nn.Linear(dim, dim)

    def forward(self, x):
        y = self.a(x)
        if y.mean() > 0:
            y = torch.relu(y)
        else:
            y = torch.sigmoid(y)
        k = int((x[0] > 0).sum())
        return self.b(y)[:, :max(k, 1)]


def get_inputs():
    torch.manual_seed(0)
    return [torch.randn(2, 16)]


def get_init_inputs():
    return [16]
