"""Component files, refactored parents and the composition test, as text.

Each component instance is rendered to the body of a standalone file
(class Model, get_inputs, ...); instances whose bodies are identical are one
file with an instance count (shared/SPEC.md §5). The header, which lists every
instance, is added once the instances are known. A refactored parent is the
parent's nodes with each child's nodes replaced by one call to the child.
"""

import builtins
import inspect
import itertools
import json
import keyword
import math
import re
import sys
import textwrap

import torch
import torch.fx as fx
import torch.nn.functional as F

from . import autocast, generators, loose, modsrc, naming, ops, trace
from .emit import Expression, Names, literal, node_line, node_uses, with_frees
from .levels import FUSION, KERNEL, LAYER, LEVEL_NAMES, MODEL, is_compute, is_parameter, op_name

# The first seed of the step gate (verify.FIRST_SEED). The composition test
# runs on its last one: the pipeline hands it the inputs the model's own step
# ran on for that seed and the model's output on them, so that the test costs
# one run of the composed model. The steps are the gate of every seed.
FIRST_SEED = 42

LEVEL_DIRS = {MODEL: "level_3_model", LAYER: "level_2_layer", FUSION: "level_1_fusion",
              KERNEL: "level_0_kernel"}

_TORCH_IMPORTS = """
try:
    import torch
except ImportError:
    sys.exit("This file needs PyTorch. Run it with {python}, the interpreter that has torch.")
import torch.nn as nn
import torch.nn.functional as F"""


def imports(python, body, modules=()):
    """A generated file's import block: sys, `modules` (os, importlib.util),
    and math and operator where `body` calls them (a symbolic graph keeps
    `math.sqrt(k.size(-1))` as a call), then torch, nn and F."""
    names = {"sys", *modules}
    names.update(m for m in ("collections", "dataclasses", "math", "operator")
                 if re.search(rf"(?<![\w.]){m}\.", body))
    # torch's own submodules that a file names in full (a pruned module), after torch
    after = "".join(f"\nimport {m}" for m in ("torch.nn.utils.prune",)
                    if re.search(rf"(?<![\w.]){re.escape(m)}\.", body))
    return "".join(f"import {m}\n" for m in sorted(names)) + _TORCH_IMPORTS.format(python=python) + after


_ALWAYS_IMPORTED = {"torch", "nn", "F", "sys", "os", "collections", "dataclasses", "math", "operator",
                    "builtins"}


def with_module_imports(source):
    """Import the modules of the functions a file calls by their full name
    (torchvision's `_patch_merging_pad`, which fx keeps as one call): the
    file must run on its own."""
    needed = []
    for match in re.finditer(r"(?<![\w.])([A-Za-z_]\w*(?:\.\w+)+)\.\w+\(", source):
        parts = match.group(1).split(".")
        if parts[0] in _ALWAYS_IMPORTED or parts[0] not in sys.modules:
            continue
        for end in range(len(parts), 0, -1):
            module = ".".join(parts[:end])
            if module in sys.modules:
                if module not in needed:
                    needed.append(module)
                break
    for match in re.finditer(r"(?<![\w.])torch\.ops\.(\w+)\.", source):
        # the library that registers the operator (torch.ops.torchvision.nms)
        if match.group(1) in sys.modules and match.group(1) not in needed:
            needed.append(match.group(1))
    needed = [m for m in needed if f"import {m}\n" not in source]
    if not needed:
        return source
    anchor = "import torch.nn.functional as F\n"
    lines = "".join(f"import {m}\n" for m in needed)
    return source.replace(anchor, anchor + lines, 1) if anchor in source else lines + source


# The tensors of a run's output, in CONTRACT and COMPOSITION alike: each generated
# file runs on its own.
_TENSORS = '''def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
{records}    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []
'''

CONTRACT = '''

def get_expected_output_shape():
    return {shapes}


''' + _TENSORS + '''

def run_tests():
    torch.manual_seed(0)
    model = Model(*get_init_inputs()).eval()
    {drawn}
    torch.manual_seed({forward_seed})  # every forward's seed, as the steps ran them
    with torch.no_grad():
        output = model({call})
    shapes = [tuple(t.shape) for t in _tensors(output)]
    expected = [tuple(s) for s in get_expected_output_shape()]
    if {mismatch}:
        print(f"FAIL: output shapes {{shapes}}, expected {{expected}}")
        return False
    print(f"PASS: output shapes {{shapes}}")
    return True


if __name__ == "__main__":
    sys.exit(0 if run_tests() else 1)
'''


# Only in a file that returns a dataclass: its fields' tensors are outputs too.
_RECORD_FIELDS = (
    '    if hasattr(value, "__dataclass_fields__"):  # a record: its fields, in order\n'
    '        value = [getattr(value, name) for name in value.__dataclass_fields__]\n')


# Only in a file whose output lengths are read from values (nms): -1 there.
_ANY_LENGTH = ("len(shapes) != len(expected) or any(\n"
               "            len(s) != len(e) or any(n != d and d != -1 for n, d in zip(s, e))\n"
               "            for s, e in zip(shapes, expected))")


def contract(out_shapes, has_kwargs=False):
    """A file's self-test: the expected output shapes and run_tests(), which
    runs the forward from the seed of every forward of the pipeline
    (verify.seed_forward): a shape the model draws (HuBERT's masked frames)
    comes out as it was."""
    shapes = "[" + ", ".join("(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
                              for shape in out_shapes) + "]"
    records = _RECORD_FIELDS if getattr(out_shapes, "records", False) else ""
    free = any(d == -1 for shape in out_shapes for d in shape)
    drawn, call = (("inputs, kwargs = get_inputs(), get_input_kwargs()", "*inputs, **kwargs") if has_kwargs
                   else ("inputs = get_inputs()", "*inputs"))
    return CONTRACT.format(shapes=shapes, drawn=drawn, call=call, forward_seed=FIRST_SEED, records=records,
                           mismatch=_ANY_LENGTH if free else "shapes != expected")


class CodegenError(Exception):
    pass


# ---- interfaces -----------------------------------------------------------

def interface(component, gm):
    """(inputs, outputs): nodes read from outside, nodes read outside."""
    members = set(component.nodes)
    inputs = []
    for n in component.nodes:
        for a in n.all_input_nodes:
            if a not in members and a not in inputs:
                inputs.append(a)
    outputs = [n for n in component.nodes if not is_parameter(n, gm)
               and any(u not in members for u in n.users)]
    if not outputs:
        # kept only for what it changes in place (x.mul_(2)): it returns
        # that result, which its own test checks and its parent ignores
        outputs = [n for n in component.nodes if not is_parameter(n, gm)][-1:]
    return inputs, outputs


class OutputShapes(list):
    """The shape of every tensor in these values (described), in order;
    `records` says whether some are a dataclass's fields, which a file's
    self-test must then open. `free`: for each value, the places (tensor,
    dim) written -1, whose length was read from values (value_sized_places)."""

    def __init__(self, descs, free=None):
        free = free or [set()] * len(descs)
        super().__init__([-1 if (i, k) in at else d for k, d in enumerate(t["shape"])]
                         for desc, at in zip(descs, free)
                         for i, t in enumerate(trace.tensor_leaves(desc)))
        self.records = any(_holds_record(d) for d in descs)
        self.numbers = any(_holds_number(d) for d in descs)
        self.sparse = holds_sparse(descs)


def value_sized_places(nodes, gm):
    """trace.value_sized_places of the nodes, which a file drawing other
    inputs gets otherwise: not where the file draws the mask a nonzero or
    x[mask] reads with the model's count of set entries."""
    members = set(nodes)
    return trace.value_sized_places(nodes, lambda n, shapes: _own_value_sized_places(n, gm, members, shapes))


