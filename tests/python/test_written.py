"""A forward that writes into its own buffers: every run of a step starts
from their values as built, and what the refactored run leaves in them is
compared with what the original's run left.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import shutil
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import trace, verify_tree, written  # noqa: E402

# The original: routes by a running average of its picks, which it updates
# after routing, and counts its calls; the output reads the average only as
# it was before the call, so a second run differs only where it starts from
# what the first left.
MODEL = '''
import torch
import torch.nn as nn


class {name}(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(8, 4)
        self.register_buffer("usage", torch.full((4,), 0.25))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x):
{forward}
        return scores


def get_inputs():
    return [torch.randn(3, 8)]


def get_init_inputs():
    return []
'''

ORIGINAL = MODEL.format(name="Model", forward="""\
        scores = torch.softmax(self.gate(x) - self.usage.log(), dim=-1)
        self.usage.mul_(0.9).add_(scores.mean(dim=0), alpha=0.1)
        self.calls += 1""")

# The same computation spelled with other calls; `count` is its last line.
REFACTORED = MODEL.format(name="RefactoredModel", forward="""\
        logits = torch.nn.functional.linear(x, self.gate.weight, self.gate.bias)
        scores = torch.softmax(logits - torch.log(self.usage), dim=-1)
        torch.add(self.usage.mul_(0.9), scores.mean(dim=0), alpha=0.1, out=self.usage)
        {count}""")


class Values(unittest.TestCase):
    def test_writes_in_place_are_put_back_and_named(self):
        model = nn.BatchNorm1d(3)
        model.hidden = torch.ones(2)  # a plain tensor attribute is state too
        values = written.Values(model)
        self.assertEqual(values.changed(), {})
        model.running_mean.add_(1)
        model.hidden.data.mul_(3)  # through .data: the version counter does not move
        self.assertEqual(set(values.changed()), {"running_mean", "hidden"})
        values.restore()
        self.assertTrue(torch.equal(model.running_mean, torch.zeros(3)))
        self.assertTrue(torch.equal(model.hidden, torch.ones(2)))
        self.assertEqual(values.changed(), {})
        self.assertEqual(values.written, {"running_mean", "hidden"})

    def test_a_buffer_resized_in_place_is_put_back_at_its_size(self):
        model = nn.Module()
        model.register_buffer("cache", torch.arange(4.0))
        values = written.Values(model)
        model.cache.resize_(6).fill_(1)
        values.restore()
        self.assertTrue(torch.equal(model.cache, torch.arange(4.0)))

    def test_numbers_a_forward_changes_are_put_back_and_named_with_the_tensors(self):
        model = nn.Sequential(nn.Linear(2, 2))
        model[0].pos = 0
        model.register_buffer("cache", torch.zeros(3))
        kept = written.State(model)
        model[0].pos += 2
        model.cache[1] = 5
        kept.restore()
        self.assertEqual(model[0].pos, 0)
        self.assertTrue(torch.equal(model.cache, torch.zeros(3)))
        self.assertEqual(kept.written(), ["0.pos", "cache"])

    def test_parameters_are_not_copied(self):
        model = nn.Linear(4, 4)
        self.assertEqual(written.Values(model).kept, [])


class Steps(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="decompose-written-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def verify(self, count):
        original = os.path.join(self.tmp, "original.py")
        refactored = os.path.join(self.tmp, "refactored.py")
        with open(original, "w") as f:
            f.write(ORIGINAL)
        with open(refactored, "w") as f:
            f.write(REFACTORED.replace("{count}", count))
        # the refactored model computes in its own forward: the anti-cheat
        # fails it, and the numbers are what is read here
        return verify_tree.verify_steps([{"original": original, "refactored": refactored}])[0][
            "numerical_comparison"]

    def test_both_models_start_every_trial_from_the_buffers_as_built(self):
        # before, each trial's refactored run started from what the
        # original's had left: max diff 0.02 on the first trial
        result = self.verify("self.calls += 1")
        self.assertEqual(result["status"], "PASS", result)
        self.assertEqual(result["max_diff_across_trials"], 0.0)

    def test_a_refactored_model_that_leaves_another_count_fails(self):
        result = self.verify("self.calls += 2")
        self.assertEqual(result["status"], "FAIL")
        for trial in result["trials"]:
            self.assertIn("leaves calls, which the forward writes into, other than the original does",
                          trial["error"])

    def test_a_refactored_model_that_does_not_write_where_the_original_does_fails(self):
        result = self.verify("pass")
        self.assertEqual(result["status"], "FAIL")
        self.assertIn("leaves calls", result["trials"][0]["error"])


class Children(unittest.TestCase):
    def test_a_child_that_writes_its_buffers_is_compared_from_where_its_parent_left_them(self):
        step = _Recorded()
        run = verify_tree._Pass(None, None)
        run.active = True
        child = nn.BatchNorm1d(2).train()  # a training BatchNorm writes its running statistics
        verify_tree._wrap(child, step, run)
        for i in range(2):
            child(torch.full((4, 2), float(i + 1)))
        self.assertTrue(step.writes_state)
        # each call's refactored model started from the statistics as the
        # original found them, and the parent went on from what it left
        self.assertTrue(torch.equal(step.started_from[0], torch.zeros(2)))
        self.assertTrue(torch.allclose(step.started_from[1], torch.full((2,), 0.1)))
        self.assertEqual(step.errors, [])
        self.assertTrue(torch.allclose(child.running_mean, torch.tensor([0.29, 0.29])))


    def test_a_child_whose_refactored_model_writes_other_values_fails_and_its_parent_goes_on_from_the_originals(self):
        def refactored(bn, x):  # its original's forward, and one more write into the running mean
            type(bn).forward(bn, x)
            bn.running_mean.add_(1)
        step = _Recorded(refactored)
        run = verify_tree._Pass(None, None)
        run.active = True
        child = nn.BatchNorm1d(2).train()
        verify_tree._wrap(child, step, run)
        child(torch.full((4, 2), 1.0))
        self.assertEqual(len(step.errors), 1)
        self.assertIn("leaves running_mean, which the forward writes into, other than the original does",
                      step.errors[0])
        self.assertTrue(torch.allclose(child.running_mean, torch.full((2,), 0.1)))


class Instances(unittest.TestCase):
    def step(self, build):
        step = verify_tree._Step(1, {"original": "original.py", "refactored": "refactored.py"}, False)
        step.refactored = build
        step.as_built[id(build)] = trace.numbers(build)
        return step

    def test_each_instance_of_a_component_counts_in_the_one_build_from_where_its_own_runs_left_it(self):
        # before, the three instances' runs counted 1 to 6 in each trial
        build = nn.Sequential(nn.Linear(2, 2))
        build[0].calls = 0
        step, seen = self.step(build), []
        for trial in range(2):
            step.left_by.clear()  # as each trial starts (verify_steps)
            for call in range(2):
                for instance in (11, 12, 13):
                    with step._counting_for((7, instance)):
                        build[0].calls += 1
                        seen.append(build[0].calls)
        self.assertEqual(seen, [1, 1, 1, 2, 2, 2] * 2)
        self.assertTrue(step.counts)

    def test_a_build_whose_run_changes_no_number_is_left_as_it_is_after_one_call(self):
        build = nn.Linear(2, 2)
        step = self.step(build)
        with step._counting_for((1,)):
            pass
        self.assertIs(step.counts, False)
        build.training = False  # not put back by later calls
        with step._counting_for((2,)):
            self.assertFalse(build.training)


class _Recorded:
    """A step whose refactored model runs `refactored` (the original's
    forward where none is given) on the child."""

    def __init__(self, refactored=None):
        self.copies_inputs = True
        self.writes_state = None
        self.started_from, self.errors = [], []
        self.refactored = refactored or (lambda module, x: type(module).forward(module, x))

    def check(self, instance, inputs, out, rng, run, unchanged=None, arguments=None):
        self.started_from.append(instance.running_mean.clone())
        self.refactored(instance, *inputs[0])

    def record(self, trial, ok, max_diff, details=None, error=None):
        self.errors.append(error)

    def compare_state(self, trial, left, kept, rtol, atol):
        verify_tree._Step.compare_state(self, trial, left, kept, rtol, atol)


if __name__ == "__main__":
    unittest.main()
