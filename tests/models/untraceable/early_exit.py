"""Early-exit stages (untraceable: each stage, a module, runs its layers until a halting unit says the features are ready, so how many layers run depends on the data, as in depth-adaptive transformers and DeeBERT's exits): a stem, two stages of up to three residual MLP layers with a sigmoid halting score read into Python after each, and a head."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class EarlyExitStage(nn.Module):
    def __init__(self, dim, depth, threshold):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(depth)])
        self.halt = nn.Linear(dim, 1)
        self.threshold = threshold

    def forward(self, x):
        for layer in self.layers:
            x = x + F.gelu(layer(x))
            if torch.sigmoid(self.halt(x)).mean() > self.threshold:
                break
        return x


class Model(nn.Module):
    def __init__(self, features, dim, depth, threshold, classes):
        super().__init__()
        self.stem = nn.Linear(features, dim)
        self.stages = nn.Sequential(EarlyExitStage(dim, depth, threshold), EarlyExitStage(dim, depth, threshold))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


batch = 4
features = 12
dim = 16


def get_inputs():
    return [torch.randn(batch, features)]


def get_init_inputs():
    return [features, dim, 3, 0.5, 5]
