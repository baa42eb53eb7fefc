"""Grouping one flat traced graph into model -> layers -> fusions -> kernels.

A component is a set of graph nodes with one parent. The cuts are semantic
(shared/SPEC.md §4):
- layers come from the module structure: each call of a composite module
  (a ResNet block, a transformer block) is a layer; a container whose
  elements are all kernels (VGG's flat `features`) is cut into stages after
  each pooling op;
- fusions are straight chains of 2-5 compute ops built around an anchor
  (conv, linear, matmul, norm) where every op but the last has exactly one
  user, the next op; attention's matmul -> softmax -> matmul is one chain;
- every other compute node is a kernel child of its parent.
Only data plumbing (ops.PLUMBING, and arithmetic joining two computed
tensors) stays inline in a parent. Parameters read directly in forward
(get_attr nodes) belong to every child that reads them, never to a parent.
A component whose grouping yields one child covering all of it is not a
level of its own: it takes that child's level and children.
"""

import functools

import torch.fx as fx
import torch.nn as nn

from . import ops
from .trace import (INLINED_MODULES, is_container, is_kernel_module, kept_whole_calls, kept_whole_paths,
                    tensor_leaves)

MODEL, LAYER, FUSION, KERNEL = 3, 2, 1, 0
LEVEL_NAMES = {MODEL: "model", LAYER: "layer", FUSION: "fusion", KERNEL: "kernel"}

_POOLING_HINT = "pool"


class Component:
    """One node of the decomposition tree, as one instance in the model."""

    def __init__(self, level, nodes, kind, label):
        self.level = level
        self.nodes = nodes          # fx nodes in graph order, get_attr included
        self.kind = kind            # "model", "layer", "stage", "fusion", "kernel"
        self.label = label          # module path or op: where it came from
        self.children = []
        self.module_class = None    # for layers cut from a module

    def compute_nodes(self, gm):
        return [n for n in self.nodes if is_compute(n, gm)]


def _classified(fn):
    """`fn(node, gm)` computed once per node of a graph: every pass asks what
    each node is, a view of a view asks again for each view below it, and
    Swin V2's 3000 nodes were asked 60,000 times. Kept with the
    GraphModule; its graph is not changed once it is being grouped."""
    key = f"_decompose_{fn.__name__}"

    @functools.wraps(fn)
    def classified(node, gm):
        cache = gm.__dict__.get(key)
        if cache is None:
            cache = gm.__dict__[key] = {}
        found = cache.get(node)
        if found is None:
            found = cache[node] = fn(node, gm)
        return found
    return classified


@_classified
def op_name(node, gm):
    if node.op == "call_module":
        return ops.module_op(gm.get_submodule(node.target))
    if node.op in ("call_function", "call_method"):
        return ops.function_op(node.target)
    return node.op


def _value_kind(node):
    return node.meta.get("value", {}).get("kind")


def produces_tensors(node):
    return bool(tensor_leaves(node.meta.get("value", {})))


def _operands(node):
    out = []
    fx.node.map_aggregate((node.args, node.kwargs), out.append)
    return out


@_classified
def is_compute(node, gm):
    """Whether a node must live in a kernel, or may stay inline in a parent."""
    if _joins_only(node, gm):
        # Arithmetic on values computed in the graph joins children's results,
        # unless nothing else in the graph computes (KernelBench's
        # `A.unsqueeze(1) * B`): then that arithmetic is the model's work.
        return _nothing_else_computes(gm)
    return _is_compute(node, gm)


def _joins_only(node, gm):
    if node.op not in ("call_function", "call_method") or not produces_tensors(node):
        return False
    operands = _operands(node)
    if op_name(node, gm) not in ops.ARITHMETIC or any(
            isinstance(a, fx.Node) and is_parameter(a, gm) for a in operands):
        return False
    return not [a for a in operands if not isinstance(a, fx.Node) or _value_kind(a) != "tensor"]


