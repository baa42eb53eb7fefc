"""What torch 2.x's symbolic tracing follows that 1.13's does not, for the
tests that must hold on both where CI has only Debian's torch 1.13.

A model meant to be untraceable must stay so on torch 2.x: on the lent
machine (torch 2.11, Python 3.12) three of tests/models/untraceable traced
there, and their families were recorded here but traced there. Three things
changed, and `newer_fx()` brings each to torch 1.x for the length of a test:

- Proxy.__iter__ finds the instruction that iterates by its offset, so
  `b, t, d = x.shape` unpacks on Python 3.11+ (1.13 reads it at
  f_lasti // 2, which 3.11's cache entries put elsewhere);
- Tracer.create_arg writes a dataclass as a call of its class, so a model
  may return one;
- the argument parser hands any object with __torch_function__, in any
  slot, to its __torch_function__: torch.arange(t) and
  torch.zeros(b, d, device=x.device) of traced values become graph nodes.

The last is brought to torch's own functions (torch.<name>) only, which is
where models meet it: a tensor method is called on the Proxy itself.
"""

import bisect
import contextlib
import dataclasses
import dis
import inspect

import torch
import torch.fx.proxy as fx_proxy


def _iter(self):
    caller = inspect.currentframe().f_back
    instructions = list(dis.get_instructions(caller.f_code))
    offsets = [i.offset for i in instructions]
    inst = instructions[bisect.bisect_left(offsets, caller.f_lasti)]
    if inst.opname == "UNPACK_SEQUENCE":
        return (self[i] for i in range(inst.argval))
    return self.tracer.iter(self)


def _create_arg_with_dataclasses(create_arg):
    def wrapped(self, a):
        if dataclasses.is_dataclass(a) and not isinstance(a, type) and not isinstance(a, fx_proxy.Proxy):
            kwargs = {f.name: self.create_arg(getattr(a, f.name)) for f in dataclasses.fields(a)}
            return self.create_node("call_function", type(a), (), kwargs)
        return create_arg(self, a)
    return wrapped


def _proxy_in(value):
    if isinstance(value, fx_proxy.Proxy):
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            found = _proxy_in(v)
            if found is not None:
                return found
    return None


def _taking_proxies(fn):
    def wrapped(*args, **kwargs):
        proxy = _proxy_in(list(args) + list(kwargs.values()))
        if proxy is None:
            return fn(*args, **kwargs)
        return proxy.tracer.create_proxy("call_function", fn, args, kwargs)
    return wrapped


def _torch_functions():
    """torch's own functions: the builtins the argument parser checks."""
    return [name for name in dir(torch) if not name.startswith("_")
            and type(getattr(torch, name)).__name__ == "builtin_function_or_method"]


@contextlib.contextmanager
def newer_fx():
    """torch.fx as torch 2.x traces, on torch 1.x; as it is on torch 2.x."""
    if not torch.__version__.startswith("1."):
        yield
        return
    saved_iter, saved_create_arg = fx_proxy.Proxy.__iter__, fx_proxy.TracerBase.create_arg
    saved_functions = {name: getattr(torch, name) for name in _torch_functions()}
    fx_proxy.Proxy.__iter__ = _iter
    fx_proxy.TracerBase.create_arg = _create_arg_with_dataclasses(saved_create_arg)
    for name, fn in saved_functions.items():
        setattr(torch, name, _taking_proxies(fn))
    try:
        yield
    finally:
        fx_proxy.Proxy.__iter__ = saved_iter
        fx_proxy.TracerBase.create_arg = saved_create_arg
        for name, fn in saved_functions.items():
            setattr(torch, name, fn)
