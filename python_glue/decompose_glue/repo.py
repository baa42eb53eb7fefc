"""Phase 0 of a model that spans a folder of files (input type `repo`): one
self-contained KernelBench file for it, and the check that it equals the
folder's own code.

The wrapper holds the entry file and every file of the folder that it
imports, directly or through another, as source text, and imports them from
that text under their own module names with a finder of its own: each keeps
its imports, its globals and its classes' source, which inspect reads
through the finder. `Model` is the entry class; `get_init_inputs` and
`get_inputs` (or `get_input_kwargs`, for inputs given by name) make the
constructor arguments and inputs the job gave.
verify_wrapper.py builds the entry class from the folder itself and from the
wrapper, with the same seeds, and compares their outputs.
"""

import ast
import functools
import os
import sys
import textwrap

from . import codegen, modsrc
from .loader import BadInput, _one_line

_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


def _module_of(repo, path):
    """(dotted module name, is a package) of a .py file under the folder."""
    rel = os.path.relpath(path, repo)[:-len(".py")].split(os.sep)
    if rel[-1] == "__init__":
        return ".".join(rel[:-1]), True
    return ".".join(rel), False


def _file_of(repo, name):
    """The folder's file for a dotted module name, or None: it is not the
    folder's (torch, a pip package)."""
    base = os.path.join(repo, *name.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _imported_names(tree, name, is_package):
    """Every module name an import statement anywhere in the file may load,
    relative imports made absolute; `from a import b` may load a.b."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = modsrc.imported_module(package, node)
            if module is None:
                continue
            if module:
                found.append(module)
            found += [f"{module}.{a.name}" if module else a.name for a in node.names if a.name != "*"]
    return found


def _a_library(repo, top):
    """Whether the top-level name `top` is a library to import, not code of
    the folder's to bundle: one this interpreter has loaded from elsewhere
    (torch), or a package with compiled extensions, which cannot run from
    source text (a folder that is a site-packages)."""
    loaded = sys.modules.get(top)
    origin = getattr(loaded, "__file__", None)
    if loaded is not None and not modsrc.is_bundled(loaded):
        if origin is None or not os.path.abspath(origin).startswith(repo + os.sep):
            return True
    return _has_extensions(os.path.join(repo, top))


@functools.lru_cache(maxsize=None)
def _has_extensions(folder):
    return os.path.isdir(folder) and any(
        name.endswith((".so", ".pyd")) for _, _, files in os.walk(folder) for name in files)


def bundle(repo, entry_file):
    """{module name: (is a package, source)} for the entry file and the
    folder's files it imports, transitively, with the packages that hold
    them (importing a.b runs a/__init__.py first); and the entry's name.
    Libraries (_a_library) stay imports."""
    repo = os.path.abspath(repo)
    entry_path = os.path.join(repo, entry_file)
    if not entry_path.endswith(".py") or not os.path.isfile(entry_path):
        raise BadInput(entry_path, "the entry file is not a .py file in the repo folder")
    entry, _ = _module_of(repo, entry_path)
    sources = {}
    pending = [entry]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            if candidate in sources or (candidate != entry and _a_library(repo, parts[0])):
                continue
            path = _file_of(repo, candidate)
            if path is None:
                if end < len(parts) and os.path.isdir(os.path.join(repo, *parts[:end])):
                    sources[candidate] = (True, "")  # a folder without __init__.py: a namespace package
                    continue
                break
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                tree = ast.parse(text, filename=path)
            except (OSError, UnicodeDecodeError) as e:
                raise BadInput(path, f"cannot read: {e}") from None
            except SyntaxError as e:
                raise BadInput(path, f"syntax error at line {e.lineno}: {e.msg}") from None
            is_package = os.path.basename(path) == "__init__.py"
            sources[candidate] = (is_package, text)
            pending += _imported_names(tree, candidate, is_package)
    return sources, entry


def _text_literal(text):
    """A string literal a person can read: the text between triple quotes
    where it can be, escaped on one line where it cannot."""
    body = text.replace("\\", "\\\\")
    for quote in ("'''", '"""'):
        if quote not in body:
            literal = quote + "\\\n" + body + quote
            try:
                if ast.literal_eval(literal) == text:
                    return literal
            except SyntaxError:
                continue
    return repr(text)


def _value_source(value, where):
    """Source for a constructor argument from the job: a JSON value,
    {"class": "module.Name", "args": [...], "kwargs": {...}} for an object
    (a config) built from a class of the folder's files, or
    {"name": "module.Name"} for that name itself (a block class that a
    constructor builds its stages from)."""
    if isinstance(value, dict) and set(value) == {"name"}:
        if not isinstance(value["name"], str) or "." not in value["name"]:
            raise BadInput(where, "a name argument is {name: module.Name}")
        module, _, attr = value["name"].rpartition(".")
        return f"importlib.import_module({module!r}).{attr}"
    if isinstance(value, dict) and "class" in value:
        unknown = set(value) - {"class", "args", "kwargs"}
        if unknown or not isinstance(value["class"], str) or "." not in value["class"]:
            raise BadInput(where, "an object argument is {class: module.Name, args: [...], kwargs: {...}}")
        module, _, cls = value["class"].rpartition(".")
        args = [_value_source(v, where) for v in value.get("args") or []]
        args += [f"{k}={_value_source(v, where)}" for k, v in (value.get("kwargs") or {}).items()]
        return f"importlib.import_module({module!r}).{cls}({', '.join(args)})"
    if isinstance(value, list):
        return "[" + ", ".join(_value_source(v, where) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_value_source(v, where)}" for k, v in value.items()) + "}"
    return repr(value)


