"""Mean of the positive activations (value-sized ops in a symbolic trace: torch.masked_select keeps the positive entries and torch.where finds them, so how many there are, which divides the sum, changes with the inputs): a linear layer, the mean over what it kept, plus the overall mean."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        h = self.fc(x)
        positive = torch.masked_select(h, h > 0)
        kept = torch.where(h.flatten() > 0)[0]
        return positive.sum() / (kept.numel() + 1) + h.mean()


batch = 4
dim = 8


def get_inputs():
    return [torch.randn(batch, dim)]


def get_init_inputs():
    return [dim]
