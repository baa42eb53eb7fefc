"""The anti-cheat of a step: a refactored parent may only call its children.

shared/SPEC.md §7. Three checks, because each alone can be fooled:
- static: the AST of refactored.py, with import aliases resolved. forward,
  and every method, function or lambda it reaches, may call only children
  (`self.<name>(...)`) and data plumbing (ops.PLUMBING, plus the element-wise
  arithmetic of ops.ARITHMETIC, which the run-time check judges by operand);
  `@`, `**`, compute methods, getattr/eval/exec tricks and torch internals
  are violations. __init__ may only build children imported from child
  files. Import-time code may not patch anything.
- ownership: the built model. Every parameter, buffer and tensor belongs to
  a child; every child's class comes from a file in children/; no hook or
  replaced forward runs code that is not a child's.
- runtime: forward runs under a TorchFunctionMode that sees every torch call
  made while no child runs. Only plumbing may run there, and arithmetic only
  on tensors that are inputs or children's results. This is what no reading
  of the source can dodge: getattr(torch, "mm"), exec'd strings, compute in
  an imported helper. The output must also be the one forward gives when
  nobody watches, or forward could behave only while watched.

Every check returns a list of violation dicts; an empty list is a pass.
Each dict also has "message", one line for people (the C report shows it).

Decisions where the AST cannot know a type:
- `+ - * /`, `//`, `%`, comparisons and bit operators pass the static check;
  the watch judges them on real operands (arithmetic of results passes,
  arithmetic with a constant or a weight does not, the rest is compute).
- `**` and min()/max() pass only on values the AST can see are Python
  numbers: literals, sizes, shapes, len(), int(), and arithmetic of those.
- nn.ModuleList/ModuleDict/Sequential may hold children: they own nothing
  and their forward only chains calls, so the checks look through them.
- Reading tensor values into Python (item(), float(t), `if t:`) in the
  parent is a violation: it is a value or a decision made outside a child.
"""

import ast
import builtins
import inspect
import os
import sys
import weakref

import torch
import torch.nn as nn

from . import ops, trace, written
from .verify import seed_forward
from .tensorpatch import tensor_methods

# TorchFunctionMode is in torch.overrides from 1.13 on, 2.x included.
_MODE_BASE = getattr(torch.overrides, "TorchFunctionMode", None)

# Builtins forward may call: they shape Python values (sizes, lists of
# results) and none of them does arithmetic on a tensor.
SAFE_BUILTINS = frozenset({
    "len", "range", "tuple", "list", "dict", "set", "zip", "enumerate", "isinstance",
    "issubclass", "int", "float", "bool", "str", "slice", "reversed",
})
# min/max compare tensors element-wise (compute); they are allowed only on
# values the check can see are Python numbers (sizes, shapes, literals).
SCALAR_BUILTINS = frozenset({"min", "max"})
# Builtins that run code or reach objects by name: nothing plumbing needs.
FORBIDDEN_BUILTINS = frozenset({
    "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "setattr",
    "delattr", "open", "breakpoint", "input",
})
# Methods of Python lists and dicts (a list of results, a dict output).
CONTAINER_METHODS = frozenset({
    "append", "extend", "insert", "items", "keys", "values", "get", "pop", "update",
})
# Tensor metadata: reading it moves no data and computes nothing.
METADATA = frozenset({
    "shape", "dtype", "device", "ndim", "layout", "is_cuda", "requires_grad", "stride",
    "is_contiguous", "is_floating_point", "is_complex", "element_size", "ndimension",
    "nelement", "get_device", "data_ptr", "storage_offset", "is_tensor", "_assert",
})
# torch functions that neither compute nor make tensors.
TORCH_HARMLESS = frozenset({
    "no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled",
    "is_tensor", "is_floating_point", "is_complex", "finfo", "iinfo", "_assert", "Size",
    "device", "get_default_dtype", "is_scripting", "is_tracing",
})
# Containers hold children and own nothing; their forward only chains calls.
CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
CONTAINER_NAMES = frozenset(c.__name__ for c in CONTAINERS)
# operator-module functions with the meaning of the operators allowed inline.
OPERATOR_OK = frozenset({
    "add", "sub", "mul", "truediv", "floordiv", "neg", "pos", "getitem", "iadd", "isub",
    "imul", "itruediv", "ifloordiv", "eq", "ne", "lt", "le", "gt", "ge", "not_", "truth",
    "mod", "index", "contains", "concat",
})
# Methods whose override would change what calling the model runs.
MACHINERY = frozenset({
    "__call__", "_call_impl", "_wrapped_call_impl", "__getattr__", "__getattribute__",
    "__setattr__", "__new__", "__torch_function__", "__torch_dispatch__",
    "__init_subclass__", "_slow_forward", "__class_getitem__",
})
# Modules that reach code or objects by name.
REFLECTION_ROOTS = frozenset({
    "builtins", "importlib", "sys", "inspect", "ctypes", "gc", "types", "runpy", "pickle",
    "marshal", "code", "codeop", "subprocess", "os",
})
TORCH_ROOTS = frozenset({"torch", "torchvision", "torchaudio"})
# Third-party libraries: not child files, so not allowed to build children.
KNOWN_LIBRARIES = frozenset({"numpy", "scipy", "einops", "transformers", "timm", "__future__"})
# nn.Module's own attributes: the parent reaching into them (self._modules,
# self.register_buffer) is not a child call.
_MODULE_ATTRS = frozenset(dir(nn.Module)) | frozenset(vars(nn.Module()))
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names) | {
    "math", "operator", "functools", "itertools", "collections", "typing", "os", "sys",
    "copy", "re", "json", "inspect", "importlib", "builtins", "types", "abc", "dataclasses",
}
# Reflected arithmetic dunders (2 - x calls x.__rsub__) by the op they are.
_REFLECTED = {"__radd__": "add", "__rsub__": "sub", "__rmul__": "mul", "__rtruediv__": "div",
              "__rdiv__": "div", "__rfloordiv__": "div", "__rmatmul__": "matmul",
              "__rpow__": "pow", "__rmod__": "remainder"}
