"""Tracing a model into one flat torch.fx graph whose leaves are kernels.

Leaf modules (torch.nn's own non-container modules, and custom modules with
no submodules, such as an RMSNorm) become call_module nodes; everything else
is traced through. Each node records the stack of module calls it was
created under (`meta["scope"]`, a tuple of "path#k" for the k-th call of the
module at that path): that stack is what the layer level is cut from. After
tracing, the graph runs once on the model's real inputs to record what every
node produces (`meta["value"]`, see `describe`).
"""

import dataclasses
import functools
import importlib
import inspect
import operator
import types

import torch
import torch.fx as fx
import torch.nn as nn

from . import autocast, hooks, ops, torchscript

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

# torch.nn modules that are whole layers, not kernels: traced through.
_COMPOSITE_NN = (nn.Transformer, nn.TransformerEncoder, nn.TransformerDecoder,
                 nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)


def is_container(module):
    return isinstance(module, _CONTAINERS)


def is_kernel_module(module):
    """A module that is one logical op (shared/SPEC.md §4: level 0)."""
    if is_container(module) or isinstance(module, _COMPOSITE_NN):
        return False
    if type(module).__module__.startswith("torch.nn"):
        return True
    return not any(True for _ in module.children())


def kept_whole_paths(model):
    """The paths of the modules that `model` or a module in it names in its
    `kept_whole`: a file decompose writes names there each module whose
    recording kept it one call (record.record: a branch on its input's
    values), so that a trace of the file keeps it one call too, as
    torch.fx.wrap keeps a function."""
    found = set()
    for prefix, module in model.named_modules():
        names = getattr(module, "kept_whole", None)
        if isinstance(names, (tuple, list)) and all(isinstance(name, str) for name in names):
            found |= {f"{prefix}.{name}" if prefix else name for name in names}
    return found


def kept_whole_calls(nodes, op):
    """The nodes of `op` ("call_function" or "call_module") that call a
    function or a module a recording kept whole (record.record)."""
    return [n for n in nodes if n.op == op and n.meta.get("kept_whole")]


class ScopeTracer(fx.Tracer):
    """symbolic tracing that keeps kernel modules whole and records scopes."""

    # Our own state carries a prefix: torch 2.x's Tracer has attributes of its
    # own named `scope` and `num_calls`, which plain names would replace.
    def __init__(self):
        super().__init__()
        self._dc_scope = []
        self._dc_calls = {}
        self._dc_names = None
        self._dc_kept = set()

    def trace(self, root, concrete_args=None):
        self._dc_kept = kept_whole_paths(root) if isinstance(root, nn.Module) else set()
        return super().trace(root, concrete_args)

    def is_leaf_module(self, m, qualname):
        return qualname in self._dc_kept or is_kernel_module(m)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        # fx proxies only parameters: a buffer (a causal mask) or a tensor
        # kept as a plain attribute (an RNN's state) would be folded into an
        # anonymous `_tensor_constant` with whatever was computed from it, and
        # lose both its name and the ops that read it.
        if isinstance(attr_val, torch.Tensor) and not isinstance(attr_val, nn.Parameter):
            name = self._tensor_names().get(id(attr_val))
            if name is not None:
                if name not in parameter_proxy_cache:
                    parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
                return parameter_proxy_cache[name]
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def _tensor_names(self):
        if self._dc_names is None:
            self._dc_names = {}
            for name, t in list(self.root.named_buffers()) + list(tensor_attributes(self.root).items()):
                self._dc_names.setdefault(id(t), name)
        return self._dc_names

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        if hooks.spells_out(m) and self.is_leaf_module(m, path):
            # its node would drop them: they are traced here, in the parent's scope
            return hooks.run(m, args, kwargs, lambda a, k: self.call_module(m, forward, a, k))
        k = self._dc_calls.get(path, 0)
        self._dc_calls[path] = k + 1
        self._dc_scope.append(f"{path}#{k}")
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self._dc_scope.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["scope"] = tuple(self._dc_scope)
        autocast.mark(node)
        return node


def _slots(module):
    """Where a module keeps what a forward can assign: plain attributes,
    buffers and parameters (`self.calls += 1` on a buffer)."""
    return vars(module), module._buffers, module._parameters


def _attributes(model):
    return {(id(m), k, name): value for m in model.modules()
            for k, slot in enumerate(_slots(m)) for name, value in slot.items()}


def _drop_proxies(model, before):
    """Attributes a forward set while being traced (a hidden state moved with
    `.to(x.device)`, a counter in a buffer) hold proxies, which a real run
    and the GraphModule must not read: each gets back its value from
    `before` (_attributes), or goes."""
    for m in model.modules():
        for k, slot in enumerate(_slots(m)):
            for name, value in list(slot.items()):
                if isinstance(value, fx.Proxy):
                    if (id(m), k, name) in before:
                        slot[name] = before[(id(m), k, name)]
                    else:
                        del slot[name]


