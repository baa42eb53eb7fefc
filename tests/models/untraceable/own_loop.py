"""Tokens pooled per cluster by a function of the model's own file (untraceable: the clusters' sizes are read into Python and a loop slices by them, so a recording of one input holds another input's sizes)."""
import torch
import torch.nn as nn


def pool_runs(x, lengths):
    """The mean of each run of rows of x, the runs as long as `lengths` says."""
    means, start = [], 0
    for n in lengths.tolist():
        means.append(x[:, start:start + n].mean(dim=1) if n else x.new_zeros(x.shape[0], x.shape[2]))
        start += n
    return torch.stack(means, dim=1)


class Model(nn.Module):
    def __init__(self, dim, clusters):
        super().__init__()
        self.clusters = clusters
        self.proj = nn.Linear(dim, dim)
        self.assign = nn.Linear(dim, clusters)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        h = torch.relu(self.proj(x))
        cluster = self.assign(h)[0].argmax(dim=-1)
        order = torch.argsort(cluster)
        sizes = torch.bincount(cluster, minlength=self.clusters)
        return self.out(pool_runs(h[:, order], sizes))


dim = 16
clusters = 4


def get_inputs():
    return [torch.randn(1, 12, dim)]


def get_init_inputs():
    return [dim, clusters]