# Reading a tensor's values into Python: a decision or a number made outside
# every child.
_VALUE_READS = frozenset({"__float__", "__int__", "__bool__", "__index__", "__complex__",
                          "item", "tolist", "numpy", "__array__"})
# What the watch lets pass besides ops.PLUMBING: metadata, printing, and
# __iter__ (an unbind, whose pieces are views of a result).
_RUNTIME_METADATA = METADATA | {"__len__", "__iter__", "__format__", "__repr__", "__str__", "__hash__",
                                "__reduce_ex__", "__deepcopy__", "size", "dim", "numel"}


# ---- static: names --------------------------------------------------------

def _root(qualified):
    return qualified.lstrip(".").split(".")[0]


def _is_child_module(qualified):
    """Whether a qualified import comes from a child file: anything that is
    not torch, the standard library or a known third-party library."""
    if qualified.startswith("."):
        return True
    root = _root(qualified)
    return root not in TORCH_ROOTS and root not in _STDLIB and root not in KNOWN_LIBRARIES


def _imports(tree):
    """Local name -> qualified name, for every import in the file."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    names[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            for a in node.names:
                if a.name != "*":
                    names[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
    return names


def _torch_object(qualified):
    """The object a torch-qualified name names, or None; imports nothing."""
    parts = qualified.split(".")
    obj = sys.modules.get(parts[0])
    for i, part in enumerate(parts[1:], 1):
        nxt = getattr(obj, part, None)
        if nxt is None:
            nxt = sys.modules.get(".".join(parts[:i + 1]))
        if nxt is None:
            return None
        obj = nxt
    return obj


def _canonical(obj, last):
    """ops' canonical op name of a torch object (function or module class)."""
    if isinstance(obj, type):
        # torch's namedtuples (PackedSequence) pack results: a tuple
        return "tuple" if ops.is_namedtuple_class(obj) else ops.snake(obj.__name__)
    if obj is not None and callable(obj):
        return ops.function_op(obj)
    return ops.snake(last)


class _Context:
    """What the static check knows about one file (data, no behaviour)."""

    def __init__(self, tree, lines, cls):
        self.lines = lines
        self.class_name = cls.name if cls is not None else None
        self.aliases = _imports(tree)
        self.functions, self.classes = {}, set()
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[stmt.name] = stmt
            elif isinstance(stmt, ast.ClassDef):
                self.classes.add(stmt.name)
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                    and isinstance(stmt.targets[0], ast.Name):
                name = stmt.targets[0].id
                if isinstance(stmt.value, ast.Lambda):
                    self.functions[name] = stmt.value
                else:
                    # `mm = torch.mm` at module level is an alias like an import.
                    q = _dotted(stmt.value, self.aliases)
                    if q:
                        self.aliases[name] = q
        self.methods = {}
        if cls is not None:
            for stmt in cls.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.methods[stmt.name] = stmt
        self.violations, self.seen, self.queue = [], set(), []


