"""Hooks on a model torch.fx cannot trace (a branch on its input's values): a pre-hook on the head that gives back a bare tensor, a gate on a kernel module's output, and the model's own hook, which puts a temperature on its logits. The recording records each hook's ops around the module's call, and the files build the modules without hooks."""
import torch
import torch.nn as nn


class Gated(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.proj.register_forward_hook(lambda module, inputs, output: output * torch.sigmoid(output))

    def forward(self, x):
        if x.abs().amax() > 100.0:  # a guard no trial's inputs take
            x = x / x.abs().amax()
        return self.norm(torch.relu(self.proj(x)) + x)


class Model(nn.Module):
    def __init__(self, dim, classes, temperature):
        super().__init__()
        self.blocks = nn.ModuleList([Gated(dim) for _ in range(2)])
        self.head = nn.Linear(dim, classes)
        self.temperature = temperature
        self.head.register_forward_pre_hook(lambda module, inputs: inputs[0].clamp(-1.0, 1.0))
        self.register_forward_hook(lambda module, inputs, output: (output / module.temperature).softmax(-1))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def get_inputs():
    return [torch.randn(8, 32)]


def get_init_inputs():
    return [32, 10, 2.0]