def _nothing_else_computes(gm):
    cached = gm.__dict__.get("_decompose_nothing_computes")
    if cached is None:
        cached = not any(_is_compute(n, gm) for n in gm.graph.nodes if not _joins_only(n, gm))
        gm.__dict__["_decompose_nothing_computes"] = cached
    return cached


def _describes_a_tensor(node):
    """`x.device`, `x.shape`: read off a tensor, none of its data."""
    return (node.op == "call_function" and node.target is getattr and len(node.args) == 2
            and node.args[1] in ops.TENSOR_ATTRIBUTES)


@_classified
def is_parameter_view(node, gm):
    """Plumbing on parameters only (a cross-attention's slice of its packed
    in-projection weight, `self.scale.to(x.device)`): part of the
    parameter, so it goes with each kernel that reads it, as a get_attr
    node does."""
    if node.op not in ("call_function", "call_method") or op_name(node, gm) not in ops.PLUMBING:
        return False
    operands = [a for a in node.all_input_nodes if not _describes_a_tensor(a)]
    return bool(operands) and all(a.op == "get_attr" or is_parameter_view(a, gm) for a in operands)


def is_parameter(node, gm):
    return node.op == "get_attr" or is_parameter_view(node, gm)


def _is_compute(node, gm):
    if is_parameter_view(node, gm):
        return False
    if node.op == "call_module":
        # Only modules that trace.inline_plumbing_modules writes as functions
        # can stay inline: a parent owns no modules. Any other, even one that
        # only moves data (torchvision's Permute, nn.Unflatten), is a kernel.
        module = gm.get_submodule(node.target)
        return (op_name(node, gm) not in ops.PLUMBING or any(True for _ in module.parameters())
                or not isinstance(module, INLINED_MODULES))
    if node.op not in ("call_function", "call_method"):
        return False
    operands = _operands(node)
    if any(isinstance(a, fx.Node) and is_parameter(a, gm) for a in operands):
        return True
    if not produces_tensors(node):
        return False
    if node.op == "call_function" and node.target is ops.setitem:
        # out[mask] = 0.0 writes a number the graph did not compute: the
        # anti-cheat counts that as the parent computing, as y.fill_(0) is
        value = node.args[2]
        return not (isinstance(value, fx.Node) and _value_kind(value) == "tensor")
    name = op_name(node, gm)
    if name in ops.PLUMBING:
        return False
    if name in ops.ARITHMETIC:
        values = [a for a in operands if not isinstance(a, fx.Node) or _value_kind(a) != "tensor"]
        return bool(values)
    return True


def graph_nodes(gm):
    return [n for n in gm.graph.nodes if n.op not in ("placeholder", "output")]


def _with_attrs(nodes, position, gm):
    """Add the parameters the given nodes read (get_attr nodes and views of
    them, transitively), keeping graph order."""
    members = set(nodes)
    pending = list(nodes)
    while pending:
        for a in pending.pop().all_input_nodes:
            if a not in members and is_parameter(a, gm):
                members.add(a)
                pending.append(a)
    return sorted(members, key=position.__getitem__)


# ---- layers -------------------------------------------------------------

def _is_kernel(module, marked):
    """A kernel module, unless the recording opened it or kept it whole
    (record.record): `marked` maps those modules' ids to whether they are."""
    return marked.get(id(module), is_kernel_module(module))


def _is_flat(module, marked):
    kids = list(module.children())
    return is_container(module) and bool(kids) and all(_is_kernel(k, marked) for k in kids)


def _holds_stack(module, marked):
    """Whether a module holds a stack of blocks (an encoder's ModuleList of
    transformer blocks), itself or in a module it holds (ViT's
    vit.encoder.layer): then the blocks are the layers, not the holder. A
    stack of flat Sequentials (a DenseNet block's conv units) is not: those
    are fusions, and the holder is the layer."""
    for child in module.children():
        if is_container(child):
            # A list of only blocks is a stack even of one: a model cut down
            # to one layer ({"num_hidden_layers": 1}) keeps the layer its full
            # size has. One block among other modules (an MBConv's
            # squeeze-excite among its convs) is not.
            kids = list(child.children())
            blocks = [m for m in kids if _is_block(m, marked)]
            if len(blocks) >= 2 or (blocks and len(blocks) == len(kids)):
                return True
        elif not _is_kernel(child, marked) and _holds_stack(child, marked):
            return True
    return False


