"""Ops a forward runs under torch.autocast, and the files that run them so.

Autocast works below torch.fx and below a recording: `self.a(x)` inside
`with torch.autocast("cpu", dtype=torch.bfloat16)` is traced as the same
node as outside it, yet computes in bfloat16. So each node notes the
autocast it was made under (node.meta["autocast"]), every run of a graph
here enters it again around that node, and a generated file writes the
`with torch.autocast(...)` block around the node's line: the kernel is the
bfloat16 workload the model runs. A region with autocast turned off inside
one turned on notes nothing: the pipeline runs with autocast off.
"""

import contextlib

import torch

# The device types whose autocast a node notes. torch 2.4 asks for a state by
# device type and deprecates the per-device functions that 1.13 has.
_DEVICES = ("cpu", "cuda")


def _enabled(device_type):
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch before 2.4
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def _dtype(device_type):
    get = getattr(torch, "get_autocast_dtype", None)
    if get is not None:
        return get(device_type)
    return torch.get_autocast_cpu_dtype() if device_type == "cpu" else torch.get_autocast_gpu_dtype()


def state():
    """((device type, dtype), ...) of the autocast regions on now; () for none."""
    return tuple((d, _dtype(d)) for d in _DEVICES if _enabled(d))


def mark(node):
    """Note on a node just made the autocast its op runs under."""
    on = state()
    if on:
        node.meta["autocast"] = on


def of(node):
    return node.meta.get("autocast", ())


def in_graph(gm):
    """Whether any node of `gm` runs under autocast."""
    return any(of(n) for n in gm.graph.nodes)


@contextlib.contextmanager
def region(on):
    """The autocast `on` (state()) entered; nothing for ()."""
    with contextlib.ExitStack() as stack:
        for device_type, dtype in on:
            stack.enter_context(torch.autocast(device_type, dtype=dtype))
        yield


def header(on):
    """`with torch.autocast(...):` for a file's block of lines under `on`."""
    regions = ", ".join(f'torch.autocast("{d}", dtype={dtype})' for d, dtype in on)
    return f"with {regions}:"


def blocks(lines):
    """A forward's lines, each with the autocast state() it runs under, as
    source: each run of lines under one autocast is one indented block."""
    out, open_state = [], ()
    for line, on in lines:
        if on and on != open_state:
            out.append(header(on))
        open_state = on
        out.extend(("    " + part if on else part) for part in line.split("\n"))
    return out
