"""The anti-cheat of a step: a refactored parent may only call its children.

Three checks, because each alone can be fooled (shared/SPEC.md §7):
- static: the AST of refactored.py. Calls in forward, and in every helper,
  method or lambda forward reaches, must be child-module calls or data
  plumbing (ops.PLUMBING) after import aliases are resolved; `@`, `**`,
  getattr/eval/exec tricks and modules built in __init__ are violations.
- ownership: at run time, every parameter and buffer belongs to a direct
  child, and every child's class comes from a file in children/.
- runtime: forward runs under a TorchFunctionMode that sees every torch call
  made while no child is running; only plumbing may happen there. This is
  what no reading of the source can dodge: getattr(torch, "mm"), exec'd
  strings, compute hidden in an imported helper.
"""

import ast
import builtins
import inspect
import os

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from . import ops

# Python builtins forward may use on plain values (sizes, lists of results).
SAFE_BUILTINS = frozenset({
    "len", "range", "tuple", "list", "dict", "zip", "enumerate", "isinstance", "int",
    "float", "bool", "str", "reversed", "sorted", "print", "super", "slice", "set",
    "hasattr", "type", "iter", "next", "all", "any", "min", "max", "sum",
})
FORBIDDEN_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "globals", "vars",
                                "locals", "setattr", "delattr"})
_LIBRARY_ROOTS = ("torch", "torchvision", "torchaudio", "numpy", "math", "operator",
                  "functools", "itertools", "builtins", "importlib")


def _violation(check, location, node, lines, reason):
    line = getattr(node, "lineno", 0)
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return {"check": check, "location": location, "line_number": line, "line_text": text,
            "reason": reason}


def _aliases(tree):
    """Local name -> qualified name, from every import in the file."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _qualified(expr, aliases):
    """`F.relu` -> torch.nn.functional.relu; None for anything not a dotted name."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    head = aliases.get(expr.id, expr.id)
    return ".".join([head] + list(reversed(parts)))


def _is_library(qualified):
    return qualified.split(".")[0] in _LIBRARY_ROOTS


class _Scan:
    def __init__(self, tree, lines, cls):
        self.tree, self.lines, self.cls = tree, lines, cls
        self.aliases = _aliases(tree)
        self.methods = {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.functions = {}
        self.lambdas = {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda):
                for t in stmt.targets:
                    if isinstance(t, ast.Name):
                        self.lambdas[t.id] = stmt.value
        self.child_imports = {name for name, q in self.aliases.items() if not _is_library(q)}
        self.violations = []
        self.seen = set()

    def flag(self, node, location, reason):
        self.violations.append(_violation("static", location, node, self.lines, reason))

    def body(self, fn, location):
        if id(fn) in self.seen:
            return
        self.seen.add(id(fn))
        local_lambdas = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        local_lambdas[t.id] = node.value
        for node in ast.walk(fn):
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.MatMult, ast.Pow)):
                self.flag(node, location, f"operator {'@' if isinstance(node.op, ast.MatMult) else '**'} "
                          "computes in the parent")
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.MatMult, ast.Pow)):
                self.flag(node, location, "an augmented @ or ** computes in the parent")
            elif isinstance(node, ast.Call):
                self.call(node, location, local_lambdas)

    def call(self, node, location, local_lambdas):
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name in FORBIDDEN_BUILTINS:
                return self.flag(node, location, f"{name}() can run anything")
            if name == "getattr":
                attr = node.args[1] if len(node.args) > 1 else None
                ok = (isinstance(attr, ast.Constant) and isinstance(attr.value, str)
                      and ops.snake(attr.value) in ops.PLUMBING and not _is_module_target(node.args[0], self.aliases))
                if not ok:
                    self.flag(node, location, "getattr() picks a function by name: it may compute")
                return
            if name in local_lambdas:
                return self.body(local_lambdas[name], f"lambda {name}")
            if name in self.lambdas:
                return self.body(self.lambdas[name], f"lambda {name}")
            if name in self.functions:
                return self.body(self.functions[name], f"helper {name}")
            if name in SAFE_BUILTINS and getattr(builtins, name, None) is not None and name not in self.aliases:
                return
            if name in self.child_imports:
                return  # building or calling a child's class
            qualified = self.aliases.get(name)
            if qualified and ops.function_op(qualified.split(".")[-1]) in ops.PLUMBING:
                return
            return self.flag(node, location, f"{qualified or name}() is not a child call or data plumbing")
        if isinstance(func, ast.Attribute):
            base = func.value
            if isinstance(base, ast.Name) and base.id == "self":
                if func.attr in self.methods:
                    return self.body(self.methods[func.attr], f"method {func.attr}")
                return  # self.<child>(...): a child call; ownership checks what it is
            if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == "self":
                return self.flag(node, location, f"self.{base.attr}.{func.attr}() reaches inside a child")
            qualified = _qualified(func, self.aliases)
            if qualified and qualified.split(".")[0] in self.child_imports:
                return
            if qualified and (qualified.startswith("torch.ops") or qualified.startswith("torch._C")):
                return self.flag(node, location, f"{qualified}() calls an op directly")
            if ops.function_op(func.attr) in ops.PLUMBING:
                return
            return self.flag(node, location, f"{qualified or '.' + func.attr}() computes in the parent")
        if isinstance(func, ast.Lambda):
            return self.body(func, "lambda")
        return self.flag(node, location, "a call through an expression the check cannot name")


