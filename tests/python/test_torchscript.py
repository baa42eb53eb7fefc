"""Unit tests of seeing through the model's TorchScript functions
(torchscript.py): both traces see their ops, the model keeps running them
compiled, and a function compiled before the model's file was imported is
named in the error.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402

from decompose_glue import capture, torchscript, verify  # noqa: E402
from decompose_glue.loader import BadInput, load_model_file  # noqa: E402

MODELS = os.path.join(ROOT, "tests", "models", "untraceable")

# A branch on a value: torch.fx cannot trace it, so the model is recorded.
_BRANCHING = '''
import torch
import torch.nn as nn


@torch.jit.script
def bias_tanh(x, bias):
    return torch.tanh(x + bias) * 0.5


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.bias = nn.Parameter(torch.zeros(8))

    def forward(self, x):
        if x.sum() > -1e9:
            x = x * 2
        return bias_tanh(self.fc(x), self.bias)


def get_inputs():
    return [torch.randn(3, 8)]


def get_init_inputs():
    return []
'''


def _trace(model_file, check=True):
    model = model_file.build()
    inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
    gm, method, _notes, _out = capture.trace_model(model_file, model, inputs, check=check,
                                                   trial_seeds=verify.trial_seeds(3))
    return model, gm, method


def _targets(gm):
    return {getattr(n.target, "__name__", str(n.target)) for n in gm.graph.nodes if n.op != "placeholder"}


def _compiled_names(model_file):
    return sorted(name for name, value in vars(model_file.module).items()
                  if isinstance(value, torch.jit.ScriptFunction))


class SeenThrough(unittest.TestCase):
    def test_a_symbolic_trace_sees_the_ops_of_functions_that_call_each_other(self):
        model_file = load_model_file(os.path.join(MODELS, "scripted_functions.py"))
        model, gm, method = _trace(model_file)
        self.assertEqual(method, "symbolic")
        # swish's sigmoid, called from bias_swish_gate, and residual_scale's ops
        self.assertTrue({"sigmoid", "chunk", "mul", "add"} <= _targets(gm), _targets(gm))
        self.assertFalse(any(isinstance(n.target, torch.jit.ScriptFunction) for n in gm.graph.nodes))
        # the model's code runs them compiled again
        self.assertEqual(_compiled_names(model_file), ["bias_swish_gate", "residual_scale", "swish"])
        x = model_file.inputs(seed=1)[0][0]
        with torch.no_grad():
            self.assertTrue(torch.equal(gm(x), model(x)))

    def test_a_recording_sees_them_too(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "branching_script.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(_BRANCHING)
            model_file = load_model_file(path)
            model, gm, method = _trace(model_file)
        self.assertEqual(method, "recorded")
        self.assertIn("tanh", _targets(gm))
        self.assertEqual(_compiled_names(model_file), ["bias_tanh"])

    def test_a_function_compiled_before_the_file_was_imported_is_named(self):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "compiled_elsewhere.py"), "w", encoding="utf-8") as f:
                f.write("import torch\n\n\n@torch.jit.script\ndef gate(x):\n    return x * torch.sigmoid(x)\n")
            sys.path.insert(0, folder)
            try:
                import compiled_elsewhere  # noqa: F401  compiled here, outside torchscript.remembering
                path = os.path.join(folder, "uses_it.py")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(_BRANCHING
                            .replace("import torch.nn as nn\n",
                                     "import torch.nn as nn\nfrom compiled_elsewhere import gate\n")
                            .replace("return bias_tanh(", "return gate(bias_tanh(")
                            .replace("self.bias)", "self.bias))"))
                model_file = load_model_file(path)
                with self.assertRaises(BadInput) as caught:
                    _trace(model_file)
            finally:
                sys.path.remove(folder)
                sys.modules.pop("compiled_elsewhere", None)
        message = caught.exception.message
        self.assertIn("TorchScript functions, gate,", message)
        self.assertNotIn("bias_tanh", message)

    def test_remembering_puts_torch_jit_script_back(self):
        real = torch.jit.script
        with torchscript.remembering():
            self.assertIsNot(torch.jit.script, real)
            compiled = torch.jit.script(lambda_free)
        self.assertIs(torch.jit.script, real)
        self.assertTrue(torchscript.is_remembered(compiled))
        self.assertFalse(torchscript.is_remembered(real(lambda_free)))


class AcrossRuns(unittest.TestCase):
    def test_a_new_run_forgets_the_last_runs_functions(self):
        from decompose_glue import loader
        load_model_file(os.path.join(MODELS, "scripted_functions.py"))
        self.assertTrue(torchscript._ORIGINALS)
        loader.forget_last_run()
        self.assertEqual(torchscript._ORIGINALS, {})


def lambda_free(x):
    return x + 1


if __name__ == "__main__":
    unittest.main()
