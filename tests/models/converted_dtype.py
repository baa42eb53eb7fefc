"""A model converted after it was built (the LLM habit of model.to(torch.bfloat16), here .double()): pre-norm MLP blocks with a custom RMSNorm and a linear head, every weight float64 though no constructor says so."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(self.norm(x))))


class Model(nn.Module):
    def __init__(self, dim, depth, classes):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, classes)
        self.double()

    def forward(self, x):
        return self.head(self.blocks(x))


batch_size = 4
dim = 32
depth = 2
classes = 10


def get_inputs():
    return [torch.randn(batch_size, dim, dtype=torch.float64)]


def get_init_inputs():
    return [dim, depth, classes]
