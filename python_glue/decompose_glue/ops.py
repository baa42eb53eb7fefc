"""What an op is: its canonical name, and whether it computes or only moves data.

One table serves every pass that must agree on it: grouping into levels
(plumbing stays inline in a refactored parent), the anti-cheat (only plumbing
may run outside a child), and coverage (only compute ops are counted). If two
of those disagreed, the tool would write refactored files its own gate
rejects, or count ops no kernel file holds.
"""

import dataclasses
import functools
import operator
import re

import torch
import torch.nn as nn

# Data movement: no arithmetic on values, so it may stay in a refactored
# parent's forward and is not counted as a kernel.
PLUMBING = frozenset({
    "getitem", "cat", "concat", "stack", "split", "split_with_sizes", "chunk",
    "unbind", "view", "view_as", "reshape", "reshape_as", "flatten",
    "unflatten", "permute", "transpose", "t", "swapaxes", "swapdims",
    "movedim", "squeeze", "unsqueeze", "expand", "expand_as", "repeat",
    "contiguous", "narrow", "select", "size", "dim", "numel", "to", "type",
    "type_as", "float", "double", "half", "bfloat16", "int", "long", "bool",
    "clone", "detach", "identity", "getattr", "tuple", "list", "dict", "setitem",
    "after_write",
})

# Ops whose output length is read from the values of their inputs (how many
# boxes nms keeps, how many entries are set): on other inputs of the same
# shapes, other lengths.
VALUE_SIZED = frozenset({"nms", "batched_nms", "nonzero", "argwhere", "unique", "unique_consecutive",
                         "masked_select"})

# Ops whose output holds whatever the memory held: no value read off it is
# the model's (a file would draw its inputs from a range that changes from
# one run to the next).
UNINITIALISED = frozenset({"empty", "empty_like", "new_empty", "empty_strided"})

# `x += y` and its kin: the operator writes into its left operand.
IN_PLACE_OPERATORS = frozenset({operator.iadd, operator.isub, operator.imul, operator.itruediv})

# How dtype_name spells the floating point and complex dtypes.
FLOATING_DTYPES = ("float", "bfloat", "complex")


def is_in_place_name(name):
    """x.add_(y), torch.relu_(x): a trailing underscore, not a dunder's,
    names an op that writes into its first argument."""
    return name.endswith("_") and not name.endswith("__")

# Attributes of a tensor that describe it and hold none of its data.
TENSOR_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "device"})

# Element-wise arithmetic joins the results of children (a residual add, a
# gate multiply): plumbing when every operand is a tensor computed in the
# graph, compute when an operand is a parameter or a constant.
ARITHMETIC = frozenset({"add", "sub", "mul", "div", "neg"})

# Ops a fusion is built around (shared/SPEC.md §4). HEAVY ops do the bulk of
# the work; a fusion holds at most one, except attention's two matmuls.
HEAVY = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "linear", "matmul", "einsum", "addmm", "baddbmm",
    "embedding", "lstm", "gru", "rnn", "bilinear",
})
NORMS = frozenset({
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
    "rms_norm",
})

_ALIASES = {
    "bmm": "matmul", "mm": "matmul", "truediv": "div", "floordiv": "div",
    "true_divide": "div", "multiply": "mul", "subtract": "sub",
    "concatenate": "cat", "max_pool2d_with_indices": "max_pool2d",
    "max_pool1d_with_indices": "max_pool1d",
    "max_pool3d_with_indices": "max_pool3d",
    "adaptive_max_pool2d_with_indices": "adaptive_max_pool2d",
    "softmax": "softmax", "_softmax": "softmax",
    "batch_norm1d": "batch_norm", "batch_norm2d": "batch_norm",
    "batch_norm3d": "batch_norm", "instance_norm1d": "instance_norm",
    "instance_norm2d": "instance_norm", "instance_norm3d": "instance_norm",
    "sync_batch_norm": "batch_norm", "dropout1d": "dropout",
    "dropout2d": "dropout", "dropout3d": "dropout", "alpha_dropout": "dropout",
    "feature_alpha_dropout": "dropout", "re_lu": "relu", "re_lu6": "relu6",
    "g_e_l_u": "gelu", "si_lu": "silu", "p_re_lu": "prelu",
    "leaky_re_lu": "leaky_relu", "e_l_u": "elu", "se_l_u": "selu",
    "ce_l_u": "celu", "r_re_lu": "rrelu", "g_l_u": "glu",
    "l_s_t_m": "lstm", "g_r_u": "gru", "r_n_n": "rnn", "conv_transpose": "conv_transpose",
    "iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "div",
    "neg": "neg", "pixel_shuffle": "pixel_shuffle",
}


