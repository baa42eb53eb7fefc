"""Values a forward writes into a model's own tensors, put back between runs.

A model may write into its buffers in eval: a running average of how often
each expert is picked (mul_ and add_ on a buffer), a call counter, a table
filled in place. The original and its refactored models share those tensors
(never copied), so a second run would start from what the first left, and
their outputs would differ by it. Every run starts from the values the
tensors had before the first, and what a run leaves in them is compared as
an output: it is part of what the forward does.

Parameters are not kept: a copy of every weight is what the steps avoid,
and a forward that changes its weights in place (clipping them) does so to
the same values every time.
"""

import torch

from . import trace


def _held(module):
    """{name: tensor} for the module's buffers and plain tensor attributes,
    each tensor once."""
    found, seen = {}, set()
    for name, t in list(module.named_buffers()) + list(trace.tensor_attributes(module).items()):
        if id(t) not in seen and _has_values(t):
            seen.add(id(t))
            found[name] = t
    return found


def _has_values(t):
    """Dense values of its own to copy: not a meta tensor, a sparse or
    quantized one, nor a lazy module's buffer before its first forward."""
    return (isinstance(t, torch.Tensor) and t.layout == torch.strided and not t.is_meta
            and not t.is_quantized and t.numel() > 0
            and not isinstance(t, torch.nn.parameter.UninitializedTensorMixin))


def _differs(t, copy, version):
    # A write through .data leaves the version counter as it was.
    return t._version != version or not torch.equal(t, copy)


def _assign(t, value):
    if t.shape != value.shape:  # resized in place (resize_)
        t.resize_(value.shape)
    t.copy_(value)


class Values:
    """The values of a module's buffers and plain tensor attributes as they
    are now; `written` names those a run changed since, once put back."""

    def __init__(self, module):
        self.kept = [(name, t, t.clone(), t._version) for name, t in _held(module).items()]
        self.written = set()

    def tensors(self):
        """{name: tensor}, the tensors themselves."""
        return {name: t for name, t, _, _ in self.kept}

    def changed(self):
        """{name: tensor} for those whose values differ from the kept ones."""
        return {name: t for name, t, copy, version in self.kept if _differs(t, copy, version)}

    def put(self, values):
        """Write `values` ({name: tensor}) into the tensors of those names."""
        with torch.no_grad():
            for name, t, _, _ in self.kept:
                if name in values:
                    _assign(t, values[name])

    def restore(self):
        with torch.no_grad():
            for i, (name, t, copy, version) in enumerate(self.kept):
                if _differs(t, copy, version):
                    _assign(t, copy)
                    self.kept[i] = (name, t, copy, t._version)
                    self.written.add(name)


def copies(tensors):
    """{name: a copy} of {name: tensor}: what a run left in them."""
    return {name: t.clone() for name, t in tensors.items()}


class State:
    """What a run may change in a model, as it is now: the plain tensor
    attributes and numbers a forward reassigns (trace.snapshot) and the
    values it writes in place (Values)."""

    def __init__(self, model):
        self.counted = set()  # the numbers a run changed (a position in a cache)
        self.attributes = trace.snapshot(model, self.counted)
        self.values = Values(model)

    def restore(self):
        self.attributes()
        self.values.restore()

    def written(self):
        """The qualified names of the tensors written and the numbers
        changed by the runs so far, each put back."""
        return sorted(self.values.written | self.counted)
