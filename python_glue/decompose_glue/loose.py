"""A weight or buffer that belongs to no torch.nn module, as a line of a
standalone file's __init__.

A learned weight is drawn at random, like any model's before training. A
buffer is not learned: a causal mask, a relative position index, a table of
coordinates is what the model computes with, and a kernel run on other
values is another workload (an index of ones gathers one element; a mask of
random floats masks nothing). So a buffer is written exactly where that
takes little text: a constant, a triangle of ones, or a list of at most
LITERAL_LIMIT values. A larger buffer is still drawn, and its line says so.
"""

import hashlib
import math

import torch

# Swin's 7x7-window relative position index (49 x 49) is written out; its
# shifted-window masks (64 x 49 x 49) are not.
LITERAL_LIMIT = 4096

_WIDTH = 96

# The dtypes whose values Python writes exactly and torch compares on every
# version (torch 2.x's float8 types have no comparison on the CPU).
_WRITTEN = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool,
            torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64}


def _dtype(t):
    return "" if t.dtype == torch.float32 else f", dtype={t.dtype}"


def _shape(t):
    return _dims(t.shape)


def _dims(dims):
    return ", ".join(str(s) for s in dims) + ("," if len(dims) == 1 else "")


def _value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return f'float("{v}")'
    return repr(v)


def _constant(t):
    first = t.reshape(-1)[0]
    if not bool((t == first).all()):  # NaN equals nothing: never a constant
        return None
    v = first.item()
    if v == 0:
        return f"torch.zeros(({_shape(t)}){_dtype(t)})"
    if v == 1:
        return f"torch.ones(({_shape(t)}){_dtype(t)})"
    return f"torch.full(({_shape(t)}), {_value(v)}{_dtype(t)})"


def _triangle(t):
    """A lower or upper triangle of ones (a causal mask), the same over the
    leading dimensions."""
    if t.dim() < 2:
        return None
    rows, cols = t.shape[-2:]
    square = t.reshape(-1, rows, cols)
    if not bool((square == square[0]).all()):
        return None
    ones = torch.ones(rows, cols, dtype=t.dtype, device=t.device)
    for name in ("tril", "triu"):
        if torch.equal(square[0], getattr(torch, name)(ones)):
            made = f"torch.{name}(torch.ones({rows}, {cols}{_dtype(t)}))"
            return made if t.dim() == 2 else f"{made}.view({_shape(t)})"
    return None


def _literal(t, name, const):
    values = [_value(v) for v in t.reshape(-1).tolist()]
    lines, line = [], "   "
    for v in values:
        if len(line) + len(v) + 2 > _WIDTH:
            lines.append(line)
            line = "   "
        line += f" {v},"
    lines.append(line)
    shape = " x ".join(str(s) for s in t.shape)
    order = ", flattened in row-major order" if t.dim() > 1 else ""
    return (f"# The model's {name}: {shape}, {str(t.dtype).replace('torch.', '')}{order}.\n"
            f"{const} = [\n" + "\n".join(lines) + "\n]")


def exact(t, name):
    """(expression, module-level source or None) that makes exactly the
    buffer `name`'s tensor t, the source defining the list of its values
    where the expression reads one; None where no short text makes it."""
    if t.layout == torch.sparse_coo:
        return _sparse(t, name)
    if t.is_complex() and t.numel() > 0 and t.device.type != "meta":
        # LLaMA's rotary table (torch.polar): its real and imaginary parts
        made = exact(torch.view_as_real(t.detach()), name)
        return (f"torch.view_as_complex({made[0]})", made[1]) if made else None
    if t.numel() == 0 or t.dtype not in _WRITTEN or t.device.type == "meta":
        return None
    t = t.detach()
    made = _constant(t) or _triangle(t)
    if made:
        return made, None
    if t.numel() > LITERAL_LIMIT:
        return None
    const = f"{name.upper()}_VALUES"
    view = "" if t.dim() == 1 else f".view({_shape(t)})"
    return f"torch.tensor({const}, dtype={t.dtype}){view}", _literal(t.cpu(), name, const)


def _sparse(t, name):
    """A sparse COO buffer (a graph's adjacency) made from its indices and
    values as they are stored, coalesced again where it was."""
    t = t.detach()
    indices, values = exact(t._indices(), f"{name}_indices"), exact(t._values(), f"{name}_values")
    if indices is None or values is None:
        return None
    made = f"torch.sparse_coo_tensor({indices[0]}, {values[0]}, ({_shape(t)}))"
    sources = [s for s in (indices[1], values[1]) if s]
    return made + (".coalesce()" if t.is_coalesced() else ""), "\n\n".join(sources) or None


def sparse_drawn(shape, nnz, sparse_dim, values):
    """Source of a sparse COO tensor of `shape` whose `nnz` stored entries
    sit at random places (a place drawn twice is stored twice), holding
    `values` (source): a buffer too large to write out, a file's input."""
    places = ", ".join(f"torch.randint(0, {size}, ({nnz},))" for size in shape[:sparse_dim])
    return f"torch.sparse_coo_tensor(torch.stack([{places}]), {values}, {tuple(shape)})"


def fingerprint(t):
    """What tells two buffers' values apart in a workload's identity: their
    bytes, read as bytes whatever the dtype (numpy has no bfloat16); a sparse
    one's indices' and values'."""
    parts = (t._indices(), t._values()) if t.layout == torch.sparse_coo else (t,)
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]


def init_line(value, name):
    """The line of __init__ that makes `value` as attribute `name`, the
    module-level source it reads (or None), and what tells its workload
    apart.

    A parameter is drawn through torch.nn.init (the same numbers as
    torch.randn), so that a build whose weights are bound from the
    original's right after skips the draw (loader.weights_left_uninitialised):
    ViT's attention projections took 0.1 s of its pipeline, most of a
    forward."""
    shape = f"({_shape(value)})"
    if isinstance(value, torch.nn.Parameter):
        line = f"self.{name} = nn.Parameter(nn.init.normal_(torch.empty({shape}{_dtype(value)})))"
        return line, None, line
    made = exact(value, name)
    if made is not None:
        expression, source = made
        line = f"self.register_buffer({name!r}, {expression})"
        # the values' name in the text does not tell two buffers apart: their bytes do
        return line, source, line + (f"  # {fingerprint(value)}" if source else "")
    count = f"{value.numel()} values"
    if value.layout == torch.sparse_coo:
        nnz, sparse_dim = value._nnz(), value.sparse_dim()
        entries = _dims((nnz,) + tuple(value.shape[sparse_dim:]))
        drawn = sparse_drawn(value.shape, nnz, sparse_dim, f"torch.randn(({entries}){_dtype(value)})") + ".coalesce()"
        which = "as many at random places"
        count = f"{nnz} stored entries"
    elif value.is_floating_point():
        drawn, which = f"nn.init.uniform_(torch.empty({shape}{_dtype(value)}))", "random values"
    elif value.is_complex():
        drawn, which = f"torch.randn({shape}, dtype={value.dtype})", "random values"
    else:
        drawn, which = f"torch.ones({shape}, dtype={value.dtype})", "ones"
    line = (f"# {name}: the model's {count} are too many to write out; {which} stand in\n"
            f"self.register_buffer({name!r}, {drawn})")
    return line, None, line
