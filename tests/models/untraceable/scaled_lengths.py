"""Pads a batch to twice its longest sequence and pools over the first half of that, both sized by the longest length read off a tensor (`int(lengths.max())`): `2 * longest` and `longest // 2 + 1`, which differ between the trials' inputs. The graph reads the number where the ops take it, times two or floor-divided by two, plus one (trace.numbers_read_by_the_graph). torch.fx cannot take int() of a traced value; ours records the model."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, x, lengths):
        longest = int(lengths.max())
        h = torch.relu(self.proj(x[:, :longest]))
        padded = torch.zeros(x.shape[0], 2 * longest, 8)
        padded[:, :longest] = h
        half = longest // 2 + 1
        mask = (torch.arange(half)[None, :] < lengths[:, None]).unsqueeze(-1)
        return self.out((padded[:, :half] * mask).sum(1) / lengths[:, None])


def get_inputs():
    return [torch.randn(3, 12, 4), torch.randint(3, 12, (3,))]


def get_init_inputs():
    return []
