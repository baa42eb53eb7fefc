"""Unit tests of what a graph keeps of the values no output reads, and of the
writes in it: fx keeps a dead op and a recording drops it, and fx's readers
of a written tensor skip the write, so that one model cut two ways gave two
trees.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import ops, record, trace  # noqa: E402


class _DeadOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x, y):
        h = self.fc(x)
        self.head(h)  # read by nothing: goes, and is said
        torch.sigmoid(h)  # the same
        y.mul_(2)  # writes the caller's tensor: stays
        torch.rand_like(h)  # moves the random generator: stays
        return h.relu()


class _Branch(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x * 3


class _WritesThenReads(nn.Module):
    def forward(self, x):
        h = x + 1
        h.relu_()
        return h * 2


def _ops(gm):
    return [n.target if isinstance(n.target, str) else ops.function_op(n.target)
            for n in gm.graph.nodes if n.op in ("call_function", "call_method", "call_module")]


class WhatNoOutputReads(unittest.TestCase):
    def test_a_dead_op_goes_and_is_said_but_a_write_or_a_draw_stays(self):
        gm = trace.symbolic(_DeadOps())
        self.assertEqual(trace.remove_unused(gm), ["head (linear)", "sigmoid (sigmoid)"])
        self.assertEqual(_ops(gm), ["fc", "mul_", "rand_like", "relu"])
        x, y = torch.randn(2, 4), torch.ones(3)
        gm(x, y)
        self.assertTrue(torch.equal(y, torch.full((3,), 2.0)))

    def test_a_recording_says_the_same(self):
        gm, notes, _ = record.record(_DeadOps(), (torch.randn(2, 4), torch.ones(3)), {})
        self.assertEqual(notes["unused"], ["head (linear)", "sigmoid (sigmoid)"])
        self.assertEqual(_ops(gm), ["fc", "mul_", "rand_like", "relu"])

    def test_a_value_read_into_python_goes_without_a_word(self):
        gm, notes, _ = record.record(_Branch(), (torch.ones(2),), {})
        self.assertEqual(notes["unused"], [])
        self.assertEqual(_ops(gm), ["mul"])


class ReadAfterWrites(unittest.TestCase):
    def test_a_reader_after_a_write_reads_the_write_as_a_recording_does(self):
        symbolic = trace.read_after_writes(trace.symbolic(_WritesThenReads()))
        recorded, _, _ = record.record(_WritesThenReads(), (torch.randn(3),), {})
        for how, gm in (("symbolic", symbolic), ("recorded", recorded)):
            with self.subTest(how):
                mul = next(n for n in gm.graph.nodes
                           if n.op in ("call_function", "call_method") and ops.function_op(n.target) == "mul")
                self.assertEqual(mul.args[0].target, "relu_")
        x = torch.randn(3)
        self.assertTrue(torch.equal(symbolic(x.clone()), ((x + 1).relu() * 2)))


if __name__ == "__main__":
    unittest.main()
