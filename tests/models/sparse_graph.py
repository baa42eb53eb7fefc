"""A graph convolutional network (Kipf's pygcn) on a sparse normalized adjacency given as an input, read out through a fixed sparse pooling matrix held as a buffer: sparse COO tensors cross component boundaries (files draw them with the model's count of stored entries) and a buffer is written from its indices and values."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GraphConvolution(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Linear(cin, cout)

    def forward(self, x, adj):
        return torch.sparse.mm(adj, self.linear(x))


class Model(nn.Module):
    def __init__(self, nodes, features, hidden, classes, clusters):
        super().__init__()
        self.gc1 = GraphConvolution(features, hidden)
        self.gc2 = GraphConvolution(hidden, hidden)
        # node k belongs to cluster k % clusters, each with weight 1 / its size
        members = torch.arange(nodes)
        sizes = torch.bincount(members % clusters).float()
        pool = torch.sparse_coo_tensor(torch.stack([members % clusters, members]),
                                       1 / sizes[members % clusters], (clusters, nodes)).coalesce()
        self.register_buffer("pool", pool)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x, adj):
        h = F.relu(self.gc1(x, adj))
        h = F.relu(self.gc2(h, adj)) + h
        return F.log_softmax(self.head(torch.sparse.mm(self.pool, h)), dim=-1)


nodes = 12


def get_inputs():
    edges = torch.randint(0, nodes, (2, 30))
    adj = torch.sparse_coo_tensor(edges, torch.rand(30), (nodes, nodes)).coalesce()
    return [torch.randn(nodes, 8), adj]


def get_init_inputs():
    return [nodes, 8, 16, 3, 4]