def _dotted(expr, aliases):
    """`F.relu` -> torch.nn.functional.relu when the head is an import."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name) and expr.id in aliases:
        return ".".join([aliases[expr.id]] + parts[::-1])
    return None


def _const_str(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _resolve(ctx, scope, expr):
    """What an expression names, as a tuple whose first item is its kind:
    self, child (a child module), child_attr (something inside a child),
    method, helper, local_fn, class, builtin, qual (an imported name), super,
    super_attr, module_api (nn.Module's own methods), attr (an attribute of a
    plain value), lambda, value (anything else)."""
    if isinstance(expr, ast.Name):
        name = expr.id
        if name in scope:
            return scope[name]
        if name in ctx.aliases:
            return ("qual", ctx.aliases[name])
        if name in ctx.functions:
            return ("helper", name)
        if name in ctx.classes:
            return ("class", name)
        if hasattr(builtins, name):
            return ("builtin", name)
        return ("value", name)
    if isinstance(expr, ast.Attribute):
        return _attribute_kind(ctx, _resolve(ctx, scope, expr.value), expr.attr)
    if isinstance(expr, ast.Call):
        func = _resolve(ctx, scope, expr.func)
        if func == ("builtin", "getattr") and len(expr.args) >= 2 and _const_str(expr.args[1]):
            return _attribute_kind(ctx, _resolve(ctx, scope, expr.args[0]), expr.args[1].value)
        if func == ("builtin", "super"):
            return ("super",)
        return ("value", None)
    if isinstance(expr, ast.Subscript):
        base = _resolve(ctx, scope, expr.value)
        return base if base[0] == "child" else ("value", None)
    if isinstance(expr, ast.Lambda):
        return ("lambda",)
    return ("value", None)


def _attribute_kind(ctx, base, attr):
    kind = base[0]
    if kind == "qual":
        return ("qual", f"{base[1]}.{attr}")
    if kind == "self":
        if attr in ctx.methods:
            return ("method", attr)
        if attr in _MODULE_ATTRS:
            return ("module_api", attr)
        return ("child", attr)
    if kind == "class" and base[1] == ctx.class_name and attr in ctx.methods:
        return ("method", attr)
    if kind in ("child", "child_attr"):
        return ("child_attr", attr)
    if kind == "super":
        return ("super_attr", attr)
    return ("attr", attr)


def _child_iteration(ctx, scope, loop):
    """Names bound to children by `for m in self.blocks`, `enumerate(...)`,
    `.values()` or `.items()`: calling them is calling a child."""
    it, target = loop.iter, loop.target
    if isinstance(it, ast.Call) and _resolve(ctx, scope, it.func) == ("builtin", "enumerate") and it.args:
        it = it.args[0]
        target = target.elts[-1] if isinstance(target, ast.Tuple) and target.elts else None
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) \
            and it.func.attr in ("values", "items"):
        if it.func.attr == "items":
            target = target.elts[-1] if isinstance(target, ast.Tuple) and target.elts else None
        it = it.func.value
    if isinstance(target, ast.Name) and _resolve(ctx, scope, it)[0] == "child":
        return target.id
    return None


def _scope(ctx, fn):
    """Local name -> kind for one function: its self, aliases of children,
    imports and helpers, nested functions and lambdas, and plain values."""
    args = fn.args.posonlyargs + fn.args.args if hasattr(fn.args, "posonlyargs") else fn.args.args
    scope = {}
    # A method's first parameter is the model, unless it is a staticmethod.
    is_method = fn in ctx.methods.values() and not any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    for i, a in enumerate(args + fn.args.kwonlyargs):
        scope[a.arg] = ("self",) if (i == 0 and is_method) else ("value", a.arg)
    for a in (fn.args.vararg, fn.args.kwarg):
        if a is not None:
            scope[a.arg] = ("value", a.arg)
    nodes = _body_nodes(fn)
    for _ in range(2):  # twice: `m = self.blocks_0` then `n = m`
        bound = {}
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not fn:
                bound.setdefault(node.name, []).append(("local_fn",))
                for a in node.args.args + node.args.kwonlyargs:
                    bound.setdefault(a.arg, []).append(("value", a.arg))
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        kind = _resolve(ctx, scope, node.value)
                        if kind[0] not in ("qual", "child", "method", "helper", "lambda", "class"):
                            kind = ("value", t.id)
                        bound.setdefault(t.id, []).append(("local_fn",) if kind[0] == "lambda" else kind)
                    else:
                        for n in ast.walk(t):
                            if isinstance(n, ast.Name):
                                bound.setdefault(n.id, []).append(("value", n.id))
            elif isinstance(node, (ast.For, ast.comprehension)):
                child = _child_iteration(ctx, scope, node)
                for n in ast.walk(node.target):
                    if isinstance(n, ast.Name):
                        kind = ("child", n.id) if n.id == child else ("value", n.id)
                        bound.setdefault(n.id, []).append(kind)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.withitem,
                                   ast.ExceptHandler)):
                target = getattr(node, "target", None) or getattr(node, "optional_vars", None)
                if isinstance(node, ast.ExceptHandler) and node.name:
                    bound.setdefault(node.name, []).append(("value", node.name))
                for n in ast.walk(target) if target is not None else ():
                    if isinstance(n, ast.Name):
                        bound.setdefault(n.id, []).append(("value", n.id))
            elif isinstance(node, ast.Lambda) and node is not fn:
                for a in node.args.args:
                    bound.setdefault(a.arg, []).append(("value", a.arg))
        for name, kinds in bound.items():
            if name in scope and scope[name][0] == "self":
                continue
            # A name bound to different things is a plain value: the check
            # cannot tell which one a call reaches.
            scope[name] = kinds[0] if all(k == kinds[0] for k in kinds) else ("value", name)
    return scope


def _body_nodes(fn):
    """Every node that runs when fn is called, nested lambdas and defs
    included (they are checked in place), plus fn's default values."""
    roots = fn.body if isinstance(fn.body, list) else [fn.body]
    roots = list(roots) + list(fn.args.defaults) + [d for d in fn.args.kw_defaults if d is not None]
    return [n for r in roots for n in ast.walk(r)]


# ---- static: Python numbers -----------------------------------------------

_SCALAR_METHODS = frozenset({"size", "dim", "numel", "ndimension", "nelement", "element_size",
                             "stride", "get_device"})


def _is_scalar(expr, scalars, ctx, scope):
    """Whether an expression is surely a Python value (a size, a literal)."""
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Name):
        return expr.id in scalars
    if isinstance(expr, ast.BinOp):
        return _is_scalar(expr.left, scalars, ctx, scope) and _is_scalar(expr.right, scalars, ctx, scope)
    if isinstance(expr, ast.UnaryOp):
        return _is_scalar(expr.operand, scalars, ctx, scope)
    if isinstance(expr, (ast.Tuple, ast.List)):
        return all(_is_scalar(e, scalars, ctx, scope) for e in expr.elts)
    if isinstance(expr, ast.IfExp):
        return _is_scalar(expr.body, scalars, ctx, scope) and _is_scalar(expr.orelse, scalars, ctx, scope)
    if isinstance(expr, ast.Subscript):
        return _is_scalar(expr.value, scalars, ctx, scope)
    if isinstance(expr, ast.Attribute):
        return expr.attr in ops.TENSOR_ATTRIBUTES
    if isinstance(expr, ast.Call):
        kind = _resolve(ctx, scope, expr.func)
        if kind in (("builtin", "len"), ("builtin", "int"), ("builtin", "float"), ("builtin", "bool")):
            return True
        if kind[0] == "builtin" and kind[1] in SCALAR_BUILTINS:
            return all(_is_scalar(a, scalars, ctx, scope) for a in expr.args) and bool(expr.args)
        if kind[0] == "qual" and _root(kind[1]) == "math":
            return True
        return isinstance(expr.func, ast.Attribute) and expr.func.attr in _SCALAR_METHODS
    return False


def _scalars(ctx, scope, fn):
    """Local names that only ever hold Python values."""
    nodes = _body_nodes(fn)
    scalars = set()
    for _ in range(3):  # to a fixed point through chains of assignments
        verdict = {}
        for node in nodes:
            if isinstance(node, ast.Assign):
                ok = _is_scalar(node.value, scalars, ctx, scope)
                for t in node.targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            verdict[n.id] = verdict.get(n.id, True) and ok
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                ok = _is_scalar(node.value, scalars, ctx, scope)
                verdict[node.target.id] = verdict.get(node.target.id, True) and ok
            elif isinstance(node, (ast.For, ast.comprehension)):
                ok = isinstance(node.iter, ast.Call) and \
                    _resolve(ctx, scope, node.iter.func) == ("builtin", "range")
                for n in ast.walk(node.target):
                    if isinstance(n, ast.Name):
                        verdict[n.id] = verdict.get(n.id, True) and ok
        scalars = {name for name, ok in verdict.items() if ok}
    return scalars


