"""SSM (Mamba-like) family: LayerNorm, in-projection split with chunk, causal depthwise conv1d, selective scan written with einsum, softplus, exp and cumsum over nn.Parameters (A_log, D), SiLU gate, out-projection, residual."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SelectiveSSM(nn.Module):
    def __init__(self, d_model, d_inner, d_state, d_conv, seq_len):
        super().__init__()
        self.d_inner = d_inner
        self.d_state = d_state
        self.seq_len = seq_len
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(d_inner, 1 + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(1, d_inner)
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a))            # (d_inner, d_state)
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        self.register_buffer("causal", torch.tril(torch.ones(seq_len, seq_len, dtype=torch.bool)))

    def forward(self, x):
        xz = self.in_proj(x).chunk(2, dim=-1)
        u = xz[0]
        z = xz[1]
        # causal depthwise conv over time
        u = self.conv1d(u.transpose(1, 2))[..., : self.seq_len].transpose(1, 2)
        u = F.silu(u)                                        # (B, L, Di)
        proj = self.x_proj(u)
        dt = proj[..., :1]
        b_in = proj[..., 1:1 + self.d_state]                 # (B, L, N)
        c_out = proj[..., 1 + self.d_state:]                 # (B, L, N)
        delta = F.softplus(self.dt_proj(dt))                 # (B, L, Di)
        a = -torch.exp(self.A_log)                           # (Di, N)
        delta_a = torch.einsum("bld,dn->bldn", delta, a)
        delta_bu = torch.einsum("bld,bln,bld->bldn", delta, b_in, u)
        # h_t = sum_{s<=t} exp(sum_{s<r<=t} delta_a_r) * delta_bu_s, via cumsum
        cum = torch.cumsum(delta_a, dim=1)                   # (B, L, Di, N)
        seg = cum.unsqueeze(2) - cum.unsqueeze(1)            # (B, T, S, Di, N)
        seg = seg.masked_fill(~self.causal[None, :, :, None, None], float("-inf"))
        decay = torch.exp(seg)
        y = torch.einsum("btsdn,bsdn,btn->btd", decay, delta_bu, c_out)
        y = y + u * self.D
        y = y * F.silu(z)
        return self.out_proj(y)


class Model(nn.Module):
    def __init__(self, d_model, d_inner, d_state, d_conv, seq_len, num_classes):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mixer = SelectiveSSM(d_model, d_inner, d_state, d_conv, seq_len)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x):
        x = x + self.mixer(self.norm(x))
        return self.head(x)


batch_size = 2
seq_len = 16
d_model = 32
d_inner = 64
d_state = 8
d_conv = 4
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, seq_len, d_model)]


def get_init_inputs():
    return [d_model, d_inner, d_state, d_conv, seq_len, num_classes]
