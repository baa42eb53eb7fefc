"""Activation steering and ablation done with forward hooks, as interpretability work does it: a steering vector added to one block's output, a feature ablated in another block's hidden projection, the head's input clamped by a pre-hook. None of it is in forward, and a kernel module's hooks are lost from its torch.fx node: decompose traces them as ops around its call, and the files build the modules without hooks. A logging hook, which changes nothing, is let be."""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


class Model(nn.Module):
    def __init__(self, features, dim, classes):
        super().__init__()
        self.embed = nn.Linear(features, dim)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(3)])
        self.head = nn.Linear(dim, classes)
        self.register_buffer("steering", torch.linspace(-0.5, 0.5, dim))
        self.register_buffer("ablation", (torch.arange(2 * dim) % 5 != 0).float())
        self.seen = []
        self.blocks[1].register_forward_hook(self._steer)
        self.blocks[2].fc1.register_forward_hook(self._ablate)
        self.head.register_forward_pre_hook(lambda module, inputs: (inputs[0].clamp(-2.0, 2.0),))
        self.head.register_forward_hook(lambda module, inputs, output: self.seen.append(output.shape))

    def _steer(self, module, inputs, output):
        return output + 4.0 * self.steering

    def _ablate(self, module, inputs, output):
        return output * self.ablation

    def forward(self, x):
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


batch_size = 2
tokens = 6
features = 12
dim = 16
classes = 5


def get_inputs():
    return [torch.randn(batch_size, tokens, features)]


def get_init_inputs():
    return [features, dim, classes]
