"""Loop over a size taken from the input (untraceable: `for i in range(x.shape[1] // 4)`), with zip over two ModuleLists of linear and LayerNorm layers applied to each chunk of 4 tokens."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, dim, num_layers, num_classes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(num_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(num_layers)])
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        chunks = []
        for i in range(x.shape[1] // 4):
            c = x[:, 4 * i:4 * i + 4]
            for layer, norm in zip(self.layers, self.norms):
                c = c + F.gelu(layer(norm(c)))
            chunks.append(c.mean(dim=1))
        h = torch.stack(chunks, dim=1)                   # (B, T // 4, D)
        return self.head(h)


batch_size = 2
seq_len = 16
dim = 32
num_layers = 2
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, seq_len, dim)]


def get_init_inputs():
    return [dim, num_layers, num_classes]
