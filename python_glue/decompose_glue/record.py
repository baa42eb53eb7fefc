"""Tracing by running: a torch.fx graph recorded from one real forward pass.

torch.fx.symbolic_trace fails on much real code (`b, t, d = x.shape` used in
Python arithmetic, branches on optional arguments or on tensor values, loops
whose length is data). This tracer runs the model on its real inputs and
records every torch-level call as it happens: a TorchFunctionMode sees each
torch function and Tensor method outside kernel modules, and a wrapper around
nn.Module.__call__ turns each kernel module's call into one call_module node
and keeps the module scope, as the symbolic tracer does. Python values read
from tensors (`if x.mean() > 0`, `int(mask.sum())`) are fixed to what they
were on these inputs: the graph reproduces the model on inputs like them, and
`specialised` lists each value that was fixed.
"""

import collections
import contextlib
import dataclasses
import functools
import operator
import re
import sys
import weakref

import torch
import torch.fx as fx
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from . import autocast, followreads, hooks, ops, rebind, torchscript
from .tensorpatch import tensor_methods
from .trace import (containers_held, describe, describe_node, graph_module, is_kernel_module, is_value_sized,
                    keep_sizes, kept_whole_paths, lengths_from_values, remove_unused, state, value_sized_dim)
from .verify import storage_address, tensors

# Tensor dunders recorded as the operator a person writes.
_DUNDERS = {
    "__add__": (operator.add, False), "__radd__": (operator.add, True),
    "__sub__": (operator.sub, False), "__rsub__": (operator.sub, True),
    "__mul__": (operator.mul, False), "__rmul__": (operator.mul, True),
    "__truediv__": (operator.truediv, False), "__rtruediv__": (operator.truediv, True),
    "__floordiv__": (operator.floordiv, False), "__matmul__": (operator.matmul, False),
    "__rmatmul__": (operator.matmul, True), "__pow__": (operator.pow, False),
    "__rpow__": (operator.pow, True), "__mod__": (operator.mod, False),
    "__neg__": (operator.neg, False), "__getitem__": (operator.getitem, False),
    "__and__": (operator.and_, False), "__or__": (operator.or_, False),
    "__xor__": (operator.xor, False), "__invert__": (operator.invert, False),
    "__eq__": (operator.eq, False), "__ne__": (operator.ne, False),
    "__lt__": (operator.lt, False), "__le__": (operator.le, False),
    "__gt__": (operator.gt, False), "__ge__": (operator.ge, False),
    "__iadd__": (operator.iadd, False), "__isub__": (operator.isub, False),
    "__imul__": (operator.imul, False), "__itruediv__": (operator.itruediv, False),
}
# torch.Tensor's operators by what they are, not by their names: some are
# wrappers named after the method they wrap (torch 1.13's __pow__ is named
# "pow" and lives in torch._tensor, which has no function pow; its
# __rtruediv__ is named __rdiv__). One that is a method itself (__neg__ is
# Tensor.neg) stays that method, as it was recorded.
_TENSOR_DUNDERS = {}
for _name in _DUNDERS:
    _func = getattr(torch.Tensor, _name, None)
    _own = getattr(_func, "__name__", "")
    if _func is None or (not _own.startswith("_") and getattr(torch.Tensor, _own, None) is _func):
        continue
    try:
        _TENSOR_DUNDERS[_func] = _name
    except TypeError:  # not hashable
        pass
_IN_PLACE_DUNDERS = frozenset(name for name, (target, _) in _DUNDERS.items() if target in ops.IN_PLACE_OPERATORS)
# Reading a Python value out of a tensor fixes control flow to this input.
_READS = {"__bool__", "item", "__int__", "__float__", "__index__", "tolist", "__len__",
          "__iter__", "numel", "dim", "size", "__format__", "__repr__", "__array__"}
# Reads of a tensor's sizes.
_SIZE_READS = {"size", "shape", "__len__", "numel"}
# Reads of a number off a tensor, and the call that reads it in a graph.
_NUMBER_READS = {"item": ("call_method", "item"), "__int__": ("call_function", int),
                 "__float__": ("call_function", float), "numel": ("call_method", "numel"),
                 "size": ("call_method", "size"), "__len__": ("call_function", len)}


class LengthFromValues(collections.namedtuple("LengthFromValues", "value")):
    """A size read, in `reads`, off a tensor whose length values gave
    (is_value_sized): a function that reads one is kept whole even where
    the trials' reads agree (each kept 100 detections; a file's own inputs
    may keep none)."""


class RecordError(Exception):
    pass


# What differentiates in forward, by the name a message gives it
DIFFERENTIATING = {torch.autograd.grad: "torch.autograd.grad", torch.autograd.backward: "torch.autograd.backward",
                   torch.Tensor.backward: "Tensor.backward"}


