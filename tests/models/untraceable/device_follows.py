"""Tensors made in forward on the device of its input (untraceable: one sequence or a batch of them is taken, `if x.dim() == 2`; torch.fx before 2.x cannot pass a traced `x.device` to a factory either): a start state, a causal mask, and Swin V2's learned logit scale moved to the input's device and clamped by a tensor made there; generated files must make them beside their own inputs, not on the CPU the recording ran on."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(1)))

    def forward(self, x):
        if x.dim() == 2:
            x = x[None]
        b, t, d = x.shape
        state = torch.zeros(b, d, device=x.device)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        limit = torch.log(torch.tensor(100.0, device=x.device))
        scale = torch.clamp(self.logit_scale.to(x.device), max=limit).exp()
        scores = (x @ x.transpose(1, 2) * scale).masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=-1) @ self.proj(x) + state[:, None, :]


batch_size = 2
seq_len = 8
dim = 16


def get_inputs():
    return [torch.randn(batch_size, seq_len, dim)]


def get_init_inputs():
    return [dim]