def _is_block(module, marked):
    """A module big enough to be a layer of its own: two or more heavy ops
    (a residual block's convs, a transformer block's linears). A DenseNet
    conv unit (bn, relu, one conv) is a fusion inside its block."""
    if _is_kernel(module, marked) or _is_flat(module, marked):
        return False
    heavy = sum(1 for m in module.modules() if _is_kernel(m, marked) and ops.is_heavy_module(m))
    return heavy >= 2


def layer_paths(module, prefix="", marked=None):
    """Module paths that are layers ("layer") or flat kernel containers
    ("flat"). `marked`: _is_kernel's."""
    marked = {} if marked is None else marked
    children = list(module.named_children())
    if (len(children) == 1 and not is_container(module) and not _is_kernel(children[0][1], marked)
            and not is_container(children[0][1])):
        # A wrapper (self.net = torchvision.models.googlenet()): its one child
        # is the whole model, and that model's blocks are the layers. A
        # ModuleList of one block is a stack of one, not a wrapper.
        name, child = children[0]
        return layer_paths(child, prefix + name + ".", marked)
    found = []
    for name, child in module.named_children():
        path = prefix + name
        if _is_kernel(child, marked) and not isinstance(child, nn.MultiheadAttention):
            continue  # attention.expand spells an attention's call out: a layer
        if is_container(child):
            if _is_flat(child, marked):
                found.append((path, "flat"))
            else:
                found.extend(layer_paths(child, path + ".", marked))
        elif _holds_stack(child, marked):
            found.extend(layer_paths(child, path + ".", marked))
        else:
            found.append((path, "layer"))
    return found


def _is_pooling(node, gm):
    return _POOLING_HINT in op_name(node, gm)


def _stages(nodes, gm):
    """Cut a flat container's nodes after each pooling op."""
    stages, current = [], []
    for n in nodes:
        current.append(n)
        if is_compute(n, gm) and _is_pooling(n, gm):
            stages.append(current)
            current = []
    if current:
        if stages and not any(is_compute(n, gm) for n in current):
            stages[-1].extend(current)
        else:
            stages.append(current)
    return stages


def _layer_candidates(gm, model, nodes, position, marked):
    """(kind, label, nodes, module class) per layer instance, in graph order."""
    candidates = []
    for path, kind in layer_paths(model, "", marked):
        instances = {}
        for n in nodes:
            if n.op == "get_attr":
                continue
            for entry in n.meta.get("scope", ()):
                if entry.rsplit("#", 1)[0] == path:
                    instances.setdefault(entry, []).append(n)
                    break
        for entry, members in instances.items():
            cls = type(model.get_submodule(path)).__name__
            if kind == "flat":
                stages = _stages(members, gm)
                if len(stages) > 1:
                    for i, stage in enumerate(stages):
                        candidates.append(("stage", f"{path}[{i}]", stage, f"{path.split('.')[-1]}_stage"))
                    continue
            candidates.append(("layer", path, members, cls))
    candidates.sort(key=lambda c: position[c[2][0]])
    return candidates


# ---- fusions ------------------------------------------------------------

def _sole_user(node, members):
    users = list(node.users)
    if len(users) == 1 and users[0] in members:
        return users[0]
    return None


def is_heavy(node, gm):
    """Whether a node does the bulk of the work (ops.HEAVY), a library's own
    weight-matrix module included: no fusion holds two."""
    if node.op == "call_module":
        return ops.is_heavy_module(gm.get_submodule(node.target))
    return op_name(node, gm) in ops.HEAVY


def is_anchor(node, gm):
    return is_heavy(node, gm) or op_name(node, gm) in ops.NORMS


def _joins_another_tensor(node, previous):
    return any(a is not previous and produces_tensors(a) for a in node.all_input_nodes)


