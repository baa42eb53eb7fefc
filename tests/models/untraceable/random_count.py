"""Spans masked at random, as many as a draw says (untraceable: HuBERT's pretraining masks read int(p * frames + torch.rand(1)) into Python, so a recording holds that count): every forward, in every trial, draws from one seed, so the count the files hold is the one every run draws."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim=16, classes=8, mask_prob=0.3):
        super().__init__()
        self.mask_prob = mask_prob
        self.proj = nn.Linear(dim, dim)
        self.mask_embedding = nn.Parameter(torch.randn(dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = self.proj(x)
        frames = h.shape[1]
        count = int(self.mask_prob * frames + torch.rand(1))  # probabilistic rounding of 6.3: 6 or 7
        starts = torch.randperm(frames)[:count]
        mask = torch.zeros(h.shape[:2], dtype=torch.bool, device=h.device)
        mask[:, starts] = True
        h = torch.where(mask[..., None], self.mask_embedding.to(h.dtype), h)
        return self.head(h[mask])


def get_inputs():
    return [torch.randn(2, 21, 16)]


def get_init_inputs():
    return []
