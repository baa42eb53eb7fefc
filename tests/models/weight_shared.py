"""Weight sharing and in-place ops: one nn.Linear called twice, nn.ReLU(inplace=True), an in-place y += x, and a registered buffer used in forward."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(dim, num_classes)
        self.register_buffer("offset", torch.linspace(-1.0, 1.0, dim))

    def forward(self, x):
        y = self.relu(self.fc(x))
        y += x
        y = self.fc(y)              # same weights as the first call
        y = y - self.offset
        return self.head(y)


batch_size = 2
dim = 32
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [dim, num_classes]