# ---- static: the rules ----------------------------------------------------

def _operator_reason(node, scalars, ctx, scope):
    if isinstance(node.op, ast.MatMult):
        return "`@` multiplies matrices in the parent: a matmul belongs in a child kernel"
    if isinstance(node.op, ast.Pow):
        left = node.target if isinstance(node, ast.AugAssign) else node.left
        right = node.value if isinstance(node, ast.AugAssign) else node.right
        if not (_is_scalar(left, scalars, ctx, scope) and _is_scalar(right, scalars, ctx, scope)):
            return "`**` raises to a power in the parent: compute belongs in a child kernel"
    return None


def _builtin_reason(ctx, scope, scalars, node, name, mode):
    if name in FORBIDDEN_BUILTINS:
        return f"{name}() runs code or reaches objects the check cannot see"
    if name == "getattr":
        attr = _const_str(node.args[1]) if len(node.args) >= 2 else None
        if attr is None:
            return "getattr() with a computed name can reach any function"
        base = _resolve(ctx, scope, node.args[0])
        if base[0] == "self" and attr in ctx.methods:
            ctx.queue.append((ctx.methods[attr], attr, mode))
            return None
        if base[0] == "self" and attr not in _MODULE_ATTRS:
            return None  # a child by its name
        if ops.snake(attr) in ops.PLUMBING or attr in METADATA:
            return None
        return f"getattr(..., {attr!r}) reaches {attr}, which is not data plumbing"
    if name in SAFE_BUILTINS:
        return None
    if name in SCALAR_BUILTINS:
        if node.args and not node.keywords and all(_is_scalar(a, scalars, ctx, scope) for a in node.args):
            return None
        return f"{name}() of tensors compares them element-wise: compute belongs in a child"
    if name == "super":
        return None if mode == "init" else "super() in forward reaches code that is not a child"
    if mode == "init" and name in ("print", "hasattr", "callable", "type", "sorted", "iter", "next"):
        return None
    return f"{name}() is not data plumbing: on tensors it computes (write it in a child)"


def _torch_internal(q):
    """torch._C, torch.ops.aten.mm, torch.overrides...: ways around the
    public names the op table knows."""
    parts = q.split(".")
    if _root(q) not in TORCH_ROOTS or q == "torch._assert":
        return False
    return any(p.startswith("_") for p in parts[1:]) or parts[1:2] in (["ops"], ["overrides"], ["library"])


def _qualified_reason(q, mode):
    root, last = _root(q), q.rsplit(".", 1)[-1]
    if _torch_internal(q):
        return f"{q} reaches torch's internals or op registry: the parent may only call its children"
    if root in TORCH_ROOTS:
        if last in TORCH_HARMLESS:
            return None
        obj = _torch_object(q)
        is_module_class = isinstance(obj, type) and issubclass(obj, nn.Module)
        if mode == "init":
            if last in CONTAINER_NAMES and (obj is None or is_module_class):
                return None
            if is_module_class:
                return f"builds {q} in the parent: every module must come from a child file in children/"
            if last == "Parameter":
                return f"{q} gives the parent a weight of its own: weights belong to children"
            return f"{q}() makes a tensor or state in the parent: weights belong to children"
        op = _canonical(obj, last)
        if op in ops.PLUMBING or op in ops.ARITHMETIC:
            return None
        if is_module_class:
            return f"builds {q} in forward: every module must be a child built in __init__"
        return f"{q} is compute ({op}): it belongs in a child, not in the parent's forward"
    if root == "math":
        return None
    if root == "operator":
        return None if last in OPERATOR_OK else f"{q} is not data plumbing"
    if root in REFLECTION_ROOTS:
        return f"{q} reaches code or objects by name: the parent may only call its children"
    if _is_child_module(q):
        if mode == "init":
            return None
        return (f"calls {q}, imported from a file, in forward: build children in __init__ "
                "and call them as self.<name>(...)")
    return f"calls {q}: the parent may only call its children and data plumbing"


# Factories of the record types a generated file packs a model's outputs in.
_RECORD_TYPES = (("qual", "collections.namedtuple"), ("qual", "dataclasses.make_dataclass"))


def _call_reason(ctx, scope, scalars, node, mode):
    func = node.func
    if (isinstance(func, ast.Call) and _resolve(ctx, scope, func.func) in _RECORD_TYPES
            and all(isinstance(a, (ast.Constant, ast.List)) for a in func.args) and not func.keywords):
        # collections.namedtuple('Pair', ['logits', 'hidden'])(a, b): results packed as the model does
        return None
    if isinstance(func, ast.Call) and _resolve(ctx, scope, func.func) == ("builtin", "getattr"):
        # getattr(x, name)(...): the getattr decides, and says why.
        reason = _builtin_reason(ctx, scope, scalars, func, "getattr", mode)
        if reason:
            return reason
    kind = _resolve(ctx, scope, func)
    what = kind[0]
    if kind in _RECORD_TYPES:
        return None  # makes a record type: no tensor is touched
    if what in ("child", "method", "helper", "local_fn", "lambda", "super"):
        return None  # children run; methods, helpers and lambdas are checked
    if what == "super_attr":
        if mode == "init" and kind[1] == "__init__":
            return None
        return f"super().{kind[1]}() reaches code that is not a child"
    if what == "self":
        return "calls the model itself"
    if what == "module_api":
        if kind[1] in ("register_buffer", "register_parameter"):
            return f"{kind[1]}() gives the parent state of its own: weights belong to children"
        return f"self.{kind[1]}() is nn.Module machinery, not a child call"
    if what == "child_attr":
        if kind[1] in CONTAINER_METHODS:
            return None  # self.blocks.append(Child()), self.heads.items()
        if kind[1] in _MODULE_ATTRS:
            return (f"calls {kind[1]}() on a child: nn.Module machinery (hooks, state), not a call "
                    "of the child")
        return (f"calls .{kind[1]} inside a child: call the child itself, whose forward "
                "is the unit its file tests")
    if what == "class":
        return (f"builds {kind[1]}, a class defined in refactored.py: children must be "
                "imported from files in children/")
    if what == "builtin":
        return _builtin_reason(ctx, scope, scalars, node, kind[1], mode)
    if what == "qual":
        if mode == "init" and kind[1] in ("torch.nn.Module.__init__",
                                          "torch.nn.modules.module.Module.__init__"):
            return None
        return _qualified_reason(kind[1], mode)
    if what == "attr":
        name = kind[1]
        if name in CONTAINER_METHODS:
            return None
        if mode == "forward" and (ops.snake(name) in ops.PLUMBING or ops.snake(name) in ops.ARITHMETIC
                                  or name in METADATA):
            return None
        if mode == "init":
            return f".{name}() in __init__: the parent only builds its children"
        return f".{name}() computes in the parent (it is not data plumbing): it belongs in a child"
    return (f"calls {_text(node.func)}, which the check cannot see is a child, data plumbing "
            "or a helper it can follow")


