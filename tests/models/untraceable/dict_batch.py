"""A batch given as one dict, as data loaders hand it over: token ids and their padding mask, an embedding with a padding index, the batch trimmed to its longest sequence (untraceable: a width read off the mask), a torch encoder layer masked by the padding, and a question-answering head, a custom leaf that returns a dict of start and end scores."""
import torch
import torch.nn as nn


class SpanHead(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(2, dim) / dim ** 0.5)

    def forward(self, hidden):
        scores = hidden @ self.weight.t()
        return {"start": scores[..., 0], "end": scores[..., 1]}


class Model(nn.Module):
    def __init__(self, vocab, dim, heads):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.encoder = nn.TransformerEncoderLayer(dim, heads, dim * 2, batch_first=True)
        self.head = SpanHead(dim)

    def forward(self, batch):
        # the batch trimmed to its longest sequence: a width read off the mask
        width = int(batch["mask"].sum(1).max())
        ids, mask = batch["ids"][:, :width], batch["mask"][:, :width]
        hidden = self.encoder(self.embed(ids), src_key_padding_mask=~mask)
        spans = self.head(hidden)
        # padding can be no answer
        return {name: scores.masked_fill(~mask, -1e4) for name, scores in spans.items()}


vocab = 64
dim = 16
heads = 2


def get_inputs():
    ids = torch.randint(1, vocab, (2, 10))
    ids[:, 8:] = 0
    ids[0, 6:] = 0
    return [{"ids": ids, "mask": ids != 0}]


def get_init_inputs():
    return [vocab, dim, heads]
