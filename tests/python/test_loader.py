"""Loading the files a run writes: each refactored file gets the children of
its own folder, a text copied to many folders is compiled once, and what
runs still names the file it came from.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import shutil
import sys
import tempfile
import traceback
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

from decompose_glue import loader  # noqa: E402

PARENT = """\
from children.child import Model as Child


def run():
    return Child().value()
"""

CHILD = """\
class Model:
    def value(self):
        return {value}

    def fail(self):
        raise ValueError("from the child")
"""


class LoaderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="decompose-loader-")
        loader.forget_last_run()

    def tearDown(self):
        loader.forget_last_run()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def step(self, name, child):
        """A step folder: parent.py and children/child.py; returns parent.py."""
        folder = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(folder, "children"))
        with open(os.path.join(folder, "parent.py"), "w") as f:
            f.write(PARENT)
        with open(os.path.join(folder, "children", "child.py"), "w") as f:
            f.write(child)
        return os.path.join(folder, "parent.py")

    def test_each_parent_gets_the_children_of_its_own_folder(self):
        first = self.step("step_1", CHILD.format(value=1))
        second = self.step("step_2", CHILD.format(value=2))
        self.assertEqual(loader.import_file(first).run(), 1)
        self.assertEqual(loader.import_file(second).run(), 2)
        # a child missing from its own folder is an error, not another folder's
        os.remove(os.path.join(self.tmp, "step_1", "children", "child.py"))
        sys.path.insert(0, os.path.join(self.tmp, "step_2"))
        try:
            with self.assertRaises(loader.BadInput):
                loader.import_file(first)
        finally:
            sys.path.remove(os.path.join(self.tmp, "step_2"))

    def test_a_text_in_many_folders_is_compiled_once_and_names_each_file(self):
        paths = [self.step(f"step_{i}", CHILD.format(value=7)) for i in range(3)]
        compiled = []
        real = compile

        def counted(source, filename, *args, **kwargs):
            compiled.append(filename)
            return real(source, filename, *args, **kwargs)

        with mock.patch("builtins.compile", counted):
            children = []
            for path in paths:
                loader.import_file(path)
                children.append(sys.modules["children.child"])
        self.assertEqual(len(compiled), 2)  # parent.py once, child.py once
        for path, child in zip(paths, children):
            own = os.path.join(os.path.dirname(path), "children", "child.py")
            self.assertEqual(child.__file__, own)
            self.assertEqual(child.Model.value.__code__.co_filename, own)
            try:
                child.Model().fail()
            except ValueError:
                frames = traceback.extract_tb(sys.exc_info()[2])
            self.assertEqual(frames[-1].filename, own)
            self.assertIn("raise ValueError", frames[-1].line)

    def test_a_children_package_of_the_users_own_is_imported_as_python_does(self):
        folder = os.path.join(self.tmp, "project")
        os.makedirs(os.path.join(folder, "children"))
        with open(os.path.join(folder, "children", "__init__.py"), "w") as f:
            f.write("GREETING = 'hello'\n")
        with open(os.path.join(folder, "model.py"), "w") as f:
            f.write("import children\n\nGREETING = children.GREETING\n")
        self.assertEqual(loader.import_file(os.path.join(folder, "model.py")).GREETING, "hello")


if __name__ == "__main__":
    unittest.main()


LAZY_MODEL = """\
import torch.nn as nn


def _library():
    # defined on first use, as transformers' lazy modules define their blocks
    class Projection(nn.Module):
        def __init__(self, nf, nx):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(nx, nf))

    return Projection


import torch


class Model(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = _library()(3 * width, width)


def get_inputs():
    return [torch.zeros(2, 4)]


def get_init_inputs():
    return [4]
"""


class RecordingTest(unittest.TestCase):
    def test_a_class_defined_while_the_model_is_built_has_its_arguments_recorded(self):
        tmp = tempfile.mkdtemp(prefix="decompose-lazy-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "lazy.py")
        with open(path, "w") as f:
            f.write(LAZY_MODEL)
        import torch.nn as nn
        hooks_before = dict(vars(nn.Module))
        model, records = loader.build_recording_init_args(loader.load_model_file(path))
        self.assertEqual(records[id(model.proj)][:2], ((12, 4), {}))
        # the build leaves nn.Module as it found it
        self.assertNotIn("__init_subclass__", vars(nn.Module))
        self.assertEqual(set(vars(nn.Module)), set(hooks_before))
        self.assertEqual(type(model.proj).__init__.__name__, "__init__")
        self.assertFalse(hasattr(type(model.proj).__init__, "__wrapped__"))


USES_KERNEL = """\
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_by_name import VALUE  # noqa: E402
"""


class RunsInOneInterpreterTest(unittest.TestCase):
    def test_a_new_run_imports_its_own_file_of_a_name_the_last_run_imported(self):
        # a job runs many models in one interpreter, and each one's
        # composition test imports its kernels by file name
        tmp = tempfile.mkdtemp(prefix="decompose-runs-")
        self.addCleanup(shutil.rmtree, tmp, True)
        users = []
        for run, value in (("first", 1), ("second", 2)):
            os.makedirs(os.path.join(tmp, run))
            with open(os.path.join(tmp, run, "kernel_by_name.py"), "w") as f:
                f.write(f"VALUE = {value}\n")
            users.append(os.path.join(tmp, run, "composition.py"))
            with open(users[-1], "w") as f:
                f.write(USES_KERNEL)
        loader.forget_last_run()
        self.assertEqual(loader.import_file(users[0]).VALUE, 1)
        loader.forget_last_run()
        self.assertEqual(loader.import_file(users[1]).VALUE, 2)
        loader.forget_last_run()
        self.assertNotIn("kernel_by_name", sys.modules)
        self.assertIn("torch", sys.modules)


class LazyModulesTest(unittest.TestCase):
    def test_a_model_with_lazy_modules_is_built_with_its_weights_shaped(self):
        # before, the step checks read the shape of an uninitialised weight:
        # "internal: RuntimeError: Can't access the shape of an uninitialized parameter"
        import torch
        model_file = loader.load_model_file(os.path.join(ROOT, "tests", "models", "lazy_modules.py"))
        model = model_file.build()
        self.assertTrue(model_file.lazy)
        self.assertFalse(loader.has_lazy_modules(model))
        self.assertEqual(tuple(model.head.weight.shape), (5, 12))
        self.assertEqual(float(model.stage1.bn.num_batches_tracked), 0)  # built in eval mode: no statistics moved
        again = model_file.build()
        pairs = zip(model.state_dict().values(), again.state_dict().values())
        self.assertTrue(all(torch.equal(a, b) for a, b in pairs))
        plain = loader.load_model_file(os.path.join(ROOT, "tests", "models", "mlp.py"))
        plain.build()
        self.assertFalse(plain.lazy)
