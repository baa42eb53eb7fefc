"""unused_head.py behind a rank check: recorded, it must give the same tree."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, features, hidden, classes):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x, h0, c0):
        if x.dim() != 3:  # a branch on a traced value: no torch version traces it
            raise ValueError("x must be (batch, steps, features)")
        result = self.lstm(x, (h0, c0))
        logits = self.fc(result[0][:, -1, :])  # noqa: F841 (the model's dead head)
        state = result[1][0]
        state.relu_()
        return state * 2


batch_size = 2
steps = 5
features = 8
hidden = 16
classes = 4


def get_inputs():
    return [torch.randn(batch_size, steps, features), torch.randn(2, batch_size, hidden),
            torch.randn(2, batch_size, hidden)]


def get_init_inputs():
    return [features, hidden, classes]
