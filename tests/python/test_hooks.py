"""Forward hooks that change what a module takes or gives: the tracers spell
them out as ops around the module's call, and the graph holds the module
without them, while the model keeps its own.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import capture, hooks, trace, verify  # noqa: E402
from decompose_glue.loader import load_model_file  # noqa: E402


class Head(nn.Module):
    """A kernel module's hooks (clamp in, scale out), a logger that changes
    nothing, and weight norm's hook, which the files rebuild."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 6)
        self.head = nn.utils.weight_norm(nn.Linear(6, 3))
        self.seen = []
        self.head.register_forward_pre_hook(lambda m, inputs: inputs[0].clamp(-0.5, 0.5))
        self.head.register_forward_hook(lambda m, inputs, output: output * 3.0)
        self.head.register_forward_hook(lambda m, inputs, output: self.seen.append(output.shape))

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def _targets(gm, op):
    return [n.target for n in gm.graph.nodes if n.op == op]


def _changers(model):
    """The head's clamp and scale, as _hooks_watched finds them: not the logger."""
    pre = next(k for k, h in model.head._forward_pre_hooks.items() if not trace.is_reparametrization(h))
    post = next(iter(model.head._forward_hooks))
    return {"head": [("_forward_pre_hooks", pre), ("_forward_hooks", post)]}


class Run(unittest.TestCase):
    def test_hooks_run_around_a_call_without_them_and_come_back_in_their_order(self):
        model = Head()
        before = {attr: list(getattr(model.head, attr).values()) for attr in ("_forward_pre_hooks", "_forward_hooks")}
        during = []

        def call(args, kwargs):
            during.append([h for h in model.head._forward_pre_hooks.values()])
            self.assertEqual(len(model.head._forward_hooks), 1)  # the logger stays, and runs in the call
            return model.head(*args)

        x = torch.randn(4, 6) * 4
        with hooks.spelt_out(model, _changers(model)):
            got = hooks.run(model.head, (x,), {}, call)
        self.assertTrue(torch.equal(got, model.head(x)))
        self.assertEqual(len(model.seen), 2)
        # weight norm's hook stays too: the module's call sets its weight
        self.assertTrue(all(trace.is_reparametrization(h) for h in during[0]) and len(during[0]) == 1)
        self.assertEqual({attr: list(getattr(model.head, attr).values()) for attr in before}, before)

    @unittest.skipIf(torch.__version__.startswith("1."), "hooks with_kwargs came with torch 2.0")
    def test_hooks_registered_with_kwargs_take_and_give_the_keyword_inputs(self):
        class Scaled(nn.Module):
            def forward(self, x, scale=1.0):
                return x * scale
        module = Scaled()
        module.register_forward_pre_hook(lambda m, args, kwargs: (args, {"scale": kwargs["scale"] * 2}),
                                         with_kwargs=True)
        module.register_forward_hook(lambda m, args, kwargs, out: out + kwargs["scale"], with_kwargs=True)
        x = torch.ones(2)
        keys = {attr: list(getattr(module, attr)) for attr in ("_forward_pre_hooks", "_forward_hooks")}
        root = nn.Sequential(module)
        with hooks.spelt_out(root, {"0": [(a, k) for a, ks in keys.items() for k in ks]}):
            got = hooks.run(module, (x,), {"scale": 3.0}, lambda a, k: module(*a, **k))
        self.assertTrue(torch.equal(got, module(x, scale=3.0)))  # 1 * 6 + 6

    def test_only_hooks_that_are_not_reparametrizations_count_as_changing(self):
        model = Head()
        self.assertEqual({k: len(v) for k, v in hooks.changing(model.head).items()},
                         {"_forward_pre_hooks": 1, "_forward_hooks": 2})
        self.assertEqual(hooks.changing(model.body), {})
        self.assertTrue(hooks.has_changing(model))
        self.assertFalse(hooks.has_changing(nn.Sequential(nn.utils.weight_norm(nn.Linear(2, 2)))))


class Traced(unittest.TestCase):
    def test_a_symbolic_graph_spells_a_kernel_modules_hooks_out_and_calls_it_without_them(self):
        model = Head()
        x = torch.randn(4, 6) * 4
        expected = model(x)
        model.seen.clear()
        plain = trace.symbolic(model)  # torch.fx alone: one node, the hooks run by the module it shares
        self.assertNotIn("clamp", _targets(plain, "call_method"))
        with hooks.spelt_out(model, _changers(model)):
            gm = trace.symbolic(model)
        self.assertIn("clamp", _targets(gm, "call_method"))
        self.assertEqual(_targets(gm, "call_module"), ["body", "head"])
        self.assertIsNot(gm.head, model.head)
        self.assertEqual(len(gm.head._forward_hooks), 1)  # the logger's
        self.assertEqual(model.seen, [])  # which took no proxy while traced
        self.assertIs(gm.head.weight_v, model.head.weight_v)  # shares the weights
        self.assertEqual(len(model.head._forward_hooks), 2)  # the model keeps its hooks
        self.assertTrue(torch.allclose(gm(x), expected))
        self.assertTrue(torch.allclose(model(x), expected))

    def test_a_recording_spells_them_out_too(self):
        model = Head()
        x = torch.randn(4, 6) * 4
        expected = model(x)
        with hooks.spelt_out(model, _changers(model)):
            gm = capture.record.record(model, (x,), {}, set())[0]
        self.assertEqual(len(gm.head._forward_hooks), 1)
        self.assertEqual(len(model.head._forward_hooks), 2)
        self.assertTrue(torch.allclose(trace.run_graph(gm, (x,), {}), expected))

    def test_a_model_with_such_hooks_is_traced_again_with_them_spelt_out(self):
        path = os.path.join(ROOT, "tests", "models", "untraceable", "hooked_modules.py")
        model_file = load_model_file(path)
        model = model_file.build()
        inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
        gm, method, notes, expected = capture.trace_model(model_file, model, inputs,
                                                          trial_seeds=verify.trial_seeds(3))
        self.assertEqual((method, notes["hooks_spelt_out"]), ("recorded", ["blocks.0.proj", "blocks.1.proj", "head"]))
        self.assertIn("softmax", [getattr(n.target, "__name__", n.target) for n in gm.graph.nodes])
        args, kwargs = inputs.lend()
        self.assertTrue(torch.allclose(trace.run_graph(gm, args, kwargs), expected))


if __name__ == "__main__":
    unittest.main()
