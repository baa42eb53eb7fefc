"""Complex-valued spectrogram masking (torchaudio's HDemucs shape; untraceable: the input is padded to whole hops by a branch on its length): STFT with a Hann window to complex64, a conv mask net on the magnitude, the mask applied to the complex spectrum as real/imaginary pairs, and the inverse STFT with a window cast like the spectrum's real part."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskNet(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.conv1 = nn.Conv2d(1, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, 1, 3, padding=1)

    def forward(self, magnitude):
        return torch.sigmoid(self.conv2(torch.relu(self.conv1(magnitude))))


class Model(nn.Module):
    def __init__(self, n_fft, hop, hidden):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.mask = MaskNet(hidden)

    def forward(self, wave):
        length = wave.shape[-1]
        if length % self.hop:
            wave = F.pad(wave, (0, self.hop - length % self.hop))
        window = torch.hann_window(self.n_fft)
        z = torch.stft(wave, self.n_fft, hop_length=self.hop, window=window, return_complex=True)
        mask = self.mask(z.abs().unsqueeze(1)).squeeze(1)
        masked = torch.view_as_complex(torch.view_as_real(z) * mask.unsqueeze(-1))
        out = torch.istft(masked, self.n_fft, hop_length=self.hop, window=window.to(z.real))
        return out[..., :length]


batch_size = 2
samples = 1000
n_fft = 64
hop = 16
hidden = 4


def get_inputs():
    return [torch.randn(batch_size, samples)]


def get_init_inputs():
    return [n_fft, hop, hidden]