def _is_module_target(expr, aliases):
    q = _qualified(expr, aliases)
    return q is not None and _is_library(q)


def _init_violations(scan, init):
    found = []
    for node in ast.walk(init):
        if not isinstance(node, ast.Call):
            continue
        q = _qualified(node.func, scan.aliases) or ""
        last = q.split(".")[-1]
        if q.startswith("torch.nn.") or q.startswith("nn."):
            found.append("builds torch.nn." + last + " itself; children come from child files")
        elif last in ("register_buffer", "register_parameter", "register_module", "add_module"):
            found.append(f"{last}() adds state that is not a child")
        elif q.startswith("torch.") and last in ("randn", "rand", "zeros", "ones", "empty", "tensor", "full"):
            found.append(f"torch.{last}() makes a tensor that is not a child's")
        elif q in ("getattr",) or last in FORBIDDEN_BUILTINS:
            found.append(f"{last}() may build anything")
        else:
            continue
        scan.violations.append(_violation("static", "__init__()", node, scan.lines, found[-1]))
    return found


def static_violations(source, class_name="RefactoredModel"):
    """AST violations of a refactored file's source."""
    lines = source.split("\n")
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return [{"check": "static", "location": "file", "line_number": e.lineno or 0,
                 "line_text": "", "reason": f"syntax error: {e.msg}"}]
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if cls is None:
        return [{"check": "static", "location": "file", "line_number": 0, "line_text": "",
                 "reason": f"no class {class_name}"}]
    scan = _Scan(tree, lines, cls)
    forward = scan.methods.get("forward")
    if forward is None:
        return [_violation("static", "class", cls, lines, f"{class_name} has no forward()")]
    scan.body(forward, "forward()")
    if "__init__" in scan.methods:
        _init_violations(scan, scan.methods["__init__"])
    return scan.violations


def ownership_violations(model, children_dir):
    """Parameters outside children, and children whose class is not from children/."""
    found = []
    children = dict(model.named_children())
    for name, _ in list(model.named_parameters()) + list(model.named_buffers()):
        if name.split(".")[0] not in children:
            found.append({"check": "ownership", "parameter": name,
                          "reason": f"{name} does not belong to a child module"})
    root = os.path.realpath(children_dir) + os.sep
    for name, child in children.items():
        try:
            where = os.path.realpath(inspect.getfile(type(child)))
        except TypeError:
            where = "<built-in>"
        if not where.startswith(root):
            found.append({"check": "ownership", "module": name,
                          "reason": f"child {name} is a {type(child).__name__} from {where}, "
                                    "not a class from a file in children/"})
    return found


class _Watch(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.depth = 0
        self.inner = 0
        self.calls = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth == 0 and self.inner == 0 and not _plumbing_call(func, args, kwargs):
            name = _func_name(func)
            self.calls[name] = self.calls.get(name, 0) + 1
        self.inner += 1
        try:
            return func(*args, **kwargs)
        finally:
            self.inner -= 1


def _func_name(func):
    name = getattr(func, "__name__", None) or str(func)
    if name == "__get__":
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    return name


def _plumbing_call(func, args, kwargs):
    name = _func_name(func)
    if name in ("shape", "dtype", "device", "ndim", "is_cuda", "T", "__len__", "__iter__",
                "__format__", "__repr__", "__bool__", "__index__", "__int__"):
        return True
    op = ops.function_op(name.strip("_") if name.startswith("__") else name)
    if name in ("__getitem__", "__setitem__"):
        op = "getitem"
    if op in ops.PLUMBING:
        return not any(isinstance(a, nn.Parameter) for a in args)
    if op in ops.ARITHMETIC:
        operands = [a for a in args if a is not None]
        return (all(isinstance(a, torch.Tensor) for a in operands)
                and not any(isinstance(a, nn.Parameter) for a in operands))
    return False


def runtime_violations(model, args, kwargs):
    """Torch calls made in forward while no child runs, other than plumbing."""
    watch = _Watch()

    def enter(module, inputs):
        watch.depth += 1

    def leave(module, inputs, output):
        watch.depth -= 1

    handles = []
    for child in model.children():
        handles.append(child.register_forward_pre_hook(enter))
        handles.append(child.register_forward_hook(leave))
    try:
        with torch.no_grad(), watch:
            model(*args, **kwargs)
    except Exception as e:
        return [{"check": "runtime", "op": "forward", "count": 1,
                 "reason": " ".join(f"forward raised {type(e).__name__}: {e}".split())}]
    finally:
        for h in handles:
            h.remove()
    return [{"check": "runtime", "op": name, "count": n,
             "reason": f"{name} ran {n} time(s) in the parent, outside every child"}
            for name, n in sorted(watch.calls.items())]


def check(refactored_path, model, args, kwargs):
    """All three checks; status PASS only when none finds anything."""
    with open(refactored_path, encoding="utf-8") as f:
        source = f.read()
    class_name = "RefactoredModel" if "class RefactoredModel" in source else type(model).__name__
    static = static_violations(source, class_name)
    owned = ownership_violations(model, os.path.join(os.path.dirname(os.path.abspath(refactored_path)),
                                                     "children"))
    runtime = runtime_violations(model, args, kwargs)
    everything = static + owned + runtime
    return {"status": "PASS" if not everything else "FAIL", "violations": everything,
            "source_violations": static, "ownership_violations": owned,
            "runtime_violations": runtime}
