"""File names for components: `<op>_<shape-signature>_<dtype>` (shared/SPEC.md §5).

The name says what workload a file holds: a linear's weight shape, a conv's
channels, kernel, stride and padding, a matmul's operand shapes. Element-wise
ops carry no shape: one file serves every instance.
"""

import torch.fx as fx

from . import ops
from .trace import items_of
from .levels import is_anchor, is_compute, is_heavy, op_name


def _x(values):
    return "x".join(str(int(v)) for v in values)


def _pair(v):
    if isinstance(v, (tuple, list)):
        return str(v[0]) if len(set(v)) == 1 else _x(v)
    return str(v)


def _module_signature(op, m):
    if not ops.is_torch_nn_kind(m):
        return _x_params(m)
    if op.startswith("conv"):
        sig = f"{m.in_channels}x{m.out_channels}_k{_pair(m.kernel_size)}s{_pair(m.stride)}"
        pad = m.padding if isinstance(m.padding, str) else _pair(m.padding)
        sig += f"p{pad}"
        if _pair(m.dilation) != "1":
            sig += f"d{_pair(m.dilation)}"
        if m.groups != 1:
            sig += f"g{m.groups}"
        return sig
    if op == "linear":
        return f"{m.in_features}x{m.out_features}"
    if op in ("batch_norm", "instance_norm"):
        return str(m.num_features)
    if op == "layer_norm":
        return _x(m.normalized_shape)
    if op == "group_norm":
        return f"{m.num_groups}x{m.num_channels}"
    if op == "embedding":
        return f"{m.num_embeddings}x{m.embedding_dim}"
    if op in ("lstm", "gru", "rnn"):
        sig = f"{m.input_size}x{m.hidden_size}_l{m.num_layers}"
        return sig + ("_bi" if m.bidirectional else "")
    if "adaptive" in op:
        return "o" + _pair(m.output_size)
    if "pool" in op:
        sig = f"k{_pair(m.kernel_size)}s{_pair(m.stride)}"
        pad = _pair(getattr(m, "padding", 0))
        return sig + (f"p{pad}" if pad != "0" else "")
    if op in ("softmax", "log_softmax"):
        return f"dim{m.dim}"
    return _x_params(m)


def _x_params(m):
    """A module's first two weights' shapes: what sets a custom leaf's workload."""
    shapes = [_x(p.shape) for p in m.parameters()]
    return "_".join(shapes[:2])


def _tensor_inputs(node):
    found = []
    fx.node.map_aggregate((node.args, node.kwargs), found.append)
    return [a for a in found if isinstance(a, fx.Node)
            and a.meta.get("value", {}).get("kind") == "tensor"]


def _dtype(node):
    ins = [a.meta["value"]["dtype"] for a in _tensor_inputs(node)]
    value = node.meta.get("value", {})
    out = value.get("dtype")
    if out is None and items_of(value):
        out = items_of(value)[0].get("dtype")
    first = ins[0] if ins else out
    code = lambda d: ops.dtype_code(getattr(__import__("torch"), d, d)) if d else "any"
    if first and out and first != out:
        return f"{code(first)}_{code(out)}"
    return code(first or out)


def kernel_signature(node, gm):
    op = op_name(node, gm)
    if node.op == "call_module":
        return _module_signature(op, gm.get_submodule(node.target))
    params = [a for a in _tensor_inputs(node) if a.op == "get_attr"]
    if op in ops.ELEMENTWISE:
        return "_".join(_x(p.meta["value"]["shape"]) for p in params)
    return "_".join(_x(a.meta["value"]["shape"]) or "scalar" for a in _tensor_inputs(node))


def _join(*parts):
    return "_".join(p for p in parts if p)


def _named_op(node, gm):
    """The op a name says: a leaf module of the user's own subclass of a
    torch.nn class that computes in its own forward is named by its class
    (conv2d_same, lo_ra_linear), as it runs another workload than torch's
    class; its signature stays torch's class's (kernel_signature)."""
    if node.op == "call_module":
        own = ops.own_forward_class(gm.get_submodule(node.target))
        if own is not None:
            return ops.snake(own.__name__)
    return op_name(node, gm)


def kernel_name(node, gm):
    return _join(_named_op(node, gm), kernel_signature(node, gm), _dtype(node))


def fusion_name(nodes, gm):
    computes = [n for n in nodes if is_compute(n, gm)]
    names = []
    for n in computes:
        op = _named_op(n, gm)
        if not names or names[-1] != op:
            names.append(op)
    anchor = next((n for n in computes if is_heavy(n, gm)),
                  next((n for n in computes if is_anchor(n, gm)), computes[0]))
    return _join("_".join(names), kernel_signature(anchor, gm), _dtype(computes[0]))


def shape_signature(shape):
    dims = shape[1:] if len(shape) > 1 else shape
    return _x(dims)


def layer_name(base, inputs):
    """A layer's kind and the shape and dtype of the first floating tensor it
    takes, else of its first tensor: what it computes on, not the mask or
    the ids that come before it (which torch 2.x's TransformerEncoderLayer
    takes first)."""
    tensors = [a for a in inputs if a.meta.get("value", {}).get("kind") == "tensor"]
    tensors = [a for a in tensors if a.meta["value"]["dtype"].startswith(ops.FLOATING_DTYPES)] or tensors
    sig = shape_signature(tensors[0].meta["value"]["shape"]) if tensors else ""
    dtype = ops.dtype_code(getattr(__import__("torch"), tensors[0].meta["value"]["dtype"])) if tensors else ""
    return _join(ops.snake(base), sig, dtype)


def identifier(text):
    text = "".join(c if c.isalnum() else "_" for c in text).strip("_") or "m"
    while "__" in text:
        text = text.replace("__", "_")
    return text if not text[0].isdigit() else "m_" + text


def class_alias(stem):
    return "".join(part[:1].upper() + part[1:] for part in stem.split("_") if part)
