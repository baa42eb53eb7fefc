"""Unit tests of devices in recorded graphs: a device the model read off a
tensor is marked and written as the device of the generated class's own
tensors; a device the model named is written as it named it.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import record  # noqa: E402
from decompose_glue.emit import Names, node_line  # noqa: E402


class _Devices(nn.Module):
    def forward(self, x):
        state = torch.zeros(2, 3, device=x.device)  # read off x
        named = torch.ones(2, 3, device=torch.device("cpu"))  # named by the model
        return x.to(state.device) + state + named


def _recorded():
    gm, _, _ = record.record(_Devices(), [torch.randn(2, 3)], {})
    return {n.target if isinstance(n.target, str) else n.target.__name__: n
            for n in gm.graph.nodes if n.op in ("call_function", "call_method")}


class RecordedDevices(unittest.TestCase):
    def test_only_devices_read_off_a_tensor_are_marked(self):
        nodes = _recorded()
        self.assertEqual(nodes["zeros"].meta.get("devices_read"), ["device"])
        self.assertEqual(nodes["to"].meta.get("devices_read"), [1])
        self.assertNotIn("devices_read", nodes["ones"].meta)

    def test_a_read_device_is_written_as_the_class_follows_it(self):
        nodes = _recorded()
        x = next(iter(nodes["to"].all_input_nodes))
        names = Names({n: n.name for n in nodes.values()})
        names.values[x] = "x"
        # with a tensor input to follow
        names.follow_device("x.device", "x")
        self.assertEqual(node_line(nodes["zeros"], names), "zeros = torch.zeros(2, 3, device=x.device)")
        self.assertEqual(node_line(nodes["to"], names), "to = x.to(x.device)")
        # taking the device as an argument
        names.follow_device("device")
        self.assertEqual(node_line(nodes["zeros"], names), "zeros = torch.zeros(2, 3, device=device)")
        # with nothing to follow: torch's default device, or the tensor moved
        names.follow_device(None)
        self.assertEqual(node_line(nodes["zeros"], names), "zeros = torch.zeros(2, 3)")
        self.assertEqual(node_line(nodes["to"], names), "to = x.to(x.device)")
        # a device the model named stays as it was named
        self.assertEqual(node_line(nodes["ones"], names),
                         "ones = torch.ones(2, 3, device=torch.device('cpu'))")


if __name__ == "__main__":
    unittest.main()


class _Powers(nn.Module):
    def forward(self, x):
        return x ** 2 + 2 ** x + x.pow(3) + 1.0 / x + (-x)


class RecordedOperators(unittest.TestCase):
    def test_tensor_operators_are_recorded_as_operators(self):
        # torch 1.13's Tensor.__pow__ is a wrapper named "pow" in torch._tensor:
        # it was written as torch._tensor.pow(x, 2), which does not exist
        import operator
        gm, _, _ = record.record(_Powers(), [torch.randn(2, 3)], {})
        targets = [n.target for n in gm.graph.nodes if n.op in ("call_function", "call_method")]
        self.assertEqual(targets.count(operator.pow), 2)
        self.assertIn("pow", targets)  # x.pow(3) stays a method
        self.assertIn(operator.truediv, targets)  # 1.13's __rtruediv__ is named __rdiv__
        self.assertIn("neg", targets)  # -x: 1.13's __neg__ is Tensor.neg itself
        names = Names({n: n.name for n in gm.graph.nodes})
        lines = [node_line(n, names) for n in gm.graph.nodes if n.op == "call_function"]
        self.assertFalse([line for line in lines if "torch._tensor" in line], lines)
