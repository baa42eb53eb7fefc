"""Noise drawn from generators the model keeps, as samplers and noise-injection layers do: each block's noise layer (a childless module, one kernel) keeps its own seeded torch.Generator, two blocks with one seed and one with another, and the model's own forward draws from its generator once. Each file that draws builds its generator from the same seed; every run starts from the states as built, and each instance from where its own runs left them. torch.fx cannot pass a traced shape with a generator; ours records the model. Before, exit 2: 'SyntaxError: invalid syntax (<eval_with_key>.0, line 5)'."""
import torch
import torch.nn as nn


class Noise(nn.Module):
    def __init__(self, seed, scale):
        super().__init__()
        self.scale = scale
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x):
        return x + self.scale * torch.randn(x.shape, generator=self.generator)


class Block(nn.Module):
    def __init__(self, dim, seed):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.noise = Noise(seed, 0.1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x + torch.relu(self.noise(self.fc(x))))


class Model(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, 7), Block(dim, 7), Block(dim, 9)])
        self.generator = torch.Generator().manual_seed(3)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x + 0.05 * torch.rand(x.shape, generator=self.generator))


def get_inputs():
    return [torch.randn(2, 16)]


def get_init_inputs():
    return [16, 4]
