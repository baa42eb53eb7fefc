"""Recurrent family: a 2-layer batch_first nn.LSTM and a linear head on the last time step."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers, num_classes):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        out = self.lstm(x)[0]            # (B, T, H)
        return self.fc(out[:, -1, :])


batch_size = 2
seq_len = 12
input_size = 16
hidden_size = 32
num_layers = 2
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, seq_len, input_size)]


def get_init_inputs():
    return [input_size, hidden_size, num_layers, num_classes]
