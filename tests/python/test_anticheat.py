"""The anti-cheat catches what a regex misses, and passes honest files.

Each test writes a real step folder (children/ with honest child files, and a
refactored.py), loads it as the step gate does, and runs anticheat.check.
Each cheat names the checks that must catch it: static (the AST), ownership
(the built model) or runtime (the watched forward).

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
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

# A child file that also exports a function: importing it is not a licence
# to compute in the parent.
MIXER = RELU + "\n\ndef mix(t):\n    return torch.tanh(t) * 2\n"

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


def refactored(init, forward, extra="", methods=""):
    """A refactored.py: HEADER, extra module-level code, the class, FOOTER."""
    body = textwrap.indent(textwrap.dedent(forward).strip(), " " * 8)
    init_body = textwrap.indent(textwrap.dedent(init).strip(), " " * 8)
    more = "\n" + textwrap.indent(textwrap.dedent(methods).strip(), " " * 4) + "\n" if methods else ""
    return (HEADER + textwrap.dedent(extra) + "\n\nclass RefactoredModel(nn.Module):\n"
            "    def __init__(self):\n        super().__init__()\n" + init_body +
            "\n\n    def forward(self, x):\n" + body + "\n" + more + FOOTER)


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
        for name, text in (("linear_16x16_fp32", LINEAR), ("relu_fp32", RELU),
                           ("linear_split_fp32", SPLIT), ("mixer_fp32", MIXER)):
            with open(os.path.join(self.dir, "children", name + ".py"), "w") as f:
                f.write(text)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_check(self, source):
        path = self.write("refactored.py", source)
        model = load_model_file(path, class_names=("RefactoredModel",), require_init=False).build()
        return anticheat.check(path, model, [torch.randn(2, 16)], {})

    def assert_caught(self, source, *by):
        """FAIL, and every check named in `by` has a finding."""
        result = self.run_check(source)
        self.assertEqual(result["status"], "FAIL", result)
        found = {v["check"] for v in result["violations"]}
        for check in by:
            self.assertIn(check, found, result["violations"])
        return result

    def assert_honest(self, source):
        result = self.run_check(source)
        self.assertEqual(result["status"], "PASS", result["violations"])
        return result


class Cheats(StepFolder):
    def test_matmul_operator(self):
        result = self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn y @ y.t()"),
                                    "static", "runtime")
        static = result["source_violations"][0]
        self.assertEqual(static["location"], "forward()")
        self.assertEqual(static["line_text"], "return y @ y.t()")
        self.assertIn("matmul", {v["op"] for v in result["runtime_violations"]})

    def test_tensor_method_relu(self):
        result = self.assert_caught(refactored(HONEST_INIT, "return self.a(x).relu()"), "static", "runtime")
        self.assertEqual([v["op"] for v in result["runtime_violations"]], ["relu"])

    def test_getattr_on_torch(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn getattr(torch, 'mm')(y, y.t())"),
                           "static", "runtime")

    def test_compute_in_a_module_level_helper(self):
        result = self.assert_caught(refactored(HONEST_INIT, "return helper(self.a(x))",
                                               "def helper(t):\n    return torch.sigmoid(t)\n"),
                                    "static", "runtime")
        self.assertEqual(result["source_violations"][0]["location"], "helper helper")

    def test_compute_two_helpers_deep(self):
        extra = "def outer(t):\n    return inner(t)\n\n\ndef inner(t):\n    return t.exp()\n"
        result = self.assert_caught(refactored(HONEST_INIT, "return outer(self.a(x))", extra),
                                    "static", "runtime")
        self.assertEqual(result["source_violations"][0]["location"], "helper inner")

    def test_compute_in_a_method(self):
        result = self.assert_caught(refactored(HONEST_INIT, "return self.squash(self.a(x))",
                                               methods="def squash(self, t):\n    return torch.tanh(t)"),
                                    "static", "runtime")
        self.assertEqual(result["source_violations"][0]["location"], "helper squash")

    def test_compute_in_a_staticmethod(self):
        methods = "@staticmethod\ndef squash(t):\n    return t.tanh()"
        self.assert_caught(refactored(HONEST_INIT, "return RefactoredModel.squash(self.a(x))", methods=methods),
                           "static", "runtime")

    def test_raw_linear_built_in_init(self):
        result = self.assert_caught(refactored(HONEST_INIT + "self.raw = nn.Linear(16, 16)", "return self.raw(x)"),
                                    "static", "ownership", "runtime")
        self.assertEqual(result["source_violations"][0]["location"], "__init__()")
        self.assertIn("raw.weight", {v.get("parameter") for v in result["ownership_violations"]})

    def test_parameter_in_init(self):
        self.assert_caught(refactored(HONEST_INIT + "self.w = nn.Parameter(torch.ones(16))",
                                      "return self.a(x) * self.w"), "static", "ownership", "runtime")

    def test_buffer_registered_in_init(self):
        self.assert_caught(refactored(HONEST_INIT + "self.register_buffer('scale', torch.ones(16))",
                                      "return self.a(x) + self.scale"), "static", "ownership", "runtime")

    def test_lambda_doing_matmul(self):
        self.assert_caught(refactored(HONEST_INIT, "f = lambda a, b: a @ b\n"
                                                   "y = self.a(x)\nreturn f(y, y.t())"), "static", "runtime")

    def test_module_level_lambda(self):
        self.assert_caught(refactored(HONEST_INIT, "return mix(self.a(x))",
                                      "mix = lambda t: torch.matmul(t, t.t())\n"), "static", "runtime")

    def test_functional_imported_under_another_name(self):
        source = refactored(HONEST_INIT, "return r(self.a(x))").replace(
            "import torch.nn.functional as F", "from torch.nn.functional import relu as r")
        result = self.assert_caught(source, "static", "runtime")
        self.assertIn("torch.nn.functional.relu", result["source_violations"][0]["reason"])

    def test_torch_imported_under_another_name(self):
        source = refactored(HONEST_INIT, "return T.sigmoid(self.a(x))").replace(
            "import torch\n", "import torch\nimport torch as T\n")
        result = self.assert_caught(source, "static", "runtime")
        self.assertIn("torch.sigmoid", result["source_violations"][0]["reason"])

    def test_function_imported_from_torch(self):
        source = refactored(HONEST_INIT, "y = self.a(x)\nreturn mm(y, y)").replace(
            "import torch\n", "import torch\nfrom torch import matmul as mm\n")
        self.assert_caught(source, "static", "runtime")

    def test_module_level_alias_of_a_compute_function(self):
        self.assert_caught(refactored(HONEST_INIT, "return act(self.a(x))", "act = F.gelu\n"),
                           "static", "runtime")

    def test_einsum(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn torch.einsum('ij,kj->ik', y, y)"),
                           "static", "runtime")

    def test_power_operator(self):
        self.assert_caught(refactored(HONEST_INIT, "return self.a(x) ** 2"), "static", "runtime")

    def test_functional_linear_with_a_childs_weight(self):
        result = self.assert_caught(refactored(HONEST_INIT, "return F.linear(x, self.a.linear.weight)"),
                                    "static", "runtime")
        self.assertEqual([v["op"] for v in result["runtime_violations"]], ["linear"])

    def test_childs_bias_added_through_a_view(self):
        # view is plumbing, but what it gives is still a weight, not a result.
        result = self.assert_caught(refactored(HONEST_INIT, "return self.b(x) + self.a.linear.bias.view(1, 16)"),
                                    "static", "runtime")
        self.assertIn("a.linear.bias", result["runtime_violations"][0]["reason"])

    def test_calling_inside_a_child(self):
        self.assert_caught(refactored(HONEST_INIT, "return self.act(self.a.linear(x))"), "static", "runtime")

    def test_calling_a_childs_forward_directly(self):
        # forward() skips the child's __call__: its ops run as the parent's.
        self.assert_caught(refactored(HONEST_INIT, "return self.a.forward(x)"), "static", "runtime")

    def test_getattr_on_nn_in_init(self):
        self.assert_caught(refactored(HONEST_INIT + "self.raw = getattr(nn, 'Linear')(16, 16)",
                                      "return self.raw(x)"), "static", "ownership")

    def test_exec_of_a_compute_string(self):
        self.assert_caught(refactored(HONEST_INIT, "scope = {'torch': torch, 'y': self.a(x)}\n"
                                                   "exec('z = torch.exp(y)', scope)\nreturn scope['z']"),
                           "static", "runtime")

    def test_eval_hidden_behind_a_local_name(self):
        self.assert_caught(refactored(HONEST_INIT, "run = eval\nreturn run('y.exp()', {'y': self.a(x)})"),
                           "static", "runtime")

    def test_child_class_defined_in_the_refactored_file(self):
        extra = ("class Sneaky(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                 "        self.l = nn.Linear(16, 16)\n\n    def forward(self, t):\n        return self.l(t)\n")
        result = self.assert_caught(refactored(HONEST_INIT + "self.s = Sneaky()", "return self.s(x)", extra),
                                    "static", "ownership")
        self.assertIn("s", {v.get("module") for v in result["ownership_violations"]})

    def test_child_class_disguised_with_a_module_name(self):
        extra = ("class Sneaky(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                 "        self.l = nn.Linear(16, 16)\n\n    def forward(self, t):\n        return self.l(t)\n\n\n"
                 "Sneaky.__module__ = 'children.linear_16x16_fp32'\n")
        self.assert_caught(refactored(HONEST_INIT + "self.s = Sneaky()", "return self.s(x)", extra),
                           "static", "ownership")

    def test_constant_scaling_is_compute(self):
        result = self.assert_caught(refactored(HONEST_INIT, "return self.a(x) * 0.5"), "runtime")
        self.assertEqual(result["runtime_violations"][0]["op"], "mul")

    def test_module_level_constant_tensor(self):
        # The AST sees `y * SCALE`, two names; only the run sees SCALE is no result.
        result = self.assert_caught(refactored(HONEST_INIT, "return self.a(x) * SCALE",
                                               "SCALE = torch.full((16,), 2.0)\n"), "runtime")
        self.assertIn("neither an input nor a child's result", result["runtime_violations"][0]["reason"])

    def test_compute_in_a_helper_imported_from_a_child_file(self):
        source = refactored(HONEST_INIT, "return mix(self.a(x))").replace(
            "from children.relu_fp32 import Model as Relu",
            "from children.relu_fp32 import Model as Relu\nfrom children.mixer_fp32 import mix")
        result = self.assert_caught(source, "static", "runtime")
        self.assertIn("tanh", {v["op"] for v in result["runtime_violations"]})

    def test_compute_in_a_helper_module_beside_the_file(self):
        self.write("helpers.py", "import torch\n\n\ndef squash(t):\n    return torch.sigmoid(t)\n")
        source = refactored(HONEST_INIT, "return helpers.squash(self.a(x))").replace(
            "from children.relu_fp32", "import helpers\nfrom children.relu_fp32")
        self.assert_caught(source, "static", "runtime")

    def test_min_of_tensors(self):
        self.assert_caught(refactored(HONEST_INIT, "return min(self.a(x), self.b(x))"), "static", "runtime")

    def test_sum_builtin_adds_a_python_zero(self):
        self.assert_caught(refactored(HONEST_INIT, "return sum([self.a(x), self.b(x)])"), "static", "runtime")

    def test_in_place_scaling(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\ny.mul_(3.0)\nreturn y"), "runtime")

    def test_writing_a_number_into_a_result(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\ny[:, 0] = 1.0\nreturn y"), "runtime")

    def test_reading_a_value_to_decide(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn y if float(y[0, 0]) > 0 else x"),
                           "runtime")

    def test_torch_internals(self):
        self.assert_caught(refactored(HONEST_INIT, "y = self.a(x)\nreturn torch.ops.aten.relu(y)"),
                           "static", "runtime")

    def test_compute_function_handed_to_a_child(self):
        # A child that runs whatever it is given would hide relu inside it.
        self.assert_caught(refactored(HONEST_INIT, "return self.act(x, torch.relu)"), "static")

    def test_patching_a_child_class_at_import(self):
        # The child's forward now runs the parent's code, inside the child.
        extra = "Relu.forward = lambda self, t: torch.sigmoid(t)\n"
        result = self.assert_caught(refactored(HONEST_INIT, "return self.act(self.a(x))", extra),
                                    "static", "ownership")
        self.assertEqual(result["source_violations"][0]["location"], "module")

    def test_forward_hook_on_a_child(self):
        init = HONEST_INIT + "self.a.register_forward_hook(lambda m, i, o: o.tanh())"
        self.assert_caught(refactored(init, "return self.a(x)"), "static", "ownership")

    def test_forward_that_behaves_only_while_watched(self):
        # Honest under the check's hooks, computing otherwise: the outputs differ.
        forward = "y = self.a(x)\nreturn y if self.a._forward_hooks else torch.tanh(y)"
        result = self.assert_caught(refactored(HONEST_INIT, forward), "static", "runtime")
        self.assertIn("output", {v["op"] for v in result["runtime_violations"]})

    def test_overriding_call(self):
        methods = "def __call__(self, x):\n    return torch.tanh(self.forward(x))"
        self.assert_caught(refactored(HONEST_INIT, "return self.a(x)", methods=methods), "static", "runtime")

    def test_inheriting_forward_from_another_class(self):
        source = refactored(HONEST_INIT, "return self.a(x)").replace(
            "class RefactoredModel(nn.Module):", "class Base(nn.Module):\n    def forward(self, x):\n"
            "        return torch.tanh(x)\n\n\nclass RefactoredModel(Base):").replace(
            "    def forward(self, x):\n        return self.a(x)\n", "")
        self.assert_caught(source, "static", "runtime")


class Honest(StepFolder):
    def test_cpu_model_leaves_cuda_alone(self):
        # On a machine with GPUs, the watched forward of a model on the CPU
        # must not start CUDA to save its generators (seconds, memory on each
        # card). Here torch has no CUDA: asking it for a state raises.
        from unittest import mock
        with mock.patch.object(torch.cuda, "is_available", return_value=True), \
                mock.patch.object(torch.cuda, "device_count", return_value=2), \
                mock.patch.object(torch.cuda, "get_rng_state", side_effect=AssertionError("CUDA started")):
            self.assert_honest(refactored(HONEST_INIT, "return self.act(self.b(self.a(x)))"))

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

    def test_generated_style_plumbing(self):
        # The lines codegen writes: sizes from .shape, shape arithmetic,
        # x.add(y), torch.cat(..., dim=), getattr of a plumbing function.
        self.assert_honest(refactored(HONEST_INIT, """
            getattr_1 = x.shape
            getitem = getattr_1[0]
            half = max(x.size(1) // 2, 1)
            width = half ** 1
            a = self.a(x)
            view = a.view(getitem, 2, width)
            flat = torch.flatten(view, 1).to(torch.float32).type_as(x)
            cat = getattr(torch, 'cat')((flat, x), dim=1)
            left = cat[:, :16]
            add = left.add(self.b(x))
            sub = add - x
            neg = -sub
            div = neg / self.b(x)
            return div.expand(2, 16).clone()
            """))

    def test_tuple_returning_child(self):
        self.assert_honest(refactored(HONEST_INIT, "lo, hi = self.split(x)\nreturn self.act(lo) + hi"))

    def test_sum_of_two_child_results(self):
        self.assert_honest(refactored(HONEST_INIT, "return self.a(x) + self.b(x)"))

    def test_indexed_results_joined(self):
        # x[0] is invisible to a mode in torch 1.13: its base tells it is a result.
        self.assert_honest(refactored(HONEST_INIT, "y = self.a(x)\nz = self.b(x)\n"
                                                   "return (y[0] + z[1]).unsqueeze(0) * y"))

    def test_results_written_into_a_result(self):
        self.assert_honest(refactored(HONEST_INIT, "y = self.a(x)\ny[:, :8] = self.b(x)[:, 8:]\nreturn y"))

    def test_children_in_a_module_list(self):
        source = refactored("self.blocks = nn.ModuleList([Linear() for _ in range(3)])\nself.act = Relu()", """
            for block in self.blocks:
                x = self.act(block(x))
            for i, block in enumerate(self.blocks):
                x = block(x) + x
            return self.blocks[0](x)
            """)
        self.assert_honest(source)

    def test_helper_and_lambda_of_plumbing(self):
        methods = "def _merge(self, a, b):\n    return torch.cat([a, b], dim=1).view(2, 2, 16)"
        forward = "swap = lambda t: t.transpose(0, 1)\nreturn swap(self._merge(self.a(x), self.b(x)))"
        self.assert_honest(refactored(HONEST_INIT, forward, methods=methods))

    def test_tuple_and_dict_outputs(self):
        self.assert_honest(refactored(HONEST_INIT, "y = self.a(x)\nouts = [y]\nouts.append(self.b(y))\n"
                                                   "return tuple(outs), {'last': outs[-1]}"))

    def test_results_packed_in_a_named_tuple(self):
        # how a generated file returns the model's Pair(logits, hidden)
        self.assert_honest(refactored(HONEST_INIT, "y = self.a(x)\n"
                                      "return collections.namedtuple('Pair', ['logits', 'hidden'])(self.b(y), y)",
                                      extra="import collections\n"))


class Static(unittest.TestCase):
    """static_violations on source alone: no folder, no model."""

    def test_missing_class(self):
        found = anticheat.static_violations("import torch\n")
        self.assertEqual(len(found), 1)
        self.assertIn("no class RefactoredModel", found[0]["reason"])

    def test_missing_forward(self):
        found = anticheat.static_violations(
            "import torch.nn as nn\n\n\nclass RefactoredModel(nn.Module):\n    pass\n")
        self.assertIn("no forward", found[0]["reason"])

    def test_violation_fields(self):
        source = ("import torch\nimport torch.nn as nn\n\n\nclass RefactoredModel(nn.Module):\n"
                  "    def forward(self, x):\n        return x.softmax(-1)\n")
        (v,) = anticheat.static_violations(source)
        self.assertEqual((v["check"], v["location"], v["line_number"], v["line_text"]),
                         ("static", "forward()", 7, "return x.softmax(-1)"))
        self.assertIn("line 7", v["message"])

    def test_other_class_name(self):
        source = ("import torch.nn as nn\n\n\nclass Model(nn.Module):\n"
                  "    def forward(self, x):\n        return x.view(-1)\n")
        self.assertEqual(anticheat.static_violations(source, "Model"), [])

    def test_syntax_error(self):
        found = anticheat.static_violations("def (:\n")
        self.assertIn("syntax error", found[0]["reason"])

    def test_computed_getattr_name(self):
        source = ("import torch\nimport torch.nn as nn\n\n\nclass RefactoredModel(nn.Module):\n"
                  "    def forward(self, x):\n        name = 'r' + 'elu'\n        return getattr(x, name)()\n")
        found = anticheat.static_violations(source)
        self.assertTrue(any("computed name" in v["reason"] for v in found), found)


if __name__ == "__main__":
    unittest.main()
