"""Running a file's own code on the meta device, where tensors have shapes
and dtypes but no numbers and no op does any work.

A component's self-test checks shapes only, and a coverage count reads only
what kind of value each op makes: both ask what a run makes, not what it
computes, so both can ask it of a meta run, in no time where a real run
draws GBs of random numbers and runs a whole forward.
"""

import torch
from torch.overrides import TorchFunctionMode  # 1.13 on, as record.py needs too


class FactoriesOnMeta(TorchFunctionMode):
    """torch's tensor factories (randn, randint, zeros, empty, tensor...)
    make meta tensors: a factory takes a `device` keyword, other functions
    do not. nn.Module constructors pass `device=None` on to their factories,
    so None counts as not given.

    `made_real` says whether any function returned a tensor that is not on
    meta (the file read a value, or built one through numpy): then the run
    was not, or not only, on meta."""

    def __init__(self):
        super().__init__()
        self.made_real = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = None
        if kwargs.get("device") is None and not any(isinstance(a, torch.Tensor) for a in args):
            try:
                result = func(*args, **{**kwargs, "device": "meta"})
            except TypeError:
                result = None
        if result is None:
            result = func(*args, **kwargs)
        leaves = result if isinstance(result, (tuple, list)) else (result,)
        if any(isinstance(t, torch.Tensor) and not t.is_meta for t in leaves):
            self.made_real = True
        return result
