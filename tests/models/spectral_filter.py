"""A learned filter in the frequency domain (FNO's spectral convolution, FNet's Fourier mixing): torch.fft ops written by their public names, a complex weight, and a complex spectrum returned beside the real signal, which the composition test compares within tolerance."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, channels, length, modes):
        super().__init__()
        self.lift = nn.Linear(channels, channels)
        self.weight = nn.Parameter(torch.randn(channels, modes, dtype=torch.cfloat) / channels)
        self.modes = modes
        self.length = length
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):
        h = self.lift(x).transpose(1, 2)
        spectrum = torch.fft.rfft(h, dim=-1)[..., :self.modes] * self.weight
        filtered = torch.fft.irfft(spectrum, n=self.length, dim=-1).transpose(1, 2)
        mixed = torch.fft.fft2(filtered).real
        return self.norm(x + filtered + mixed), spectrum


def get_inputs():
    return [torch.randn(2, 16, 8)]


def get_init_inputs():
    return [8, 16, 5]
