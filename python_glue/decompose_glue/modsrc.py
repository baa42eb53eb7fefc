"""Source that rebuilds a leaf module: its constructor call and class code.

torch.nn modules are rebuilt from the arguments the user's code passed
(recorded while the model was built) and, failing that, from `extra_repr`,
which for torch.nn's own modules is written as constructor arguments. The
call is checked by running it: a rebuilt module must have the same class,
repr and parameter shapes, or the generated file would test another
workload. A custom leaf module (an RMSNorm) is rebuilt from its own class
source, with the imports and module-level helpers of the file it came from.
"""

import ast
import collections
import dataclasses
import inspect
import keyword
import sys
import textwrap

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as parametrize
import torch.nn.utils.prune as prune

from . import ops, trace
from .loader import weights_left_uninitialised


class SourceError(Exception):
    pass


# Source a generated file takes in: the import lines it needs (a tuple),
# which join the file's import block, and its definitions (class and helper
# code; "" for a class imported from a library).
Code = collections.namedtuple("Code", "imports text")


def _is_literal(value):
    if isinstance(value, torch.dtype):
        return True
    if isinstance(value, (tuple, list)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):  # a config's id2label has int keys
        return all(isinstance(k, (str, int)) and _is_literal(v) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


def _arg_text(value):
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_arg_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_arg_text(v) for v in value) + "]"
    return repr(value)


def _call_text(callee, args, kwargs):
    parts = [_arg_text(a) for a in args] + [f"{k}={_arg_text(v)}" for k, v in kwargs.items()]
    return f"{callee}({', '.join(parts)})"


def _config(value):
    """A config object that a file can rebuild from its fields (transformers'
    PretrainedConfig: to_diff_dict and from_dict, its class reachable from
    its package): (the call that rebuilds it, the name of the constant of
    its fields, that constant's source), or None. A library's leaf module built from a config (ProphetNet's
    positional embeddings, LLaMA's rotary embedding) takes one."""
    cls = type(value)
    if not (callable(getattr(value, "to_diff_dict", None)) and callable(getattr(cls, "from_dict", None))):
        return None
    package = cls.__module__.split(".")[0]
    fields = value.to_diff_dict()
    if getattr(sys.modules.get(package), cls.__name__, None) is not cls or not _is_literal(fields):
        return None
    name = ops.snake(cls.__name__).upper()
    return f"{package}.{cls.__name__}.from_dict({name})", name, f"{name} = {dict_literal(fields)}"


def dict_literal(fields):
    """A dict as source a person reads: one field a line, in its order."""
    if not fields:
        return "{}"
    return "{\n" + "".join(f"    {key!r}: {_arg_text(value)},\n" for key, value in fields.items()) + "}"


def _record(value):
    """A dataclass instance (research code's ModelArgs) as the call that
    builds it again: (text, constants, classes it names), or None where a
    field is not a plain value, a config or such a record."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return None
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
    found = _arguments((), fields)
    if found is None:
        return None
    text, constants, classes = found
    return f"{type(value).__name__}({text})", constants, [type(value), *classes]


def _arguments(args, kwargs):
    """(source of a recorded call's arguments, {name: source} of the
    constants they name, classes they build), or None where one is neither
    a plain value, a config nor a record."""
    texts, constants, classes = [], {}, []
    for key, value in [(None, a) for a in args] + list(kwargs.items()):
        if _is_literal(value):
            text = _arg_text(value)
        elif (config := _config(value)) is not None:
            text, name, constant = config
            constants[name] = constant
        elif (record := _record(value)) is not None:
            text, more, built = record
            constants.update(more)
            classes += built
        else:
            return None
        texts.append(text if key is None else f"{key}={text}")
    return ", ".join(texts), constants, classes


def _same_module(a, b):
    # torch makes a new class for each parametrized instance: its base and its
    # repr (which lists the parametrizations) tell it
    if unparametrized_class(a) is not unparametrized_class(b) or repr(a) != repr(b):
        return False
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(sa[k].shape == sb[k].shape and sa[k].dtype == sb[k].dtype
                                        for k in sa)


def _converted_dtype(module):
    """The one floating dtype of a module's weights where it is not torch's
    default: a model converted after it was built (model.double()) holds
    weights its constructor's arguments do not say."""
    found = {t.dtype for t in list(module.parameters()) + list(module.buffers()) if t.is_floating_point()}
    dtype = found.pop() if len(found) == 1 else None
    return dtype if dtype is not None and dtype != torch.get_default_dtype() else None