# The words of a CamelCase name: an acronym (with its digits) before a
# capitalised word, a capitalised or lower-case word, a trailing acronym
# (ReLU2d's LU2d).
_WORDS = re.compile(r"[A-Z]+(?:[0-9]+[a-z]*)?(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+(?:[0-9]+[a-z]*)?")


def _ends_with_a_capital(word, previous):
    """A lone capital after a capitalised word of two letters or one that
    ends in a digit (RoI, ViT, Conv1D, S3D), not after a word of its own
    (InceptionA)."""
    return (len(word) == 1 and word.isupper() and previous[:1].isupper()
            and (len(previous) <= 2 or previous[-1].isdigit()))


@functools.lru_cache(maxsize=None)
def snake(name):
    """CamelCase or function name -> canonical snake_case op name
    (RoIHeads -> roi_heads, Conv1D -> conv1d, InceptionA -> inception_a)."""
    words = []
    for part in name.strip("_").split("_"):
        found = _WORDS.findall(part)
        for i, word in enumerate(found):
            if i and _ends_with_a_capital(word, words[-1]):
                words[-1] += word
            else:
                words.append(word)
    s = "_".join(words).lower() or name.lower()
    return _ALIASES.get(s, s)


_MODULE_NAMES = {
    nn.Conv1d: "conv1d", nn.Conv2d: "conv2d", nn.Conv3d: "conv3d",
    nn.ConvTranspose1d: "conv_transpose1d", nn.ConvTranspose2d: "conv_transpose2d",
    nn.ConvTranspose3d: "conv_transpose3d", nn.Linear: "linear",
    nn.BatchNorm1d: "batch_norm", nn.BatchNorm2d: "batch_norm",
    nn.BatchNorm3d: "batch_norm", nn.LayerNorm: "layer_norm",
    nn.GroupNorm: "group_norm", nn.InstanceNorm1d: "instance_norm",
    nn.InstanceNorm2d: "instance_norm", nn.InstanceNorm3d: "instance_norm",
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.GELU: "gelu", nn.SiLU: "silu",
    nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn", nn.Embedding: "embedding",
    nn.Flatten: "flatten", nn.Identity: "identity",
    nn.MaxPool1d: "max_pool1d", nn.MaxPool2d: "max_pool2d", nn.MaxPool3d: "max_pool3d",
    nn.AvgPool1d: "avg_pool1d", nn.AvgPool2d: "avg_pool2d", nn.AvgPool3d: "avg_pool3d",
    nn.AdaptiveAvgPool1d: "adaptive_avg_pool1d",
    nn.AdaptiveAvgPool2d: "adaptive_avg_pool2d",
    nn.AdaptiveAvgPool3d: "adaptive_avg_pool3d",
    nn.AdaptiveMaxPool2d: "adaptive_max_pool2d",
}


def is_torch_nn_kind(module):
    """Whether a leaf module is (a subclass of) one of torch.nn's own
    classes, and so holds that class's settings (in_channels, dim, ...); a
    library's own Conv1D holds none of nn.Conv1d's."""
    return any(cls is not nn.Module and getattr(nn, cls.__name__, None) is cls for cls in type(module).__mro__)


def is_heavy_module(module):
    """Whether a leaf module does the bulk of a model's work: a HEAVY
    torch.nn op, or a library's own leaf that multiplies by a weight matrix
    (transformers' Conv1D, a quantized linear), which module_op cannot name."""
    if module_op(module) in HEAVY:
        return True
    return not is_torch_nn_kind(module) and any(p.dim() >= 2 for p in module.parameters())


def own_forward_class(module):
    """The class of a leaf module that subclasses a torch.nn class outside
    torch and computes in a forward of its own (timm's Conv2dSame pads
    before its conv, a LoRA linear adds a low-rank product), else None: its
    workload is not torch's class's. A subclass that only sets things up
    (a parametrized or a lazy module, a subclass with its own __init__)
    computes as torch's class does."""
    if not is_torch_nn_kind(module):
        return None
    for cls in type(module).__mro__:
        if cls.__module__.split(".")[0] == "torch":
            return None
        if "forward" in vars(cls):
            return cls
    return None


def module_op(module):
    """Canonical op name of a leaf module (a torch.nn class or a custom leaf)."""
    for cls in type(module).__mro__:
        if cls in _MODULE_NAMES:
            return _MODULE_NAMES[cls]
    return snake(type(module).__name__)


def setitem(base, index, value):
    """`base[index] = value` as a node of a graph: returns `base`, written.

    torch.fx records the write as operator.setitem, which returns None, and
    the later readers of `base` read the node before it, so that nothing in
    the graph depends on the write and grouping could drop or move it. With
    this target the readers after the write read its node instead."""
    base[index] = value
    return base


