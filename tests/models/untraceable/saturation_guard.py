"""Saturation guard (untraceable: a module reads whether any reading is beyond the sensor's range, and clips them and takes a robust projection only then, as input guards in sensor and control models do): the first two trials' inputs stay in range and the third's does not, so a recording checked on the second trial alone holds the wrong path; a guard, a GELU MLP with a residual, and a head."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SaturationGuard(nn.Module):
    def __init__(self, dim, limit):
        super().__init__()
        self.limit = limit
        self.plain = nn.Linear(dim, dim)
        self.robust = nn.Linear(dim, dim)

    def forward(self, x):
        if x.abs().max() > self.limit:
            return self.robust(x.clamp(-self.limit, self.limit))
        return self.plain(x)


class Model(nn.Module):
    def __init__(self, dim, hidden, limit, classes):
        super().__init__()
        self.guard = SaturationGuard(dim, limit)
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = self.guard(x)
        h = h + self.down(F.gelu(self.up(h)))
        return self.head(h)


batch = 4
dim = 32


def get_inputs():
    return [torch.randn(batch, dim)]


def get_init_inputs():
    return [dim, 64, 2.75, 10]
