"""Activation functions shared by the layers."""
import math

import torch

# "tanh" approximation, as in GPT-2's gelu_new (the \u-style escape below is
# only here so that this file holds a backslash).
NAME = "gelu_new\ttanh"


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