def _converted_layout(module):
    """"torch.channels_last" (or "torch.channels_last_3d") where a module's
    conv weights were moved to that layout after it was built
    (model.to(memory_format=...)), which its constructor's arguments do not
    say: a kernel on NHWC weights is another workload than on NCHW ones."""
    found = {trace.memory_format(p) for p in module.parameters() if p.dim() in (4, 5)}
    layout = found.pop() if len(found) == 1 else None
    return f"torch.{layout}" if layout else None


def _laid_out(text, module):
    layout = _converted_layout(module)
    return f"{text}.to(memory_format={layout})" if layout else text


def is_torch_nn(cls):
    return cls.__module__.startswith("torch.nn") and getattr(nn, cls.__name__, None) is cls


def _recorded(module, records):
    """The arguments `module` was built with. A module copied with deepcopy
    (nn.TransformerEncoder clones its layer) never ran __init__: it was built
    like the recorded module of its class that it equals."""
    found = records.get(id(module))
    if found is None:
        text = repr(module)
        found = next((r for r in records.values() if type(r[2]) is type(module) and repr(r[2]) == text),
                     None)
    return found[:2] if found else None


def unparametrized_class(module):
    """A module's own class: torch.nn.utils.parametrize swaps a parametrized
    one's for a subclass it makes at run time (ParametrizedLinear)."""
    return type(module).__bases__[0] if parametrize.is_parametrized(module) else type(module)


# torch's own parametrizations a file rebuilds, by class name: the call
# that registers one again on the module built by `text`
_TORCH_PARAMETRIZATIONS = {
    "_WeightNorm": lambda text, name, p: f"nn.utils.parametrizations.weight_norm({text}, {name!r}, dim={p.dim})",
    "_SpectralNorm": lambda text, name, p: (f"nn.utils.parametrizations.spectral_norm({text}, {name!r}, "
                                            f"n_power_iterations={p.n_power_iterations}, eps={p.eps!r}, "
                                            f"dim={p.dim})"),
    # with trivialization (the default) it keeps a `base` buffer, state the
    # weight map carries like `original`
    "_Orthogonal": lambda text, name, p: (f"nn.utils.parametrizations.orthogonal({text}, {name!r}, "
                                          f"orthogonal_map={p.orthogonal_map.name!r}, "
                                          f"use_trivialization={hasattr(p, 'base')})"),
}


def torch_parametrizations_not_rebuilt(module):
    """The class names of torch's own parametrizations on `module` that no
    file rebuilds: one a later torch adds."""
    if not parametrize.is_parametrized(module):
        return []
    return [type(p).__name__ for chain in module.parametrizations.values() for p in chain
            if type(p).__module__.startswith("torch.") and type(p).__name__ not in _TORCH_PARAMETRIZATIONS]