def _own_value_sized_places(n, gm, members, shapes):
    if trace.is_value_sized(n):
        masks = trace.masks_indexing(n)
        if masks and all(_drawn_with_its_count(m, members) for m in masks):
            return set()  # x[mask], the mask drawn with the model's count of set entries
        if op_name(n, gm) in ("nonzero", "argwhere", "where") and all(_drawn_with_its_count(a, members)
                                                                      for a in n.all_input_nodes):
            return set()  # a mask the file draws with the model's count of set entries
    # a number the file computes from what it draws, not one it is given
    return trace.own_value_sized_places(n, shapes, counted=lambda number: number in members)


def _holds_record(desc):
    return desc.get("kind") == "record" or any(_holds_record(d) for d in trace.items_of(desc))


def holds_sparse(descs):
    """Whether described values (trace.describe) hold a sparse COO tensor."""
    return any(t.get("layout") == "sparse_coo" for d in descs for t in trace.tensor_leaves(d))


def _holds_number(desc):
    return ((desc.get("kind") == "const" and type(desc.get("value")) in (bool, int, float))
            or any(_holds_number(d) for d in trace.items_of(desc)))


def leaf_shapes(nodes, free=None):
    """The shape of every tensor the nodes hold, in order; -1 at a node's
    places in `free` (value_sized_places)."""
    free = free or {}
    return OutputShapes([n.meta.get("value", {}) for n in nodes], [free.get(n, set()) for n in nodes])


def _drawn_with_its_count(node, members):
    desc = node.meta.get("value", {})
    return (node not in members and "nonzero" in desc
            and math.prod(desc["shape"]) <= EXACT_COUNT_LIMIT)


def instance_input_shapes(rendered_list):
    """Each instance's input shapes that no earlier instance had, the first
    instance's first: a file's get_inputs() holds those."""
    seen = []
    for r in rendered_list:
        shapes = leaf_shapes(r.inputs)
        if shapes not in seen:
            seen.append(shapes)
    return seen


# Masks up to this many entries are drawn with the model's count of set
# entries (torch.randperm: 0.5 s for 16M here); a larger one, such as
# KernelBench's 32768 x 32768 masked cumsum's, would take half a minute,
# and is drawn like any integer tensor.
EXACT_COUNT_LIMIT = 1 << 24


def input_expr(desc):
    """Source that makes a fresh value like the one the model saw."""
    kind = desc.get("kind")
    if kind == "tensor" and desc.get("layout") == "sparse_coo":
        return _sparse_input_expr(desc)
    if kind == "tensor" and desc.get("memory_format"):
        plain = {k: v for k, v in desc.items() if k != "memory_format"}
        return f"{input_expr(plain)}.contiguous(memory_format=torch.{desc['memory_format']})"
    if kind == "tensor":
        shape = ", ".join(str(s) for s in desc["shape"])
        shape = f"({shape},)" if len(desc["shape"]) == 1 else f"({shape})"
        dtype = desc["dtype"]
        numel = math.prod(desc["shape"])
        if "nonzero" in desc and numel <= EXACT_COUNT_LIMIT:
            # a mask with the model's count of set entries, at random places
            mask = f"(torch.randperm({numel}) < {desc['nonzero']}).reshape({shape})"
            return mask if dtype == "bool" else f"{mask}.to(torch.{dtype})"
        if "values" in desc:  # lengths an op runs by, boxes a kept-whole function reads
            return f"torch.tensor({values_literal(desc['values'])}, dtype=torch.{dtype})"
        if "value" in desc:  # a number in a 0-dim tensor: the model's own
            number = repr(desc["value"]) if math.isfinite(desc["value"]) else f"float('{desc['value']}')"
            return f"torch.tensor({number})" if dtype == "float32" else \
                f"torch.tensor({number}, dtype=torch.{dtype})"
        if dtype == "bool":
            return f"torch.randint(0, 2, {shape}).bool()"
        if dtype.startswith(("int", "uint")):
            lo, hi = desc.get("min", 0), desc.get("max", 0) + 1
            return f"torch.randint({lo}, {hi}, {shape}, dtype=torch.{dtype})"
        if dtype == "float32":
            # torch.randn(2, 3) and torch.randn(5); a 0-dim tensor needs torch.randn(())
            return f"torch.randn({shape})" if not desc["shape"] else \
                f"torch.randn{shape}" if len(desc["shape"]) != 1 else f"torch.randn({desc['shape'][0]})"
        return f"torch.randn({shape}, dtype=torch.{dtype})"
    if kind in ("tuple", "list"):
        items = [input_expr(d) for d in desc["items"]]
        if kind == "tuple":
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if kind == "dict":  # a batch given as one dict ({"ids": ..., "mask": ...})
        return "{" + ", ".join(f"{k!r}: {input_expr(d)}" for k, d in desc["items"].items()) + "}"
    if kind == "packed":  # nn.utils.rnn.PackedSequence: data drawn, batch sizes and orders as they were
        made = [input_expr(desc["items"][0])]
        made += [input_expr(d) if v is None else f"torch.tensor({v!r})"
                 for d, v in zip(desc["items"][1:], desc["values"])]
        return f"nn.utils.rnn.PackedSequence({', '.join(made)})"
    if kind == "const":
        if desc.get("type") == "Size":
            return f"torch.Size({desc['value']!r})"
        return repr(desc["value"])
    raise CodegenError(f"cannot make an input of kind {kind}")


def _sparse_input_expr(desc):
    """A sparse COO tensor with the model's count of stored entries at
    random places, its values drawn: a place drawn twice is stored twice, as
    an uncoalesced tensor may hold it, and is one entry where the model's
    tensor was coalesced."""
    nnz, sparse_dim, shape = desc["nnz"], desc["sparse_dim"], desc["shape"]
    values = input_expr({"kind": "tensor", "shape": [nnz] + shape[sparse_dim:], "dtype": desc["dtype"]})
    made = loose.sparse_drawn(shape, nnz, sparse_dim, values)
    return made + ".coalesce()" if desc.get("coalesced") else made


def values_literal(values, width=96):
    """A list of a tensor's values as source a person can read: on one line
    where it fits, else a row per line (100 boxes' corners), a long row
    wrapped."""
    text = repr(values)
    if len(text) <= width:
        return text
    rows = values if values and isinstance(values[0], list) else None
    if rows is None:
        lines = textwrap.wrap(text[1:-1], width, break_on_hyphens=False)
    else:
        lines = [line for row in rows for line in textwrap.wrap(repr(row) + ",", width, break_on_hyphens=False)]
    return "[\n" + "\n".join(" " * 8 + line for line in lines) + "\n    ]"


def _describe_lines(nodes, names):
    lines = []
    for n in nodes:
        desc = n.meta.get("value", {})
        if desc.get("kind") == "tensor":
            lines.append(f"  - {names.of(n)}: {desc['shape']} dtype={desc['dtype']}")
        elif desc.get("kind") == "const":
            lines.append(f"  - {names.of(n)}: {desc['value']!r}")
        else:
            shapes = [(t["shape"], t["dtype"]) for t in trace.tensor_leaves(desc)]
            kind = desc.get("kind")
            if kind == "packed":
                kind = "PackedSequence (data, batch sizes, orders)"
            lines.append(f"  - {names.of(n)}: {kind} of {shapes}")
    return lines


# ---- one component --------------------------------------------------------

