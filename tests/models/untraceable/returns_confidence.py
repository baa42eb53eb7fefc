"""Logits and the top softmax probability as a Python number (probs.max().item()), after a branch on a value: the number must be computed in the graph and compared, not written as the first trial's."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, features=6, classes=3):
        super().__init__()
        self.classify = nn.Linear(features, classes)

    def forward(self, x):
        logits = self.classify(x)
        if logits.abs().max() > 1e4:  # a branch on a value, which no symbolic trace takes
            logits = logits.clamp(-1e4, 1e4)
        return logits, logits.softmax(dim=-1).max().item()


def get_inputs():
    return [torch.randn(4, 6)]


def get_init_inputs():
    return [6, 3]
