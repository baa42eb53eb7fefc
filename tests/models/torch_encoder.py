"""PyTorch's own composite modules: nn.TransformerEncoder of nn.TransformerEncoderLayer (nn.MultiheadAttention inside), with an LM head tied to the embedding."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)))


batch_size = 2
seq_len = 8
vocab_size = 32
d_model = 16
n_heads = 2
n_layers = 2


def get_inputs():
    return [torch.randint(0, vocab_size, (batch_size, seq_len))]


def get_init_inputs():
    return [vocab_size, d_model, n_heads, n_layers]
