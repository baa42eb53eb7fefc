"""A torch.Generator the model keeps and draws from: state, as a count is.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import generators, record, trace  # noqa: E402


class Noisy(nn.Module):
    def __init__(self, seed=5):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, x):
        return self.fc(x) + torch.randn(x.shape, generator=self.gen)


class Generators(unittest.TestCase):
    def test_a_file_builds_one_from_its_seed_unless_it_was_drawn_from(self):
        gen = torch.Generator().manual_seed(11)
        self.assertTrue(generators.as_seeded(gen))
        self.assertEqual(generators.constructor(trace.describe(gen)), "torch.Generator().manual_seed(11)")
        torch.rand(2, generator=gen)
        self.assertFalse(generators.as_seeded(gen))

    def test_every_run_starts_from_the_state_as_built_and_the_draw_is_named(self):
        model, x = Noisy(), torch.zeros(2, 3)
        changed = set()
        restore = trace.snapshot(model, changed)
        first = model(x)
        self.assertFalse(torch.equal(model(x), first))
        restore()
        self.assertTrue(torch.equal(model(x), first))
        self.assertEqual(changed, {"gen"})

    def test_an_instances_numbers_hold_its_generators_state(self):
        model, x = Noisy(), torch.zeros(2, 3)
        start = trace.numbers(model)
        first = model(x)
        after = trace.numbers(model)
        self.assertTrue(trace.numbers_differ(start, after))
        self.assertFalse(trace.numbers_differ(after, trace.numbers(model)))
        trace.put_numbers(start)
        self.assertTrue(torch.equal(model(x), first))

    def test_a_recording_reads_it_as_the_models_attribute(self):
        model, x = Noisy(), torch.zeros(2, 3)
        restore = trace.snapshot(model)
        expected = model(x)
        restore()
        gm = record.record(model, (x,), {}, set())[0]
        drawn = [n for n in gm.graph.nodes if n.op == "get_attr" and n.target == "gen"]
        self.assertEqual([n.meta["value"] for n in drawn], [{"kind": "generator", "seed": 5, "device": "cpu"}])
        self.assertEqual(generators.drawn_more_than_once(gm), {})
        restore()
        self.assertTrue(torch.equal(trace.run_graph(gm, (x,), {}), expected))


if __name__ == "__main__":
    unittest.main()
