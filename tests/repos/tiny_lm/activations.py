"""Activation functions shared by the layers."""
import math

import torch

# The "tanh" approximation, as in GPT-2's gelu_new. NAME's tab is written as
# an escape so that this file holds a backslash, which a bundled copy must keep.
NAME = "gelu_new\ttanh"


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
