"""A bidirectional LSTM over padded sequences of different lengths (untraceable: nn.utils.rnn.pack_padded_sequence sorts the batch by length and packs it, the LSTM runs on the PackedSequence, pad_packed_sequence pads it back): its batch sizes and orders are what the LSTM runs by, so every file that takes them makes them as they were."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, features, hidden, classes):
        super().__init__()
        self.embed = nn.Linear(features, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, classes)

    def forward(self, x, lengths):
        h = self.embed(x)
        packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.out(y)


batch_size = 3
steps = 10
features = 8
hidden = 16
classes = 4


def get_inputs():
    return [torch.randn(batch_size, steps, features), torch.tensor([10, 4, 7])]


def get_init_inputs():
    return [features, hidden, classes]
