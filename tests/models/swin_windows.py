"""Swin family: conv patch embedding, two Swin blocks (window partition by view/permute, window attention with a learned relative position bias nn.Parameter, window reverse; the second shifted with torch.roll and an attention mask), norm, mean pool, head."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def window_partition(x, ws, h, w, c):
    # (B, H, W, C) -> (B * num_windows, ws * ws, C)
    x = x.view(-1, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws * ws, c)


def window_reverse(windows, ws, h, w, c):
    # (B * num_windows, ws * ws, C) -> (B, H, W, C)
    x = windows.view(-1, h // ws, w // ws, ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, h, w, c)


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, n_heads):
        super().__init__()
        self.dim = dim
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.n_tokens = ws * ws
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.randn((2 * ws - 1) ** 2, n_heads) * 0.02)
        grid = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij"))
        flat = grid.flatten(1)                                  # (2, N)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (ws - 1)
        index = rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]      # (N, N)
        self.register_buffer("relative_position_index", index)

    def forward(self, x, mask):
        n, c, heads = self.n_tokens, self.dim, self.n_heads
        qkv = self.qkv(x).view(-1, n, 3, heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = qkv[0] * self.scale
        k = qkv[1]
        v = qkv[2]
        attn = q @ k.transpose(-2, -1)                          # (Bw, heads, N, N)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, heads).permute(2, 0, 1).contiguous()
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            num_windows = mask.shape[0]
            attn = attn.view(-1, num_windows, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, n, n)
        attn = F.softmax(attn, dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(-1, n, c)
        return self.proj(out)


class SwinBlock(nn.Module):
    def __init__(self, dim, resolution, n_heads, ws, shift):
        super().__init__()
        self.dim = dim
        self.h = resolution
        self.w = resolution
        self.ws = ws
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, ws, n_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        if shift > 0:
            region = torch.zeros(1, self.h, self.w, 1)
            spans = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
            label = 0
            for hs in spans:
                for wsl in spans:
                    region[:, hs, wsl, :] = label
                    label += 1
            windows = window_partition(region, ws, self.h, self.w, 1).view(-1, ws * ws)
            mask = windows.unsqueeze(1) - windows.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            self.register_buffer("attn_mask", mask)
        else:
            self.attn_mask = None

    def forward(self, x):
        h, w, c, ws, s = self.h, self.w, self.dim, self.ws, self.shift
        shortcut = x
        x = self.norm1(x).view(-1, h, w, c)
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        windows = window_partition(x, ws, h, w, c)
        windows = self.attn(windows, self.attn_mask)
        x = window_reverse(windows, ws, h, w, c)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        x = shortcut + x.view(-1, h * w, c)
        return x + self.mlp(self.norm2(x))


class Model(nn.Module):
    def __init__(self, in_channels, image_size, patch, dim, n_heads, window, num_classes):
        super().__init__()
        res = image_size // patch
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.blocks = nn.Sequential(
            SwinBlock(dim, res, n_heads, window, 0),
            SwinBlock(dim, res, n_heads, window, window // 2),
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)     # (B, L, C)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


batch_size = 2
in_channels = 3
image_size = 32
patch = 4
dim = 32
n_heads = 2
window = 4
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, image_size, patch, dim, n_heads, window, num_classes]
