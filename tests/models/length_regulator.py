"""Length regulator, as FastSpeech's (a value-sized op in a symbolic trace: each phoneme's encoding is repeated by its duration, torch.repeat_interleave, so there are as many frames as the durations add up to, which changes with the inputs): an encoder, the regulator, a frame decoder and the mean over the frames."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.decoder = nn.Linear(dim, dim)

    def forward(self, phonemes, durations):
        frames = torch.repeat_interleave(self.encoder(phonemes), durations, dim=0)
        return self.decoder(frames).sum(0) / frames.shape[0]


phonemes = 6
dim = 8


def get_inputs():
    return [torch.randn(phonemes, dim), torch.randint(1, 4, (phonemes,))]


def get_init_inputs():
    return [dim]
