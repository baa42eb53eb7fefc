"""Recurrent family: a bidirectional batch_first nn.GRU; the final hidden states of both directions are concatenated and fed to a linear."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=1, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, x):
        h_n = self.gru(x)[1]                         # (2, B, H): forward, backward
        h = torch.cat((h_n[0], h_n[1]), dim=1)       # (B, 2H)
        return self.fc(h)


batch_size = 2
seq_len = 12
input_size = 16
hidden_size = 32
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, seq_len, input_size)]


def get_init_inputs():
    return [input_size, hidden_size, num_classes]