def fusion_chains(nodes, gm):
    """Straight chains of 2-5 compute ops around an anchor, in graph order."""
    members = set(nodes)
    taken = set()
    chains = []
    for start in nodes:
        if start in taken or not is_compute(start, gm) or not is_anchor(start, gm):
            continue
        chain, computes = [start], [start]
        heavy = is_heavy(start, gm)
        attention = op_name(start, gm) == "matmul"
        cur = start
        while len(computes) < 5:
            nxt = _sole_user(cur, members)
            pending = []
            while nxt is not None and not is_compute(nxt, gm) and nxt.op != "get_attr":
                if _joins_another_tensor(nxt, pending[-1] if pending else cur):
                    nxt = None  # a residual add or a concat: no branch inside a fusion
                    break
                pending.append(nxt)
                nxt = _sole_user(nxt, members)
            if nxt is None or nxt in taken or not is_compute(nxt, gm):
                break
            name = op_name(nxt, gm)
            closes_attention = (attention and name == "matmul"
                                and any(op_name(c, gm) == "softmax" for c in computes))
            nxt_heavy = is_heavy(nxt, gm)
            if nxt_heavy and heavy and not closes_attention:
                break
            chain.extend(pending)
            chain.append(nxt)
            computes.append(nxt)
            heavy = heavy or nxt_heavy
            cur = nxt
            if closes_attention:
                break
        if len(computes) >= 2:
            chains.append(chain)
            taken.update(chain)
    return chains


# ---- the tree -----------------------------------------------------------

def where(node, gm):
    """A node's place in the model: its module's path (layer1.0.conv1), or
    for an op written in a forward, that forward's module and the op
    (layer1.0:add); an op of the model's own forward is the op alone."""
    if node.op == "call_module":
        return node.target
    scope = node.meta.get("scope", ())
    return f"{scope[-1].rsplit('#', 1)[0]}:{op_name(node, gm)}" if scope else op_name(node, gm)


def _places(nodes, gm):
    """Where a fusion's ops are: layer1.0.{conv1, bn1, relu} for modules of
    one parent, attn:{matmul, softmax} for ops of one forward, else each
    op's place."""
    places = [where(n, gm) for n in nodes if is_compute(n, gm)]
    for sep in (".", ":"):
        if all(sep in p and (sep == ":" or ":" not in p) for p in places):
            parents = {p.rpartition(sep)[0] for p in places}
            if len(parents) == 1:
                parent = parents.pop()
                return f"{parent}{sep}{{{', '.join(p[len(parent) + 1:] for p in places)}}}"
    return " + ".join(places)


def _group(nodes, gm, position, level_cap):
    """Children (fusions and kernels) for a set of nodes below a given level."""
    children = []
    taken = set()
    if level_cap > FUSION:
        for chain in fusion_chains([n for n in nodes if n.op != "get_attr"], gm):
            held = [r for n in chain if is_compute(n, gm) for r in _values_read(n, gm) if r not in chain]
            fusion = Component(FUSION, _with_attrs(chain + held, position, gm), "fusion", _places(chain, gm))
            fusion.children = _kernels(chain, gm, position)
            children.append(fusion)
            taken.update(chain)
    for n in nodes:
        if n not in taken and n.op != "get_attr" and is_compute(n, gm):
            children.extend(_kernels([n], gm, position))
    children.sort(key=lambda c: min(position[n] for n in c.nodes if n.op != "get_attr"))
    return children


def _kernels(nodes, gm, position):
    return [Component(KERNEL, _with_attrs([n] + _values_read(n, gm), position, gm), "kernel", where(n, gm))
            for n in nodes if is_compute(n, gm)]


def _values_read(node, gm):
    """The reads of values into Python that belong to `node`'s kernel:
    those it alone takes, and those of what it made that no one kernel
    takes (`return logits, loss.item()`; a number two ops take): in a
    parent each would be a number made outside every child (the
    anti-cheat)."""
    return _values_read_for(node) + [u for u in node.users if _is_value_read(u) and not _taken_by_one(u, gm)]


