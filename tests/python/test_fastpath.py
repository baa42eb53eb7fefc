"""fastpath.off: torch's fused inference kernels are not taken, so the runs
the gates compare are the op-by-op computation a decomposition spells out.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import fastpath  # noqa: E402


class FastPathOff(unittest.TestCase):
    def test_an_encoder_layer_in_inference_runs_op_by_op(self):
        torch.manual_seed(0)
        layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True).eval()
        x = torch.randn(2, 8, 16)
        op_by_op = layer(x).detach()  # grad on and weights that want it: torch's own op-by-op path
        with torch.no_grad(), fastpath.off():
            got = layer(x)
        self.assertTrue(torch.equal(got, op_by_op))

    def test_nothing_else_changes(self):
        x = torch.randn(4, 5)
        with fastpath.off():
            y = torch.softmax(x, dim=-1) @ x.t()
        self.assertTrue(torch.equal(y, torch.softmax(x, dim=-1) @ x.t()))


if __name__ == "__main__":
    unittest.main()
