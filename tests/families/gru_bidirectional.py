"""Bidirectional GRU returning its output sequence and final hidden state."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d_in, hidden):
        super().__init__()
        self.gru = nn.GRU(d_in, hidden, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(2 * hidden, hidden)

    def forward(self, x):
        out, h = self.gru(x)
        return self.fc(out), h


def get_inputs():
    return [torch.randn(2, 6, 8)]


def get_init_inputs():
    return [8, 16]