def input_source(spec, where):
    """Source that makes one input: {shape, dtype, low, high} is a tensor
    (random normal floats; integers drawn from [low, high)), anything else
    the value itself."""
    if not isinstance(spec, dict) or "shape" not in spec:
        return _value_source(spec, where)
    unknown = set(spec) - {"shape", "dtype", "low", "high"}
    shape, dtype = spec["shape"], spec.get("dtype", "float32")
    if unknown or not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise BadInput(where, "a tensor input is {shape: [sizes], dtype: float32, low: 0, high: 10}")
    if dtype not in _DTYPES:
        raise BadInput(where, f"input dtype {dtype!r} is not one of {', '.join(_DTYPES)}")
    if dtype.startswith(("int", "uint")) and "high" not in spec:
        raise BadInput(where, f"an integer input ({dtype}) needs 'high', the bound its values stay under")
    return codegen.input_expr({"kind": "tensor", "shape": shape, "dtype": dtype,
                               "min": int(spec.get("low", 0)), "max": int(spec.get("high", 1)) - 1})


# The import finder of a file that holds modules as source text (SOURCES:
# {name: (is a package, text)}), in a repo wrapper and in a copy of a model
# file that imports files of its own folder.
FINDER = '''class _Sources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the modules of SOURCES from their text; inspect reads a
    class's source through get_source."""

    decompose_bundle = True

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in SOURCES:
            return None
        origin = "bundled/" + fullname.replace(".", "/") + ".py"
        return importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=SOURCES[fullname][0])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = module.__spec__.origin
        exec(compile(self.get_source(module.__name__), module.__file__, "exec"), module.__dict__)

    def get_source(self, fullname):
        return SOURCES[fullname][1]


def install_sources():
    """Make SOURCES the modules of these names, replacing any loaded before
    (the folder's own, or another wrapper's)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "decompose_bundle", False)]
    for module in SOURCES:
        sys.modules.pop(module, None)
    sys.meta_path.insert(0, _Sources())


'''


def _sources_table(sources):
    """SOURCES' entries, one per module, as source."""
    return "".join(f"    {n!r}: ({is_package}, {_text_literal(text)}),\n" for n, (is_package, text) in sources.items())


def siblings_source(model_path):
    """Source that makes the files of a model file's folder that it imports,
    directly or through another, modules from their text (FINDER); "" where
    it imports none. A copy of the file that starts with it runs without
    that folder: level_3_model/ and a step's original.py."""
    folder = os.path.dirname(os.path.abspath(model_path))
    sources, entry = bundle(folder, os.path.basename(model_path))
    sources.pop(entry)
    names = sorted(n for n, (_, text) in sources.items() if text)
    if not names:
        return ""
    about = textwrap.fill(
        f"The files of the model's folder that it imports ({', '.join(names)}), kept as source text and "
        "imported from it under their own names: this copy runs without that folder.", 76,
        initial_indent="# ", subsequent_indent="# ")
    table = _sources_table(sources)
    return f'''
{about}
import importlib.abc
import importlib.util

SOURCES = {{
{table}}}


{FINDER}install_sources()
'''


