"""Loading model files: the user's, and the component files the tool wrote.

Every file is imported under a fresh module name, so that one interpreter can
load hundreds of files that all define `Model` and `get_inputs` without one
shadowing another. A refactored file imports its children as `children.<x>`;
each step has its own children/ folder, so those names are purged before each
load, or a step would silently run the previous step's children, and they are
looked for in that folder only (_ChildrenFinder). Each text is compiled once
a run, whichever copy of it is imported.
"""

import contextlib
import functools
import importlib.machinery
import importlib.util
import itertools
import os
import sys
import types

import torch
import torch.nn as nn

from . import torchscript


class BadInput(Exception):
    """The user's file cannot be decomposed; the message is one line."""

    def __init__(self, path, message):
        super().__init__(message)
        self.path = path
        self.message = message


_counter = itertools.count()


def _one_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, AttributeError) and str(exc).startswith("module 'torch"):
        # an API this torch does not have yet (1.13 lacks F.scaled_dot_product_attention)
        text += f" (this is torch {torch.__version__})"
    return " ".join(text.split())


def _purge_children_modules():
    for name in [n for n in sys.modules if n == "children" or n.startswith("children.")]:
        del sys.modules[name]


# Compiled files by text. One run imports each generated file several times
# (its step, its self-test, coverage), a child file from the children/ of
# every step that uses it as well (DenseNet121: 399 files, 152 texts, 897
# imports), and the host writes no bytecode.
_CODE = {}


# Where installed code lives: the folders on sys.path before any run added
# its own (a model's folder, a composition test's level_0_kernel/).
_INSTALLED = tuple(os.path.join(os.path.abspath(p), "") for p in sys.path if p and os.path.isdir(p))


def _from_a_run(module):
    """Whether a module was imported from a file no installed folder holds:
    a generated file, or a user's module beside their model."""
    path = getattr(module, "__file__", None)
    return isinstance(path, str) and os.path.isabs(path) and not path.startswith(_INSTALLED)


def forget_last_run():
    """A new run starts: the last run's files are not imported again, and
    their modules go (a job file runs many models in one interpreter, and
    one run imports hundreds of files). A composition test imports its
    kernels by file name (`from linear_64x64_fp32 import Model`): a module
    kept from the last model's folder would answer for this one's file of
    the same name."""
    _CODE.clear()
    torchscript.forget()  # the last run's compiled functions and the modules they hold
    _purge_children_modules()
    for name in [n for n, m in list(sys.modules.items()) if n.startswith("_decompose_file_") or _from_a_run(m)]:
        del sys.modules[name]


def _compiled(path, source):
    code = _CODE.get(source)
    if code is None:
        code = _CODE[source] = compile(source, path, "exec", dont_inherit=True)
    return code if code.co_filename == path else _at(code, path)


def _at(code, path):
    """`code` as if compiled from `path`: a traceback, inspect and the
    anti-cheat must name the file that ran, not the copy compiled first."""
    consts = tuple(_at(c, path) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=path, co_consts=consts)


class _Package:
    """Loader of the `children` package: a folder of files, no __init__.py."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        pass


class _ChildFile(importlib.machinery.SourceFileLoader):
    def source_to_code(self, data, path, *, _optimize=-1):
        return _compiled(path, importlib.util.decode_source(data))


class _ChildrenFinder:
    """Finds a refactored file's `from children.<file> import Model` in the
    folder it is imported from (import_file puts it first on sys.path), and
    compiles each text once (_compiled). Without it, `children`, a folder
    without __init__.py, is a namespace package: its portions are looked
    for in every entry of sys.path, and each child file is compiled again."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "children":
            for entry in sys.path:
                folder = os.path.join(entry or os.getcwd(), "children")
                if os.path.isfile(os.path.join(folder, "__init__.py")):
                    return None  # a package of the user's own: Python's to import
                if os.path.isdir(folder):
                    spec = importlib.machinery.ModuleSpec(fullname, _Package(), is_package=True)
                    spec.submodule_search_locations = [folder]
                    return spec
            return None
        package, _, name = fullname.rpartition(".")
        if package != "children" or not path:
            return None
        for folder in path:
            file = os.path.join(folder, name + ".py")
            if os.path.isfile(file):
                return importlib.util.spec_from_file_location(fullname, file,
                                                              loader=_ChildFile(fullname, file))
        return None


sys.meta_path.insert(0, _ChildrenFinder())


def import_file(path):
    """Import a .py file as a new module; raises BadInput on any failure."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise BadInput(path, "no such file")
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = _compiled(path, source)
    except SyntaxError as e:
        raise BadInput(path, f"syntax error at line {e.lineno}: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(path, f"cannot read: {_one_line(e)}") from None
    name = f"_decompose_file_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    _purge_children_modules()
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        with torchscript.remembering():
            exec(code, module.__dict__)  # what spec.loader.exec_module does, without compiling again
    except BaseException as e:  # the user's code may raise anything, SystemExit too
        del sys.modules[name]
        raise BadInput(path, f"importing it raised {_one_line(e)}") from None
    finally:
        sys.path.remove(folder)
    return module


class ModelFile:
    """A file in the KernelBench format, imported, with its entry points."""

    def __init__(self, path, module, cls):
        self.path = path
        self.module = module
        self.cls = cls
        self.get_inputs = module.get_inputs
        self.get_init_inputs = getattr(module, "get_init_inputs", lambda: [])
        self.get_input_kwargs = getattr(module, "get_input_kwargs", lambda: {})
        self.lazy = False  # whether build() ran a forward to give lazy modules their weights

    def inputs(self, seed=None):
        """(args, kwargs) from the file's own generators, seeded if asked."""
        if seed is not None:
            torch.manual_seed(seed)
        try:
            args = list(self.get_inputs())
            kwargs = dict(self.get_input_kwargs())
        except Exception as e:
            raise BadInput(self.path, f"get_inputs() raised {_one_line(e)}") from None
        return args, kwargs

    def build(self, seed=0):
        """A fresh instance in eval mode (dropout off, batch norm on running stats)."""
        torch.manual_seed(seed)
        try:
            init = list(self.get_init_inputs())
            with torchscript.remembering():
                model = self.cls(*init)
        except Exception as e:
            raise BadInput(self.path, f"Model(*get_init_inputs()) raised {_one_line(e)}") from None
        if not isinstance(model, nn.Module):
            raise BadInput(self.path, "Model is not a torch.nn.Module")
        model.eval()
        if has_lazy_modules(model):
            # nn.LazyLinear's weights take their shapes from its first input:
            # a forward on the file's inputs makes them, as composition_test.py does
            args, kwargs = self.inputs(seed=seed)
            run_forward(self, model, args, kwargs)
            self.lazy = True
        return model