def symbolic(model):
    """Trace `model`; returns a GraphModule sharing the model's parameters.

    The model is left as it was before: the GraphModule copies the
    attributes its graph reads, which must be the model's tensors, not the
    proxies a forward assigned while traced."""
    if hooks.spells_out(model):
        raise TypeError("the model's own forward hooks change its output, and torch.fx traces its forward alone")
    restore = snapshot(model)
    before = _attributes(model)
    try:
        try:
            with torchscript.seen_through(model):
                graph = ScopeTracer().trace(model)
        finally:
            restore()
            _drop_proxies(model, before)
        return hooks.unhooked(fx.GraphModule(model, graph, class_name=type(model).__name__), model)
    finally:
        # also when tracing raised: a constant fx kept before it failed
        # would be read as state by the recording that follows
        _drop_added(model, before)


def _drop_added(model, before):
    """What tracing added to the model goes once the GraphModule has it: fx
    keeps a tensor it met outside the model (a module-level table) as the
    root's `_tensor_constant0`, which a recording would then read as the
    model's own state, and a fresh build of the model has not."""
    for m in model.modules():
        for k, slot in enumerate(_slots(m)):
            for name in [n for n in slot if (id(m), k, n) not in before]:
                del slot[name]


_CHANNELS_LAST = {4: (torch.channels_last, "channels_last"), 5: (torch.channels_last_3d, "channels_last_3d")}


def memory_format(t):
    """"channels_last" (or "channels_last_3d") for a tensor laid out so and
    not also plain contiguous (a size-1 dim can make it both), else None."""
    fmt = _CHANNELS_LAST.get(t.dim())
    if fmt is None or t.layout != torch.strided or t.is_contiguous():
        return None
    return fmt[1] if t.is_contiguous(memory_format=fmt[0]) else None