def wrapper_source(repo, entry_file, entry_class, init_args, inputs, name, python):
    """The text of level_3_model/<name>.py (before the tool's own header and
    contract) and the bundle's module names."""
    where = os.path.join(repo, entry_file)
    if not isinstance(init_args, list):
        raise BadInput(where, "init_args must be a list (the entry class's constructor arguments)")
    if not isinstance(inputs, (list, dict)) or not inputs:
        raise BadInput(where, "inputs must be a non-empty list of the forward's arguments, or a mapping "
                       "of them by name")
    if not entry_class.isidentifier():
        raise BadInput(where, f"entry class {entry_class!r} is not a Python name")
    sources, entry = bundle(repo, entry_file)
    top = ast.parse(sources[entry][1]).body
    if not any(isinstance(n, ast.ClassDef) and n.name == entry_class or
               isinstance(n, ast.ImportFrom) and any((a.asname or a.name) == entry_class for a in n.names)
               for n in top):
        raise BadInput(where, f"no class {entry_class} in the entry file")
    files = ", ".join(sorted(n for n, (_, text) in sources.items() if text))
    about = textwrap.fill(
        f"Phase 0 of the decomposition: the folder's modules that the entry file imports ({files}) are "
        "kept below as source text and imported from it under their own names, so the code runs as it "
        "does in the folder. Model is the entry class; get_init_inputs() and get_inputs() make the "
        "job's constructor arguments and inputs (an argument that is an object of the folder's, a "
        "config, is built from the module of that name when called). "
        "steps/step_0_preparation/verify_wrapper.py proves this file equal to the folder's own code.", 76)
    table = _sources_table(sources)
    init = ", ".join(_value_source(v, where) for v in init_args)
    if isinstance(inputs, dict):  # by name: forward(input_ids=..., attention_mask=...)
        made = ""
        by_name = ("\n\n\ndef get_input_kwargs():\n    return {"
                   + ", ".join(f"{k!r}: {input_source(v, where)}" for k, v in inputs.items()) + "}")
    else:
        made = ", ".join(input_source(s, where) for s in inputs)
        by_name = ""
    text = f'''"""
{name}: {entry_class} of {where}, as one self-contained file.

{about}
"""

import importlib
import importlib.abc
import importlib.util
import sys

import torch

SOURCES = {{
{table}}}
ENTRY_MODULE = {entry!r}


{FINDER}def install():
    """The entry module, imported from SOURCES (install_sources)."""
    install_sources()
    return importlib.import_module(ENTRY_MODULE)


Model = install().{entry_class}


def get_inputs():
    return [{made}]{by_name}


def get_init_inputs():
    return [{init}]
'''
    return text, sorted(sources)


# What both Phase 0 checks (this file's and hf.py's) do with the outputs
# of the original model and of the wrapper: written into each
# verify_wrapper.py, which runs on its own.
COMPARE = '''def tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors(v)]
    return [t for v in vars(value).values() for t in tensors(v)] if hasattr(value, "__dict__") else []


def trials(original, bundled):
    """Each seed's comparison of the original's outputs with the wrapper's."""
    found = []
    for seed, a, b in zip(SEEDS, original, bundled):
        same = len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype for x, y in zip(a, b))
        diff = max((float((x.double() - y.double()).abs().max()) for x, y in zip(a, b)
                    if same and x.numel() and x.is_floating_point()), default=0.0)
        ok = same and all(torch.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True) if x.is_floating_point()
                          else torch.equal(x, y) for x, y in zip(a, b))
        found.append({"seed": seed, "pass": bool(ok), "max_diff": diff if same else None, "outputs": len(b)})
    return found
'''

MAIN = '''

if __name__ == "__main__":
    result = verify()
    with open(os.path.join(HERE, "verification_result.json"), "w") as f:
        json.dump(result, f, indent=2)
    for t in result["trials"]:
        print(f"seed {t['seed']}: {'PASS' if t['pass'] else 'FAIL'} (max diff {t['max_diff']})")
    print(result["status"])
    sys.exit(0 if result["status"] == "PASS" else 1)
'''


