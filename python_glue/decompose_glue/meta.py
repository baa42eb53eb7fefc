"""Running a file's own code on the meta device, where tensors have shapes
and dtypes but no numbers and no op does any work.

A component's self-test checks shapes only, a coverage count reads only
what kind of value each op makes, and the plan reads the shapes and dtypes
of every node of a traced graph: each asks what a run makes, not what it
computes, so each can ask it of a meta run, in no time where a real run
draws GBs of random numbers and runs a whole forward.
"""

import contextlib

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode  # 1.13 on, as record.py needs too

from .loader import weights_left_uninitialised


def like(value):
    """`value` with each tensor in it replaced by a meta tensor of its shape
    and dtype, laid out alike (lists, tuples and dicts walked through)."""
    if isinstance(value, torch.Tensor):
        if value.layout == torch.strided:
            return torch.empty_strided(value.shape, value.stride(), dtype=value.dtype, device="meta")
        return torch.empty(value.shape, dtype=value.dtype, device="meta")
    if isinstance(value, (tuple, list)):
        return type(value)(like(v) for v in value)
    if isinstance(value, dict):
        return {k: like(v) for k, v in value.items()}
    return value


_META = torch.device("meta")


def _meta_for_cpu(value):
    if isinstance(value, torch.device) and value.type == "cpu":
        return _META
    if isinstance(value, str) and value == "cpu":
        return _META
    return value


class FactoriesOnMeta(TorchFunctionMode):
    """torch's tensor factories (randn, randint, zeros, empty, tensor...)
    make meta tensors: a factory takes a `device` keyword, other functions
    do not. nn.Module constructors pass `device=None` on to their factories,
    so None counts as not given; the CPU a file names as a device (a model
    that wrote `w.to(torch.device("cpu"))`, which its files keep as
    written) means meta too, and `.cpu()` of a meta tensor is itself.

    `made_real` says whether any function returned a tensor that is not on
    meta (the file read a value, or built one through numpy): then the run
    was not, or not only, on meta. While `paused`, nothing is changed or
    watched (built_for_real)."""

    def __init__(self):
        super().__init__()
        self.made_real = False
        self.paused = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.paused:
            return func(*args, **(kwargs or {}))
        kwargs = {k: _meta_for_cpu(v) for k, v in (kwargs or {}).items()}
        args = tuple(_meta_for_cpu(a) for a in args)
        if func is torch.Tensor.cpu and args[0].is_meta:
            return args[0]
        if kwargs.get("device") is None and not any(isinstance(a, torch.Tensor) for a in args):
            try:
                return self._watched(func(*args, **{**kwargs, "device": "meta"}))
            except TypeError:
                pass  # not a factory: it takes no device
        return self._watched(func(*args, **kwargs))

    def _watched(self, result):
        leaves = result if isinstance(result, (tuple, list)) else (result,)
        if any(isinstance(t, torch.Tensor) and not t.is_meta for t in leaves):
            self.made_real = True
        return result


def _to_meta(module):
    """Every parameter, buffer and plain tensor attribute of `module` and its
    submodules replaced by a meta tensor of its shape and dtype."""
    module._apply(lambda t: torch.empty_like(t, device="meta"))
    for m in module.modules():
        for name, value in list(vars(m).items()):
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and not value.is_meta:
                setattr(m, name, torch.empty_like(value, device="meta"))


@contextlib.contextmanager
def built_for_real(cls, mode):
    """Within: an instance of `cls` is built with real tensors, `mode`
    paused, and then holds meta tensors only. For a model whose __init__
    reads a value (`.item()` of a linspace of drop rates), which meta has
    not, while its forward needs none. Its weights are not drawn: they go
    to meta unread (drawing them was 0.16 s of SwinV2's 0.42 s of self-tests)."""
    own = cls.__dict__.get("__init__")
    inherited = cls.__init__

    def init(self, *args, **kwargs):
        mode.paused = True
        try:
            with weights_left_uninitialised():
                inherited(self, *args, **kwargs)
        finally:
            mode.paused = False
        _to_meta(self)
    cls.__init__ = init
    try:
        yield
    finally:
        if own is None:
            del cls.__init__
        else:
            cls.__init__ = own
