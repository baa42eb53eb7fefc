"""Python source for graph nodes: one readable line per node.

fx's own code generator frees every value with `x = None` lines and names
modules by their full path; generated files are read by people, so the
lines here are the ones a person would write: `conv1 = self.conv1(x)`,
`add = relu + x`, `t = x.transpose(1, 2)`, `q = x[:, 0]`.
"""

import builtins
import dataclasses
import functools
import math
import operator

import torch
import torch.fx as fx

from . import autocast, ops


class Names:
    """Python expressions for nodes and attributes inside one generated class."""

    def __init__(self, values=None, attrs=None):
        self.values = dict(values or {})   # fx.Node -> variable name
        self.attrs = dict(attrs or {})     # module path or attr target -> self attribute
        # The device this class's tensors are on (`x.device`), for the devices
        # the model read off a tensor; `device_variable` is the local it reads.
        self.device = None
        self.device_variable = None

    def of(self, node):
        return self.values[node]

    def follow_device(self, expression, variable=None):
        self.device, self.device_variable = expression, variable


class Expression:
    """Source written as it is, where a value would be."""

    def __init__(self, text):
        self.text = text


# A library's own operator (torchvision's nms), registered with torch: called
# as torch.ops.<library>.<op>.
_OPERATOR_TYPES = tuple(t for t in (getattr(torch._ops, "OpOverloadPacket", None),
                                    getattr(torch._ops, "OpOverload", None)) if t is not None)


# torch's namespaces of functions defined in C (torch.fft.fft2 is
# torch._C._fft.fft_fft2): a file calls them by their public names.
_PUBLIC_NAMESPACES = ("fft", "linalg", "special", "sparse")


@functools.lru_cache(maxsize=None)
def _public_names():
    found = {}
    for namespace in _PUBLIC_NAMESPACES:
        for name, value in getattr(getattr(torch, namespace, None), "__dict__", {}).items():
            if callable(value) and not name.startswith("_"):
                found.setdefault(id(value), f"torch.{namespace}.{name}")
    return found


def _qualified_function(fn):
    if isinstance(fn, _OPERATOR_TYPES):
        packet = getattr(fn, "_overloadpacket", fn)
        overload = "" if packet is fn else f".{fn._overloadname}"
        return "torch.ops." + packet._qualified_op_name.replace("::", ".") + overload
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__name__", None) or str(fn)
    if fn in vars(builtins).values() and getattr(builtins, name, None) is fn:
        return name
    if module in ("torch.nn.functional",) or (module.startswith("torch._C._nn")
                                             and hasattr(torch.nn.functional, name)):
        return f"F.{name}"
    if module.startswith("torch") and hasattr(torch, name) and getattr(torch, name) is fn:
        return f"torch.{name}"
    if hasattr(torch.nn.functional, name) and getattr(torch.nn.functional, name) is fn:
        return f"F.{name}"
    if hasattr(torch, name) and getattr(torch, name) is fn:
        return f"torch.{name}"
    public = _public_names().get(id(fn)) if module.startswith("torch._C.") else None
    if public:
        return public
    if module == "math":
        return f"math.{name}"
    if module == "_operator" or module == "operator":
        return f"operator.{name}"
    return f"{module}.{name}" if module else name


def literal(value, names, in_index=False):
    """An argument as Python source."""
    if isinstance(value, fx.Node):
        return names.of(value)
    if isinstance(value, Expression):
        return value.text
    if isinstance(value, slice):
        parts = ["" if v is None else literal(v, names) for v in (value.start, value.stop, value.step)]
        if in_index:
            text = f"{parts[0]}:{parts[1]}"
            return text + (f":{parts[2]}" if value.step is not None else "")
        return f"slice({', '.join(p or 'None' for p in parts)})"
    if value is Ellipsis:
        return "..."
    if isinstance(value, tuple) and ops.is_namedtuple_class(type(value)) and not in_index:
        return f"{_namedtuple_type(type(value))}({', '.join(literal(v, names) for v in value)})"
    if isinstance(value, tuple):
        items = [literal(v, names, in_index) for v in value]
        if in_index:
            return ", ".join(items) if len(items) > 1 else items[0] + ","
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v, names) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {literal(v, names)}" for k, v in value.items()) + "}"
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, torch.device):
        return f"torch.device({str(value)!r})"
    if isinstance(value, torch.memory_format):
        return str(value)
    if isinstance(value, torch.layout):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        if math.isnan(value):
            return "float('nan')"
        return repr(value)
    if isinstance(value, torch.Size):
        return literal(tuple(value), names)
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    raise ValueError(f"cannot write {type(value).__name__} {value!r} as Python source")


def _namedtuple_type(cls):
    """The model's namedtuple class, spelled out: its file is not importable
    from a generated file. torch's own (PackedSequence, which an RNN tells
    by its class) by its name."""
    if cls is torch.nn.utils.rnn.PackedSequence:
        return "nn.utils.rnn.PackedSequence"
    return f"collections.namedtuple({cls.__name__!r}, {list(cls._fields)!r})"


def _call_args(args, kwargs, names):
    parts = [literal(a, names) for a in args]
    parts += [f"{k}={literal(v, names)}" for k, v in kwargs.items()]
    return ", ".join(parts)


_METHOD_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@"}