class Rendered:
    """One component instance, rendered."""

    def __init__(self, component):
        self.component = component
        self.inputs = []
        self.outputs = []
        self.names = None
        self.body = ""
        self.workload = ""       # body with torch.nn modules as their settings: one per workload
        self.extra_imports = []  # import lines the classes it copies or imports need
        self.extra_sources = []  # their code, config constants and loose tensors' helpers
        self.constants = {}      # name -> source of the config constants in extra_sources
        self.local_keys = {}     # root state key -> key in this file's Model
        self.loose_names = []    # its weights held as tensors of its own, in order of use
        self.weight_shapes = {}
        self.base_name = ""
        self.stem = None         # file stem, set once deduplicated
        self.parent = None       # Rendered parent instance
        self.children = []
        self.op_list = []
        self.takes_device = False  # forward(..., device=None): see follow_device
        self.free_places = {}    # where its nodes' lengths are read from values (value_sized_places)
        self.settings = []       # (argument, name, number): its constructor arguments: a one-op
                                 # kernel's op's (value_settings), or a number its modules are built
                                 # with, whose argument is ("module", module path, parameter name)
        self.module_calls = {}   # module path -> the call the model built it with


def _attr_safe(base):
    """A name for `self.<base>` that hides nothing nn.Module has: a child
    named `to` or `float` would be shadowed by the method (and break it)."""
    if keyword.iskeyword(base) or hasattr(torch.nn.Module, base) or base in ("forward", "training"):
        return f"{base}_op"
    return base


def _attr_names(targets, fallback, held=None):
    """Self-attribute names for module paths and parameter targets: paths
    under their common prefix. A model-level buffer that a block reads (a
    causal mask) keeps its own name and does not count for the prefix, so
    that every instance of the block names its own weights alike."""
    split = [t.split(".") for t in targets]
    nested = [s for s in split if len(s) > 1]
    common = []
    if len(nested) > 1:
        for parts in zip(*nested):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        common = common[:min(len(s) for s in nested) - 1]
    names, used, held = {}, set(), held or {}
    for t, parts in zip(targets, split):
        if len(split) == 1:
            rest = parts[-1:]
        elif parts[:len(common)] == common:
            rest = parts[len(common):]
        else:
            rest = parts
        keys = held.get(t, 0)
        if keys and len(rest) <= keys:
            # a tensor in a container attribute (anchors.cell_anchors.0,
            # scales.b.c): named with the attribute, whose name is the same
            # in every instance
            rest = parts[-keys - 1:]
        base = naming.identifier("_".join(rest)) if rest else fallback
        if base.startswith("m_") or base.isdigit():
            base = naming.identifier(f"{fallback}_{'_'.join(rest)}")
        names[t] = _first_free(_attr_safe(base), used)
    return names


def _held_targets(component):
    """{get_attr target: how many of its last parts are indices or keys} for
    tensors kept in container attributes (the recorder marks them): a module
    path's own index (blocks.3) names the instance, an index in a list its
    tensor."""
    return {n.target: n.meta["held"] for n in component.nodes if n.op == "get_attr" and n.meta.get("held")}


def _targets(component):
    seen = []
    for n in component.nodes:
        if n.op in ("call_module", "get_attr") and n.target not in seen:
            seen.append(n.target)
    return seen


def _unique(base, used):
    if keyword.iskeyword(base) or hasattr(builtins, base) or base in _RESERVED:
        base = f"{base}_out"
    return _first_free(base, used)


def _first_free(base, used):
    """base, else base_2, base_3, ...: the first name `used` lacks, which
    it holds from now on."""
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


_RESERVED = {"torch", "nn", "F", "self", "operator", "math", "sys", "os", "x"}


def _op_attr_names(component, gm):
    """Kernels and fusions name attributes by op: one workload, one text."""
    names, used = {}, set()
    for n in component.nodes:
        if n.op in ("call_module", "get_attr") and n.target not in names:
            # a tensor in a container attribute by the attribute and its keys
            # (bounds.image.0: bounds_image_0), a weight by its own name
            keys = n.meta.get("held", 0) if n.op == "get_attr" else 0
            base = (ops.module_op(gm.get_submodule(n.target)) if n.op == "call_module"
                    else naming.identifier("_".join(n.target.split(".")[-keys - 1:])))
            names[n.target] = _unique(_attr_safe(base), used)
    return names


def _value_names(component, inputs, attrs, gm):
    """Local variable names: from attributes and ops, not from the model's
    global node names, so that identical blocks render to identical text."""
    called = {n.target.__name__ for n in trace.kept_whole_calls(component.nodes, "call_function")}
    used = set(called)  # a local named as a function the file calls by its name would hide it
    values = {}
    for i, n in enumerate(inputs):
        values[n] = "x" if len(inputs) == 1 else f"x{i}"
        used.add(values[n])
    for n in component.nodes:
        if n.op == "get_attr":
            values[n] = f"self.{attrs[n.target]}"
        elif n.op == "call_module":
            values[n] = _unique(attrs[n.target], used)
        else:
            base = naming.identifier(op_name(n, gm))
            values[n] = _unique(f"{base}_out" if base in called else base, used)
    return values


def _take_code(r, codes, extras=()):
    """Add to `r` what the classes or functions it copies or imports need
    (modsrc.Code): their import lines, then `extras` (config constants) and
    their text, each once."""
    for line in (i for code in codes for i in code.imports):
        if line not in r.extra_imports:
            r.extra_imports.append(line)
    for extra in [*extras, *(code.text for code in codes if code.text)]:
        if extra not in r.extra_sources:
            r.extra_sources.append(extra)


def follow_device(r, nodes, signature_fixed=False):
    """Where the model read a device off a tensor (`device=x.device`), the
    class reads it off its own first tensor input, so that the file runs on
    the device its inputs are on. A class with no tensor input (a factory
    kernel: `torch.randn(6, 10, 256, device=x.device)`) takes the device as
    an argument, `device=None` (torch's default device) when it runs alone;
    its parent passes its own. The user's model keeps its signature."""
    if not any(n.meta.get("devices_read") for n in nodes):
        return
    first = next((n for n in r.inputs if n.meta.get("value", {}).get("kind") == "tensor"), None)
    if first is not None:
        r.names.follow_device(f"{r.names.of(first)}.device", r.names.of(first))
    elif not signature_fixed:
        r.takes_device = True
        r.names.follow_device("device")


def forward_arguments(r):
    """The forward's parameters after self, as written."""
    args = [r.names.of(n) for n in r.inputs] + (["device=None"] if r.takes_device else [])
    return ", ".join(args)