def _reference_reason(kind):
    """A name used as a value (not called): passing torch.relu to anything
    is how compute escapes a static check."""
    if kind[0] != "qual":
        return None
    q = kind[1]
    root = _root(q)
    if _torch_internal(q):
        return _qualified_reason(q, "forward")
    if root in TORCH_ROOTS:
        reason = _qualified_reason(q, "forward")
        obj = _torch_object(q)
        plain = (torch.dtype, torch.device, torch.layout, torch.memory_format, int, float, bool, str)
        if isinstance(obj, plain) or isinstance(obj, type):
            return None
        if callable(obj) and reason is None:
            return None
        return f"uses {q} as a value: compute or a module handed on is compute in the parent"
    if root in REFLECTION_ROOTS:
        return f"{q} reaches code or objects by name"
    return None


def _attribute_reason(ctx, scope, node, mode):
    attr = node.attr
    if attr.startswith("_"):
        base = _resolve(ctx, scope, node.value)
        if base[0] == "super" and attr == "__init__" and mode == "init":
            return None
        if base[0] == "qual" and f"{base[1]}.{attr}" in ("torch._assert", "torch.nn.Module.__init__"):
            return None
        if base[0] == "self" and attr not in _MODULE_ATTRS:
            return None  # the parent's own child named _proj
        return f"reads the private attribute .{attr}: the parent may only call its children"
    return None


def _text(node):
    try:
        return ast.unparse(node)
    except Exception:  # ast.unparse is 3.9+
        return type(node).__name__


def _flag(ctx, node, location, reason):
    line = getattr(node, "lineno", 0)
    text = ctx.lines[line - 1].strip() if 0 < line <= len(ctx.lines) else ""
    # One finding per line is enough to fail it, and reads better than three.
    if any(v["location"] == location and v["line_number"] == line for v in ctx.violations):
        return
    ctx.violations.append({"check": "static", "location": location, "line_number": line,
                           "line_text": text, "reason": reason,
                           "message": f"line {line}: {text} ({reason})" if line else reason})


def _check_function(ctx, fn, mode, location):
    """Every rule, over every node that runs when fn runs."""
    if (id(fn), mode) in ctx.seen:
        return
    ctx.seen.add((id(fn), mode))
    scope = _scope(ctx, fn)
    scalars = _scalars(ctx, scope, fn)
    nodes = _body_nodes(fn)
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}
    # getattr(torch, "cat"): the getattr rule judges the pair, so the module
    # named in it is not a module handed on as a value.
    inner |= {id(n.args[0]) for n in nodes if isinstance(n, ast.Call) and n.args
              and _resolve(ctx, scope, n.func) == ("builtin", "getattr")}
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        reason = None
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            reason = _operator_reason(node, scalars, ctx, scope)
        elif isinstance(node, ast.Call):
            reason = _call_reason(ctx, scope, scalars, node, mode)
        elif isinstance(node, ast.Attribute):
            reason = _attribute_reason(ctx, scope, node, mode)
            if reason is None and isinstance(node.ctx, ast.Store):
                reason = _store_reason(ctx, scope, node)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            kind = _resolve(ctx, scope, node)
            if kind[0] == "builtin" and kind[1] in FORBIDDEN_BUILTINS | {"__builtins__"}:
                reason = f"{kind[1]} runs code or reaches objects the check cannot see"
            elif node.id.startswith("__") and kind[0] == "value":
                reason = f"{node.id} reaches the interpreter's internals"
        if reason is None and isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in inner:
            kind = _resolve(ctx, scope, node)
            if kind[0] == "method":
                ctx.queue.append((ctx.methods[kind[1]], kind[1], mode))
            elif kind[0] == "helper":
                ctx.queue.append((ctx.functions[kind[1]], kind[1], mode))
            elif kind[0] == "child_attr" and id(node) not in called and isinstance(node.ctx, ast.Load):
                reason = (f"reads .{kind[1]} inside a child: the parent may not use a child's "
                          "modules or weights")
            elif id(node) not in called:
                reason = _reference_reason(kind)
        if reason:
            _flag(ctx, node, location, reason)


def _store_reason(ctx, scope, target):
    """Assigning to anything but the parent's own attributes patches code
    or state the check would otherwise trust."""
    base = _resolve(ctx, scope, target.value)
    if base[0] == "self":
        return None
    return f"assigns {_text(target)}: the parent may not change its children or libraries"


def _decorator_reason(fn, allowed):
    for d in fn.decorator_list:
        name = d.id if isinstance(d, ast.Name) else None
        if name not in allowed:
            return f"{fn.name} is decorated with {_text(d)}: the check cannot see what runs"
    return None


def _check_reached(ctx):
    while ctx.queue:
        fn, name, mode = ctx.queue.pop(0)
        location = f"helper {name}"
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and (id(fn), mode) not in ctx.seen:
            reason = _decorator_reason(fn, ("staticmethod", "classmethod", "property"))
            if reason:
                _flag(ctx, fn, location, reason)
        _check_function(ctx, fn, mode, location)


