"""HuggingFace-style forward: optional keyword inputs, a branch that raises on both,
inputs given through get_input_kwargs()."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None):
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("give input_ids or inputs_embeds, not both")
        x = self.embed(input_ids) if inputs_embeds is None else inputs_embeds
        if attention_mask is not None:
            x = x * attention_mask.unsqueeze(-1)
        return torch.tanh(self.fc(x))


def get_inputs():
    return []


def get_input_kwargs():
    return {"input_ids": torch.randint(0, 20, (2, 6)), "attention_mask": torch.ones(2, 6)}


def get_init_inputs():
    return [20, 16]
