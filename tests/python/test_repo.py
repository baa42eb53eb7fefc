"""Unit tests of Phase 0 for a model spread over a folder's files (repo.py):
which files are bundled, the wrapper standing in for the folder, the check
that tells the two apart, and kernel files that need none of the folder.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402

from decompose_glue import modsrc, repo  # noqa: E402
from decompose_glue.loader import BadInput, build_recording_init_args, load_model_file  # noqa: E402

TINY = os.path.join(ROOT, "tests", "repos", "tiny_lm")
CONFIG = [{"class": "configuration_tiny.TinyConfig", "kwargs": {"vocab_size": 50, "hidden_size": 16}}]
TOKENS = [{"shape": [2, 6], "dtype": "int64", "high": 50}]


def write_wrapper(folder, out, init_args=CONFIG, inputs=TOKENS):
    text, _ = repo.wrapper_source(folder, "modeling_tiny.py", "TinyLM", init_args, inputs, "tiny", sys.executable)
    path = os.path.join(out, "tiny.py")
    with open(path, "w") as f:
        f.write(text)
    return path


def check(folder, wrapper):
    source = repo.verify_source(folder, "TinyLM", "level_3_model/tiny.py", sys.executable, [42, 43], 1e-5, 1e-6)
    return repo.run_check(source, wrapper, os.path.join(folder, "modeling_tiny.py"))


class Bundle(unittest.TestCase):
    def test_the_entry_and_every_file_it_reaches_are_bundled_and_no_other(self):
        sources, entry = repo.bundle(TINY, "modeling_tiny.py")
        self.assertEqual(entry, "modeling_tiny")
        # layers/__init__.py runs first on `from layers import ...`; block.py
        # reaches act.py by a relative import and activations.py through it
        self.assertEqual(sorted(sources), ["activations", "configuration_tiny", "layers", "layers.act",
                                           "layers.block", "layers.norm", "modeling_tiny"])
        self.assertTrue(sources["layers"][0])
        self.assertFalse(sources["layers.norm"][0])

    def test_a_source_text_is_written_so_that_it_reads_back_the_same(self):
        for text in ("x = 1\n", "s = 'a\\tb'\n", 'doc = """q"""\n', "a = '''x'''\nb = \"\"\"y\"\"\"\n", "ends'"):
            literal = repo._text_literal(text)
            self.assertEqual(ast.literal_eval(literal), text, literal)
        self.assertTrue(repo._text_literal("x = 1\n").startswith("'''\\\n"))  # readable, not one line

    def test_arguments_from_the_folder_are_objects_or_names(self):
        config = repo._value_source({"class": "cfg.Config", "args": [2], "kwargs": {"eps": 0.5}}, "x")
        self.assertEqual(config, "importlib.import_module('cfg').Config(2, eps=0.5)")
        self.assertEqual(repo._value_source({"name": "blocks.Basic"}, "x"), "importlib.import_module('blocks').Basic")
        self.assertEqual(repo._value_source([1, {"k": True}], "x"), "[1, {'k': True}]")

    def test_libraries_are_imported_not_bundled(self):
        # a folder that holds torch itself (a site-packages) bundles none of it
        site = os.path.dirname(os.path.dirname(torch.__file__))
        self.assertTrue(repo._a_library(site, "torch"))
        self.assertFalse(repo._a_library(TINY, "layers"))

    def test_bad_arguments_are_named(self):
        with tempfile.TemporaryDirectory() as out:
            for init_args, inputs, why in (({"a": 1}, TOKENS, "init_args must be a list"),
                                           (CONFIG, [], "inputs must be a non-empty list"),
                                           (CONFIG, 3, "or a mapping of them by name"),
                                           (CONFIG, [{"shape": [2], "dtype": "int64"}], "needs 'high'"),
                                           (CONFIG, [{"shape": [2], "dtype": "float8"}], "is not one of")):
                with self.assertRaises(BadInput) as e:
                    write_wrapper(TINY, out, init_args, inputs)
                self.assertIn(why, e.exception.message)
            with self.assertRaises(BadInput) as e:
                repo.wrapper_source(TINY, "modeling_tiny.py", "Nope", CONFIG, TOKENS, "tiny", sys.executable)
            self.assertIn("no class Nope", e.exception.message)


class Wrapper(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="decompose-repo-test-")
        self.folder = os.path.join(self.tmp, "tiny_lm")
        shutil.copytree(TINY, self.folder)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_the_wrapper_equals_the_folder_and_runs_without_it(self):
        wrapper = write_wrapper(self.folder, self.tmp)
        result = check(self.folder, wrapper)
        self.assertEqual(result["status"], "PASS", result)
        self.assertEqual([t["max_diff"] for t in result["trials"]], [0.0, 0.0])
        shutil.rmtree(self.folder)
        run = subprocess.run([sys.executable, "-c", "import runpy, sys; m = runpy.run_path(sys.argv[1]); "
                              "print(tuple(m['Model'](*m['get_init_inputs']())(*m['get_inputs']()).shape))",
                              wrapper], capture_output=True, text=True, cwd=self.tmp, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.strip(), "(2, 6, 50)")

    def test_inputs_given_by_name_are_passed_by_name(self):
        wrapper = write_wrapper(self.folder, self.tmp, inputs={"input_ids": TOKENS[0]})
        model_file = load_model_file(wrapper)
        args, kwargs = model_file.inputs(seed=0)
        self.assertEqual(args, [])
        self.assertEqual(list(kwargs), ["input_ids"])
        self.assertEqual(check(self.folder, wrapper)["status"], "PASS")

    def test_the_check_fails_where_the_wrapper_is_not_the_folders_code(self):
        wrapper = write_wrapper(self.folder, self.tmp)
        # the folder changes after the wrapper was made: the two now differ
        path = os.path.join(self.folder, "activations.py")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("0.044715", "0.05"))
        result = check(self.folder, wrapper)
        self.assertEqual(result["status"], "FAIL")
        self.assertGreater(result["trials"][0]["max_diff"], 0.0)


class FolderClasses(unittest.TestCase):
    def test_a_kernel_class_from_the_folder_is_copied_with_what_it_uses(self):
        with tempfile.TemporaryDirectory() as out:
            model = load_model_file(write_wrapper(TINY, out)).build()
            act = model.blocks[0].act
            code = modsrc.classes_source([type(act)])[0]
        text = code.text
        # layers/act.py imports warnings for a function GeluNew does not call;
        # torch and math, which gelu_new needs, every generated file imports
        self.assertEqual(code.imports, ())
        # GeluNew calls `_gelu`, imported from activations.py as gelu_new
        self.assertIn("def gelu_new(x):", text)
        self.assertIn("_gelu = gelu_new", text)
        self.assertLess(text.index("_gelu = gelu_new"), text.index("class GeluNew"))
        self.assertNotIn("from activations", text)
        self.assertNotIn("from .", text)
        namespace = {}
        exec("import math\nimport torch\nimport torch.nn as nn\n" + text, namespace)
        x = torch.randn(3, 4)
        self.assertTrue(torch.equal(namespace["GeluNew"]()(x), act(x)))

    def test_a_module_class_without_an_init_of_its_own_is_rebuilt(self):
        with tempfile.TemporaryDirectory() as out:
            model_file = load_model_file(write_wrapper(TINY, out))
            model, records = build_recording_init_args(model_file)
            act = model.blocks[0].act
            self.assertEqual(modsrc.constructor(act, records)[0], "GeluNew()")


if __name__ == "__main__":
    unittest.main()


class CheckWithoutAPackage(unittest.TestCase):
    def test_a_check_that_exits_for_a_missing_package_is_a_failed_step(self):
        # a Hugging Face model's verify_wrapper.py exits where transformers is missing
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "verify_wrapper.py")
            with open(path, "w") as f:
                f.write('import sys\nsys.exit("This file needs PyTorch and transformers (No module named '
                        "'transformers').\")\n")
            result = repo.check_file(path)
        self.assertEqual(result["status"], "FAIL")
        self.assertIn("Phase 0 cannot run: SystemExit: This file needs PyTorch and transformers", result["error"])


class PhaseZeroOnARetrace(unittest.TestCase):
    def test_a_retrace_of_the_same_model_takes_phase_0_again_and_a_new_run_does_not(self):
        from unittest import mock
        from decompose_glue import plan
        request = {"model_path": TINY, "model_name": "tiny", "num_trials": 1, "python": sys.executable,
                   "repo": {"path": TINY, "entry_file": "modeling_tiny.py", "entry_class": "TinyLM",
                            "init_args": CONFIG, "inputs": TOKENS}}
        with mock.patch.object(repo, "run_check", wraps=repo.run_check) as run_check:
            first = plan.make_plan(request)
            retrace = plan.make_plan({**request, "check_trace": True})
            self.assertEqual(run_check.call_count, 1)
            plan.make_plan(request)  # a new run checks again
            self.assertEqual(run_check.call_count, 2)
        prepared = [f for f in retrace["files"] if f["path"].startswith("steps/step_0_preparation/")]
        self.assertEqual(prepared, [f for f in first["files"] if f["path"].startswith("steps/step_0_preparation/")])
        self.assertEqual(retrace["preparation"]["status"], "PASS")