def has_lazy_modules(model):
    """Whether a module of `model` has weights still waiting for their
    shapes (nn.LazyLinear, nn.LazyConv2d before their first forward)."""
    return any(isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params()
               for m in model.modules())


def load_model_file(path, class_names=("Model",), require_init=True):
    """Import a KernelBench-format file and check its entry points."""
    module = import_file(path)
    cls = None
    for name in class_names:
        cls = getattr(module, name, None)
        if cls is not None:
            break
    if cls is None:
        raise BadInput(path, f"no class {' or '.join(class_names)} defined")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise BadInput(path, f"{cls.__name__ if hasattr(cls, '__name__') else cls} is not an nn.Module class")
    if not callable(getattr(module, "get_inputs", None)):
        raise BadInput(path, "no get_inputs() function defined")
    if require_init and not callable(getattr(module, "get_init_inputs", None)):
        raise BadInput(path, "no get_init_inputs() function defined")
    return ModelFile(os.path.abspath(path), module, cls)


def run_forward(model_file, model, args, kwargs):
    """The model's own forward on its inputs; any exception is bad input."""
    try:
        with torch.no_grad():
            return model(*args, **kwargs)
    except Exception as e:
        raise BadInput(model_file.path, f"forward raised {_one_line(e)}") from None


@contextlib.contextmanager
def weights_left_uninitialised():
    """Build modules without drawing their initial weights (torch.nn.init's
    functions do nothing), for a model whose weights are about to be
    replaced or never read: drawing them is most of a large model's build
    time (1.7 s of VGG16's, against 1 ms without)."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")
             and callable(getattr(nn.init, n))]
    saved = {n: getattr(nn.init, n) for n in names}
    for n in names:
        setattr(nn.init, n, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(nn.init, n, fn)


def _module_classes():
    seen, stack = set(), [nn.Module]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return seen


@contextlib.contextmanager
def recording_init_arguments(records, classes=None):
    """While it lasts, each module that is built leaves in `records`
    {id(module): (args, kwargs, module)}: what its outermost __init__ was
    called with, also for a class with no __init__ of its own
    (torchvision's LayerNorm2d is built through nn.LayerNorm.__init__).
    The __init__ of each of `classes` is wrapped, then restored; by default
    of every nn.Module class there is, and of every one defined meanwhile (a
    library that imports its modeling code on first use, as transformers'
    lazy modules do, defines its blocks inside Model.__init__)."""
    patched = []
    building = set()

    def wrap(original):
        @functools.wraps(original)
        def init(self, *args, **kwargs):
            outermost = id(self) not in building
            building.add(id(self))
            original(self, *args, **kwargs)
            if outermost and id(self) not in records:
                records[id(self)] = (args, kwargs, self)
        return init

    def patch(cls):
        original = cls.__dict__.get("__init__")
        if original is None or not callable(original):
            return
        try:
            setattr(cls, "__init__", wrap(original))
        except (TypeError, AttributeError):
            return
        patched.append((cls, original))

    every = classes is None
    had_hook = "__init_subclass__" in nn.Module.__dict__
    own_hook = nn.Module.__dict__.get("__init_subclass__")

    def defined(cls, **kwargs):
        if had_hook:  # a torch whose nn.Module has a hook of its own: it runs first
            own_hook.__get__(None, cls)(**kwargs)
        else:
            super(nn.Module, cls).__init_subclass__(**kwargs)
        patch(cls)

    for cls in _module_classes() if every else classes:
        patch(cls)
    if every:
        nn.Module.__init_subclass__ = classmethod(defined)
    try:
        yield records
    finally:
        if every:
            if had_hook:
                nn.Module.__init_subclass__ = own_hook
            else:
                del nn.Module.__init_subclass__
        for cls, original in patched:
            setattr(cls, "__init__", original)


def build_recording_init_args(model_file, seed=0):
    """Build the model while recording each submodule's constructor arguments.

    Generated files rebuild leaf modules from the arguments the user's code
    passed (`nn.Conv2d(3, 64, kernel_size=3, padding=1)`), which no module
    attribute holds in general.
    Returns (model, {id(module): (args, kwargs, module)}).
    """
    records = {}
    with recording_init_arguments(records):
        model = model_file.build(seed)
    for module in model.modules():
        # A class with no __init__ of its own (a Swish with only a forward)
        # is built through nn.Module's, which takes no arguments.
        if id(module) not in records and type(module).__init__ is nn.Module.__init__:
            records[id(module)] = ((), {}, module)
    return model, records
