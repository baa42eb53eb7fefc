"""Input handling that symbolic tracing silently gets wrong: isinstance(x, torch.Tensor) is False for a traced value, so torch.fx's graph skips the scaling that a tensor input gets, without an error. Scaled input, linear, GELU, layer norm, linear."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, dim, hidden, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        if isinstance(x, torch.Tensor):  # raw pixel values; other inputs come scaled
            x = x / 255.0
        return self.fc2(self.norm(F.gelu(self.fc1(x))))


batch_size = 4
dim = 32
hidden = 64
num_classes = 10


def get_inputs():
    return [torch.rand(batch_size, dim) * 255.0]


def get_init_inputs():
    return [dim, hidden, num_classes]
