"""A transformer MLP whose activations are TorchScript functions, as timm, Megatron and WaveGlow write them: @torch.jit.script functions, one calling another, whose ops the decomposition sees through to (torchscript.py), while every copy of the model still runs them compiled."""
import torch
import torch.nn as nn


@torch.jit.script
def swish(x):
    return x * torch.sigmoid(x)


@torch.jit.script
def bias_swish_gate(x, bias):
    halves = (x + bias).chunk(2, dim=-1)
    return swish(halves[0]) * halves[1]


@torch.jit.script
def residual_scale(x: torch.Tensor, residual: torch.Tensor, scale: float) -> torch.Tensor:
    return residual + x * scale


class GatedMLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, 2 * hidden, bias=False)
        self.up_bias = nn.Parameter(torch.zeros(2 * hidden))
        self.down = nn.Linear(hidden, dim)

    def forward(self, x):
        h = bias_swish_gate(self.up(self.norm(x)), self.up_bias)
        return residual_scale(self.down(h), x, 0.5)


class Model(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.block1 = GatedMLP(dim, hidden)
        self.block2 = GatedMLP(dim, hidden)
        self.head = nn.Linear(dim, 4)

    def forward(self, x):
        return self.head(self.block2(self.block1(x)))


def get_inputs():
    return [torch.randn(2, 6, 16)]


def get_init_inputs():
    return [16, 24]
