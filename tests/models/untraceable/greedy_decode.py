"""Greedy decoding (untraceable: the decoder, a module, feeds back each step's argmax and stops once every sequence has emitted its end token, so how many steps it runs, and the length of its output, depend on the data): an encoder's state, then a GRU cell decoder over an embedding, up to eight steps."""
import torch
import torch.nn as nn


class GreedyDecoder(nn.Module):
    def __init__(self, vocab, dim, max_steps, end):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.cell = nn.GRUCell(dim, dim)
        self.out = nn.Linear(dim, vocab)
        self.max_steps = max_steps
        self.end = end

    def forward(self, h):
        token = torch.zeros(h.shape[0], dtype=torch.long)
        ended = torch.zeros(h.shape[0], dtype=torch.bool)
        steps = []
        for _ in range(self.max_steps):
            h = self.cell(self.embed(token), h)
            logits = self.out(h)
            steps.append(logits)
            token = logits.argmax(-1)
            ended = ended | (token == self.end)
            if bool(ended.all()):
                break
        return torch.stack(steps, 1)


class Model(nn.Module):
    def __init__(self, features, dim, vocab, max_steps, end):
        super().__init__()
        self.encoder = nn.Linear(features, dim)
        self.decoder = GreedyDecoder(vocab, dim, max_steps, end)

    def forward(self, x):
        return self.decoder(torch.tanh(self.encoder(x)))


batch = 3
features = 10


def get_inputs():
    return [torch.randn(batch, features)]


def get_init_inputs():
    return [features, 16, 7, 8, 1]
