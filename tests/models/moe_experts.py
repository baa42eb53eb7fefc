"""Mixture-of-experts family (gpt-oss's MLP shape): an RMS-normed router picks the top-2 of 4 experts per token, the chosen experts' weights are gathered by index, each token runs through its experts with einsum and a clamped SwiGLU, and the results are summed with the router's softmax weights, plus a residual."""
import torch
import torch.nn as nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.scale


def swiglu(x, alpha=1.702, limit=7.0):
    x_glu, x_linear = x[..., ::2], x[..., 1::2]
    x_glu = x_glu.clamp(max=limit)
    x_linear = x_linear.clamp(min=-limit, max=limit)
    return x_glu * torch.sigmoid(alpha * x_glu) * (x_linear + 1)


class Model(nn.Module):
    def __init__(self, dim, hidden, experts, per_token):
        super().__init__()
        self.per_token = per_token
        self.norm = RMSNorm(dim)
        self.gate = nn.Linear(dim, experts)
        self.w1 = nn.Parameter(torch.randn(experts, 2 * hidden, dim) * 0.1)
        self.b1 = nn.Parameter(torch.zeros(experts, 2 * hidden))
        self.w2 = nn.Parameter(torch.randn(experts, dim, hidden) * 0.1)
        self.b2 = nn.Parameter(torch.zeros(experts, dim))

    def forward(self, x):
        t = self.norm(x)
        chosen = torch.topk(self.gate(t), k=self.per_token, dim=-1, sorted=True)
        weights = torch.softmax(chosen.values, dim=1)
        idx = chosen.indices
        h = torch.einsum("beck,bk->bec", self.w1[idx], t) + self.b1[idx]
        h = swiglu(h)
        h = torch.einsum("beck,bek->bec", self.w2[idx], h) + self.b2[idx]
        return x + torch.einsum("bec,be->bc", h, weights)


tokens = 16
dim = 32
hidden = 24
experts = 4
per_token = 2


def get_inputs():
    return [torch.randn(tokens, dim)]


def get_init_inputs():
    return [dim, hidden, experts, per_token]
