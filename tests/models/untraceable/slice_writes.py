"""Writes into slices of a tensor (torchvision's MViT shape; untraceable: a Proxy takes no item assignment): attention scores with a relative-position bias added in place to the patch-to-patch block (attn[:, :, 1:, 1:] += rel), the class token's row of the output overwritten (out[:, 0] = cls), its last channel zeroed (out[..., -1] = 0.0), and an in-place ReLU on half of the channels, through a view with no assignment back."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim, heads, tokens):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.rel = nn.Parameter(torch.randn(heads, tokens - 1, tokens - 1) * 0.1)
        self.cls = nn.Parameter(torch.randn(dim))
        self.proj = nn.Linear(dim, dim)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        attn = torch.matmul(q, k.transpose(-2, -1)) * self.head_dim ** -0.5
        attn[:, :, 1:, 1:] += self.rel
        out = torch.matmul(attn.softmax(dim=-1), v).transpose(1, 2).reshape(B, N, C)
        out[:, 0] = self.cls
        out[..., -1] = 0.0
        self.act(out[..., : C // 2])
        return self.proj(out)


batch_size = 2
dim = 16
heads = 2
tokens = 5


def get_inputs():
    return [torch.randn(batch_size, tokens, dim)]


def get_init_inputs():
    return [dim, heads, tokens]
