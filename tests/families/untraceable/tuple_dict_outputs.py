"""A dict output holding a tensor and a tuple of tensors."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.body = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = torch.tanh(self.body(x))
        logits = self.head(h)
        a, b = h.chunk(2, dim=-1)
        return {"logits": logits, "hidden": (a, b)}


def get_inputs():
    return [torch.randn(2, 16)]


def get_init_inputs():
    return [16, 4]
