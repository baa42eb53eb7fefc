"""Torch's fused inference fast paths, off for every run the gates compare.

In inference, torch runs some composite modules through fused kernels of
its own: nn.TransformerEncoderLayer calls torch._transformer_encoder_layer_fwd
and nn.MultiheadAttention torch._native_multi_head_attention, but only when
no tensor argument has a __torch_function__ override. A decomposition spells
out the op-by-op path, the only one whose ops can be seen (a symbolic trace
and a recording both take it), and the fused kernels round differently:
5.7e-6 on tests/models/torch_encoder.py with OpenBLAS, above fp32's atol of
1e-6. So the reference, the refactored models and the composition all run
under a mode that intercepts nothing and only makes torch take that path:
the gates compare one computation, spelled two ways.

composition_test.py carries a twin of this (it runs without this package).
"""

from torch.overrides import TorchFunctionMode  # 1.13 on, as record.py needs too


class _OpByOp(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def off():
    """A context in which torch takes its op-by-op paths."""
    return _OpByOp()
