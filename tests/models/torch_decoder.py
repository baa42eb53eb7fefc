"""nn.TransformerDecoder: causal self-attention and cross-attention over an encoder's memory, sequence-first."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d_model, n_heads, n_layers, tgt_len):
        super().__init__()
        layer = nn.TransformerDecoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0)
        self.decoder = nn.TransformerDecoder(layer, n_layers)
        causal = torch.triu(torch.full((tgt_len, tgt_len), float("-inf")), 1)
        self.register_buffer("causal", causal)

    def forward(self, tgt, memory):
        return self.decoder(tgt, memory, tgt_mask=self.causal)


tgt_len = 6
src_len = 9
batch_size = 2
d_model = 16
n_heads = 4
n_layers = 2


def get_inputs():
    return [torch.randn(tgt_len, batch_size, d_model), torch.randn(src_len, batch_size, d_model)]


def get_init_inputs():
    return [d_model, n_heads, n_layers, tgt_len]