def _parametrizations(module, text, records):
    """(the constructor call `text` with the module's parametrizations
    registered again, in their order, {name: source} of the constants they
    name, [source of the classes they build], {name: class} of the model's
    own parametrizations). torch 2.x's parametrizations.weight_norm and
    spectral_norm are called as such (each makes its own from the weight);
    the model's own parametrizations are rebuilt like any custom module. A
    step's check gives the file the model's `original` tensors."""
    constants, codes, own = {}, [], {}
    if not parametrize.is_parametrized(module):
        return text, constants, codes, own
    for name, chain in module.parametrizations.items():
        for p in chain:
            if type(p).__module__.startswith("torch."):
                rebuild = _TORCH_PARAMETRIZATIONS.get(type(p).__name__)
                if rebuild is None:
                    raise SourceError(f"cannot rebuild torch's {type(p).__name__} parametrization of "
                                      f"{unparametrized_class(module).__name__}.{name}")
                text = rebuild(text, name, p)
                continue
            call, more, built = constructor(p, records)
            constants.update(more)
            codes += [c for c in built if c not in codes]
            own[type(p).__name__] = type(p)
            text = f"nn.utils.parametrize.register_parametrization({text}, {name!r}, {call})"
    return text, constants, codes, own


def constructor(module, records):
    """(source of the constructor call, {name: source} of the constants it
    names, [Code of the classes it builds])."""
    cls = unparametrized_class(module)
    recorded = _recorded(module, records)
    dtype = _converted_dtype(module)
    if is_torch_nn(cls):
        candidates = []
        if recorded and _is_literal(list(recorded[0])) and _is_literal(recorded[1]):
            # torch's own modules pass their factory defaults on (nn.Transformer's
            # nn.Linear(512, 2048, device=None, dtype=None)): they say nothing
            kwargs = {k: v for k, v in recorded[1].items()
                      if not (k in ("device", "dtype") and v is None)}
            candidates.append(_call_text(f"nn.{cls.__name__}", recorded[0], kwargs))
            if dtype is not None and "dtype" not in kwargs:
                candidates.append(_call_text(f"nn.{cls.__name__}", recorded[0], {**kwargs, "dtype": dtype}))
        candidates.append(f"nn.{cls.__name__}({module.extra_repr()})")
        if dtype is not None:
            candidates += [f"{text}.to({dtype})" for text in candidates]
        candidates = [_laid_out(_reparametrized(module, text), module) for text in candidates]
        for text in candidates:
            text, constants, codes, own = _parametrizations(module, text, records)
            try:
                # only its class, repr and shapes are compared: drawing its
                # weights would cost time and, for a 16384x16384 linear, 1 GB
                with weights_left_uninitialised():
                    rebuilt = eval(text, {"nn": nn, "torch": torch, "F": F, **own})
            except Exception:
                continue
            if _same_module(rebuilt, module):
                return text, constants, codes
        raise SourceError(f"cannot rebuild {cls.__name__} ({module.extra_repr()}) from its arguments")
    arguments = _arguments(*recorded) if recorded is not None else None
    if arguments is None:
        raise SourceError(f"cannot rebuild {cls.__name__}: its constructor arguments are not plain values")
    text, constants, classes = arguments
    call = _laid_out(f"{cls.__name__}({text})" + (f".to({dtype})" if dtype is not None else ""), module)
    call, more, codes, _ = _parametrizations(module, call, records)
    constants.update(more)
    return call, constants, codes + [c for c in classes_source(classes + [cls]) if c not in codes]


def computes_as(cls):
    """The torch.nn class whose code an instance of `cls` runs: `cls`, or
    the torch.nn class a subclass derives from where the subclass changes
    only how an instance is built (its own classes define __init__, static
    and class methods, and class attributes the torch.nn class does not
    read): torchvision's Conv3DSimple(in, out, midplanes) is an nn.Conv3d,
    whatever its midplanes. None for any other class, nn.Module's direct
    subclasses among them."""
    base = next((k for k in cls.__mro__ if k is not nn.Module and is_torch_nn(k)), None)
    if base is None:
        return None
    for klass in cls.__mro__[:cls.__mro__.index(base)]:
        for name, value in vars(klass).items():
            if name == "__init__" or isinstance(value, (staticmethod, classmethod)):
                continue
            if callable(value) or isinstance(value, property):
                return None
            if hasattr(base, name) and not (name.startswith("__") and name.endswith("__")):
                return None  # Python's own (__module__, copy's __slotnames__) are not read
    return base