def _class_violations(ctx, cls):
    """The class statement itself: a plain nn.Module subclass whose body
    only defines methods, none of them the module machinery."""
    scope = {}
    for base in cls.bases:
        kind = _resolve(ctx, scope, base)
        if kind not in (("qual", "torch.nn.Module"), ("qual", "torch.nn.modules.module.Module")):
            _flag(ctx, base, "class", f"{cls.name} must subclass nn.Module itself, not {_text(base)}: "
                                      "a base class brings code the check does not read")
    for kw in cls.keywords:
        _flag(ctx, kw.value, "class", f"{cls.name} takes {kw.arg}=: the check cannot see what it does")
    for d in cls.decorator_list:
        _flag(ctx, d, "class", f"{cls.name} is decorated with {_text(d)}")
    for i, stmt in enumerate(cls.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if stmt.name in MACHINERY:
                _flag(ctx, stmt, "class", f"{cls.name} defines {stmt.name}: it would change what "
                                          "calling the model runs")
            continue
        if isinstance(stmt, ast.Pass) or (i == 0 and isinstance(stmt, ast.Expr) and _const_str(stmt.value)):
            continue
        if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
            continue
        _flag(ctx, stmt, "class", f"{cls.name}'s body runs code or binds attributes besides methods")


def _module_nodes(tree, class_name):
    """Nodes that run when the file is imported: not function bodies, not
    the `if __name__ == "__main__"` block."""
    found = []

    def visit(node):
        if isinstance(node, ast.If) and "__main__" in _text(node.test):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list + node.args.defaults + [k for k in node.args.kw_defaults if k]:
                visit(d)
            return
        if isinstance(node, ast.Lambda):
            return
        found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in tree.body:
        visit(stmt)
    return found


def _module_violations(ctx, tree):
    """Import-time code may import, define and set up sys.path; it may not
    patch a child, a library or the class, nor reach code by name."""
    scope = {}
    for node in _module_nodes(tree, ctx.class_name):
        reason = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Attribute, ast.Subscript)):
                    reason = f"assigns {_text(t)} when the file is imported: patching is not plumbing"
                elif isinstance(t, ast.Name) and t.id == ctx.class_name:
                    reason = f"rebinds {t.id}: the class the check reads must be the one that runs"
        elif isinstance(node, ast.Call):
            kind = _resolve(ctx, scope, node.func)
            if kind[0] == "builtin" and (kind[1] in FORBIDDEN_BUILTINS or kind[1] == "getattr"):
                reason = f"{kind[1]}() at import time can patch or run anything"
            elif kind[0] == "qual" and (_root(kind[1]) in REFLECTION_ROOTS - {"sys", "os"}
                                        or _torch_internal(kind[1])):
                reason = f"{kind[1]}() at import time reaches code or objects by name"
            elif kind[0] == "qual" and _root(kind[1]) in TORCH_ROOTS and kind[1].rsplit(".", 1)[-1] in (
                    "register_forward_hook", "register_forward_pre_hook", "register_module_forward_hook",
                    "register_module_forward_pre_hook"):
                reason = f"{kind[1]}() at import time runs code around children"
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and node.attr != "__file__":
            reason = f"reads the private attribute .{node.attr} at import time"
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names) \
                and not _is_child_module("." * node.level + (node.module or "")):
            reason = f"from {node.module} import * hides which names are the library's"
        if reason:
            _flag(ctx, node, "module", reason)


def static_violations(source, class_name="RefactoredModel"):
    """AST violations of a refactored file's source (shared/SPEC.md §7)."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return [{"check": "static", "location": "file", "line_number": e.lineno or 0,
                 "line_text": (e.text or "").strip(), "reason": f"syntax error: {e.msg}"}]
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    cls = classes[-1] if classes else None  # as Python does, the last one wins
    ctx = _Context(tree, lines, cls)
    _module_violations(ctx, tree)
    if cls is None:
        ctx.violations.append({"check": "static", "location": "file", "line_number": 0, "line_text": "",
                               "reason": f"no class {class_name} defined at the top level"})
        return ctx.violations
    _class_violations(ctx, cls)
    forward = ctx.methods.get("forward")
    if forward is None:
        _flag(ctx, cls, "class", f"{class_name} has no forward()")
    else:
        reason = _decorator_reason(forward, ())
        if reason:
            _flag(ctx, forward, "forward()", reason)
        _check_function(ctx, forward, "forward", "forward()")
    if "__init__" in ctx.methods:
        _check_function(ctx, ctx.methods["__init__"], "init", "__init__()")
    _check_reached(ctx)
    return ctx.violations


# ---- ownership ------------------------------------------------------------

def _units(model):
    """(path, module) of the modules the parent calls as children: its direct
    children, looking through ModuleList/ModuleDict/Sequential."""
    found = []

    def visit(prefix, module):
        for name, child in module.named_children():
            path = prefix + name
            if type(child) in CONTAINERS:
                visit(path + ".", child)
            else:
                found.append((path, child))
    visit("", model)
    return found


def _code_file(fn):
    # Not inspect.unwrap: __wrapped__ is an attribute anyone can set.
    code = getattr(fn, "__code__", None)
    return os.path.realpath(code.co_filename) if code is not None else None


def _class_file(cls):
    """Where a class is defined: the file of the code of its own methods
    (which `__module__` cannot disguise), else inspect's answer."""
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        where = _code_file(value) if inspect.isfunction(value) else None
        if where:
            return where
    try:
        return os.path.realpath(inspect.getfile(cls))
    except (TypeError, OSError):
        return None


def _inside(path, folder):
    return path is not None and (path + os.sep).startswith(folder.rstrip(os.sep) + os.sep) and path != folder


def _hooks(module):
    """Every forward hook on a module: functions that run around its forward."""
    found = []
    for attr in ("_forward_pre_hooks", "_forward_hooks"):
        found += list(getattr(module, attr, {}).values())
    return found


