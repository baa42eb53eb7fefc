"""A recommender-style tower: bags of ids averaged by an EmbeddingBag, whose offsets (where each bag starts) are what it runs by, and a discriminator-style head whose linear layers are spectrally normalised (weight_orig, with u and v from the power iteration, and a hook that makes the weight)."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab, dim, hidden):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab, dim, mode="mean")
        self.hidden = nn.utils.spectral_norm(nn.Linear(dim, hidden))
        self.out = nn.utils.spectral_norm(nn.Linear(hidden, 1))

    def forward(self, ids, offsets):
        return self.out(torch.relu(self.hidden(self.bag(ids, offsets))))


vocab = 100
dim = 16
hidden = 32


def get_inputs():
    return [torch.randint(0, vocab, (20,)), torch.tensor([0, 3, 9, 15])]


def get_init_inputs():
    return [vocab, dim, hidden]
