"""A pruned MLP (torch.nn.utils.prune, the sparse weights kernel engineers are handed): fc1 pruned to half its weights by magnitude, so it holds weight_orig and weight_mask and a hook that multiplies them, then ReLU, a dense layer and a head."""
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune


class Model(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.fc3 = nn.Linear(dim, classes)
        prune.l1_unstructured(self.fc1, name="weight", amount=0.5)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


batch_size = 2
dim = 16
classes = 4


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [dim, classes]