VERIFY = '''"""
Phase 0 check: {wrapper_rel}, the self-contained wrapper, equals {entry_class}
imported from the folder itself ({repo}). For each of SEEDS both are built
with the same seed and constructor arguments and run on the same inputs,
each while its own modules are the ones imported; their outputs must agree
within RTOL and ATOL. Writes verification_result.json beside this file.

Run: {python} verify_wrapper.py   (prints PASS or FAIL; exit code 0 or 1)
"""

import importlib
import importlib.util
import json
import os
import sys

try:
    import torch
except ImportError:
    sys.exit("This file needs PyTorch. Run it with {python}, the interpreter that has torch.")

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, {wrapper_rel_here!r})
REPO = {repo!r}
ENTRY_CLASS = {entry_class!r}
SEEDS = {seeds}
RTOL = {rtol}
ATOL = {atol}


{compare}

def outputs(wrapper, cls):
    """The model's outputs for each seed, built from `cls`."""
    found = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        model = cls(*wrapper.get_init_inputs()).eval()
        torch.manual_seed(seed)
        inputs = wrapper.get_inputs()
        kwargs = wrapper.get_input_kwargs() if hasattr(wrapper, "get_input_kwargs") else {{}}
        with torch.no_grad():
            found.append(tensors(model(*inputs, **kwargs)))
    return found


def folder_class(wrapper):
    """The entry class imported from the folder, its modules in place of the wrapper's."""
    for module in wrapper.SOURCES:
        sys.modules.pop(module, None)
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "decompose_bundle", False)]
    sys.path.insert(0, REPO)
    try:
        return getattr(importlib.import_module(wrapper.ENTRY_MODULE), ENTRY_CLASS)
    finally:
        sys.path.remove(REPO)


def verify():
    spec = importlib.util.spec_from_file_location("decompose_wrapper", WRAPPER)
    wrapper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wrapper)
    original = outputs(wrapper, folder_class(wrapper))
    bundled = outputs(wrapper, getattr(wrapper.install(), ENTRY_CLASS))
    found = trials(original, bundled)
    return {{"status": "PASS" if all(t["pass"] for t in found) else "FAIL", "wrapper": WRAPPER, "repo": REPO,
            "entry_class": ENTRY_CLASS, "rtol": RTOL, "atol": ATOL, "trials": found}}
{main}'''


def verify_source(repo, entry_class, wrapper_rel, python, seeds, rtol, atol):
    """The text of steps/step_0_preparation/verify_wrapper.py."""
    return VERIFY.format(wrapper_rel=wrapper_rel, wrapper_rel_here=os.path.join("..", "..", wrapper_rel),
                         repo=repo, entry_class=entry_class, python=python, seeds=seeds,
                         rtol=rtol, atol=atol, compare=COMPARE, main=MAIN)


def run_check(source, wrapper_path, where, what="the folder's model"):
    """verify_wrapper.py's result, run here on the wrapper at `wrapper_path`
    (its place in the output folder is not written yet)."""
    try:
        return _run_verify(source, where, wrapper_path)
    except (Exception, SystemExit) as e:  # its sys.exit: torch or transformers is missing
        raise BadInput(where, f"{what} cannot be built and run on its inputs: {_one_line(e)}") from None


def check_file(path):
    """A finished folder's verify_wrapper.py, run here as it runs on its own,
    as a step's result: `decompose check` re-runs Phase 0 with the steps."""
    try:
        with open(path, encoding="utf-8") as f:
            result = _run_verify(f.read(), os.path.abspath(path))
    except (Exception, SystemExit) as e:  # the folder moved, its code no longer runs, a package is missing
        return {"status": "FAIL", "error": f"Phase 0 cannot run: {_one_line(e)}",
                "numerical_comparison": {"trials": []}}
    out = {"status": result["status"], "preparation": result,
           "numerical_comparison": {"trials": result["trials"]}}
    bad = next((t for t in result["trials"] if not t["pass"]), None)
    if bad:
        out["error"] = (f"the wrapper differs from the folder's own code (seed {bad['seed']}, "
                        f"max diff {bad['max_diff']})")
    return out


def _run_verify(source, path, wrapper_path=None):
    namespace = {"__name__": "decompose_verify_wrapper", "__file__": path}
    exec(compile(source, path, "exec"), namespace)
    if wrapper_path:
        namespace["WRAPPER"] = wrapper_path
    return namespace["verify"]()