def render_component(component, gm, records):
    """The standalone body (no header) of one component instance."""
    r = Rendered(component)
    r.inputs, r.outputs = interface(component, gm)
    if component.level in (KERNEL, FUSION):
        attrs = _op_attr_names(component, gm)
    else:
        attrs = _attr_names(_targets(component), "m", _held_targets(component))
    r.names = Names(_value_names(component, r.inputs, attrs, gm), attrs)
    follow_device(r, component.nodes)
    compute = [n for n in component.nodes if is_compute(n, gm)]
    r.op_list = [op_name(n, gm) for n in compute]
    kept = list(dict.fromkeys(n.target for n in trace.kept_whole_calls(component.nodes, "call_function")))
    for a, b in itertools.combinations(kept, 2):
        if a.__name__ == b.__name__:  # each is called by its bare name
            raise CodegenError(f"two functions kept whole in one component are named {a.__name__} "
                               f"({a.__module__} and {b.__module__})")
    for fn in kept:
        # a function recorded as one call (record._kept_whole), imported from
        # its library or copied from the model's file, and wrapped so that a
        # symbolic trace of this file keeps it one op too
        try:
            codes = modsrc.classes_source([fn])
        except modsrc.SourceError as e:
            raise CodegenError(str(e)) from None
        _take_code(r, codes)
        r.extra_sources.append("# one op, as the model's recording kept it: what it runs depends on values it\n"
                               f"# reads into Python, so torch.fx keeps it one call\ntorch.fx.wrap(\"{fn.__name__}\")")

    # The modules of a fusion or layer, or of a kernel that is one module, take
    # the numbers they are built with as the file's constructor arguments,
    # where their class is a library's or the model's own. torch.nn's are
    # read by their settings (modsrc.settings), whatever the spelling of their
    # call: nn.LayerNorm(16) and nn.LayerNorm(16, eps=1e-05) are one file.
    numbers_taken = component.level in (FUSION, LAYER) or (
        component.level == KERNEL and len(compute) == 1 and compute[0].op == "call_module")
    init_lines, workload_lines = [], []
    for n in component.nodes:
        if n.op == "call_module" and attrs[n.target] not in [l.split(" =")[0][5:] for l in init_lines]:
            module = gm.get_submodule(n.target)
            try:
                call, constants, codes = modsrc.constructor(module, records)
            except modsrc.SourceError as e:
                raise CodegenError(str(e)) from None
            r.module_calls[n.target] = call  # as the model built it, numbers and all
            named = False
            if numbers_taken and not modsrc.is_torch_nn(type(module)):
                # a module built with a number (a drop rate, a scale) takes it
                # as a constructor argument of the file: one file for every
                # rate, and each parent builds its instance with its own
                cls = modsrc.unparametrized_class(module)
                taken = {*attrs.values(), *r.constants, *(name for _, name, _ in r.settings)}
                for prefix in ("", f"{attrs[n.target]}_"):  # a second module's p: stochastic_depth_p
                    with_names, numbers = modsrc.numbers_as_parameters(call, cls, prefix)
                    if numbers and not any(name in taken for name, _ in numbers):
                        call, named = with_names, True
                        r.settings += [(("module", n.target, name[len(prefix):]), name, value)
                                       for name, value in numbers]
                        break
            for name, text in constants.items():
                if r.constants.setdefault(name, text) != text:
                    raise CodegenError(f"{type(module).__name__}: two configs of one class in one component")
            _take_code(r, codes, constants.values())
            init_lines.append(f"self.{attrs[n.target]} = {call}")
            # a module whose numbers the file takes is its call with their
            # names: its settings (a torch.nn subclass's) would hold the numbers
            workload_lines.append(f"self.{attrs[n.target]} = {call if named else modsrc.settings(module) or call}")
            for key, t in trace.state(module).items():
                r.local_keys[f"{n.target}.{key}"] = f"{attrs[n.target]}.{key}"
                r.weight_shapes[f"{attrs[n.target]}.{key}"] = list(t.shape)
        elif n.op == "get_attr" and not any(f"self.{attrs[n.target]} =" in l or f"({attrs[n.target]!r}," in l
                                            for l in init_lines):
            value = _fetch_attr(gm, n.target)
            if isinstance(value, torch.Generator):  # drawn from: the file's own, from the seed
                line = f"self.{attrs[n.target]} = {generators.constructor(trace.describe(value))}"
                init_lines.append(line)
                workload_lines.append(line)
                continue
            if not isinstance(value, torch.Tensor):
                raise CodegenError(f"attribute {n.target} is not a tensor")
            line, source, workload = loose.init_line(value, attrs[n.target])
            init_lines.append(line)
            workload_lines.append(workload)
            if source is not None and source not in r.extra_sources:
                r.extra_sources.append(source)
            r.local_keys[n.target] = attrs[n.target]
            r.weight_shapes[attrs[n.target]] = list(value.shape)
            r.loose_names.append(attrs[n.target])

    kept_modules = list(dict.fromkeys(attrs[n.target]
                                      for n in trace.kept_whole_calls(component.nodes, "call_module")))
    if kept_modules:
        # read by decompose's traces (trace.kept_whole_paths), as torch.fx.wrap's list of functions
        each = "each is one op" if len(kept_modules) > 1 else "is one op"
        line = (f"# {', '.join(f'self.{name}' for name in kept_modules)} {each}, as the model's recording "
                "kept it: what it runs\n# depends on values it reads into Python (a branch, a loop's length)\n"
                f"self.kept_whole = {tuple(kept_modules)!r}")
        init_lines.insert(0, line)
        workload_lines.insert(0, line)
    if any(isinstance(key, tuple) for key, _, _ in r.settings):
        # its weights are part of its workload: a number may size them (a width multiplier)
        workload_lines.append(f"# weights: {sorted(r.weight_shapes.items())}")
    written = value_settings(r, gm, attrs)
    # an op's numbers are read in forward; a module's were given to it in __init__
    assigned = [f"self.{name} = {name}" for key, name, _ in r.settings if not isinstance(key, tuple)]
    init_lines, workload_lines = assigned + init_lines, assigned + workload_lines
    body_lines = with_frees([(node_line(n, r.names, written.get(n)), [r.names.of(n)], node_uses(n, r.names),
                              autocast.of(n)) for n in component.nodes if n.op != "get_attr"],
                            keep={r.names.of(n) for n in r.outputs})
    result = ", ".join(r.names.of(n) for n in r.outputs)
    args = forward_arguments(r)
    inputs = [input_expr(n.meta.get("value", {})) for n in r.inputs]
    r.free_places = value_sized_places(component.nodes, gm)
    outputs = leaf_shapes(r.outputs, r.free_places)
    r.body = _module_source(init_lines, args, body_lines, result, inputs, outputs,
                            settings=[(n, v) for _, n, v in r.settings])
    # the numbers' types, not their values: one file for every fill value
    r.workload = _anonymous(_module_source(workload_lines, args, body_lines, result, inputs, outputs,
                                           settings=[(n, type(v)()) for _, n, v in r.settings]),
                            r.loose_names)
    if component.level == KERNEL:
        r.workload = _functional_workload(component, gm) or r.workload
    return r


def value_settings(r, gm, attrs):
    """A kernel's numbers that are values it computes with (ops.VALUE_ARGUMENTS:
    a fill value, a clamp's bounds, a scale): set as r.settings, its
    constructor arguments (argument, name, number), and returned as
    {node: {argument: self.<name>}} for node_line. Instances that differ
    only in them are one file, each built with its own."""
    compute = [n for n in r.component.nodes if is_compute(n, gm)]
    if r.component.level != KERNEL or len(compute) != 1 or compute[0].op == "call_module":
        return {}
    node = compute[0]
    op = op_name(node, gm)
    found = ops.value_arguments(node, op)
    if any(name in attrs.values() for _, name, _ in found):
        return {}  # a weight of that name: the number stays written out
    if _floating_in_and_out(node):
        # x * 2 and x * 0.5 are one workload: with a floating tensor in and
        # no integer tensor out, an int computes as the float it equals
        found = [(key, name, float(v) if type(v) is int else v) for key, name, v in found]
    r.settings = found
    return {node: {key: Expression(f"self.{name}") for key, name, _ in found}} if found else {}


def _floating_in_and_out(node):
    """Whether the first tensor `node` reads is floating point or complex,
    and what it makes is too, or a mask (x > 0): not an integer tensor
    (torch.full_like(x, 3, dtype=torch.int64)), nor a tensor whose dtype
    follows the number (torch.full, which reads no tensor)."""
    read = next((leaves[0] for a in node.all_input_nodes
                 if (leaves := trace.tensor_leaves(a.meta.get("value", {})))), None)
    made = trace.tensor_leaves(node.meta.get("value", {}))
    return (read is not None and read["dtype"].startswith(ops.FLOATING_DTYPES)
            and bool(made) and all(t["dtype"].startswith(ops.FLOATING_DTYPES + ("bool",)) for t in made))