def _devices_followed(node, names):
    """The node's arguments with each device the model read off a tensor
    (`torch.zeros(n, device=x.device)`) written as the device of this class's
    tensors. Recorded, it is the device of the run, and written as that it
    would pin the file to the CPU. With no tensor to follow, a keyword
    device is left out (torch's default device) and a positional one (a
    method's `.to(device)`) follows the tensor the method is called on."""
    read = node.meta.get("devices_read")
    if not read:
        return node.args, node.kwargs
    args, kwargs = list(node.args), dict(node.kwargs)
    own = next((a for a in node.args if isinstance(a, fx.Node)), None)
    for key in read:
        if isinstance(key, int):
            if names.device:
                args[key] = Expression(names.device)
            elif own is not None:
                args[key] = Expression(f"{names.of(own)}.device")
        elif names.device:
            kwargs[key] = Expression(names.device)
        else:
            del kwargs[key]
    return tuple(args), kwargs


def node_line(node, names, written=None):
    """`out = <expression>` for one node; the caller has named every input.
    `written`: {position or keyword: Expression} for arguments written as
    other source (a kernel's `self.fill_value`)."""
    out = names.of(node)
    if node.op == "get_attr":
        return f"{out} = self.{names.attrs[node.target]}"
    if node.op == "call_module":
        return f"{out} = self.{names.attrs[node.target]}({_call_args(node.args, node.kwargs, names)})"
    args, kwargs = _devices_followed(node, names)
    if written:
        args = tuple(written.get(i, a) for i, a in enumerate(args))
        kwargs = {k: written.get(k, v) for k, v in kwargs.items()}
    if node.op == "call_method":
        self_arg, *rest = args
        if node.target in _METHOD_SYMBOLS and len(rest) == 1 and not kwargs:
            return f"{out} = {literal(self_arg, names)} {_METHOD_SYMBOLS[node.target]} {literal(rest[0], names)}"
        return f"{out} = {literal(self_arg, names)}.{node.target}({_call_args(rest, kwargs, names)})"
    target = node.target
    if target is operator.getitem:
        base, index = node.args
        return f"{out} = {literal(base, names)}[{literal(index, names, in_index=True)}]"
    if target is ops.setitem:
        base, index, value = (literal(a, names, in_index=i == 1) for i, a in enumerate(node.args))
        return f"{base}[{index}] = {value}\n{out} = {base}"
    if ops.is_namedtuple_class(target):
        return f"{out} = {_namedtuple_type(target)}({_call_args(args, kwargs, names)})"
    if ops.is_dataclass_class(target):
        fields = [f.name for f in dataclasses.fields(target)]
        kind = f"dataclasses.make_dataclass({target.__name__!r}, {fields!r})"
        return f"{out} = {kind}({_call_args(args, kwargs, names)})"
    if target is ops.after_write:
        return f"{out} = {literal(node.args[0], names)}  # as {literal(node.args[1], names)} left it"
    if target is getattr:
        base, attr = node.args
        return f"{out} = {literal(base, names)}.{attr}"
    if target is operator.neg:
        return f"{out} = -{literal(node.args[0], names)}"
    if target in ops.OPERATOR_SYMBOLS and len(args) == 2 and not kwargs:
        a, b = (literal(x, names) for x in args)
        symbol = ops.OPERATOR_SYMBOLS[target]
        if target in ops.IN_PLACE_OPERATORS:
            return f"{a} {symbol}= {b}\n{out} = {a}"
        return f"{out} = {a} {symbol} {b}"
    if node.meta.get("kept_whole"):  # imported by its name, which torch.fx.wrap keeps one op
        return f"{out} = {target.__name__}({_call_args(args, kwargs, names)})"
    return f"{out} = {_qualified_function(target)}({_call_args(args, kwargs, names)})"


def node_uses(node, names):
    """The local variables a node's line reads."""
    used = []
    for n in node.all_input_nodes:
        if n in names.values and n.op != "get_attr" and names.of(n) not in used:
            used.append(names.of(n))
    if node.meta.get("devices_read") and names.device_variable and names.device_variable not in used:
        used.append(names.device_variable)
    return used


# A forward of this many statements or fewer has nothing to free before it
# returns. Any longer one frees: a KernelBench level-2 chain of five kernels
# over 1 GB activations would otherwise hold five of them at once.
SHORT_FORWARD = 2


def with_frees(entries, keep):
    """Lines of a forward, each followed by `del` of the values it was the
    last to read, as torch.fx's own generated code does: a forward would
    otherwise hold every activation until it returns. `entries`: (line,
    names it defines, names it reads[, autocast.state() it runs under]);
    `keep`: the names that are returned or that the caller holds. Lines
    under autocast are written in its block, with the `del` lines after them."""
    tagged = []
    last = {}
    for i, (_, _, used, *_) in enumerate(entries):
        for name in used:
            last[name] = i
    defined = {name for _, names, *_ in entries for name in names}
    for i, (line, _, used, *on) in enumerate(entries):
        on = on[0] if on else ()
        tagged.append((line, on))
        done = [name for name in used if last[name] == i and name in defined and name not in keep]
        if done and len(entries) > SHORT_FORWARD:
            tagged.append((f"del {', '.join(done)}", on))
    return autocast.blocks(tagged)
