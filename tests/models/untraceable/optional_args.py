"""HuggingFace-style optional arguments (untraceable: forward(input_ids=None, inputs_embeds=None, attention_mask=None) with None checks and a ValueError): embedding, masked self-attention layer, masked mean pool, classifier."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, num_classes):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.embed = nn.Embedding(vocab_size, d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None):
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("give either input_ids or inputs_embeds, not both")
        if input_ids is None and inputs_embeds is None:
            raise ValueError("give input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed(input_ids)
        b, t, d = inputs_embeds.shape
        if attention_mask is None:
            attention_mask = torch.ones(b, t, dtype=torch.long, device=inputs_embeds.device)
        qkv = self.qkv(inputs_embeds).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = qkv[0] @ qkv[1].transpose(-2, -1) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(attention_mask[:, None, None, :] == 0, float("-inf"))
        ctx = (F.softmax(scores, dim=-1) @ qkv[2]).transpose(1, 2).reshape(b, t, d)
        h = self.norm(inputs_embeds + self.proj(ctx))
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.classifier(pooled)


batch_size = 2
seq_len = 12
vocab_size = 100
d_model = 32
n_heads = 4
num_classes = 5


def get_inputs():
    return []


def get_input_kwargs():
    mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    mask[1, seq_len // 2:] = 0
    return {
        "input_ids": torch.randint(0, vocab_size, (batch_size, seq_len)),
        "attention_mask": mask,
    }


def get_init_inputs():
    return [vocab_size, d_model, n_heads, num_classes]
