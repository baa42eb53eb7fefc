"""NetVLAD: soft assignment to clusters, residuals to learned centers by broadcasting,
intra-normalisation."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, dim, clusters):
        super().__init__()
        self.assign = nn.Linear(dim, clusters)
        self.centers = nn.Parameter(torch.randn(clusters, dim))

    def forward(self, x):
        a = F.softmax(self.assign(x), dim=-1)
        residual = x.unsqueeze(2) - self.centers
        vlad = (a.unsqueeze(-1) * residual).sum(dim=1)
        vlad = F.normalize(vlad, dim=-1)
        return F.normalize(vlad.flatten(1), dim=-1)


def get_inputs():
    return [torch.randn(2, 10, 16)]


def get_init_inputs():
    return [16, 4]