def ownership_violations(model, children_dir):
    """Weights outside children, children not from children/, and code that
    would run around or instead of a child's forward."""
    folder = os.path.realpath(children_dir)
    own_file = _class_file(type(model))
    found = []

    def flag(key, name, reason):
        found.append({"check": "ownership", key: name, "reason": reason,
                      "message": reason})

    units = _units(model)
    good = []  # children whose class comes from children/: they may own weights
    for path, unit in units:
        where = _class_file(type(unit))
        if _inside(where, folder):
            good.append(path)
        else:
            flag("module", path, f"child {path} is a {type(unit).__module__}.{type(unit).__qualname__} "
                                 f"from {where or 'no file'}, not a class from a file in children/")
        if "forward" in vars(unit) or "__call__" in vars(unit):
            flag("module", path, f"child {path} has its forward replaced on the instance")
        forward_file = _code_file(getattr(type(unit), "forward", None))
        if forward_file is not None and forward_file == own_file:
            flag("module", path, f"child {path}'s forward is defined in the refactored file")
    for path, module in model.named_modules():
        if path and module is not model and _class_file(type(module)) == own_file \
                and not any(p == path for p, _ in units):
            flag("module", path, f"{path} is a {type(module).__name__} defined in the refactored file, "
                                 "not a class from children/")
        for hook in _hooks(module):
            where = _code_file(hook)
            if trace.is_reparametrization(hook) and path.startswith(tuple(p + "." for p in good)):
                continue  # a child's own weight norm, made by its file's constructor
            if not _inside(where, folder):
                flag("module", path or "(the parent)",
                     f"{path or 'the parent'} has a forward hook from {where or 'no file'}: "
                     "code that runs outside every child")
    for attr in ("_global_forward_pre_hooks", "_global_forward_hooks"):
        if getattr(torch.nn.modules.module, attr, None):
            flag("module", "(global)", "a global module forward hook is registered: code that runs "
                                       "around every child")
    prefixes = tuple(p + "." for p in good)
    for kind, named in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, _ in named:
            if not name.startswith(prefixes):
                flag("parameter", name, f"{kind} {name} does not belong to a child module "
                                        "built from a child file")
    for name in trace.tensor_attributes(model):
        if not name.startswith(prefixes):
            flag("parameter", name, f"tensor attribute {name} is state of the parent's own: "
                                    "tensors belong to children")
    return found


# ---- runtime --------------------------------------------------------------