# Reading a tensor's values into Python, as a symbolic graph holds it, and
# as a recording holds a number the model's forward read (followreads.py).
_VALUE_READS = frozenset({"item", "tolist"})
_VALUE_READ_FUNCTIONS = (int, float)


def _values_read_for(node):
    """The reads of a tensor's values into Python that only `node` takes
    (`x / x.std().item()`), with the Python arithmetic on what they read:
    in a parent they are a number made outside every child (the
    anti-cheat), so the kernel that takes them reads the tensor itself. A
    read that other nodes take too is the kernel's that made its tensor
    (_values_read)."""
    found, pending = [], list(node.all_input_nodes)
    while pending:
        a = pending.pop()
        if a in found or not _made_from_a_value_read(a) or any(u is not node and u not in found for u in a.users):
            continue
        found.append(a)
        pending.extend(a.all_input_nodes)
    return found


def _made_from_a_value_read(node):
    if produces_tensors(node) or node.op not in ("call_function", "call_method"):
        return False
    return _is_value_read(node) or any(_made_from_a_value_read(a) for a in node.all_input_nodes)


def _is_value_read(node):
    if node.op == "call_function" and node.target in _VALUE_READ_FUNCTIONS:
        return bool(node.args) and isinstance(node.args[0], fx.Node) and produces_tensors(node.args[0])
    return node.op == "call_method" and node.target in _VALUE_READS and not produces_tensors(node)


def _taken_by_one(read, gm):
    """Whether one compute op takes `read` (through Python arithmetic on
    it), and its kernel holds it (_values_read_for)."""
    takers, pending, seen = set(), list(read.users), set()
    while pending:
        user = pending.pop()
        if user not in seen:
            seen.add(user)
            if produces_tensors(user) or user.op not in ("call_function", "call_method"):
                takers.add(user)
            else:
                pending.extend(user.users)
    taker = takers.pop() if len(takers) == 1 else None
    return taker is not None and is_compute(taker, gm) and read in _values_read_for(taker)


def _settle(component, gm):
    """A component with one child covering all of its compute is that child."""
    computes = component.compute_nodes(gm)
    if len(computes) == 1:
        component.level = KERNEL
        component.children = []
    elif len(component.children) == 1:
        only = component.children[0]
        component.level = only.level
        component.children = only.children
    return component


def build_tree(gm, model, opened=()):
    """The decomposition of a traced model, as a tree of Components.
    `opened`: paths of the leaf modules the recording opened."""
    kept = kept_whole_paths(model) | {n.target for n in kept_whole_calls(gm.graph.nodes, "call_module")}
    marked = {id(model.get_submodule(path)): False for path in opened}
    marked.update({id(model.get_submodule(path)): True for path in kept})
    nodes = graph_nodes(gm)
    position = {n: i for i, n in enumerate(gm.graph.nodes)}
    root = Component(MODEL, nodes, "model", "")
    layers, in_layer = [], set()
    for kind, label, members, cls in _layer_candidates(gm, model, nodes, position, marked):
        if any(n in in_layer for n in members):
            continue
        layer = Component(LAYER, _with_attrs(members, position, gm), kind, label)
        layer.module_class = cls
        layer.children = _group(layer.nodes, gm, position, LAYER)
        if not layer.compute_nodes(gm):
            continue  # pure plumbing stays inline in the parent
        layers.append(_settle(layer, gm))
        in_layer.update(members)
    rest = [n for n in nodes if n not in in_layer]
    root.children = sorted(
        layers + _group(rest, gm, position, MODEL),
        key=lambda c: min(position[n] for n in c.nodes if n.op != "get_attr"))
    if len(root.children) == 1 and root.children[0].level == LAYER:
        # A model that is one block or one stage is still the model: it keeps
        # its level and takes the block's children (no layer of one layer).
        root.children = root.children[0].children
    _settle(root, gm)
    if root.level == KERNEL:
        # A one-op model: its one kernel is the child the root step proves.
        root.children = _kernels(root.nodes, gm, position)
    return root


def walk(component):
    yield component
    for child in component.children:
        yield from walk(child)