def differentiating(target):
    """The name of what `target` is, where it differentiates, else None; by
    identity: torch may hand the recorder an unhashable callable."""
    for function, name in DIFFERENTIATING.items():
        if target is function:
            return name
    return None


class Refused(RecordError):
    """What the forward does no generated file can do, whatever the trace:
    said as it is, the model's file named (capture._trace)."""


class Differentiates(RecordError):
    """The forward differentiates (`name`), which no file can do on its own
    (capture.differentiating_message)."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


class Reopen(Exception):
    """A leaf module gave back an object the graph cannot carry (torchvision's
    ImageList): record again, with that module's ops recorded one by one."""

    def __init__(self, path):
        super().__init__(path)
        self.path = path


# A tensor the model keeps outside its modules, up to this many values, is
# written out where it is used: torch.tensor([...]).
_WRITTEN_OUT = 32

_PYTHON_DTYPES = {bool: torch.bool, int: torch.int64, float: torch.float64, complex: torch.complex128}


class _Recorder(TorchFunctionMode):
    def __init__(self, model, watch_reads=False, follow_numbers=False):
        super().__init__()
        self.graph = fx.Graph()
        self.name_uses = {}      # base -> nodes named from it so far (_create)
        # With watch_reads, every Python value read off a tensor (shapes
        # too), with the function to keep whole it was read in (_holder).
        self.reads = [] if watch_reads else None
        # ... and the numbers the model's own forward read off a tensor
        # (_NUMBER_READS: .item(), int(t), x.size(1)), in order, as (read,
        # number), with the call that reads each again; with
        # follow_numbers, each also as that call's node (followreads.py)
        self.numbers = [] if watch_reads else None
        self.number_sources = []  # (op, target, args)
        self.follow_numbers = follow_numbers
        self.number_nodes = []
        self.followed = []       # what the graph reads of them, as `specialised` says a read
        # ... and each module call's output shapes, by path, in call order:
        # where a module kept whole gives the same on every input, its
        # files check them all (varying_lengths)
        self.module_shapes = {} if watch_reads else None
        self.node_of = {}        # id(tensor) -> node, while that tensor lives
        self.alive = {}          # id(tensor) -> weak reference, for the same tensors
        self.busy = 0            # > 0 inside a recorded call or a kernel module
        self.scope = []
        self.calls = {}
        self.specialised = []
        # Devices the model read off a tensor (`device=x.device`), by id and
        # kept alive so that no other object takes that id: generated code
        # writes them as the device of its own tensors, not as this run's.
        self.devices_read = {}
        self.modules = list(model.named_modules())
        self.paths = {id(m): p for p, m in self.modules}
        self.attrs = {}
        for name, t in state(model).items():
            self.attrs.setdefault(id(t), name)
        # names of tensors kept in containers -> how many indices or keys name them
        self.held = {name: keys for name, keys, _ in containers_held(model)}
        self.code_constants = _code_constants(model)  # id -> name of module-level tensors

    def _create(self, op, target, args=(), kwargs=None, name=None):
        """graph.create_node, naming the node as fx does, from where fx's
        search would end. torch 1.13's Graph tries a name's base, base_1,
        base_2, ... from the first each time: quadratic in a name's uses
        (17 s for 6,000 getitems and 6,000 adds; 0.81 s of naming in Mask
        R-CNN's plan, 0.08 s with this). Every name this graph gave a base
        so far is taken, so the search can start at their count (fx still
        checks it)."""
        if name is None and hasattr(self.graph, "_target_to_str"):
            base = re.sub(r"[^0-9a-zA-Z_]+", "_", self.graph._target_to_str(target))
            if base and not base[0].isdigit() and not re.fullmatch(r".*_\d+", base):
                uses = self.name_uses.get(base, 0)
                self.name_uses[base] = uses + 1
                name = f"{base}_{uses}" if uses else None
        return self.graph.create_node(op, target, args, kwargs, name=name)

    def _node(self, op, target, args, kwargs, value, name=None):
        node = self._create(op, target, args, kwargs, name=name)
        node.meta["scope"] = tuple(self.scope)
        autocast.mark(node)
        self.busy += 1  # describing a value (its min and max) is not the model's work
        try:
            node.meta["value"] = describe_node(node, value)
            if self.reads is not None:
                _keep_lengths(node, _lengths_of_inputs(node), value if is_value_sized(node) else None)
        finally:
            self.busy -= 1
        self._bind(value, node)
        return node

    def _reads_value_sized(self, tensor, name, value):
        """Whether a size read off `tensor` is a length read from values
        (what nms kept, and what was made from it): one that no trial's
        inputs need to change for a recording to hold it wrong."""
        node = self.node_of.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None
        lengths = node.meta.get("value_sized", set()) if node is not None else set()
        read = tuple(tensor.shape) if name == "numel" else tuple(value) if isinstance(value, tuple) else (value,)
        return any(v in lengths for v in read)

    def _bind(self, value, node):
        if isinstance(value, torch.Tensor):
            # Forgotten when the tensor dies, before its id can be reused:
            # keeping every activation alive instead would hold the whole
            # forward's memory (Swin V2: 2.2 GB against 0.65 GB eager). The
            # finalizer holds the recorder weakly: a tensor that outlives the
            # recording (a parameter an op returned as is, a state the model
            # keeps) must not keep the recorder, its graph and the model alive.
            self.node_of[id(value)] = node
            self.alive[id(value)] = weakref.ref(value)
            weakref.finalize(value, _forget, weakref.ref(self), id(value))
        elif isinstance(value, (tuple, list, dict)) and _has_tensor(value):
            # a dict by its keys: a batch given as {"ids": ..., "mask": ...}
            for i, v in (value.items() if isinstance(value, dict) else enumerate(value)):
                if isinstance(v, (torch.Tensor, tuple, list, dict)):
                    item = self._create("call_function", operator.getitem, (node, i))
                    item.meta["scope"] = tuple(self.scope)
                    self.busy += 1
                    try:
                        item.meta["value"] = describe(v)
                        _keep_lengths(item, node.meta.get("value_sized", set()))
                        if isinstance(value, nn.utils.rnn.PackedSequence) and i > 0 and v is not None:
                            # batch sizes and orders: a file that takes one makes it as it was
                            item.meta["value"]["values"] = v.tolist()
                    finally:
                        self.busy -= 1
                    self._bind(v, item)

    def arg(self, value):
        """An argument as graph data: tensors become their nodes."""
        if isinstance(value, torch.Tensor):
            node = self.node_of.get(id(value))
            if node is not None:
                return node
            name = self.attrs.get(id(value))
            if name is None:
                held = self.code_constants.get(id(value))
                if held is None:
                    raise RecordError("forward uses a tensor that is neither an input, a result, "
                                      "a parameter nor a buffer (a tensor made outside forward and kept "
                                      "as a plain attribute?)")
                if value.numel() > _WRITTEN_OUT or value.requires_grad or value.is_meta:
                    raise RecordError(f"forward uses {held} (a module-level tensor of the model's code, "
                                      f"shape {list(value.shape)}), which is neither an input, a result, "
                                      "a parameter nor a buffer, and too large to write out where it is "
                                      "used: register it as a buffer")
                # a small table the model's code keeps at module level: its
                # values, as torch.tensor would make them in forward
                return self._node("call_function", torch.tensor, (value.tolist(),),
                                  {"dtype": value.dtype}, value)
            node = self._create("get_attr", name)
            node.meta["scope"] = tuple(self.scope)
            node.meta["value"] = describe(value)
            node.meta["held"] = self.held.get(name, 0)
            self._bind(value, node)
            return node
        if isinstance(value, torch.Generator):
            # one the model keeps is state, as a buffer is: each file that
            # draws from it builds its own from the seed (generators.py)
            held = next((f"{path}.{name}" if path else name for path, m in self.modules
                         for name, v in vars(m).items() if v is value), None)
            if held is None:
                raise Refused("forward draws random numbers from a torch.Generator it makes itself, which "
                              "no generated file can take: keep it on the module (self.generator = "
                              "torch.Generator().manual_seed(...)) or draw from torch's default generator")
            node = self._create("get_attr", held)
            node.meta["scope"] = tuple(self.scope)
            node.meta["value"] = describe(value)
            return node
        if isinstance(value, nn.utils.rnn.PackedSequence):
            # a node that makes it: fx would rebuild the tuple of nodes
            # itself, and PackedSequence() checks its tensors' devices
            return self._node("call_function", nn.utils.rnn.PackedSequence,
                              tuple(self.arg(v) for v in value), {}, value)
        if isinstance(value, (tuple, list)):
            items = [self.arg(v) for v in value]
            return type(value)._make(items) if hasattr(value, "_fields") else type(value)(items)
        if isinstance(value, dict):
            return {k: self.arg(v) for k, v in value.items()}
        if isinstance(value, slice):  # mask[y0:y1] with bounds held in tensors
            return slice(self.arg(value.start), self.arg(value.stop), self.arg(value.step))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Output(logits=..., hidden=...): a node that builds it, so that
            # what it holds is read from the graph
            fields = {f.name: self.arg(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return self._node("call_function", type(value), (), fields, value)
        if isinstance(value, torch.Size):
            return tuple(value)
        if isinstance(value, type) and value in _PYTHON_DTYPES:
            # torch.ones(..., dtype=bool): torch's meaning of the Python type,
            # which generated code can spell (fx would print "<class 'bool'>")
            return _PYTHON_DTYPES[value]
        return value

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.busy:
            return func(*args, **kwargs)
        gradient = differentiating(func)
        if gradient is not None:
            raise Differentiates(gradient)
        name = getattr(func, "__name__", "")
        try:
            name = _TENSOR_DUNDERS.get(func, name)
        except TypeError:  # an unhashable callable: not an operator
            pass
        is_property = name == "__get__"  # x.real, x.T: the descriptor's getter
        if is_property:
            name = getattr(getattr(func, "__self__", None), "__name__", name)
        self.busy += 1
        try:
            value = func(*args, **kwargs)
        finally:
            self.busy -= 1
        if name == "device" and isinstance(value, torch.device) and args and isinstance(args[0], torch.Tensor):
            self.devices_read[id(value)] = value
            return value
        if not _has_tensor(value):
            if self.reads is not None and name != "device":
                self.busy += 1  # reading the tensor's sizes again is not the model's work
                try:
                    sized = name in _SIZE_READS and args and self._reads_value_sized(args[0], name, value)
                finally:
                    self.busy -= 1
                holder = self._holder(sys._getframe(1))
                self.reads.append((holder, name, LengthFromValues(value) if sized else value))
                if isinstance(holder, MethodRead) and not holder.path:
                    self._read_number(name, value, args)
            if name in _READS or not isinstance(value, (torch.Size, int)):
                self._note(name, value)
                self._mark_read(args)
            return value
        gargs, gkwargs = self.arg(args), self.arg(kwargs)
        if name in _DUNDERS:
            target, swap = _DUNDERS[name]
            if swap:
                gargs = (gargs[1], gargs[0])
            node = self._node("call_function", target, tuple(gargs), gkwargs, value)
        elif is_property and gargs and isinstance(gargs[0], fx.Node):
            node = self._node("call_function", getattr, (gargs[0], name), {}, value, name=name)
        elif _is_tensor_method(func) and gargs and isinstance(gargs[0], fx.Node):
            node = self._node("call_method", name, tuple(gargs), gkwargs, value)
        else:
            node = self._node("call_function", func, tuple(gargs), gkwargs, value)
        keep_sizes(node, func, args)
        read = [i for i, a in enumerate(node.args) if self._read_device(a)]
        read += [k for k, a in node.kwargs.items() if self._read_device(a)]
        if read:
            node.meta["devices_read"] = read
        if _writes_in_place(name) and args and value is args[0]:
            self.written_through(value, node)
        return value

    def written_through(self, view, write):
        """After `write` changed `view` in place: where the view shares the
        memory of a tensor the graph knows (x[:, :n].zero_(), a cache's
        slice copied into), what reads that tensor from here on reads a
        node after the write; the graph would otherwise hold no reader of
        the write and drop it."""
        self.busy += 1  # reading ._base is not the model's work
        try:
            root = view._base if isinstance(view, torch.Tensor) else None
            if root is None:
                return
            if id(root) in self.attrs:
                self.arg(root)  # a weight or state written through a slice
            # Every tensor the graph knows that is this memory: its base (a
            # linear's output is itself a view of a 2-d result) and its views.
            known = [(key, ref()) for key, ref in list(self.alive.items())]
            for key, tensor in known:
                if tensor is None or tensor is view or not (tensor is root or tensor._base is root):
                    continue
                node = self.node_of[key]
                stem = re.sub(r"_written(_\d+)?$", "", node.name)
                self._node("call_function", ops.after_write, (node, write), {}, tensor, name=f"{stem}_written")
        finally:
            self.busy -= 1

    def _holder(self, frame):
        """_holder, where a method holds the read: MethodRead of the module
        whose call is running, the one a recording can keep whole (a helper
        method the parent calls on its child, not through the child's call,
        runs inside the parent's)."""
        holder = _holder(frame)
        if isinstance(holder, str):
            return MethodRead(self.scope[-1].rsplit("#", 1)[0] if self.scope else "", holder)
        return holder

    def _read_number(self, name, value, args):
        """A number the model's own forward read off a tensor (numbers)."""
        node = self.node_of.get(id(args[0])) if args and isinstance(args[0], torch.Tensor) else None
        if name not in _NUMBER_READS or type(value) not in (int, float) or node is None:
            return
        self.numbers.append((name, value))
        op, target = _NUMBER_READS[name]
        self.number_sources.append((op, target, (node, *args[1:])))  # x.size(1): its dim
        if self.follow_numbers:
            read = self._node(op, target, self.number_sources[-1][2], {}, value, name="number")
            read.meta["read"] = True  # where no op takes it, it goes without a word (remove_unused)
            read.meta["number_read"] = True  # what it sizes, the values size (trace.number_sized_places)
            self.number_nodes.append(read)

    def returned_numbers(self, output):
        """The forward's output with each number in it that one of its own
        reads gave (the latest such read) as a node that reads it again: a
        kernel whose file gives a number (`int(x.max())`) computes it in its
        graph, where a constant would leave its op out."""
        if type(output) in (int, float) and self.numbers:
            for k in reversed(range(len(self.numbers))):
                if type(self.numbers[k][1]) is type(output) and self.numbers[k][1] == output:
                    if self.follow_numbers:
                        return self.number_nodes[k]
                    op, target, args = self.number_sources[k]
                    return self._node(op, target, args, {}, output, name="number")
            return output
        if isinstance(output, (tuple, list)) and not hasattr(output, "_fields"):
            return type(output)(self.returned_numbers(v) for v in output)
        if isinstance(output, dict):
            return {k: self.returned_numbers(v) for k, v in output.items()}
        return output

    def _read_device(self, value):
        return isinstance(value, torch.device) and self.devices_read.get(id(value)) is value

    def _mark_read(self, args):
        """The nodes of tensors whose values Python read: no output needs
        them, and trace.remove_unused drops them without a word."""
        for a in args:
            node = self.node_of.get(id(a)) if isinstance(a, torch.Tensor) else None
            if node is not None:
                node.meta["read"] = True

    def _note(self, name, value):
        if name in _READS and name not in ("dim", "size", "numel"):
            text = repr(value) if not isinstance(value, (list, tuple)) or len(value) < 8 else "[...]"
            self.specialised.append(f"{name}() read {text}")


def _lengths_of_inputs(node):
    return set().union(*(a.meta.get("value_sized", set()) for a in node.all_input_nodes))


def _keep_lengths(node, inherited, made_by_values=None):
    """node.meta["value_sized"]: the lengths read from values that what
    `node` made has (trace.lengths_from_values); `made_by_values`, the value
    of a value-sized op (nms), gives its own first lengths."""
    dim = value_sized_dim(node)
    own = {t.shape[dim] for t in tensors(made_by_values) if t.dim()} if made_by_values is not None else ()
    lengths = lengths_from_values(node, inherited, own)
    if lengths:
        node.meta["value_sized"] = lengths


class MethodRead(collections.namedtuple("MethodRead", "path method")):
    """A value read in a module's method ("Gate.forward"), held by the
    module at `path` whose call was running: a recording keeps that module
    whole, one call, where the reads differ between inputs. The model
    itself ("") cannot be: nothing would be left to decompose."""


def _holder(frame):
    """The function to keep whole where a value read at `frame` changes with
    the inputs: the outermost module-level function (not torch's) between
    the read and the module method that called it. torchvision's
    paste_masks_in_image loops once per detection and reads each box's
    corners as ints; as one call it runs on any detections. A file imports
    a library's by name and copies one of the model's own files. Where no
    function holds the read, the method's name ("RoIHeads.forward")."""
    found = None
    while frame is not None:
        code = frame.f_code
        if code.co_varnames[:1] == ("self",) and isinstance(frame.f_locals.get("self"), nn.Module):
            return found or f"{type(frame.f_locals['self']).__name__}.{code.co_name}"
        fn = frame.f_globals.get(code.co_name)
        # the function by its module-level name: a decorated one (functools.wraps) by its wrapper
        own = getattr(fn, "__wrapped__", fn)
        if getattr(own, "__code__", None) is code and _keepable_module(frame.f_globals.get("__name__")):
            found = fn
        frame = frame.f_back
    return found


def _keepable_module(name):
    """Whether a module's functions can be kept whole: one whose source a
    file can import or copy (modsrc.classes_source), not torch's (its
    functions are the ops themselves) nor this package's."""
    module = sys.modules.get(name or "")
    return (module is not None and bool(getattr(module, "__file__", None))
            and name.split(".")[0] not in ("torch", "decompose_glue", "__main__"))


def varying_reads(runs):
    """(functions, methods) from each run's `reads` as the recorder lists
    them, runs on different inputs: the functions (_holder) whose reads
    differ between the runs, or read a length that values gave
    (LengthFromValues); the MethodReads whose reads differ (a branch on a
    mean, a loop over a count, a skip where a mask is empty). A recording
    keeps each whole: held as the first run read them, they would fail the
    others."""
    by_run, latest = [], {}
    for reads in runs:
        seen = {}
        for holder, name, value in reads:
            if holder is not None:
                key = _holder_key(holder)
                latest[key] = holder  # the last run's: the model as it is now
                seen.setdefault(key, []).append((name, value))
        by_run.append(seen)
    keys = {k for seen in by_run for k in seen}
    differ = {k for k in keys if any(not _same(seen.get(k), by_run[0].get(k)) for seen in by_run[1:])}
    functions = [latest[k] for k in keys if not isinstance(latest[k], MethodRead) and (
        k in differ or any(isinstance(v, LengthFromValues) for seen in by_run for _, v in seen.get(k, ())))]
    methods = [latest[k] for k in differ if isinstance(latest[k], MethodRead)]
    return sorted(functions, key=lambda h: (h.__module__, h.__qualname__)), sorted(methods)


def _holder_key(holder):
    """A holder as the same code in another import of the model's file: a
    run's first recording is read again by its checked retry, which imports
    the file anew (capture._FIRST_RECORDING)."""
    if isinstance(holder, MethodRead):
        return holder
    code = getattr(getattr(holder, "__wrapped__", holder), "__code__", None)  # as _holder found it
    return (code.co_filename, code.co_firstlineno, holder.__qualname__) if code is not None else holder


def varying_lengths(runs):
    """{module path: where its output lengths differ between `runs`}, each
    run's `module_shapes` as the recorder lists them: the (output, dim)
    places whose lengths differ (a decoder's steps until every sequence
    ended), or True where its calls or their outputs' ranks differ. A module
    kept whole keeps the other lengths in its files' expected shapes (an
    early exit's features: all of them)."""
    found = {}
    for path in {p for shapes in runs for p in shapes}:
        calls = [shapes.get(path) for shapes in runs]
        if any(c is None for c in calls) or len({len(c) for c in calls}) > 1:
            found[path] = True
            continue
        places = set()
        for outputs in zip(*calls):  # one call, in each run
            if len({len(o) for o in outputs}) > 1 or len({tuple(map(len, o)) for o in outputs}) > 1:
                places = True
                break
            for i, shapes in enumerate(zip(*outputs)):
                places |= {(i, d) for d in range(len(shapes[0])) if len({s[d] for s in shapes}) > 1}
        if places:
            found[path] = places
    return found


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):  # a numpy array read (__array__) compares elementwise
        return repr(a) == repr(b)


@contextlib.contextmanager
def _kept_whole(recorder, functions):
    """Each of `functions` recorded as one call_function node, wherever a
    module holds it by name (transform.py imports paste_masks_in_image
    from roi_heads): the ops inside run unrecorded."""
    def one_node(fn):
        @functools.wraps(fn)
        def call(*a, **k):
            if recorder.busy or _opaque(a) or _opaque(k):  # no node can carry an ImageList
                return fn(*a, **k)
            gargs, gkwargs = recorder.arg(a), recorder.arg(k)
            taken = tensors((a, k))
            recorder.busy += 1
            try:
                with _ValuesRead(taken) as watch:
                    value = fn(*a, **k)
            finally:
                recorder.busy -= 1
            if not _has_tensor(value):  # what it computed, Python read: no node needs it
                return value
            if _opaque(value):
                raise RecordError(f"{fn.__module__}.{fn.__qualname__}, whose reads of values change with "
                                  "the inputs, gives back an object that holds tensors (not a tensor, "
                                  "tuple, list, dict or dataclass), which no kernel file can give")
            node = recorder._node("call_function", fn, tuple(gargs), gkwargs, value)
            _keep_values_read(recorder, node, taken, watch.read)
            return value
        return call

    wrappers = {id(fn): (fn, one_node(fn)) for fn in functions}
    namespaces = [vars(m) for m in list(sys.modules.values())
                  if isinstance(getattr(m, "__dict__", None), dict)] if wrappers else ()
    with rebind.rebound(namespaces, wrappers):
        yield


# A tensor whose values a kept-whole function reads, up to this many values
# (torchvision's 100 detected boxes), keeps them.
_KEPT_VALUES = 4096


def _keep_values_read(recorder, node, taken, read):
    """Mark `node` kept whole; of `taken`, its call's input tensors, those at
    the indices in `read` (_ValuesRead) keep their values in every file that
    takes them: a box drawn at random has no inside to paste a mask into."""
    node.meta["kept_whole"] = True
    for i in sorted(read):
        t, source = taken[i], recorder.node_of.get(id(taken[i]))
        if source is not None and source.op != "get_attr" and t.numel() <= _KEPT_VALUES:
            source.meta["value"]["values"] = _rounded(t.tolist()) if t.is_floating_point() else t.tolist()


class _ValuesRead(TorchFunctionMode):
    """Which of `taken` (a call's input tensors) the call reads values of
    into Python, through the tensors it makes from them: a box's corners
    read as ints, not the masks pasted into them. Followed by storage, so
    that a view is made from what its base was (basic indexing skips
    torch-function modes in 1.13)."""

    def __init__(self, taken):
        super().__init__()
        self.sources = {}  # storage -> the inputs its tensors were made from
        for i, t in enumerate(taken):
            self.sources.setdefault(storage_address(t), set()).add(i)
        self.kept = []  # what was made, alive while the call runs: no storage is reused
        self.read = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        value = func(*args, **kwargs)
        sources = set()
        for t in tensors((args, kwargs)):
            sources |= self.sources.get(storage_address(t), set())
        if _has_tensor(value):
            for t in tensors(value):
                self.sources.setdefault(storage_address(t), set()).update(sources)
                self.kept.append(t)
        elif getattr(func, "__name__", "") in _READS - {"dim", "size", "numel", "__len__"}:
            self.read |= sources
        return value


def _rounded(values):
    """A float32 tensor's values to 9 significant digits: as short as
    written text can be and still make the same float32s."""
    if isinstance(values, list):
        return [_rounded(v) for v in values]
    return float(f"{values:.9g}")


def _forget(recorder_ref, key):
    recorder = recorder_ref()
    if recorder is not None:
        recorder.node_of.pop(key, None)
        recorder.alive.pop(key, None)


def _same_memory(a, b):
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.data_ptr() == b.data_ptr()
            and a.shape == b.shape and a.stride() == b.stride() and a.dtype == b.dtype)