def after_write(base, write):
    """`base` as read after `write` changed it through one of its views
    (x[:, :n].zero_()): the node that the readers after the write read, so
    that they depend on it, as with setitem."""
    return base


def is_namedtuple_class(target):
    return isinstance(target, type) and issubclass(target, tuple) and hasattr(target, "_fields")


def is_dataclass_class(target):
    return isinstance(target, type) and dataclasses.is_dataclass(target)


def function_op(target):
    """Canonical op name of a call_function target or a call_method name."""
    if isinstance(target, str):
        return snake(target)
    if is_namedtuple_class(target) or is_dataclass_class(target):  # Pair(logits, hidden)
        return "tuple"
    if target is getattr:
        return "getattr"
    name = getattr(target, "__name__", None) or str(target)
    return snake(name)


def is_plumbing_name(op):
    return op in PLUMBING


def is_compute_name(op):
    """Whether an op, by name alone, must live in a kernel (arithmetic counts)."""
    return op not in PLUMBING and op not in ("placeholder", "output", "get_attr")


def is_anchor(op):
    return op in HEAVY or op in NORMS


OPERATOR_SYMBOLS = {
    operator.add: "+", operator.sub: "-", operator.mul: "*",
    operator.truediv: "/", operator.floordiv: "//", operator.matmul: "@",
    operator.pow: "**", operator.mod: "%", operator.and_: "&",
    operator.or_: "|", operator.xor: "^", operator.lshift: "<<",
    operator.rshift: ">>", operator.eq: "==", operator.ne: "!=",
    operator.lt: "<", operator.le: "<=", operator.gt: ">", operator.ge: ">=",
    operator.iadd: "+", operator.isub: "-", operator.imul: "*",
    operator.itruediv: "/",
}

DTYPE_CODES = {
    torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16",
    torch.float64: "fp64", torch.int64: "i64", torch.int32: "i32",
    torch.int16: "i16", torch.int8: "i8", torch.uint8: "u8", torch.bool: "bool",
    torch.complex64: "c64",
}


def dtype_code(dtype):
    return DTYPE_CODES.get(dtype, str(dtype).replace("torch.", ""))


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")

# Ops whose workload does not depend on the shape they run on: one kernel
# file serves every instance, and the file name carries no shape.
ELEMENTWISE = frozenset({
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish",
    "hardsigmoid", "hardtanh", "leaky_relu", "elu", "selu", "celu", "mish",
    "softplus", "softsign", "prelu", "exp", "log", "sqrt", "rsqrt", "abs",
    "neg", "add", "sub", "mul", "div", "pow", "dropout", "clamp", "erf",
    "sin", "cos", "reciprocal", "square", "tanhshrink", "threshold",
    "logsigmoid", "sign", "floor", "ceil", "round", "maximum", "minimum",
    "where", "masked_fill", "identity", "log_sigmoid",
})


# Numbers an op computes with, not settings of what it computes:
# torch.full_like(x, 17) and torch.full_like(x, 18) run one kernel, as do
# x * 0.5 and x * 0.25. A kernel file takes them as constructor arguments
# (as KernelBench's files take their scaling factors), so instances that
# differ only in them are one file: SSDlite's 90 class labels were 90 files.
# Keys: an argument's position (counting the tensor a method is called on)
# or keyword; values: the name the file gives it, torch's own.
_OTHER = {0: "other", 1: "other", "other": "other"}
_CLAMP = {1: "min", 2: "max", "min": "min", "max": "max"}
VALUE_ARGUMENTS = {
    "full_like": {1: "fill_value", "fill_value": "fill_value"},
    "full": {1: "fill_value", "fill_value": "fill_value"},
    "new_full": {2: "fill_value", "fill_value": "fill_value"},
    "fill": {1: "value", "value": "value"},
    "masked_fill": {2: "value", "value": "value"},
    "clamp": _CLAMP,
    "clip": _CLAMP,
    "clamp_min": {1: "min", "min": "min"},
    "clamp_max": {1: "max", "max": "max"},
    **{op: _OTHER for op in ("add", "sub", "rsub", "mul", "div", "eq", "ne", "gt", "ge", "lt", "le")},
}


def value_arguments(node, op):
    """[(position or keyword, name, number)] for the node's VALUE_ARGUMENTS
    that hold a number (a tensor there is an input of the kernel)."""
    table = VALUE_ARGUMENTS.get(op, {})
    found = []
    for key, value in list(enumerate(node.args)) + list(node.kwargs.items()):
        name = table.get(key)
        if name is not None and type(value) in (int, float, bool) and all(n != name for _, n, _ in found):
            found.append((key, name, value))
    return found
