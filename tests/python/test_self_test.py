"""Unit tests of a component's self-test as a run makes it: on the meta
device where that run can stand for a real one, for real where it cannot
(integer inputs, a mask that decides a shape, a value read, a tensor made
off meta, a failure).

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch.nn as nn  # noqa: E402

from decompose_glue import codegen, verify  # noqa: E402

# A component file as codegen writes one (its contract is codegen's own
# text), with its forward, inputs and output shapes left open.
COMPONENT = '''
import sys

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)
{init}
    def forward(self, x):
        with open({log!r}, "a") as log:  # where each run's weights were
            log.write(self.fc.weight.device.type + "\\n")
{forward}


def get_inputs():
{inputs}


def get_init_inputs():
    return []
'''

LINEAR = "        return torch.relu(self.fc(x))"
FLOAT_INPUTS = "    return [torch.randn(3, 8)]"


class SelfTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def run_file(self, forward=LINEAR, inputs=FLOAT_INPUTS, shape=(3, 4), on_meta=True, init=""):
        path = os.path.join(self.dir.name, "component.py")
        log = os.path.join(self.dir.name, "ran_on.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(COMPONENT.format(forward=forward, inputs=inputs, log=log, init=init)
                    + codegen.contract([shape]))
        result = verify.run_component(path, on_meta=on_meta)
        with open(log, encoding="utf-8") as f:
            return result, f.read().split()

    def test_float_inputs_run_on_meta(self):
        result, ran_on = self.run_file()
        self.assertEqual(result["status"], "PASS")
        self.assertEqual(result["device"], "meta")
        self.assertEqual(result["message"], "PASS: output shapes [(3, 4)]")
        self.assertEqual(ran_on, ["meta"])

    def test_the_cpu_a_file_names_is_meta_too(self):
        # a device the model named itself is written as it was named
        result, ran_on = self.run_file(forward=(
            "        w = self.fc.weight.to(torch.device('cpu'))\n"
            "        cap = torch.tensor(100.0, device=torch.device('cpu'))\n"
            "        return torch.clamp(x @ w.t(), max=cap).cpu()"))
        self.assertEqual((result["status"], result["device"]), ("PASS", "meta"))
        self.assertEqual(ran_on, ["meta"])

    def test_a_check_runs_for_real(self):
        result, ran_on = self.run_file(on_meta=False)
        self.assertEqual((result["status"], result["device"]), ("PASS", "cpu"))
        self.assertEqual(ran_on, ["cpu"])

    def test_integer_inputs_run_for_real(self):
        # indices: their values are what the forward reads, and meta has none
        result, _ = self.run_file(
            forward="        return self.fc(x[0])[x[1]]",
            inputs="    return [[torch.randn(3, 8), torch.randint(0, 3, (2,))]]", shape=(2, 4))
        self.assertEqual((result["status"], result["device"]), ("PASS", "cpu"))

    def test_a_mask_that_decides_no_shape_runs_on_meta(self):
        # attention's causal mask: before, every masked_fill file ran for real
        result, ran_on = self.run_file(
            forward="        return self.fc(x[0]).masked_fill(x[1], float('-inf'))",
            inputs="    return [[torch.randn(3, 8), torch.rand(3, 4) < 0.5]]")
        self.assertEqual((result["status"], result["device"]), ("PASS", "meta"))
        self.assertEqual(ran_on, ["meta"])

    def test_a_mask_that_decides_a_shape_runs_for_real(self):
        # x[mask] has as many rows as the mask has trues: meta cannot count them
        result, ran_on = self.run_file(
            forward="        return self.fc(x[0])[x[1]]",
            inputs="    return [[torch.randn(3, 8), torch.arange(3) < 2]]", shape=(2, 4))
        self.assertEqual((result["status"], result["device"]), ("PASS", "cpu"))
        self.assertEqual(ran_on[-1], "cpu")

    def test_a_value_read_in_forward_runs_for_real(self):
        result, ran_on = self.run_file(forward="        return self.fc(x) * float(x.sum() > -1e9)")
        self.assertEqual((result["status"], result["device"]), ("PASS", "cpu"))
        # on meta twice (the second time built for real, in case __init__ read it), then for real
        self.assertEqual(ran_on, ["meta", "meta", "cpu"])

    def test_a_value_read_in_init_is_read_from_a_real_build(self):
        # Swin's drop rates: [x.item() for x in torch.linspace(0, rate, depth)]
        result, ran_on = self.run_file(init="        self.rates = [t.item() for t in torch.linspace(0, 0.1, 3)]\n")
        self.assertEqual((result["status"], result["device"]), ("PASS", "meta"))
        self.assertEqual(ran_on, ["meta"])

    def test_a_model_built_for_real_to_go_to_meta_draws_no_weights(self):
        # they go to meta unread: drawing them was 0.16 s of SwinV2's self-tests
        drawn, draw = [], nn.init.kaiming_uniform_

        def counted(tensor, *args, **kwargs):
            if not tensor.is_meta:
                drawn.append(tuple(tensor.shape))
            return draw(tensor, *args, **kwargs)

        with mock.patch.object(nn.init, "kaiming_uniform_", counted):
            result, ran_on = self.run_file(init="        self.rates = [t.item() for t in torch.linspace(0, 0.1, 3)]\n")
        self.assertEqual((result["status"], result["device"]), ("PASS", "meta"))
        self.assertEqual(drawn, [])

    def test_a_tensor_made_off_meta_runs_for_real(self):
        # numpy makes the input on the CPU: a meta weight and a CPU input do not mix
        result, _ = self.run_file(
            inputs="    import numpy as np\n    return [torch.from_numpy(np.ones((3, 8), dtype=np.float32))]")
        self.assertEqual((result["status"], result["device"]), ("PASS", "cpu"))

    def test_wrong_shapes_fail_from_a_real_run(self):
        result, ran_on = self.run_file(shape=(3, 5))
        self.assertEqual(result["status"], "FAIL")
        self.assertEqual(result["device"], "cpu")
        self.assertIn("expected [(3, 5)]", result["message"])
        self.assertEqual(ran_on, ["meta", "cpu"])

    def test_a_raising_forward_fails_from_a_real_run(self):
        result, _ = self.run_file(forward="        return self.fc(x.t())")
        self.assertEqual((result["status"], result["device"]), ("FAIL", "cpu"))
        self.assertIn("run_tests() raised", result["message"])


if __name__ == "__main__":
    unittest.main()
