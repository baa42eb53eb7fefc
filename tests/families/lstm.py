"""Two-layer LSTM (batch first) with a linear head on the last time step."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.lstm = nn.LSTM(d_in, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, d_out)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def get_inputs():
    return [torch.randn(2, 6, 8)]


def get_init_inputs():
    return [8, 16, 4]
