"""Mixed input types (untraceable: Python int used in range() and Python bool flag in an if): float tensor, int64 index tensor for nn.Embedding and torch.gather, bool mask for masked_fill, then a linear head."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim, vocab_size, num_classes):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.mix = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x, idx, mask, n_repeat, use_embedding):
        # gather tokens of x at positions idx: (B, T, D)
        g = torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.size(-1)))
        if use_embedding:
            g = g + self.embed(idx)
        for _ in range(n_repeat):
            g = torch.relu(self.mix(g))
        g = g.masked_fill(mask.unsqueeze(-1), 0.0)
        return self.head(g.sum(dim=1))


batch_size = 2
seq_len = 8
dim = 16
vocab_size = 8
num_classes = 4


def get_inputs():
    x = torch.randn(batch_size, seq_len, dim)
    idx = torch.randint(0, seq_len, (batch_size, seq_len), dtype=torch.int64)
    mask = torch.rand(batch_size, seq_len) > 0.7
    return [x, idx, mask, 3, True]


def get_init_inputs():
    return [dim, vocab_size, num_classes]
