"""Candidate top-k (untraceable: how many scores pass a threshold is read into Python and sizes a top-k, as torchvision's detectors size theirs before nms; another trial's inputs pass another count, and the head takes the best three, the same whichever count): a linear scorer, a module-level function that sorts the candidates above the threshold, and a head on the three best."""
import torch
import torch.nn as nn


def best_candidates(scores, threshold):
    count = int((scores > threshold).sum())
    return scores.topk(max(count, 3)).values


class Model(nn.Module):
    def __init__(self, features, candidates, classes):
        super().__init__()
        self.score = nn.Linear(features, candidates)
        self.head = nn.Linear(3, classes)

    def forward(self, x):
        best = best_candidates(self.score(x).flatten(), 0.0)
        return self.head(best[:3])


features = 16
candidates = 24


def get_inputs():
    return [torch.randn(1, features)]


def get_init_inputs():
    return [features, candidates, 4]
