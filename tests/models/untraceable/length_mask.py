"""Padded sequences cut to the batch's longest length, read into Python (int(lengths.max())), with a mask made from it: the recording's graph takes the read number, not the first trial's."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, features=12, hidden=20, classes=5):
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(features, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.classify = nn.Linear(hidden, classes)

    def forward(self, frames, lengths):
        longest = int(lengths.max())
        mask = torch.arange(longest, device=frames.device)[None, :] < lengths[:, None]
        encoded = self.encode(frames[:, :longest])
        pooled = (encoded * mask[..., None]).sum(dim=1) / lengths[:, None]
        return self.classify(pooled)


batch = 3
max_frames = 24
features = 12


def get_inputs():
    return [torch.randn(batch, max_frames, features), torch.randint(2, max_frames + 1, (batch,))]


def get_init_inputs():
    return [features, 20, 5]
