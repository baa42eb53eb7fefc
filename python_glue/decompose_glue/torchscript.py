"""TorchScript functions, seen through.

A function the model's code compiles with @torch.jit.script (timm's
activations, Megatron's bias_gelu, WaveGlow's fused gate) runs its ops
inside TorchScript, where neither torch.fx nor a recorded run sees them.
Its body is the user's own Python code, but torch keeps no reference to it
once compiled. So while a file is imported or its model built, torch.jit.script
is wrapped to remember the function it compiles (`remembering`); while the
model is traced or recorded (`seen_through`), the names its code binds to
those compiled functions name the Python functions instead, and their ops are
the model's ops. Everywhere else the model runs the compiled functions, as
its own code does.

A function compiled before the file was imported (by a library the file
imports) is not remembered, and stays opaque: capture says so by name.
"""

import contextlib
import functools
import inspect
import sys

import torch

from . import rebind

# id(compiled) -> (compiled, Python function); the compiled function is held,
# so that its id is not reused for another object
_ORIGINALS = {}


@contextlib.contextmanager
def remembering():
    """torch.jit.script, remembering the Python function of each function
    it compiles."""
    real = torch.jit.script

    @functools.wraps(real)
    def script(obj, *args, **kwargs):
        compiled = real(obj, *args, **kwargs)
        if inspect.isfunction(obj) and isinstance(compiled, torch.jit.ScriptFunction):
            _ORIGINALS[id(compiled)] = (compiled, obj)
        return compiled

    torch.jit.script = script
    try:
        yield
    finally:
        torch.jit.script = real


def forget():
    """A new run starts: the last run's functions go, and the globals of the
    files that held them with them."""
    _ORIGINALS.clear()


def is_remembered(value):
    """Whether `value` is a compiled function whose Python function is known."""
    held = _ORIGINALS.get(id(value))
    return held is not None and held[0] is value


def _model_namespaces(model):
    """{id: namespace} of the modules `model`'s classes are written in."""
    found = {}
    for module in model.modules():
        code = sys.modules.get(type(module).__module__)
        if code is not None:
            found[id(vars(code))] = vars(code)
    return found


def _namespaces(model):
    """The global namespaces a forward of `model` may look a compiled
    function up in: its classes' modules, and the modules the remembered
    functions were written in (one calling another)."""
    found = _model_namespaces(model)
    for _, function in _ORIGINALS.values():
        found[id(function.__globals__)] = function.__globals__
    return list(found.values())


def unseen(model):
    """The sorted names `model`'s classes' modules bind to compiled functions
    that are not remembered: compiled before the file was imported."""
    return sorted({name for names in _model_namespaces(model).values() for name, value in names.items()
                   if isinstance(value, torch.jit.ScriptFunction) and not is_remembered(value)})


@contextlib.contextmanager
def seen_through(model):
    """Inside the block, each name that `model`'s code binds to a remembered
    compiled function names its Python function."""
    with rebind.rebound(_namespaces(model) if _ORIGINALS else (), _ORIGINALS):
        yield