def settings(module):
    """A torch.nn module as its class and every setting it holds, or None for
    other classes: two modules built with other spellings of one call
    (nn.Conv2d(16, 16, 3, padding=1) and nn.Conv2d(16, 16, 3, stride=1,
    padding=1)) compute the same and read the same here, and so do the
    instances of a subclass that only builds one (computes_as)."""
    cls = computes_as(type(module))
    if cls is None:
        return None
    held = sorted((k, repr(v)) for k, v in vars(module).items()
                  if not k.startswith("_") and k != "training")
    tensors = [(k, None if t is None else (tuple(t.shape), str(t.dtype)))
               for k, t in list(module._parameters.items()) + list(module._buffers.items())]
    children = [(k, settings(m) or type(m).__qualname__) for k, m in module._modules.items()]
    hooks = [type(h).__name__ for h in module._forward_pre_hooks.values()]
    return f"nn.{cls.__name__}({held}, tensors={tensors}, children={children}, pre_hooks={hooks})"


# What ast.literal_eval raises on an expression that is no plain value
_NOT_LITERAL = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)


def numbers_as_parameters(call, cls, prefix=""):
    """(`call` with its float arguments written as the names of the
    parameters they are given to, [(name, number)]): `StochasticDepth(p,
    'row')` and [('p', 0.055)]. A file built with such a call takes them as
    constructor arguments, so modules built alike but for a number (a drop
    rate per block, a scale) are one file. Only a call of the class itself
    (not a parametrization, weight norm or pruning wrapped around it) and
    numbers whose parameter has a name; (call, []) where none. `prefix`
    goes before each name (`stochastic_depth_p`, where the file has a `p`
    already)."""
    try:
        tree = ast.parse(call, mode="eval")
    except SyntaxError:
        return call, []
    node = tree.body
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "to"
           and isinstance(node.func.value, ast.Call)):
        node = node.func.value  # converted: nn.Linear(4, 4).to(torch.float16)
    if not isinstance(node, ast.Call) or ast.unparse(node.func) not in (cls.__name__, f"nn.{cls.__name__}"):
        return call, []
    names = parameter_names(cls)
    found = []

    def named(expr, name):
        try:
            value = ast.literal_eval(expr)
        except _NOT_LITERAL:
            return expr
        if type(value) is not float or not name or not name.isidentifier() or keyword.iskeyword(name) \
                or name in ("self", "nn", "torch", "F") or any(n == prefix + name for n, _ in found):
            return expr
        found.append((prefix + name, value))
        return ast.Name(id=prefix + name, ctx=ast.Load())

    node.args = [named(a, names[i] if i < len(names) else None) for i, a in enumerate(node.args)]
    for k in node.keywords:
        k.value = named(k.value, k.arg)
    return (ast.unparse(tree), found) if found else (call, [])