def _leaves(value):
    """Every leaf of nested tuples, lists and dicts."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _tensors(value):
    return [t for t in _leaves(value) if isinstance(t, torch.Tensor)]


def _op_name(func):
    raw = getattr(func, "__name__", None) or repr(func)
    if raw == "__get__":
        return getattr(getattr(func, "__self__", None), "__name__", raw)
    if raw in _REFLECTED:
        return _REFLECTED[raw]
    if raw in _RUNTIME_METADATA or raw in _VALUE_READS:
        return raw
    if raw in ("__getitem__", "__setitem__"):
        return raw.strip("_")
    return ops.function_op(func)


class _Watch(_MODE_BASE or object):
    """Records torch calls made at depth 0, while no child is running.

    Tensors that are inputs or children's results, and views or plumbing of
    them, are `results`: the parent may join those, and nothing else."""

    def __init__(self, weights):
        super().__init__()
        self.depth = 0
        self.weights = weights   # id -> name of every parameter and buffer
        self.results = set()     # ids of live result tensors and of their bases
        self.calls = {}          # op -> [count, first reason]

    def mark(self, value):
        for t in _tensors(value):
            for r in (t, t._base) if t._base is not None else (t,):
                if id(r) not in self.results:
                    self.results.add(id(r))
                    # Forgotten when the tensor dies, before its id can be
                    # reused: holding every child's result instead would keep
                    # all of a watched forward's activations alive.
                    weakref.finalize(r, self.results.discard, id(r))

    def _is(self, t, ids):
        return id(t) in ids or (t._base is not None and id(t._base) in ids)

    def judge(self, func, args, kwargs):
        """(op, reason): reason is None when the call is allowed."""
        raw = getattr(func, "__name__", None) or repr(func)
        op = _op_name(func)
        if raw == "__get__" or op in _RUNTIME_METADATA:
            return op, None
        if op in _VALUE_READS:
            return op, (f"{op} reads tensor values into Python in the parent: a value or a decision "
                        "made outside every child")
        if op == "setitem":
            operands = list(args[2:3]) + list(args[:1])
        elif op in ops.ARITHMETIC:
            operands = _leaves(list(args) + list(kwargs.values()))
        elif op in ops.PLUMBING:
            return op, None
        else:
            return op, (f"{op} ran in the parent's forward, outside every child: only data plumbing "
                        "may run there")
        for value in operands:
            if value is None or isinstance(value, str):
                continue
            if not isinstance(value, torch.Tensor):
                return op, (f"{op} with the Python value {value!r}: arithmetic on a constant is "
                            "compute; the parent may only join its children's results")
            if id(value) in self.results:
                continue  # a child's result, even a view of that child's own buffer
            if self._is(value, self.weights):
                name = self.weights.get(id(value)) or self.weights.get(id(value._base))
                return op, (f"{op} reads the weight {name}: arithmetic with a weight in the parent is "
                            "compute outside every child")
            if not self._is(value, self.results):
                return op, (f"{op} reads a tensor that is neither an input nor a child's result "
                            "(a constant or a tensor made outside the children)")
        return op, None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth > 0:
            return func(*args, **kwargs)
        op, reason = self.judge(func, args, kwargs)
        if reason:
            entry = self.calls.setdefault(op, [0, reason])
            entry[0] += 1
        out = func(*args, **kwargs)
        if reason is None and any(isinstance(t, torch.Tensor) and self._is(t, self.results)
                                  for t in _leaves(list(args) + list(kwargs.values()))):
            self.mark(out)  # plumbing of results is a result
        return out


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _same(a, b):
    """Whether two outputs agree: same structure, shapes, dtypes, values."""
    ta, tb = _tensors(a), _tensors(b)
    if len(ta) != len(tb) or len(_leaves(a)) != len(_leaves(b)):
        return False
    for x, y in zip(ta, tb):
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.is_floating_point() or x.is_complex():
            if not torch.allclose(x, y, rtol=1e-4, atol=1e-5, equal_nan=True):
                return False
        elif not torch.equal(x, y):
            return False
    return True


def _one_line(e):
    return " ".join(f"{type(e).__name__}: {e}".split())


def _watched_run(model, args, kwargs):
    """(output, watch) of one forward under the watch, hooks removed after."""
    weights = {id(t): n for n, t in model.named_parameters()}
    weights.update({id(t): n for n, t in model.named_buffers()})
    watch = _Watch(weights)
    watch.mark((args, kwargs))

    def enter(module, inputs):
        watch.depth += 1

    def leave(module, inputs, output):
        if watch.depth == 1:
            watch.mark(output)
        watch.depth -= 1

    original_getitem = torch.Tensor.__getitem__

    def getitem(tensor, index):
        # torch 1.13 hands some indexing (x[mask], x[index_tensor]) to no
        # torch-function mode: its result is a new tensor, a result all the
        # same when what it indexes is one.
        out = original_getitem(tensor, index)
        if watch.depth == 0 and any(watch._is(t, watch.results) for t in _tensors([tensor, index])):
            watch.mark(out)
        return out

    handles = []
    try:
        for _, unit in _units(model):
            # A torch class is no child (ownership says so too): its ops
            # count as the parent's.
            if _root(type(unit).__module__) in TORCH_ROOTS:
                continue
            handles.append(unit.register_forward_pre_hook(enter))
            handles.append(unit.register_forward_hook(leave))
        with tensor_methods(__getitem__=getitem), watch:
            output = model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return output, watch


def runtime_violations(model, args, kwargs, plain=None):
    """Torch calls that forward makes while no child runs, other than plumbing;
    and a forward whose output changes when it is watched.

    `plain`, when given, is the output of an unwatched run the caller already
    made on these inputs after verify.seed_forward() (the step gate's first
    trial): it is not run again."""
    if _MODE_BASE is None:
        return [{"check": "runtime", "op": "TorchFunctionMode", "count": 1,
                 "reason": "this PyTorch has no torch.overrides.TorchFunctionMode: "
                           "forward cannot be watched"}]
    restore = written.State(model).restore
    # Only CUDA generators that exist already: asking every GPU for its state
    # starts CUDA on each, seconds and memory per card, for a model on the CPU.
    # A forward that starts CUDA itself is seeded alike by seed_forward().
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    found = []
    # The same seed and state for both runs: a forward that draws random
    # numbers or carries state gives the same output twice.
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        plain_error = None
        if plain is None:
            try:
                seed_forward()
                plain = model(*_clone(args), **_clone(kwargs))
            except Exception as e:
                plain, plain_error = None, e
            restore()
        try:
            seed_forward()
            watched, watch = _watched_run(model, _clone(args), _clone(kwargs))
            watched_error = None
        except Exception as e:
            watched, watch, watched_error = None, None, e
        restore()
    if watched_error is not None:
        # Fail closed: a forward that could not be watched is not a pass.
        reason = (f"forward raised {_one_line(watched_error)}: nothing could be watched"
                  if plain_error is not None else
                  f"forward raised {_one_line(watched_error)} only while watched")
        return [{"check": "runtime", "op": "forward", "count": 1, "reason": reason, "message": reason}]
    found = _call_violations(watch)
    if plain_error is not None or not _same(plain, watched):
        reason = ("forward gives a different output when it is watched than when it is not: it "
                  "behaves one way for the check and another for the user")
        found.append({"check": "runtime", "op": "output", "count": 1, "reason": reason, "message": reason})
    return found


def _call_violations(watch):
    """The calls a watched run made outside every child, as violations."""
    found = []
    for op, (count, reason) in sorted(watch.calls.items()):
        text = f"{reason} ({count} call{'s' if count != 1 else ''})"
        found.append({"check": "runtime", "op": op, "count": count, "reason": reason, "message": text})
    return found


def watched_forward(model, args, kwargs):
    """(output, runtime violations) of one forward under the watch, for a
    caller that compares that output with the original's itself: the run is
    then both a trial and the watch, and a forward that behaves differently
    watched shows as a numerical mismatch in the unwatched trials."""
    if _MODE_BASE is None:
        return model(*args, **kwargs), runtime_violations(model, args, kwargs)
    try:
        output, watch = _watched_run(model, args, kwargs)
    except Exception as e:
        reason = f"forward raised {_one_line(e)} while watched"
        return None, [{"check": "runtime", "op": "forward", "count": 1, "reason": reason, "message": reason}]
    return output, _call_violations(watch)


def structure_violations(refactored_path, model):
    """The checks that read the file and the built model: (static, ownership)."""
    try:
        with open(refactored_path, encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as e:
        return [{"check": "static", "location": "file", "line_number": 0, "line_text": "",
                 "reason": f"cannot read {refactored_path}: {_one_line(e)}"}], []
    # The class the loader built is the one to read (RefactoredModel, or
    # Model in a file that names it so).
    static = static_violations(source, type(model).__name__)
    children_dir = os.path.join(os.path.dirname(os.path.abspath(refactored_path)), "children")
    return static, ownership_violations(model, children_dir)


def report(static, owned, runtime):
    everything = static + owned + runtime
    return {"status": "PASS" if not everything else "FAIL", "violations": everything,
            "source_violations": static, "ownership_violations": owned,
            "runtime_violations": runtime}


# ---- all three ------------------------------------------------------------

def check(refactored_path, model, args, kwargs, plain=None):
    """The three checks on one refactored file and the model built from it
    (`plain`: see runtime_violations)."""
    static, owned = structure_violations(refactored_path, model)
    runtime = runtime_violations(model, args, kwargs, plain)
    return report(static, owned, runtime)