def _writes_in_place(name):
    """x.add_(y), x += y, x.copy_(y): the op writes into its first argument."""
    return ops.is_in_place_name(name) or name in _IN_PLACE_DUNDERS


def _code_constants(model):
    """{id: name} of the tensors that the files defining the model's modules
    keep at module level (TABLE = torch.linspace(...)): a tensor forward
    uses that is none of the model's state and none of these was made where
    the recording could not see (a TorchScript function), and is no constant."""
    found = {}
    for code in {sys.modules.get(type(module).__module__) for module in model.modules()} - {None}:
        for name, value in vars(code).items():
            if isinstance(value, torch.Tensor):
                found.setdefault(id(value), name)
    return found


def _opaque(value):
    """Whether `value` holds a tensor inside an object that is none of a
    tensor, tuple, list, dict or dataclass."""
    if isinstance(value, (tuple, list)):
        return any(_opaque(v) for v in value)
    if isinstance(value, dict):
        return any(_opaque(v) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_opaque(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, (torch.Tensor, nn.Module, type)) or not hasattr(value, "__dict__"):
        return False
    return any(_has_tensor(list(v.values()) if isinstance(v, dict) else v) for v in vars(value).values())


def _has_tensor(value):
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_has_tensor(v) for v in value.values())
    return False