def parameter_names(cls):
    """The names of a module class's constructor parameters that take a
    value by position, in order."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def call_values(call):
    """(callee, [positional values], {keyword: value}) of a constructor call
    of plain values (`StochasticDepth(0.055, 'row')`), else None."""
    try:
        node = ast.parse(call or "", mode="eval").body
        if not isinstance(node, ast.Call):
            return None
        return (ast.unparse(node.func), [ast.literal_eval(a) for a in node.args],
                {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg})
    except _NOT_LITERAL:
        return None


def _reparametrized(module, text):
    """The rebuilt module normalised or pruned as the model's is, in the
    order its hooks were added (trace.reparametrizations): weight norm
    (wav2vec2's positional conv: weight_g and weight_v), spectral norm (GAN
    discriminators: weight_orig and the power iteration's u and v) and
    pruning (weight_orig times weight_mask, here a mask of ones). A step's
    check gives the file the model's own tensors for each."""
    for hook in trace.reparametrizations(module):
        if isinstance(hook, prune.BasePruningMethod):  # one method or a PruningContainer of them
            text = f"torch.nn.utils.prune.identity({text}, {hook._tensor_name!r})"
        elif type(hook).__name__ == "SpectralNorm":
            text = (f"nn.utils.spectral_norm({text}, name={hook.name!r}, "
                    f"n_power_iterations={hook.n_power_iterations}, eps={hook.eps!r}, dim={hook.dim})")
        else:  # WeightNorm
            text = f"nn.utils.weight_norm({text}, name={hook.name!r}, dim={hook.dim})"
    return text


def _top_level_definitions(tree):
    defs = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            defs[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = stmt
    return defs


def is_bundled(module):
    """Whether a module was imported from a Phase 0 wrapper's text (repo.py):
    a file of the user's folder, to copy from rather than import."""
    loader = getattr(getattr(module, "__spec__", None), "loader", None)
    return bool(getattr(loader, "decompose_bundle", False))


def imported_module(package, stmt):
    """The absolute name of the module an `import from` statement reads, in
    a module of `package`; None for a relative import beyond the top."""
    if not stmt.level:
        return stmt.module or ""
    parts = package.split(".") if package else []
    if stmt.level - 1 > len(parts):
        return None
    base = ".".join(parts[:len(parts) - (stmt.level - 1)])
    return ".".join(p for p in (base, stmt.module or "") if p)


# What every generated file imports already, in the spellings a file may use.
_HEADER_IMPORTS = {"import torch", "import torch.nn as nn", "import torch.nn.functional as F", "import math",
                   "from torch import nn", "from torch.nn import functional as F"}


class _Gathered:
    """Definitions collected across the bundled modules of a folder's model,
    each after those it uses, and the imports of other packages they need."""

    def __init__(self):
        self.imports, self.blocks = [], []
        self.done = {}  # name -> module it was taken from
        self.parsed = {}

    def parse(self, module):
        if module.__name__ not in self.parsed:
            text = module.__spec__.loader.get_source(module.__name__)
            tree = ast.parse(text)
            package = module.__name__ if module.__spec__.submodule_search_locations is not None \
                else module.__name__.rpartition(".")[0]
            imported = {}  # local name -> (bundled module name, its name there, or None for the module)
            external = []  # imports of other packages: statements a taken definition may need
            for stmt in tree.body:
                if isinstance(stmt, ast.ImportFrom):
                    source = imported_module(package, stmt)
                    if source is None:
                        continue
                    for a in stmt.names:
                        sub = sys.modules.get(f"{source}.{a.name}")
                        if sub is not None and is_bundled(sub):
                            imported[a.asname or a.name] = (sub.__name__, None)
                        elif is_bundled(sys.modules.get(source)):
                            imported[a.asname or a.name] = (source, a.name)
                    if not is_bundled(sys.modules.get(source)) and not stmt.level:
                        external.append(stmt)
                elif isinstance(stmt, ast.Import):
                    for a in stmt.names:
                        if is_bundled(sys.modules.get(a.name)):
                            imported[a.asname or a.name.partition(".")[0]] = (a.name, None)
                        else:
                            external.append(ast.Import(names=[a]))
            self.parsed[module.__name__] = (text, _top_level_definitions(tree), imported, external)
        return self.parsed[module.__name__]

    def _imports_of(self, text, external, definition):
        used = {n.id for n in ast.walk(definition) if isinstance(n, ast.Name)}
        for stmt in external:
            if not _import_needed(stmt, used):
                continue
            if isinstance(stmt, ast.Import):
                a = stmt.names[0]
                line = f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
            else:
                line = ast.get_source_segment(text, stmt)
            if line not in self.imports:
                self.imports.append(line)

    def take(self, module, name, alias=None):
        """Add `name` of `module` (and what it uses) under `alias`."""
        text, defs, imported, external = self.parse(module)
        local = alias or name
        if local in self.done:
            if self.done[local] != (module.__name__, name):
                raise SourceError(f"two definitions named {local} ({self.done[local][0]} and {module.__name__})")
            return
        if name in imported:
            source, original = imported[name]
            if original is None:
                raise SourceError(f"{module.__name__} uses the module {source} by name: its code cannot be "
                                  "copied into one file")
            return self.take(sys.modules[source], original, local)
        if name not in defs:
            raise SourceError(f"cannot find {name} in {module.__name__}")
        self.done[local] = (module.__name__, name)
        self._imports_of(text, external, defs[name])
        for n in ast.walk(defs[name]):
            if isinstance(n, ast.Name) and n.id != name and (n.id in defs or n.id in imported):
                self.take(module, n.id)
        block = _definition(text, defs[name])
        self.blocks.append(block if local == name else f"{block}\n\n\n{local} = {name}")


def _definition(text, node):
    """A top-level definition's source with its decorators (@dataclass)."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[first - 1:node.end_lineno]
    return textwrap.dedent("\n".join(lines))


def classes_source(classes):
    """The Code of these classes or functions, one per module they come from."""
    by_module = {}
    for cls in classes:
        by_module.setdefault(cls.__module__, [])
        if cls.__name__ not in by_module[cls.__module__]:
            by_module[cls.__module__].append(cls.__name__)
    return [_module_classes(module, names) for module, names in by_module.items()]


def _module_classes(module_name, names):
    """Classes of one module, with the module-level names they use, as Code
    with the imports they need but those every generated file has."""
    module = sys.modules.get(module_name)
    if module is None or not getattr(module, "__file__", None):
        raise SourceError(f"cannot find the source of {names[0]}")
    if is_bundled(module):
        # A file of the user's folder: the class and what it uses from any
        # of the folder's files, gathered into one file.
        gathered = _Gathered()
        for name in names:
            gathered.take(module, name)
        return Code(tuple(i for i in gathered.imports if i.strip() not in _HEADER_IMPORTS),
                    "\n\n\n".join(gathered.blocks))
    if not module_name.startswith("_decompose_file_"):
        # Classes from an installed library: import them rather than copy them.
        return Code((f"from {module_name} import {', '.join(names)}",), "")
    with open(module.__file__, encoding="utf-8") as f:
        file_source = f.read()
    tree = ast.parse(file_source)
    defs = _top_level_definitions(tree)
    wanted, order, pending = set(), [], list(names)
    while pending:
        name = pending.pop()
        if name in wanted or name not in defs:
            continue
        wanted.add(name)
        order.append(defs[name])
        for n in ast.walk(defs[name]):
            if isinstance(n, ast.Name) and n.id in defs:
                pending.append(n.id)
    order.sort(key=lambda s: s.lineno)
    blocks = [_definition(file_source, s) for s in order]
    used = {n.id for s in order for n in ast.walk(s) if isinstance(n, ast.Name)}
    imports = [ast.get_source_segment(file_source, s) for s in tree.body if _import_needed(s, used)]
    return Code(tuple(i for i in imports if i.strip() not in _HEADER_IMPORTS), "\n\n\n".join(blocks))


def _import_needed(stmt, used):
    """Whether a top-level import of the model's file is one its copied
    definitions need: one that binds a name they read, a __future__ import
    (it changes how the file compiles), or `import *` (which binds what
    cannot be told). The model's other imports would be dead lines."""
    if isinstance(stmt, ast.ImportFrom):
        return (stmt.module == "__future__" or any(a.name == "*" for a in stmt.names)
                or any((a.asname or a.name) in used for a in stmt.names))
    if isinstance(stmt, ast.Import):
        return any((a.asname or a.name.partition(".")[0]) in used for a in stmt.names)
    return False
