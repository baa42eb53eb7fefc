"""The anti-cheat catches what a regex misses, and passes honest files.

Each test writes a real step folder (children/ with honest child files, and a
refactored.py), loads it as the step gate does, and runs anticheat.check.
"""

import os
import shutil
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402

from decompose_glue import anticheat  # noqa: E402
from decompose_glue.loader import load_model_file  # noqa: E402

LINEAR = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(16, 16)

    def forward(self, x):
        return self.linear(x)


def get_inputs():
    return [torch.randn(2, 16)]


def get_init_inputs():
    return []
"""

RELU = LINEAR.replace("self.linear = nn.Linear(16, 16)", "pass").replace(
    "return self.linear(x)", "return torch.relu(x)")

SPLIT = LINEAR.replace("self.linear = nn.Linear(16, 16)", "self.linear = nn.Linear(16, 32)").replace(
    "return self.linear(x)", "y = self.linear(x)\n        return y[:, :16], y[:, 16:]")

HEADER = """
import os
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from children.linear_16x16_fp32 import Model as Linear
from children.relu_fp32 import Model as Relu
from children.linear_split_fp32 import Model as LinearSplit
"""

FOOTER = """

def get_inputs():
    return [torch.randn(2, 16)]


def get_init_inputs():
    return []
"""


def refactored(init, forward, extra=""):
    body = textwrap.indent(textwrap.dedent(forward).strip(), " " * 8)
    init_body = textwrap.indent(textwrap.dedent(init).strip(), " " * 8)
    return (HEADER + textwrap.dedent(extra) + "\n\nclass RefactoredModel(nn.Module):\n"
            "    def __init__(self):\n        super().__init__()\n" + init_body +
            "\n\n    def forward(self, x):\n" + body + "\n" + FOOTER)


HONEST_INIT = """
self.a = Linear()
self.b = Linear()
self.act = Relu()
self.split = LinearSplit()
"""


class StepFolder(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="anticheat-")
        os.mkdir(os.path.join(self.dir, "children"))
        for name, text in (("linear_16x16_fp32", LINEAR), ("relu_fp32", RELU), ("linear_split_fp32", SPLIT)):
            with open(os.path.join(self.dir, "children", name + ".py"), "w") as f:
                f.write(text)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_check(self, source):
        path = os.path.join(self.dir, "refactored.py")
        with open(path, "w") as f:
            f.write(source)
        model = load_model_file(path, class_names=("RefactoredModel",), require_init=False).build()
        return anticheat.check(path, model, [torch.randn(2, 16)], {})

    def assert_caught(self, source, by):
        result = self.run_check(source)
        self.assertEqual(result["status"], "FAIL", result)
        self.assertIn(by, {v["check"] for v in result["violations"]}, result["violations"])
        return result

    def assert_honest(self, source):
        result = self.run_check(source)
        self.assertEqual(result["status"], "PASS", result["violations"])


class Cheats(StepFolder):
    def test_matmul_operator(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn y @ y.t()"), "static")

    def test_matmul_operator_is_seen_at_run_time_too(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn y @ y.t()"), "runtime")

    def test_tensor_method_relu(self):
        self.assert_caught(refactored(HONEST_INIT, "return self.a(x).relu()"), "static")

    def test_getattr_on_torch(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn getattr(torch, 'mm')(y, y.t())"),
                           "runtime")

    def test_compute_in_a_module_level_helper(self):
        self.assert_caught(refactored(HONEST_INIT, "return helper(self.a(x))",
                                      "def helper(t):\n    return torch.sigmoid(t)\n"), "static")

    def test_compute_in_a_method(self):
        source = refactored(HONEST_INIT, "return self.squash(self.a(x))").replace(
            "\n\ndef get_inputs", "\n    def squash(self, t):\n        return torch.tanh(t)\n\n\ndef get_inputs", 1)
        self.assert_caught(source, "static")

    def test_raw_linear_built_in_init(self):
        self.assert_caught(refactored(HONEST_INIT + "self.raw = nn.Linear(16, 16)", "return self.raw(x)"),
                           "ownership")

    def test_parameter_in_init(self):
        self.assert_caught(refactored(HONEST_INIT + "self.w = nn.Parameter(torch.ones(16))",
                                      "return self.a(x) * self.w"), "ownership")

    def test_lambda_doing_matmul(self):
        self.assert_caught(refactored(HONEST_INIT, "f = lambda a, b: torch.matmul(a, b)\n"
                                                   "y = self.a(x)\nreturn f(y, y.t())"), "static")

    def test_functional_imported_under_another_name(self):
        source = refactored(HONEST_INIT, "return r(self.a(x))").replace(
            "import torch.nn.functional as F", "from torch.nn.functional import relu as r")
        self.assert_caught(source, "static")

    def test_torch_imported_under_another_name(self):
        source = refactored(HONEST_INIT, "return T.sigmoid(self.a(x))").replace("import torch\n", "import torch\nimport torch as T\n")
        self.assert_caught(source, "static")

    def test_einsum(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn torch.einsum('ij,kj->ik', y, y)"),
                           "runtime")

    def test_power_operator(self):
        self.assert_caught(refactored(HONEST_INIT, "return self.a(x) ** 2"), "static")

    def test_functional_linear_with_a_childs_weight(self):
        self.assert_caught(refactored(HONEST_INIT, "return F.linear(x, self.a.linear.weight)"), "runtime")

    def test_getattr_on_nn_in_init(self):
        self.assert_caught(refactored(HONEST_INIT + "self.raw = getattr(nn, 'Linear')(16, 16)",
                                      "return self.raw(x)"), "ownership")

    def test_exec_of_a_compute_string(self):
        result = self.assert_caught(refactored(HONEST_INIT, "scope = {'torch': torch, 'y': self.a(x)}\n"
                                                            "exec('z = torch.exp(y)', scope)\nreturn scope['z']"),
                                    "runtime")
        self.assertTrue(any(v["check"] == "static" for v in result["violations"]))

    def test_child_class_defined_in_the_refactored_file(self):
        extra = ("class Sneaky(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                 "        self.l = nn.Linear(16, 16)\n\n    def forward(self, t):\n        return self.l(t)\n")
        self.assert_caught(refactored(HONEST_INIT + "self.s = Sneaky()", "return self.s(x)", extra), "ownership")

    def test_constant_scaling_is_compute(self):
        self.assert_caught(refactored(HONEST_INIT, "return self.a(x) * 0.5"), "runtime")


class Honest(StepFolder):
    def test_child_calls_with_a_residual_add(self):
        self.assert_honest(refactored(HONEST_INIT, "y = self.a(x)\nreturn self.act(self.b(y) + x)"))

    def test_data_plumbing(self):
        self.assert_honest(refactored(HONEST_INIT, """
            y = self.a(x).view(2, 4, 4).permute(0, 2, 1).contiguous()
            y = y.transpose(1, 2).reshape(2, 16)
            parts = torch.chunk(y, 2, dim=1)
            z = torch.cat([parts[1], parts[0]], dim=1)
            first, second = torch.split(z, 8, dim=1)
            z = torch.stack([first, second], 0).flatten(1)[:, :16].float()
            return self.b(z.unsqueeze(0).squeeze(0))
            """))

    def test_tuple_returning_child(self):
        self.assert_honest(refactored(HONEST_INIT, "lo, hi = self.split(x)\nreturn self.act(lo) + hi"))

    def test_sum_of_two_child_results(self):
        self.assert_honest(refactored(HONEST_INIT, "return self.a(x) + self.b(x)"))


if __name__ == "__main__":
    unittest.main()
