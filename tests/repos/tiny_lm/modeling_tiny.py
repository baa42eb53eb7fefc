"""A small decoder-only language model spread over several files, imported
the way a Hugging Face model folder imports its parts."""
import torch.nn as nn

from configuration_tiny import TinyConfig
from layers import Block, RMSNorm


class TinyLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        if not isinstance(config, TinyConfig):
            raise TypeError("TinyLM takes a TinyConfig")
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.eps)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def forward(self, input_ids):
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))