def _is_tensor_method(func):
    name = getattr(func, "__name__", None)
    return name is not None and getattr(torch.Tensor, name, None) is func


def record(model, args, kwargs, opened=(), whole=(), watch_reads=False, whole_modules=(), follow_numbers=None):
    """(GraphModule, notes, output) recorded from one forward pass on the
    given inputs; the output is the model's own.

    Each function in `whole` is one node (_kept_whole), and so is each call
    of a module whose path is in `whole_modules` ({path: where its output
    lengths vary with the inputs, as varying_lengths says}), or that the
    model names in its `kept_whole` (trace.kept_whole_paths). With
    `watch_reads`,
    notes["reads"] lists every value read into Python, with the function it
    was read in, for varying_reads, and notes["numbers"] the numbers the
    model's own forward read off tensors. `follow_numbers`
    ({(node name, argument place): (read, scale, offset)}, followreads.places)
    puts those numbers back where the ops took them, as nodes that read them.

    A leaf module is one kernel (its call one node), unless its call takes
    or gives an object that holds tensors and is none of a tensor, a tuple,
    list, dict or dataclass (torchvision's ImageList): no node can carry
    that, so its ops are recorded one by one and its path is in
    notes["opened"]. Inputs are seen before the call; an output only after
    it, and then Reopen asks the caller to record again with the path in
    `opened`."""
    recorder = _Recorder(model, watch_reads or follow_numbers is not None, follow_numbers is not None)
    opened = set(opened)
    whole_modules = {**dict.fromkeys(kept_whole_paths(model), True), **dict(whole_modules)}
    original_call = nn.Module.__call__

    def call(module, *a, **k):
        path = recorder.paths.get(id(module))
        if path is None or recorder.busy:
            return original_call(module, *a, **k)
        if path and hooks.spells_out(module) and (path in whole_modules or is_kernel_module(module)) \
                and path not in opened:
            # its node would hold what they made of its output: they are recorded here, in the parent's scope
            return hooks.run(module, a, k, lambda a2, k2: call(module, *a2, **k2))
        n = recorder.calls.get(path, 0)
        recorder.calls[path] = n + 1
        recorder.scope.append(f"{path}#{n}")
        try:
            kept = path in whole_modules
            if path and (kept or is_kernel_module(module)) and path not in opened:
                if _opaque(a) or _opaque(k):
                    opened.add(path)
                    return original_call(module, *a, **k)
                # what it takes, as it is before the call: a module that
                # appends to the list it is given (torchvision's
                # LastLevelMaxPool) would otherwise take its own result
                gargs, gkwargs = tuple(recorder.arg(a)), recorder.arg(k)
                taken = tensors((a, k)) if kept else []
                recorder.busy += 1
                try:
                    with _ValuesRead(taken) if kept else contextlib.nullcontext() as watch:
                        value = original_call(module, *a, **k)
                finally:
                    recorder.busy -= 1
                if _opaque(value):
                    raise Reopen(path)
                node = recorder._node("call_module", path, gargs, gkwargs, value)
                if kept:
                    node.meta["lengths_vary"] = whole_modules[path]
                    _keep_values_read(recorder, node, taken, watch.read)
                keep_sizes(node, module, a)
                if a and value is a[0]:  # nn.ReLU(inplace=True) on a slice
                    recorder.written_through(value, node)
                return value
            value = original_call(module, *a, **k)
            if recorder.module_shapes is not None:
                recorder.busy += 1  # reading its shapes is not the model's work
                try:
                    recorder.module_shapes.setdefault(path, []).append([tuple(t.shape) for t in tensors(value)])
                finally:
                    recorder.busy -= 1
            return value
        finally:
            recorder.scope.pop()

    placeholders = []
    sig_names = _parameter_names(model)
    for i, value in enumerate(args):
        placeholders.append((sig_names[i] if i < len(sig_names) else f"arg{i}", value))
    placeholders += list(kwargs.items())
    for name, value in placeholders:
        node = recorder.graph.placeholder(name)
        node.meta["scope"] = ()
        node.meta["value"] = describe(value)
        if isinstance(value, (torch.Tensor, tuple, list, dict)):
            recorder._bind(value, node)

    original_getitem = torch.Tensor.__getitem__

    def getitem(tensor, index):
        # Basic indexing (x[0], x[:, 1:]) skips torch-function modes in torch 1.13.
        if recorder.busy:
            return original_getitem(tensor, index)
        recorder.busy += 1
        try:
            value = original_getitem(tensor, index)
        finally:
            recorder.busy -= 1
        recorder._node("call_function", operator.getitem,
                       (recorder.arg(tensor), recorder.arg(index)), {}, value)
        return value

    original_setitem = torch.Tensor.__setitem__

    def setitem(tensor, index, value):
        # A write into a tensor (x[:, 1:] += y ends in one): from here on
        # the tensor is the write's node, so its readers depend on it.
        if recorder.busy:
            return original_setitem(tensor, index, value)
        recorder.busy += 1
        try:
            original_setitem(tensor, index, value)
            # x[i] += y writes through the view x[i], then assigns that view
            # to itself: the write is already in the graph (written_through)
            itself = _same_memory(value, original_getitem(tensor, index))
        finally:
            recorder.busy -= 1
        if itself:
            return
        recorder._node("call_function", ops.setitem,
                       (recorder.arg(tensor), recorder.arg(index), recorder.arg(value)), {}, tensor)

    nn.Module.__call__ = call
    try:
        with tensor_methods(__getitem__=getitem, __setitem__=setitem), _kept_whole(recorder, whole), \
                torchscript.seen_through(model), torch.no_grad(), recorder:
            output = model(*args, **kwargs)
    finally:
        nn.Module.__call__ = original_call
    recorder.graph.output(recorder.arg(recorder.returned_numbers(output)))
    if follow_numbers is not None:
        followreads.put_back(recorder.graph, follow_numbers, recorder.number_nodes)
        for index in sorted({place[0] for place in follow_numbers.values()}):  # followed, not fixed to these inputs
            name, value = recorder.numbers[index]
            said = f"{name}() read {value!r}"
            if said in recorder.specialised:  # a size read (numel) is not said there
                recorder.specialised.remove(said)
            recorder.followed.append(said)
    gm = graph_module(model, recorder.graph, type(model).__name__)
    for node, src in zip(gm.graph.nodes, recorder.graph.nodes):
        node.meta.update(src.meta)
    unused = remove_unused(gm)
    notes = {"specialised": recorder.specialised, "followed": recorder.followed, "opened": sorted(opened),
             "unused": unused}
    if watch_reads:
        notes["reads"], notes["module_shapes"] = recorder.reads, recorder.module_shapes
        notes["numbers"] = recorder.numbers
    return gm, notes, output


def _parameter_names(model):
    import inspect
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
