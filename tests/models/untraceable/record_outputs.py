"""Outputs in records (untraceable: `if not return_dict` branches on an argument; torch.fx before 2.x cannot pass a dataclass out of a graph either): a classifier that returns a dataclass holding its logits and a namedtuple of two intermediate features, the way model libraries return ModelOutput objects."""
import collections
from dataclasses import dataclass

import torch
import torch.nn as nn

Features = collections.namedtuple("Features", ["early", "late"])


@dataclass
class Output:
    logits: torch.Tensor
    features: Features


class Model(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x, return_dict=True):
        early = torch.relu(self.fc1(x))
        late = torch.tanh(self.fc2(early)) + early
        logits = self.head(late)
        if not return_dict:
            return logits, Features(early, late)
        return Output(logits=logits, features=Features(early, late))


batch_size = 2
dim = 16
classes = 5


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [dim, classes]
