import torch.nn as nn

from activations import gelu_new as _gelu


class GeluNew(nn.Module):
    """One op with no submodules: a kernel, whose file needs _gelu's code."""

    def forward(self, x):
        return _gelu(x)