def _anonymous(text, loose_names):
    """A workload's text with the names of the weights it holds as loose
    tensors written by position: `x * self.gamma_1` and `x * self.gamma_2`
    are one workload (shared/SPEC.md §5), whatever the model called them."""
    for i, name in enumerate(loose_names):
        text = re.sub(rf"(?<![\w.])self\.{re.escape(name)}\b", f"self._w{i}", text)
        text = text.replace(f"({name!r},", f"('_w{i}',").replace(f"# {name}:", f"# _w{i}:")
    return text


def _functional_workload(component, gm):
    """One op with no weights, written as a torch.nn module or as a
    function, as the function's every argument: nn.ReLU(inplace=True) and
    F.relu(x, inplace=True), or nn.Sigmoid(), torch.sigmoid(x) and
    x.sigmoid(), compute alike and are one workload, one file. None where
    the op reads a weight or torch.nn.functional has no function of its
    name."""
    if len(component.nodes) != 1:  # a get_attr node beside the op is a weight it reads
        return None
    node = component.nodes[0]
    op = op_name(node, gm)
    fn = getattr(F, op, None)
    try:
        signature = inspect.signature(fn) if callable(fn) else None
    except (TypeError, ValueError):
        signature = None
    params = list(signature.parameters.values()) if signature else []
    if not params:
        return None
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        if not modsrc.is_torch_nn(type(module)) or module._parameters or module._buffers or module._modules:
            return None
        # a module's training flag counts where the function takes one (F.dropout)
        takes = {p.name for p in params[1:]}
        held = {k: v for k, v in vars(module).items()
                if not k.startswith("_") and (k != "training" or k in takes)}
        settings = {p.name: held.get(p.name, p.default) for p in params[1:]}
        if set(held) - set(settings) or any(v is inspect.Parameter.empty for v in settings.values()):
            return None  # a setting the function does not take (nn.Upsample's recompute_scale_factor)
    else:
        operands = [a for a in list(node.args) + list(node.kwargs.values()) if isinstance(a, fx.Node)]
        if len(operands) != 1 or node.args[:1] != (operands[0],):
            return None  # not a one-input function of its first argument
        try:
            bound = signature.bind(*node.args, **node.kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        settings = dict(list(bound.arguments.items())[1:])
    dtypes = [t["dtype"] for n in node.all_input_nodes + [node]
              for t in trace.tensor_leaves(n.meta.get("value", {}))]
    under = f" under {autocast.header(autocast.of(node))}" if autocast.of(node) else ""
    return f"F.{op}({sorted((k, repr(v)) for k, v in settings.items())}) -> {dtypes}{under}"


def _fetch_attr(gm, target):
    value = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _indent(lines, depth):
    pad = " " * (4 * depth)
    return "\n".join(pad + l if l else "" for l in "\n".join(lines).split("\n"))


def _module_source(init_lines, args, body_lines, result, input_exprs, out_shapes, cls="Model", settings=()):
    """`settings`: (name, number) the class takes as constructor arguments,
    typed, with the given numbers in get_init_inputs()."""
    init = _indent(init_lines or ["pass"], 2) if init_lines else ""
    params = "".join(f", {name}: {type(value).__name__}" for name, value in settings)
    head = f"class {cls}(nn.Module):\n    def __init__(self{params}):\n        super().__init__()\n"
    if init:
        head += init + "\n"
    fwd = f"\n    def forward(self{', ' if args else ''}{args}):\n"
    fwd += _indent(body_lines + [f"return {result}"], 2) + "\n"
    inputs = ", ".join(input_exprs)
    init_inputs = ", ".join(literal(value, Names()) for _, value in settings)
    tail = f"\n\ndef get_inputs():\n    return [{inputs}]\n\n\ndef get_init_inputs():\n    return [{init_inputs}]\n"
    return head + fwd + tail + contract(out_shapes)


def file_header(title, rendered_list, level, source, python, children=(), extra=()):
    first = rendered_list[0]
    parents = []
    for r in rendered_list:
        p = r.parent.stem if r.parent else "none (the model itself)"
        if p not in parents:
            parents.append(p)
    lines = [
        f"Component: {title}",
        f"Source: {source}",
        f"Abstraction Level: {LEVEL_NAMES[level]} (level {level})",
        f"Parent: {', '.join(parents[:8])}{f' ... ({len(parents)} in all)' if len(parents) > 8 else ''}",
        f"Instances in the model: {len(rendered_list)}",
    ]
    if children:
        lines.append(f"Children: {', '.join(children)}")
    lines.append(f"Operations: {', '.join(first.op_list)}")
    paths = [r.component.label for r in rendered_list]
    lines.append(f"Model paths: {', '.join(paths[:8])}{' ...' if len(paths) > 8 else ''}")
    lines += ["", "Input Shapes:"] + (_describe_lines(first.inputs, first.names) or ["  (none)"])
    lines += ["", "Output Shapes:"] + (_describe_lines(first.outputs, first.names) or ["  (none)"])
    if any(first.free_places.get(n) for n in first.outputs):
        lines += ["  (-1 in get_expected_output_shape(): a length the values give, as how many",
                  "  boxes nms keeps, or how many steps a decoder runs until each sequence ends;",
                  "  the model's own inputs gave the one above)"]
    shapes = instance_input_shapes(rendered_list)
    if len(shapes) > 1:
        lines += ["", "Input shapes of other instances (get_inputs() holds the first):"]
        lines += [f"  - {', '.join(str(s) for s in other)}" for other in shapes[1:]]
    lines += ["", "Weight Shapes:"] + ([f"  - {k}: {v}" for k, v in first.weight_shapes.items()]
                                       or ["  (none)"])
    if first.settings:
        lines += ["", "Constructor arguments (numbers it computes with; each instance is built",
                  "with its own, and get_init_inputs() holds the first instance's):"]
        lines += [f"  - {name}: {shown}" for name, shown in settings_values(rendered_list)]
    lines += list(extra)
    lines += ["", f"Run: {python} {title}.py   (prints PASS or FAIL; exit code 0 or 1)"]
    return '"""\n' + "\n".join(lines) + '\n"""\n'


def settings_values(rendered_list):
    """[(name, its instances' distinct values as written, 12 at most)] of
    the constructor arguments a file takes."""
    shown = []
    for i, (_, name, _) in enumerate(rendered_list[0].settings):
        values = list(dict.fromkeys(literal(r.settings[i][2], Names()) for r in rendered_list))
        more = f", ... ({len(values)} values)" if len(values) > 12 else ""
        shown.append((name, ", ".join(values[:12]) + more))
    return shown


def component_file(title, rendered_list, level, source, python, note=()):
    first = rendered_list[0]
    children = []
    for r in rendered_list[0].children:
        if r.stem not in children:
            children.append(r.stem)
    header = file_header(title, rendered_list, level, source, python, children, note)
    block = imports(python, "\n".join([first.body, *first.extra_sources]))
    # the imports the classes it copies or imports need (import torchvision)
    # join the import block, as a group of their own ...
    theirs = _merged_imports(first.extra_imports)
    # ... but a __future__ import (annotations) must come first, or the file does not compile
    future = [l for l in theirs if l.startswith("from __future__ ")]
    theirs = [l for l in theirs if l not in future]
    if theirs:
        block += "\n\n" + "\n".join(theirs)
    if future:
        block = "\n".join(future) + "\n\n" + block
    sources = first.extra_sources
    extra = "\n\n" + "\n\n\n".join(sources) + "\n" if sources else ""
    return header + "\n" + block + "\n" + extra + "\n\n" + first.body


def _merged_imports(lines):
    """Import lines, one `from` line per module: the classes of one library
    module that a file imports (FrozenBatchNorm2d and Permute of
    torchvision.ops.misc) are one line."""
    names = {}  # a `from` line's module, or any other line as it is -> the names it imports
    for line in lines:
        match = re.fullmatch(r"from ([\w.]+) import ([\w, ]+)", line)
        key = match.group(1) if match else line
        taken = names.setdefault(key, [])
        if match:
            taken += [n for n in match.group(2).split(", ") if n not in taken]
    return [f"from {key} import {', '.join(taken)}" if taken else key for key, taken in names.items()]


# ---- refactored parents ---------------------------------------------------

def _units(parent, gm):
    """The parent's forward as units in dependency order: children and inline
    nodes. Parameters (get_attr nodes and views of them) go with the
    children that read them: the parent owns none."""
    owner = {}
    for child in parent.children:
        for n in child.component.nodes:
            if not is_parameter(n, gm):
                owner[n] = child
    units, seen = [], set()
    for n in parent.component.nodes:
        if is_parameter(n, gm):
            continue
        unit = owner.get(n, n)
        if id(unit) not in seen:
            seen.add(id(unit))
            units.append(unit)

    def deps(unit):
        nodes = unit.component.nodes if isinstance(unit, Rendered) else [unit]
        found = set()
        for n in nodes:
            for a in n.all_input_nodes:
                u = owner.get(a, a)
                if u is not unit and (isinstance(u, Rendered) or u in parent_nodes):
                    found.add(id(u))
        return found

    parent_nodes = set(n for n in parent.component.nodes if not is_parameter(n, gm))
    ordered, done = [], set()
    pending = list(units)
    while pending:
        for i, unit in enumerate(pending):
            if deps(unit) <= done:
                ordered.append(unit)
                done.add(id(unit))
                pending.pop(i)
                break
        else:
            raise CodegenError("children of a component depend on each other in a cycle")
    return ordered


def child_attr_names(parent, gm):
    names, used = {}, set()
    prefix = _common_prefix([r.component.label for r in parent.children
                             if r.component.kind in ("layer", "stage")])
    for r in parent.children:
        c = r.component
        modules = [n.target for n in c.nodes if n.op == "call_module"]
        if c.kind in ("layer", "stage"):
            base = c.label
            if prefix and base.startswith(prefix + "."):
                base = base[len(prefix) + 1:]
                if base[0].isdigit():
                    # an index in a ModuleList (blocks.0): named with the list's
                    # name, and the indices after it (stages.1.0: stages_1_0)
                    parts = prefix.split(".")
                    named = [i for i, part in enumerate(parts) if not part.isdigit()]
                    if named:
                        base = ".".join(parts[named[-1]:] + [base])
            base = naming.identifier(base.replace("[", "_stage"))
        elif modules:
            base = naming.identifier(_modules_name(modules))
            if c.kind == "fusion" and len(modules) == 1:
                base = naming.identifier(f"{modules[0]}_{'_'.join(r.op_list[1:3])}")
        else:
            # named by its op, not by a view of its weight it reads first
            # (`to`) nor by a read of values it takes (`item`)
            base = naming.identifier(next(n.name for n in c.nodes if is_compute(n, gm)))
        if base[0].isdigit() or base.startswith("m_"):
            base = naming.identifier(f"{r.op_list[0]}_{base}")
        names[id(r)] = _first_free(_attr_safe(base), used)
    return names


def _modules_name(modules):
    """A child's name from the modules it runs (a fusion: 5 at most): their
    own names (conv1_bn1_relu), or where those are indices in a Sequential,
    the Sequential's name with them (downsample.0, downsample.1:
    downsample_0_1)."""
    if len(modules) == 1:
        return modules[0]
    common = _common_prefix(modules)
    tails = [m[len(common) + 1:] if common else m for m in modules[:5]]
    if common and all(t.isdigit() for t in tails):
        named = [p for p in common.split(".") if not p.isdigit()]
        return "_".join(named[-1:] + tails)
    return "_".join(t.split(".")[-1] for t in tails)


def _common_prefix(labels):
    if not labels:
        return ""
    split = [l.split(".") for l in labels]
    common = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if len(labels) == 1:
        common = split[0][:-1]
    return ".".join(common)


def forward_lines(parent, gm, child_attrs, names, keep):
    entries = []
    for unit in _units(parent, gm):
        if isinstance(unit, Rendered):
            outs = [names.of(n) for n in unit.outputs if n.users]
            args = [names.of(n) for n in unit.inputs]
            reads = [a for a in dict.fromkeys(args) if not a.startswith("self.")]
            if unit.takes_device and names.device:
                args.append(names.device)
                if names.device_variable and names.device_variable not in reads:
                    reads.append(names.device_variable)
            call = f"self.{child_attrs[id(unit)]}({', '.join(args)})"
            # a child kept only for what it changes in place (x.mul_(2)): nothing reads its result
            entries.append((f"{', '.join(outs)} = {call}" if outs else call, outs, reads))
        else:
            entries.append((node_line(unit, names), [names.of(unit)], node_uses(unit, names)))
    return with_frees(entries, keep)


def weight_map(parent, child_attrs, parent_keys):
    """parent's state key -> the refactored key(s) the value goes to."""
    mapping = {key: [] for key in parent_keys.values()}
    for r in parent.children:
        for root_key, local in r.local_keys.items():
            mapping[parent_keys[root_key]].append(f"{child_attrs[id(r)]}.{local}")
    return {k: (v[0] if len(v) == 1 else (v or None)) for k, v in mapping.items()}


def refactored_source(parent, gm, parent_names, parent_keys, step, python, input_exprs,
                      out_shapes, result, args, class_name="RefactoredModel", import_dir="children"):
    """(source, its children's import lines, weight map) of a parent
    rewritten to call only its children."""
    child_attrs = child_attr_names(parent, gm)
    child_imports, seen = [], set()
    for r in parent.children:
        if r.stem not in seen:
            seen.add(r.stem)
            module = f"{import_dir}.{r.stem}" if import_dir else r.stem
            child_imports.append(f"from {module} import Model as {naming.class_alias(r.stem)}")
    init_lines = [f"self.{child_attrs[id(r)]} = {naming.class_alias(r.stem)}({_settings_source(r, parent)})"
                  for r in parent.children]
    # every name the returned expression reads stays alive until the return
    body = forward_lines(parent, gm, child_attrs, parent_names, keep=set(re.findall(r"\w+", result)))
    source = _module_source(init_lines, args, body, result, input_exprs, out_shapes, cls=class_name,
                            settings=[(name, value) for _, name, value in parent.settings])
    source = source.replace("model = Model(", f"model = {class_name}(")
    return source, child_imports, weight_map(parent, child_attrs, parent_keys)


def _settings_source(r, parent=None):
    """A child's constructor arguments, as its parent writes them: the
    number, or the parent's own argument where the parent takes the number
    its module is built with (a block's drop rate, passed to its fusion)."""
    passed = {key: name for key, name, _ in parent.settings} if parent is not None else {}
    return ", ".join(f"{name}={passed.get(key) or literal(value, Names())}" for key, name, value in r.settings)


def json_text(value):
    return json.dumps(value, indent=2) + "\n"


COMPOSITION = '''"""
Composition test for {name}: the model rebuilt from its level-0 kernels only.

ComposedModel holds one instance of a level_0_kernel/ file per kernel in the
model ({instances} instances of {unique} unique kernels); its forward calls
them in the model's order and keeps only data plumbing inline. It runs on the
original's own weight tensors, placed by WEIGHT_MAP, and both models run on
the original's inputs for each of SEEDS: the last seed the steps were checked
on (add seeds to compare on more inputs).

Run: {python} composition_test.py   (prints PASS or FAIL; exit code 0 or 1)
"""

{imports}

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "level_0_kernel"))

{kernel_imports}

ORIGINAL = os.path.join(HERE, {original!r})
SEEDS = {seeds}
FORWARD_SEED = {forward_seed}  # every forward's, whatever the seed of its inputs (seed_forward)
RTOL = {rtol}
ATOL = {atol}
CHUNK = 1 << 24  # elements compared at a time
WEIGHT_MAP = {weight_map}
{written}

{body}

def load_original():
    spec = importlib.util.spec_from_file_location("original_model", ORIGINAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def state(model):
    """Parameters, buffers and tensors kept as plain attributes (an RNN's state){held_doc}."""
    found = dict(model.named_parameters())
    found.update(model.named_buffers())
    for path, module in model.named_modules():
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter):
                found.setdefault(f"{{path}}.{{name}}" if path else name, value)
{held}    return found
{held_walk}

{snapshot}

@contextlib.contextmanager
def weights_not_drawn():
    """torch.nn.init's functions do nothing: the composed model runs on the
    original's weights (share_weights), so drawing its own is wasted time and
    a second copy of the weights in memory."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")
             and callable(getattr(nn.init, n))]
    saved = {{n: getattr(nn.init, n) for n in names}}
    for n in names:
        setattr(nn.init, n, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(nn.init, n, fn)


def seed_forward():
    """torch's, Python's and numpy's generators from FORWARD_SEED, as every
    run of the steps: what the model draws and reads into Python (how many
    spans HuBERT's pretraining masks) the kernels hold as the values it was."""
    torch.manual_seed(FORWARD_SEED)
    random.seed(FORWARD_SEED)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(FORWARD_SEED)


def fast_paths_off():
    """torch's fused inference kernels (nn.TransformerEncoderLayer's,
    nn.MultiheadAttention's) round differently from the ops the kernels
    spell out; they run only when no __torch_function__ mode is active, so
    both models run under one that changes nothing else."""
    mode = getattr(torch.overrides, "TorchFunctionMode", None)
    if mode is None:
        return contextlib.nullcontext()

    class OpByOp(mode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {{}}))
    return OpByOp()


def share_weights(original, composed):
    """Puts the original's own tensors in the composed model where WEIGHT_MAP
    says: one copy of the weights, as in the step checks."""
    source = state(original)
    target = state(composed)
    for key, destinations in WEIGHT_MAP.items():
        if destinations is None:
            continue
        for destination in [destinations] if isinstance(destinations, str) else destinations:
            value, slot = source[key], target[destination]
            path, _, attr = destination.rpartition(".")
            module = composed.get_submodule(path) if path else composed
            # a buffer a forward registers again (a rotary cache grown to a
            # longer input) may have another shape than a fresh build's
            if (value.shape != slot.shape and attr in module._parameters) or value.dtype != slot.dtype:
                raise ValueError(f"{{key}} {{tuple(value.shape)}} {{value.dtype}} does not fit "
                                 f"{{destination}} {{tuple(slot.shape)}} {{slot.dtype}}")
            if attr in module._parameters:
                if not isinstance(value, nn.Parameter):
                    value = nn.Parameter(value, requires_grad=False)
                setattr(module, attr, value)  # through setattr: an RNN updates its weight list
            elif attr in module._buffers:
                module._buffers[attr] = value.detach()
            else:
                setattr(module, attr, value)


''' + _TENSORS + '''{numbers}

def versions(value):
    """Version counters: one moves when its tensor is changed in place."""
    return [t._version for t in _tensors(value)]


def _storage(t):
{sparse_storage}    return (t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()).data_ptr()


def own(outputs, inputs):
    """`outputs`, copied where they share memory with an input, which the
    composed model may change in place."""
    held = {{_storage(t) for t in _tensors(inputs) if t.numel()}}
    return [t.clone() if {is_tensor}t.numel() and _storage(t) in held else t for t in outputs]


def compare(e, g, rtol, atol):
    """(max |e - g|, close) for two outputs of one shape, a piece at a time so
    that checking a multi-GB output costs little memory; NaN against NaN and
    an infinity against itself count as equal. A half-precision difference
    is taken in float64, where it is exact."""
{sparse}    if not (e.is_floating_point() or e.is_complex()):
        return (0.0, True) if torch.equal(e, g) else (float("inf"), False)
    low = e.dtype in (torch.float16, torch.bfloat16)
    a_all, b_all = e.reshape(-1), g.reshape(-1)
    max_diff, close = 0.0, True
    for start in range(0, a_all.numel(), CHUNK):
        a, b = a_all[start:start + CHUNK], b_all[start:start + CHUNK]
        if torch.equal(a, b):
            continue
        if low:
            a, b = a.double(), b.double()
        if not torch.equal(a.isnan(), b.isnan()):
            return float("inf"), False
        diff = (a - b).abs()
        diff.masked_fill_(diff.isnan(), 0)
        max_diff = max(max_diff, diff.max().item())
        # torch.allclose's test on the difference already taken (allclose
        # makes five temporaries of its own); NaN against NaN has bound 0.
        bound = b.abs().mul_(rtol).add_(atol).masked_fill_(b.isnan(), 0)
        close = close and max_diff < float("inf") and bool(diff.le(bound).all())
    return max_diff, close


def compare_outputs(expected, got, rtol, atol):
    """(max diff, pass) over every output {what}: of one shape and dtype each."""
    if len(expected) != len(got) or any(e.shape != g.shape or e.dtype != g.dtype for e, g in zip(expected, got)):
        return float("inf"), False
    diff, ok = 0.0, True
    for e, g in zip(expected, got):
        d, close = compare(e, g, rtol, atol)
        diff, ok = max(diff, d), ok and close
    return diff, ok


def run_composition(reference=None, original=None, inputs=None):
    """Compare on each seed. What the caller already has it may pass:
    `reference` ({{seed: output}}), the original's outputs on these same
    inputs; `original`, the original model as built here (seed 0); `inputs`
    ({{seed: (args, kwargs)}}), some seeds' inputs. The seeds with inputs go
    first, then those with a reference, and each input and output is taken
    out when used and let go after its trial: a trial that draws inputs or
    runs the original holds no others."""
    reference = {{}} if reference is None else reference
    inputs = {{}} if inputs is None else inputs
    original_module = load_original()
    if original is None:
        torch.manual_seed(0)
        original = original_module.Model(*original_module.get_init_inputs()).eval()
{materialize}    with weights_not_drawn():
        composed = ComposedModel().eval()
    share_weights(original, composed)
    restore = snapshot(original{written_arg})
{snapshot_composed}    get_kwargs = getattr(original_module, "get_input_kwargs", dict)

    def draw(seed):
        torch.manual_seed(seed)
        return original_module.get_inputs(), get_kwargs()

    trials, status, max_diff = [], "PASS", 0.0
    for seed in sorted(SEEDS, key=lambda s: (s not in inputs, s not in reference)):
        with torch.no_grad(), fast_paths_off():
            args, kwargs = inputs.pop(seed) if seed in inputs else draw(seed)
            if seed in reference:
                expected = {outputs}(reference.pop(seed))
            else:
                restore()
                before = versions((args, kwargs))
                seed_forward()
                expected = own({outputs}(original(*args, **kwargs)), (args, kwargs))
                if versions((args, kwargs)) != before:  # the original changed an input in place
                    args, kwargs = draw(seed)
{restore_written}            seed_forward()
            got = {outputs}(composed(*args, **kwargs))
            del args, kwargs
        rtol, atol = RTOL, ATOL
        if rtol is None:
            low = any(e.dtype in (torch.float16, torch.bfloat16) for e in expected)
            rtol, atol = (1e-3, 1e-3) if low else (1e-5, 1e-6)
        diff, ok = compare_outputs(expected, got, rtol, atol)
        del expected, got
        trials.append({{"seed": seed, "max_diff": diff, "pass": ok}})
        max_diff = max(max_diff, diff)
        if not ok:
            status = "FAIL"
    trials.sort(key=lambda t: SEEDS.index(t["seed"]))
    return {{"status": status, "max_diff": max_diff, "trials": trials, "rtol": rtol, "atol": atol}}


if __name__ == "__main__":
    result = run_composition()
    for t in result["trials"]:
        print(f"seed {{t['seed']}}: max diff {{t['max_diff']:.3e}} {{'PASS' if t['pass'] else 'FAIL'}}")
    print(result["status"])
    sys.exit(0 if result["status"] == "PASS" else 1)
'''


# Only where the weight map reads a tensor that the original keeps in a list,
# tuple, dict or plain object attribute (trace.held_in_containers).
_HELD_STATE = """\
            elif (isinstance(value, (list, tuple, dict)) or holds_attributes(value)) \\
                    and name not in ("_parameters", "_buffers", "_modules"):
                held(value, f"{path}.{name}" if path else name, found, 1)
"""

# ... and the walk it calls, through lists in lists, dicts in dicts and plain
# objects' attributes (a twin of trace.holds_attributes), as
# trace.containers_held names them, as deep (trace.CONTAINER_DEPTH).
_HELD_WALK = """


def holds_attributes(value):
    \"\"\"An object of a plain class, whose attributes may hold tensors.\"\"\"
    return (hasattr(value, "__dict__") and type(value).__module__ != "builtins"
            and not isinstance(value, (nn.Module, torch.Tensor, type, types.ModuleType, types.FunctionType,
                                       types.MethodType, functools.partial)))


def held(value, name, found, depth):
    \"\"\"Tensors in a container or plain object attribute, named by its
    indices, keys and attributes.\"\"\"
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items() if isinstance(k, str) and k.isidentifier()]
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        items = [(k, v) for k, v in vars(value).items() if k.isidentifier()]
    for key, item in items:
        if isinstance(item, torch.Tensor) and not isinstance(item, nn.Parameter):
            found.setdefault(f"{{name}}.{{key}}", item)
        elif (isinstance(item, (list, tuple, dict)) or holds_attributes(item)) and depth < {depth}:
            held(item, f"{{name}}.{{key}}", found, depth + 1)
"""


# Only in a composition whose model returns Python numbers (a confidence read
# with .item()): each is compared as a tensor, a float as float64, which
# holds it exactly, so an int where a float was is a dtype that differs.
_OUTPUT_NUMBERS = '''

def _outputs(value):
    """The tensors of an output and its Python numbers, as tensors, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (bool, int, float)):
        return [torch.tensor(value, dtype=torch.float64 if isinstance(value, float) else None)]
{records}    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _outputs(v)]
    return []
'''


# Only in a composition whose model returns a sparse tensor.
_SPARSE_OUTPUTS = (
    '    if e.is_sparse or g.is_sparse:  # by their dense values: two stored orders of one matrix are equal\n'
    '        if e.layout != g.layout:\n'
    '            return float("inf"), False\n'
    '        e, g = e.to_dense(), g.to_dense()\n')


# Only for a model with lazy modules (loader.ModelFile.build does the same)
_MATERIALIZE = """\
        # its lazy modules (nn.LazyLinear) take their weights' shapes from a first forward
        torch.manual_seed(0)
        with torch.no_grad():
            original(*original_module.get_inputs(), **getattr(original_module, "get_input_kwargs", dict)())
"""


# Only for a model whose forward writes into its own buffers (written.py):
# both models share them, and each run starts from their values as built.
_WRITTEN = """\
# the tensors the original's forward writes into and the numbers it changes
# (a position in a cache): both models start from them as built
WRITTEN = {names}
"""
_SNAPSHOT = """\
def snapshot(model):
    \"\"\"Puts plain tensor attributes back, so each trial starts from one state.\"\"\"
    saved = [(module, name, value) for module in model.modules()
             for name, value in list(vars(module).items())
             if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter)]

    def restore():
        for module, name, value in saved:
            setattr(module, name, value)
    return restore
"""
_SNAPSHOT_WRITTEN = """\
def snapshot(model, written=()):
    \"\"\"Puts plain tensor attributes and numbers back (a kernel's own count
    of its calls), and the values of the tensors named in `written`, so each
    trial starts from one state.\"\"\"
    saved = [(module, name, value) for module in model.modules()
             for name, value in list(vars(module).items())
             if isinstance(value, (torch.Tensor, int, float)) and not isinstance(value, nn.Parameter)]
    values = []
    for name in written:
        path, _, attr = name.rpartition(".")
        value = getattr(model.get_submodule(path), attr)
        if isinstance(value, torch.Tensor):
            values.append((value, value.clone()))

    def restore():
        for module, name, value in saved:
            setattr(module, name, value)
        with torch.no_grad():
            for t, value in values:
                t.copy_(value)
    return restore
"""
_RESTORE_WRITTEN = """\
                restore()  # what the original's run wrote, where the composed model reads it
            restore_composed()
"""


def composition_source(name, instances, unique, python, kernel_imports, body, wmap, original,
                       num_trials, rtol, atol, out_shapes, held=False, sparse_inputs=False, lazy=False,
                       written=()):
    """The composition test; `held`: whether WEIGHT_MAP reads tensors the
    original keeps in containers; `sparse_inputs`: whether the model takes a
    sparse tensor; `lazy`: whether it has lazy modules; `written`: the
    tensors its forward writes into in place and the numbers it changes
    (capture: notes["state_written"])."""
    block = imports(python, body, ("contextlib", "importlib.util", "os", "random")
                    + (("functools", "types") if held else ()))
    records = _RECORD_FIELDS if out_shapes.records else ""
    sparse_storage = "    if t.is_sparse:  # where its values are\n        t = t._values()\n"
    return COMPOSITION.format(
        held=_HELD_STATE if held else "",
        held_walk=_HELD_WALK.format(depth=trace.CONTAINER_DEPTH) if held else "",
        held_doc=", and tensors in list, tuple, dict or plain object attributes (anchors)" if held else "",
        materialize=_MATERIALIZE if lazy else "",
        written=_WRITTEN.format(names=_list_source(written)) if written else "",
        snapshot=_SNAPSHOT_WRITTEN if written else _SNAPSHOT,
        written_arg=", WRITTEN" if written else "",
        snapshot_composed="    restore_composed = snapshot(composed)\n" if written else "",
        restore_written=_RESTORE_WRITTEN if written else "",
        name=name, instances=instances, unique=unique, python=python, imports=block,
        records=records,
        numbers=_OUTPUT_NUMBERS.format(records=records) if out_shapes.numbers else "",
        outputs="_outputs" if out_shapes.numbers else "_tensors",
        is_tensor="isinstance(t, torch.Tensor) and " if out_shapes.numbers else "",
        what="tensor and Python number" if out_shapes.numbers else "tensor",
        sparse=_SPARSE_OUTPUTS if out_shapes.sparse else "",
        sparse_storage=sparse_storage if out_shapes.sparse or sparse_inputs else "",
        kernel_imports="\n".join(kernel_imports), original=original,
        seeds=[FIRST_SEED + num_trials - 1], forward_seed=FIRST_SEED, rtol=rtol, atol=atol,
        weight_map=_dict_source(wmap), body=body.rstrip() + "\n")


def _list_source(names):
    one_line = repr(list(names))
    return one_line if len(one_line) <= 100 else "[\n" + "".join(f"    {n!r},\n" for n in names) + "]"


def _dict_source(mapping):
    return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in mapping.items()) + "}"