def describe(value):
    """What a node produced, as plain data: tensors by shape and dtype."""
    if isinstance(value, torch.Tensor) and value.layout == torch.sparse_coo:
        # a graph's adjacency: its count of stored entries is its workload
        return {"kind": "tensor", "shape": list(value.shape), "dtype": ops.dtype_name(value.dtype),
                "layout": "sparse_coo", "nnz": value._nnz(), "sparse_dim": value.sparse_dim(),
                "coalesced": value.is_coalesced()}
    if isinstance(value, torch.Tensor):
        d = {"kind": "tensor", "shape": list(value.shape), "dtype": ops.dtype_name(value.dtype)}
        fmt = memory_format(value)
        if fmt:  # a conv on NHWC data is another kernel than on NCHW
            d["memory_format"] = fmt
        if (not value.is_floating_point() and not value.is_complex() and value.numel() > 0
                and value.dtype != torch.bool and not value.is_meta):
            d["min"] = int(value.min())
            d["max"] = int(value.max())
        if value.dim() == 0 and value.is_floating_point() and not value.is_meta:
            # a number held in a tensor (Funnel's arange(max_dist, min_dist, -1)
            # takes two): what follows may size itself by it
            d["value"] = float(value)
        if not value.is_meta and (value.dtype == torch.bool or (d.get("min"), d.get("max")) == (0, 1)):
            # a mask's count of set entries is the shape of what it selects
            # (torch.nonzero, x[mask]): files draw masks with as many
            d["nonzero"] = int(torch.count_nonzero(value))
        return d
    if isinstance(value, torch.Size):  # a tuple too: a size read off a tensor (x.shape[-2:])
        return {"kind": "const", "value": list(value), "type": "Size"}
    if isinstance(value, nn.utils.rnn.PackedSequence):
        # its batch sizes and orders are what the RNN runs by: a file makes
        # them as they were, and draws the data
        return {"kind": "packed", "items": [describe(v) for v in value],
                "values": [None if v is None else v.tolist() for v in value[1:]]}
    if isinstance(value, (tuple, list)):
        return {"kind": type(value).__name__, "items": [describe(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {k: describe(v) for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"kind": "const", "value": value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"kind": "record", "type": type(value).__name__,
                "items": {f.name: describe(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, torch.Generator):  # one the model keeps and draws from (generators.py)
        return {"kind": "generator", "seed": value.initial_seed(), "device": str(value.device)}
    return {"kind": "other", "type": type(value).__name__}


def describe_node(node, value):
    """describe(value) for what `node` made: without the values read off an
    uninitialised tensor (torch.empty_like, which scatter_ then fills)."""
    desc = describe(value)
    if node.op in ("call_function", "call_method") and ops.function_op(node.target) in ops.UNINITIALISED:
        for key in ("min", "max", "nonzero", "value"):
            desc.pop(key, None)
    return desc


def items_of(desc):
    """The described values inside a described tuple, list, dict or record."""
    items = desc.get("items") or []
    return list(items.values()) if isinstance(items, dict) else items


class _Run(fx.Interpreter):
    """A graph's run with each node under the autocast it was traced under."""

    def run_node(self, n):
        with autocast.region(autocast.of(n)):
            return super().run_node(n)


def run_graph(gm, args, kwargs):
    """The graph's output on these inputs (_Run)."""
    with torch.no_grad():
        return _Run(gm).run(*bind_inputs(gm, args, kwargs))


class _Recorder(_Run):
    def run_node(self, n):
        value = super().run_node(n)
        n.meta["value"] = describe_node(n, value)
        if n.op in ("call_module", "call_function", "call_method"):
            op = self.module.get_submodule(n.target) if n.op == "call_module" else n.target
            if sizes_argument(op) is not None:  # its arguments again, only then
                keep_sizes(n, op, self.fetch_args_kwargs_from_env(n)[0])
        return value


# Ops and modules that take lengths, batch sizes or offsets as a tensor, at
# this argument: a random draw of them is no valid input (unsorted lengths,
# offsets that do not start at 0).
_SIZES_AT = {"pack_padded_sequence": 1, "pad_packed_sequence": 1, "embedding_bag": 2}
_MODULE_SIZES_AT = {nn.EmbeddingBag: 1}
# Ops that give their first argument's values as they are (lengths copied
# with torch.as_tensor or moved with .to): what they were made from.
_SAME_VALUES = frozenset({"as_tensor", "tensor", "to", "cpu", "long", "int", "contiguous"})


def sizes_argument(op):
    """Where `op` (a function, method name or module) takes sizes, or None."""
    if isinstance(op, nn.Module):
        return _MODULE_SIZES_AT.get(type(op))
    return _SIZES_AT.get(ops.function_op(op))


def tensor_leaves(desc):
    """The described tensors inside a described value (describe), in order,
    at any depth: keypointrcnn_inference gives a tuple of lists of them."""
    if desc.get("kind") == "tensor":
        return [desc]
    return [t for d in items_of(desc) for t in tensor_leaves(d)]


def places_from_values(node, inherited):
    """The places (tensor, dim) in what `node` made whose length it took
    from its inputs' lengths read from values (`inherited`, is_value_sized):
    where its tensors still have one of them, and the first of a slice or
    selection of a tensor that has one (keep[:100] keeps min(kept, 100))."""
    shapes = [t["shape"] for t in tensor_leaves(node.meta.get("value", {}))]
    at = {(i, k) for i, shape in enumerate(shapes) for k, d in enumerate(shape) if d in inherited}
    if inherited and node.op == "call_function" and node.target is operator.getitem and _cuts_first(node):
        at |= {(i, 0) for i, shape in enumerate(shapes) if shape}
    return at


def _cuts_first(getitem):
    """Whether an index cuts or selects the first dim (keep[:100],
    boxes[keep]), not only adds or keeps dims (arange(n)[None, :], x[..., 0])."""
    index = getitem.args[1] if len(getitem.args) > 1 else None
    first = index[0] if isinstance(index, tuple) and index else index
    if first is None or first is Ellipsis:
        return False
    return not (isinstance(first, slice) and first == slice(None))


def lengths_from_values(node, inherited, own=()):
    """The lengths read from values that what `node` made has: `own`, and
    those at its places_from_values."""
    shapes = [t["shape"] for t in tensor_leaves(node.meta.get("value", {}))]
    return {shapes[i][k] for i, k in places_from_values(node, inherited)} | set(own)


def value_sized_places(nodes, own=None):
    """{node: {(tensor, dim)}}: where the tensors each of the nodes makes
    have a length read from values. Their own (`own(node, shapes)`, by
    default own_value_sized_places), and those each took from its inputs'
    (places_from_values). A length is followed by its value from a node to
    the nodes that read it, but placed at the node's own positions: another
    output whose fixed length happens to be equal keeps it."""
    return _value_sized(nodes, own or own_value_sized_places)[0]


def value_sized_lengths(gm):
    """{node: the lengths read from values that its tensors have}, at its
    value_sized_places."""
    return _value_sized(gm.graph.nodes, own_value_sized_places)[1]


def _value_sized(nodes, own):
    places, lengths_of = {}, {}
    for n in nodes:
        inherited = set().union(*(lengths_of.get(a, set()) for a in n.all_input_nodes))
        shapes = [t["shape"] for t in tensor_leaves(n.meta.get("value", {}))]
        at = places_from_values(n, inherited) | own(n, shapes)
        if at:
            places[n] = at
            lengths_of[n] = {shapes[i][k] for i, k in at}
    return places, lengths_of


def own_value_sized_places(node, shapes, counted=None):
    """The places (tensor, dim) whose length a value-sized op read from
    values (is_value_sized): where a module kept whole gave other lengths
    between the trials; else each tensor's value_sized_dim, whatever it was
    given (remove_small_boxes keeps all 10 boxes of the model and 5 of a
    draw). And the dims an op was given a number the model read off a
    tensor for (number_sized_places)."""
    numbered = number_sized_places(node, shapes, counted)
    if not is_value_sized(node):
        return numbered
    places = node.meta.get("lengths_vary", True)
    if places is not True:
        return {(i, k) for i, k in places if i < len(shapes) and k < len(shapes[i])} | numbered
    dim = value_sized_dim(node)
    return {(i, dim % len(shape)) for i, shape in enumerate(shapes) if shape} | numbered


# Ops whose output is as long as the numbers they are given say (the rest:
# the sizes they are given, from the first sequence or as they come).
_RANGES = frozenset({"arange", "range", "linspace", "logspace"})
_SIZED = frozenset({"zeros", "ones", "empty", "full", "rand", "randn", "new_zeros", "new_ones", "new_empty",
                    "new_full", "view", "reshape", "expand"})


def number_sized_places(node, shapes, counted=None):
    """The places (0, dim) of `node`'s output whose length a number read
    off a tensor gives (followreads.py: node.meta["number_read"]):
    arange(number), zeros(b, number), x[:, :number]. `counted(number)`:
    whether that number counts (a file that is given it as a literal
    input makes one length of it)."""
    if not shapes:
        return set()
    return {(0, k) for k in _sized_by_numbers(node, counted or (lambda number: True)) if k < len(shapes[0])}


def _sized_by_numbers(node, counted):
    if node.op not in ("call_function", "call_method"):
        return set()

    def number(value):
        return isinstance(value, fx.Node) and bool(value.meta.get("number_read")) and counted(value)
    name = ops.function_op(node.target)
    if name in _RANGES:
        return {0} if any(number(a) for a in _flat(node.args, node.kwargs)) else set()
    if name in _SIZED:
        given = node.args[1:] if node.op == "call_method" or name.startswith("new_") else node.args
        sizes = given[0] if given and isinstance(given[0], (tuple, list)) else given
        return {k for k, size in enumerate(sizes) if number(size)}
    if node.target is operator.getitem and len(node.args) == 2:
        index = node.args[1] if isinstance(node.args[1], tuple) else (node.args[1],)
        dims, dim = set(), 0
        for i in index:
            if i is Ellipsis:
                return dims  # where the dims after it are is the tensor's rank's to say
            if isinstance(i, slice):
                if any(number(b) for b in (i.start, i.stop, i.step)):
                    dims.add(dim)
                dim += 1
            elif i is None:
                dim += 1
        return dims
    return set()


def _flat(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, (tuple, list)):
            yield from a
        else:
            yield a


def masks_indexing(node):
    """The boolean tensors `node` indexes by (boxes[keep]): as many rows
    as the mask has set entries."""
    if node.op != "call_function" or node.target is not operator.getitem or len(node.args) < 2:
        return []
    index = node.args[1] if isinstance(node.args[1], (tuple, list)) else (node.args[1],)
    return [i for i in index if isinstance(i, fx.Node) and i.meta.get("value", {}).get("dtype") == "bool"]


def is_value_sized(node):
    """Whether the length of what `node` makes is read from values: nms,
    nonzero, x[mask], a function or module a recording kept whole because
    its reads of values change with the inputs (record._kept_whole), unless
    the module gave the same shapes on every trial's inputs (lengths_vary:
    the places that differed, True where not known)."""
    name = ops.function_op(node.target) if node.op in ("call_function", "call_method") else ""
    return (name in ops.VALUE_SIZED or (name == "where" and len(node.args) + len(node.kwargs) == 1)
            or (name == "repeat_interleave" and _repeats_by_values(node))
            or (name == "bincount" and not _minlength(node))
            or (name == "one_hot" and _classes_by_values(node))
            or bool(masks_indexing(node))
            or bool(node.meta.get("kept_whole") and node.meta.get("lengths_vary", True)))


def _repeats_by_values(node):
    """repeat_interleave(x, counts), as a length regulator repeats each
    token by its duration: as many rows as the counts add up to. Not
    x.repeat_interleave(2)."""
    repeats = node.args[1] if len(node.args) > 1 else node.kwargs.get("repeats")
    return repeats is None or isinstance(repeats, fx.Node)  # repeat_interleave(counts): its indices


def value_sized_dim(node):
    """The dim of a value-sized op's outputs whose length the values give:
    the first (how many boxes nms kept), or one_hot's last (as many columns
    as the largest class + 1, where no num_classes is given)."""
    name = ops.function_op(node.target) if node.op in ("call_function", "call_method") else ""
    return -1 if name == "one_hot" else 0


def _classes_by_values(node):
    classes = node.args[1] if len(node.args) > 1 else node.kwargs.get("num_classes", -1)
    return not isinstance(classes, int) or classes < 0


def _minlength(node):
    """bincount's minlength: its length where the values stay below it, as
    in bincount(labels, minlength=classes); else one more than the largest."""
    minlength = node.args[2] if len(node.args) > 2 else node.kwargs.get("minlength", 0)
    return minlength if isinstance(minlength, int) else 0


def keep_sizes(node, op, args):
    """Where `op` takes sizes at an argument, that argument's node, and the
    tensor it was copied from, keep their values (describe's "values"): a
    file that takes them makes them as they were."""
    at = sizes_argument(op)
    if at is None or len(args) <= at or not isinstance(args[at], torch.Tensor):
        return
    values, source = args[at].tolist(), node.args[at]
    while isinstance(source, fx.Node) and source.meta.get("value", {}).get("kind") == "tensor":
        source.meta["value"]["values"] = values
        name = ops.function_op(source.target) if source.op in ("call_function", "call_method") else ""
        source = source.args[0] if name in _SAME_VALUES else None


def placeholders(gm):
    return [n for n in gm.graph.nodes if n.op == "placeholder"]


def bind_inputs(gm, args, kwargs):
    """The forward's arguments in placeholder order, defaults filled in."""
    values = []
    args = list(args)
    for node in placeholders(gm):
        name = node.target.lstrip("*")
        if args:
            values.append(args.pop(0))
        elif name in kwargs:
            values.append(kwargs[name])
        elif node.args:
            values.append(node.args[0])
        else:
            raise TypeError(f"forward() is missing the argument {name!r}")
    return values


def record_values(gm, args, kwargs):
    """Run the traced graph on real inputs; every node gets meta["value"]."""
    with torch.no_grad():
        return _Recorder(gm).run(*bind_inputs(gm, args, kwargs))


def forward_parameter_names(model):
    """The names of forward's parameters, in order (for readable inputs)."""
    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


# Parameterless modules that inline_plumbing_modules writes as functions: the
# only modules a parent (which owns none) may keep inline.
INLINED_MODULES = (nn.Identity, nn.Flatten)


def _reparametrization_kinds():
    kinds = []
    for module, name in (("torch.nn.utils.weight_norm", "WeightNorm"),
                         ("torch.nn.utils.spectral_norm", "SpectralNorm"),
                         ("torch.nn.utils.prune", "BasePruningMethod")):
        try:  # the package attribute of the same name is the function, not the module
            kinds.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(kinds)


def is_reparametrization(hook):
    """torch's weight norm, spectral norm or pruning: a forward pre-hook that
    makes a module's weight from its own parameters and buffers (wav2vec2's
    positional conv; a pruned layer's weight_orig times weight_mask)."""
    kinds = _reparametrization_kinds()
    return bool(kinds) and isinstance(hook, kinds)


def reparametrizations(module):
    """The weight-norm / spectral-norm / pruning hooks on a module."""
    return [h for h in module._forward_pre_hooks.values() if is_reparametrization(h)]


def reparametrized_name(hook):
    """The weight a reparametrization hook makes (pruning calls it _tensor_name)."""
    return getattr(hook, "name", None) or getattr(hook, "_tensor_name", None)


def inline_plumbing_modules(gm):
    """Rewrite parameterless data-movement modules as the functions they are.

    An nn.Identity or nn.Flatten call is plumbing, and plumbing stays inline in
    a parent, which owns no modules: so the parent must be able to write it
    without one. Identity disappears; Flatten becomes torch.flatten.
    """
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        if isinstance(module, nn.Identity) and len(node.args) == 1 and not node.kwargs:
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)
        elif isinstance(module, nn.Flatten) and len(node.args) == 1:
            with gm.graph.inserting_after(node):
                flat = gm.graph.call_function(torch.flatten, (node.args[0], module.start_dim, module.end_dim))
            flat.meta.update(node.meta)
            node.replace_all_uses_with(flat)
            gm.graph.erase_node(node)
    gm.recompile()
    return gm


def fold_tensor_reads(gm, device):
    """Write a symbolic graph's `x.dtype` and `x.device`, where an op takes
    them as arguments, as the constants they are in this run, as recording a
    run writes them. A device is marked as read off a tensor
    (meta["devices_read"]): files follow their own tensors' device instead
    of this run's. Without this, a kernel that takes `device=x.device` from
    its parent would need a device as an input, which no file can make."""
    for node in list(gm.graph.nodes):
        if not (node.op == "call_function" and node.target is getattr and len(node.args) == 2
                and node.args[1] in ("device", "dtype") and isinstance(node.args[0], fx.Node)):
            continue
        if node.args[1] == "device":
            value = device
        else:
            desc = node.args[0].meta.get("value", {})
            if desc.get("kind") != "tensor":
                continue
            value = getattr(torch, desc["dtype"])
        for user in list(node.users):
            read = [i for i, a in enumerate(user.args) if a is node]
            read += [k for k, a in user.kwargs.items() if a is node]
            user.args = tuple(value if a is node else a for a in user.args)
            user.kwargs = {k: (value if a is node else a) for k, a in user.kwargs.items()}
            if node.args[1] == "device" and read:
                user.meta["devices_read"] = list(user.meta.get("devices_read", [])) + read
        if not node.users:  # read inside a tuple or list argument: kept
            gm.graph.erase_node(node)
    gm.recompile()
    return gm


# Arithmetic on numbers: a size read off a tensor stays one through them.
_ON_NUMBERS = frozenset({operator.getitem, operator.add, operator.sub, operator.mul, operator.floordiv,
                         operator.truediv, operator.mod, operator.neg, operator.pow})


def _reads_a_size(node):
    """`x.size()`, `x.size(1)`, `x.shape`, `x.dim()`, `x.numel()`."""
    return ((node.op == "call_method" and node.target in ("size", "dim", "numel"))
            or (node.op == "call_function" and node.target is getattr and len(node.args) == 2
                and node.args[1] in ("shape", "ndim")))


def fold_sizes(gm):
    """Write the numbers a symbolic graph reads off its tensors' shapes
    (`t = x.size(1)`, `x.shape[-1] // 2`) as what they are in this run, as
    recording a run writes them: the files are of these shapes. Without it,
    a slice of a weight by the input's length (`self.bias[:, :, :t, :t]`,
    GPT's causal mask, a position table) read a number from the parent, so
    it was a kernel of its own that takes an int, where the recorded graph
    slices the weight inside the kernel that reads it. Uses the nodes'
    recorded values (meta["value"]); a number without one stays a node, and
    so does a length read from values (`idx.numel()` where idx came from
    torch.where), which other inputs change."""
    sized, from_values = {}, value_sized_lengths(gm)  # in graph order
    for node in gm.graph.nodes:
        inputs = node.all_input_nodes
        if _reads_a_size(node):
            read = node.meta.get("value", {}).get("value")
            if not set(read if isinstance(read, (list, tuple)) else [read]) & from_values.get(node.args[0], set()):
                sized[node] = None
        elif node.op == "call_function" and node.target in _ON_NUMBERS and inputs and all(a in sized for a in inputs):
            sized[node] = None
    changed = False
    for node in sized:
        desc = node.meta.get("value", {})
        if desc.get("kind") != "const":
            continue
        value = torch.Size(desc["value"]) if desc.get("type") == "Size" else desc["value"]
        for user in list(node.users):
            user.args = fx.node.map_aggregate(user.args, lambda a: value if a is node else a)
            user.kwargs = fx.node.map_aggregate(user.kwargs, lambda a: value if a is node else a)
            changed = True
    for node in reversed(list(sized)):
        if not node.users:
            gm.graph.erase_node(node)
            changed = True
    if changed:
        gm.recompile()
    return gm


def tensor_attributes(model):
    """{qualified name: tensor} for tensors kept as plain module attributes.

    Stateful models (an RNN's `self.hidden`, KernelBench's `self.h0`) keep
    tensors that are neither parameters nor buffers; they are weights all
    the same, so they are transferred and restored like buffers.
    """
    found = {}
    for path, module in model.named_modules():
        # A weight that a pre-hook recomputes before every forward (weight
        # norm: weight from weight_g and weight_v) is not state of its own.
        derived = {reparametrized_name(h) for h in reparametrizations(module)}
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and name not in derived:
                found[f"{path}.{name}" if path else name] = value
    return found


# What every nn.Module keeps in its __dict__ (its parameters, buffers,
# children and hooks): no container of the model's own.
_MODULE_SLOTS = frozenset(vars(nn.Module()))


# How deep a container attribute is searched for tensors: anchors per level
# per size ([[t, t], [t]]) are two deep; a model keeping tensors deeper is
# not known here, and a self-referencing list must end somewhere.
CONTAINER_DEPTH = 4


def held_in_containers(model):
    """{qualified name: tensor} for tensors kept in a module's list, tuple or
    dict attribute, at any depth of nesting (torchvision's anchor generators
    keep their anchors so), named by the attribute and the indices or keys:
    `anchor_generator.cell_anchors.0`, `tables.1.0`, `scales.b.c`."""
    return {name: tensor for name, _, tensor in containers_held(model)}


def holds_attributes(value):
    """Whether `value` is an object of a plain class, whose attributes may
    hold the model's tensors (a rotary helper that is no nn.Module keeps
    its cos and sin tables): not a module, tensor, class or function."""
    return (hasattr(value, "__dict__") and type(value).__module__ != "builtins"
            and not isinstance(value, (nn.Module, torch.Tensor, type, types.ModuleType, types.FunctionType,
                                       types.MethodType, functools.partial)))


def containers_held(model):
    """(qualified name, number of indices, keys or attributes in it, tensor)
    for each tensor of held_in_containers: `tables.1.0` has two, `rot.cos`
    (a plain object's attribute) one."""
    return [(name, keys, value) for name, keys, value in _held(model)
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter)]


def modules_held(model):
    """The names of modules kept in a container or plain object attribute
    (`heads.a` of `self.heads = {"a": nn.Linear(6, 3)}`), which torch does
    not register: their weights are none of the model's parameters."""
    return [name for name, _, value in _held(model) if isinstance(value, nn.Module)]


def _held(model):
    """(qualified name, number of indices, keys or attributes in it, value)
    for each value that is no container, inside a container or plain object
    attribute of one of the model's modules, up to CONTAINER_DEPTH deep."""
    found = []

    def visit(value, name, keys):
        if keys > CONTAINER_DEPTH:
            return
        if isinstance(value, dict):
            # a key fetch can walk back to: a name, as a get_attr target spells it
            items = [(k, v) for k, v in value.items() if isinstance(k, str) and k.isidentifier()]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif holds_attributes(value):
            items = [(k, v) for k, v in vars(value).items() if k.isidentifier()]
        else:
            if keys:
                found.append((name, keys, value))
            return
        for key, item in items:
            visit(item, f"{name}.{key}", keys + 1)

    for path, module in model.named_modules():
        for attr, value in vars(module).items():
            if attr not in _MODULE_SLOTS:
                visit(value, f"{path}.{attr}" if path else attr, 0)
    return found


def fetch(model, target):
    """The object at a dotted path of `model`, through the containers of
    held_in_containers."""
    value = model
    for part in target.split("."):
        if isinstance(value, (list, tuple)) and part.isdigit():
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value


# Ops that draw from the random generator: one whose value nothing reads
# still moves the generator, and the draws after it would differ.
_DRAWS = frozenset({"rand", "randn", "randint", "rand_like", "randn_like", "randint_like", "randperm",
                    "bernoulli", "normal", "multinomial", "poisson", "dropout", "dropout1d", "dropout2d",
                    "dropout3d", "alpha_dropout", "feature_alpha_dropout", "rrelu", "gumbel_softmax"})


def _callee_name(node):
    """The name a call_function or call_method node calls: relu_, add."""
    return node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")


def writes_into_its_input(node, gm):
    """Whether `node` writes its value into its first argument and returns
    it: x.relu_(), x += y, F.relu(x, inplace=True), nn.ReLU(inplace=True)."""
    if not node.args or not isinstance(node.args[0], fx.Node):
        return False
    if takes_inplace(node, gm):
        return True
    if node.op not in ("call_function", "call_method"):
        return False
    return node.target in ops.IN_PLACE_OPERATORS or ops.is_in_place_name(_callee_name(node))


def takes_inplace(node, gm):
    """Whether `node` is told to write into its input by an `inplace`
    argument, by name or by position (F.relu(x, True)), or a module's own
    (nn.ReLU(inplace=True))."""
    if node.op == "call_module":
        return getattr(fetch(gm, node.target), "inplace", False) is True
    if node.op not in ("call_function", "call_method"):
        return False
    if "inplace" in node.kwargs:
        return node.kwargs["inplace"] is True
    try:
        at = _inplace_position(node.target) if node.op == "call_function" else None
    except TypeError:  # an unhashable callable object
        at = None
    return at is not None and len(node.args) > at and node.args[at] is True


@functools.lru_cache(maxsize=None)
def _inplace_position(target):
    """The position of a function's `inplace` parameter, or None."""
    try:
        names = list(inspect.signature(target).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: torch.relu_
        return None
    return names.index("inplace") if "inplace" in names else None


def read_after_writes(gm):
    """Make the readers of a tensor after an op wrote into it read that op's
    node, as a recording binds them (record.py): the same value, now with
    the write in the chain it belongs to. In fx's graph of `x.relu_(); y =
    x * 2` the multiply reads x, and the write is a node nothing reads, so
    that the same model cut two ways gave two trees."""
    position = {node: k for k, node in enumerate(gm.graph.nodes)}
    changed = False
    for node in list(gm.graph.nodes):
        if writes_into_its_input(node, gm):
            written = node.args[0]
            for user in list(written.users):
                if position[user] > position[node]:
                    user.replace_input_with(written, node)
                    changed = True
    if changed:
        gm.recompile()
    return gm


def _acts_beside_its_value(node, gm):
    """Whether running `node` does more than make its value: writes into a
    tensor (x.mul_(2), whose readers read x, not it), draws random numbers,
    updates running statistics, or checks (torch._assert)."""
    if writes_into_its_input(node, gm):
        return True
    if node.op == "call_module":
        m = fetch(gm, node.target)
        return m.training and (isinstance(m, nn.modules.dropout._DropoutNd)
                               or next(m.buffers(recurse=False), None) is not None)
    if node.op not in ("call_function", "call_method"):
        return False
    target = node.target
    if (target in (operator.setitem, ops.setitem)
            or target in getattr(fx.node, "_side_effectful_functions", {torch._assert})):
        return True
    return node.kwargs.get("out") is not None or _callee_name(node) in _DRAWS


def remove_unused(gm):
    """Erase the nodes whose value no output reads, and say which of them
    the model computed for nothing.

    Such a node can be no kernel: a file of it would be checked against
    nothing. A node read into Python (a branch's test, marked `read` by the
    recorder), and one read only by such nodes, is expected and not said;
    the others are: the compute ops among them, by module path or node
    name with their op (["fc (linear)"]). A node that acts beside its value
    (_acts_beside_its_value) stays unless only Python read it: the graph
    holds what that read gave, as it was. Symbolic and recorded
    graphs go through this alike, so a model gets one tree however it was
    traced (fx keeps a dead op; recording drops what feeds nothing)."""
    graph = gm.graph
    to_python = set()
    for node in reversed(graph.nodes):
        if node.meta.get("read") or (node.users and all(u in to_python for u in node.users)):
            to_python.add(node)
    # One pass from the output back: a node's readers come after it, so
    # each is decided before it, and a chain that feeds nothing goes whole.
    unused, erased = [], False
    for node in reversed(list(graph.nodes)):
        if node.op in ("output", "placeholder") or node.users:
            continue
        if node not in to_python:
            if _acts_beside_its_value(node, gm):
                continue
            op = (ops.module_op(fetch(gm, node.target)) if node.op == "call_module"
                  else ops.function_op(node.target) if node.op != "get_attr" else "get_attr")
            if ops.is_compute_name(op):
                unused.append(f"{node.target if node.op == 'call_module' else node.name} ({op})")
        graph.erase_node(node)
        erased = True
    if erased:
        gm.recompile()
    return unused[::-1]


def graph_module(model, graph, class_name):
    """fx.GraphModule(model, graph), where a get_attr may read a tensor held
    in a container (fx walks its targets by getattr alone), holding the
    modules whose hooks were spelt out without them (hooks.unhooked)."""
    targets = {n.target for n in graph.nodes if n.op in ("get_attr", "call_module")}
    if targets.isdisjoint(held_in_containers(model)):
        gm = fx.GraphModule(model, graph, class_name=class_name)
    else:
        gm = fx.GraphModule({t: fetch(model, t) for t in targets}, graph, class_name=class_name)
    return hooks.unhooked(gm, model)


def state(model):
    """Every tensor a model holds by name: parameters, buffers, plain tensor
    attributes and tensors held in containers (what a weight map transfers)."""
    found = dict(model.named_parameters())
    found.update(model.named_buffers())
    for name, value in list(tensor_attributes(model).items()) + list(held_in_containers(model).items()):
        found.setdefault(name, value)
    return found


def numbers(model):
    """[(path, module, name, value)] of the numbers the model's modules keep
    as attributes, as they are now (a count of calls, a position in a
    cache), and of the generators they keep, each by its state."""
    return [(path, module, name, _number(value)) for path, module in model.named_modules()
            for name, value in vars(module).items()
            if type(value) in (int, float, bool) or isinstance(value, torch.Generator)]


def _number(value):
    return value.get_state() if isinstance(value, torch.Generator) else value


def _number_differs(now, value):
    if isinstance(now, torch.Tensor) and isinstance(value, torch.Tensor):  # generators' states
        return not torch.equal(now, value)
    return now is not value and (type(now) is not type(value) or now != value)


def put_numbers(saved, changed=None):
    """Put back the numbers and generators' states `numbers` saw, where they
    moved since. `changed`, a set: gets the qualified names of those put back."""
    for path, module, name, value in saved:
        if _number_differs(_number(module.__dict__.get(name)), value):
            if isinstance(value, torch.Tensor):
                module.__dict__[name].set_state(value)
            else:
                module.__dict__[name] = value
            if changed is not None:
                changed.add(f"{path}.{name}" if path else name)


def numbers_differ(a, b):
    """Whether two `numbers` of one model differ."""
    return len(a) != len(b) or any(_number_differs(x[3], y[3]) for x, y in zip(a, b))


def snapshot(model, changed=None):
    """A function that puts the plain tensor attributes back as they are now,
    and the numbers kept as attributes and the states of the generators kept
    so (numbers), so that a forward that reassigns them (an RNN carrying its
    hidden state, a decoder counting its position in a cache) or draws from
    them starts every run from the same state. `changed`, a set: the
    function adds the qualified names of the numbers it put back to it."""
    saved = {name: value for name, value in tensor_attributes(model).items()}
    kept = numbers(model)

    def restore():
        for name, value in saved.items():
            path, _, attr = name.rpartition(".")
            setattr(model.get_submodule(path) if path else model, attr, value)
        put_numbers(kept, changed)
    return restore
