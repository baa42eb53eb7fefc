"""Unit tests of coverage's op counting: a file is counted from its inputs'
shapes alone where its get_inputs runs on the meta device, and from real
inputs where it reads a value.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402

from decompose_glue import coverage, verify  # noqa: E402
from decompose_glue.loader import load_model_file  # noqa: E402

MODEL = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x, idx):
        return torch.relu(self.fc(x)).sum(dim=1).mul(2.0)[idx]


def get_inputs():
{body}


def get_init_inputs():
    return []
'''

PLAIN = '''\
    return [torch.randn(3, 8), torch.randint(0, 5, (3,))]'''

# The batch size is a value read from a tensor: on the meta device .item() raises.
READS_A_VALUE = '''\
    n = int(torch.randint(3, 4, (1,)).item())
    return [torch.randn(n, 8), torch.randint(0, 5, (n,))]'''

# torch.from_numpy takes no device: its tensor is on the CPU.
OFF_META = '''\
    import numpy as np
    return [torch.from_numpy(np.ones((3, 8), dtype=np.float32)), torch.randint(0, 5, (3,))]'''

EXPECTED = {"linear": 1, "relu": 1, "sum": 1, "mul": 1}


class CountOpsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, body):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(MODEL.format(body=body))
        return path

    def counts_and_real_draws(self, path):
        draws = []
        real = verify.LentInputs.__init__

        def counted(inputs, model_file, seed):
            draws.append(seed)
            real(inputs, model_file, seed)

        with mock.patch.object(verify.LentInputs, "__init__", counted):
            counts, _, method = coverage.count_ops(path)
        return counts, method, len(draws)

    def test_plain_inputs_are_drawn_on_meta(self):
        args, _ = coverage._inputs_on_meta(load_model_file(self.write("plain.py", PLAIN)))
        self.assertTrue(all(t.is_meta for t in args))
        self.assertEqual([tuple(t.shape) for t in args], [(3, 8), (3,)])
        self.assertEqual(args[1].dtype, torch.int64)

    def test_plain_file_is_counted_without_real_inputs(self):
        counts, method, draws = self.counts_and_real_draws(self.write("plain.py", PLAIN))
        self.assertEqual(dict(counts), EXPECTED)
        self.assertEqual(method, "symbolic")
        self.assertEqual(draws, 0)

    def test_file_reading_a_value_is_counted_from_real_inputs(self):
        path = self.write("reads.py", READS_A_VALUE)
        self.assertIsNone(coverage._inputs_on_meta(load_model_file(path)))
        counts, method, draws = self.counts_and_real_draws(path)
        self.assertEqual(dict(counts), EXPECTED)
        self.assertEqual(method, "symbolic")
        self.assertEqual(draws, 1)

    def test_tensor_left_off_meta_means_real_inputs(self):
        path = self.write("numpy.py", OFF_META)
        self.assertIsNone(coverage._inputs_on_meta(load_model_file(path)))
        counts, _, draws = self.counts_and_real_draws(path)
        self.assertEqual(dict(counts), EXPECTED)
        self.assertEqual(draws, 1)

    def test_factories_outside_get_inputs_are_untouched(self):
        coverage._inputs_on_meta(load_model_file(self.write("plain.py", PLAIN)))
        self.assertFalse(torch.randn(2).is_meta)

    def test_a_recorded_count_leaves_no_weights_behind(self):
        # extract_ops collects no garbage after each call: the count that
        # draws a model's weights for real, to record it, frees them itself.
        import gc
        import torch.fx as fx
        path = os.path.join(ROOT, "tests", "models", "untraceable", "data_dependent.py")
        coverage._KNOWN.clear()
        gc.collect()
        gc.disable()  # only what the count itself frees may go
        try:
            counts, _, method = coverage.count_ops(path)
            left = [m for m in gc.get_objects() if isinstance(m, fx.GraphModule)
                    and any(not p.is_meta for p in m.parameters())]
        finally:
            gc.enable()
        self.assertEqual(method, "recorded")
        self.assertEqual(counts["linear"], 2)
        self.assertEqual(left, [])

    def test_the_model_is_counted_as_the_run_that_wrote_the_folder_traced_it(self):
        # the saturation guard (whose branch only the third trial's inputs
        # take) is one op where the run checked its recording on every
        # trial's inputs (and kept it whole), its ops one by one where the
        # run did not (the first two trials' inputs read alike)
        model = os.path.join(ROOT, "tests", "models", "untraceable", "saturation_guard.py")
        coverage._KNOWN.clear()
        counts = {checked: coverage.count_ops(model, checked)[0] for checked in (False, True)}
        self.assertEqual(counts[True]["saturation_guard"], 1)
        self.assertNotIn("saturation_guard", counts[False])
        self.assertEqual(counts[False]["linear"], 4)
        steps = os.path.join(self.tmp.name, "steps", "step_1_model_to_layers")
        os.makedirs(steps)
        self.assertFalse(coverage.run_checked(self.tmp.name))  # no log: the plain recording
        for checked in (True, False):
            with open(os.path.join(self.tmp.name, "decomposition_log.json"), "w") as f:
                f.write(f'{{"trace": {{"method": "recorded", "checked_on_every_trial": {str(checked).lower()}}}}}')
            self.assertIs(coverage.run_checked(self.tmp.name), checked)
            self.assertIs(coverage.run_checked(steps), checked)  # a step's original, two folders down

    def test_every_file_a_plan_writes_above_the_kernels_is_counted_from_its_graph(self):
        # The plan knows the counts of what it renders: a step's count of a
        # text it did not know would trace the model again (a recording, for
        # Mask R-CNN four, 30 s). Here the copy of the model gains an import
        # of the module its forward calls by its full name.
        import json
        from decompose_glue import api
        path = os.path.join(self.tmp.name, "numpy_scale.py")
        with open(path, "w") as f:
            f.write(NUMPY_SCALE)
        coverage._KNOWN.clear()
        reply = json.loads(api.plan(json.dumps({"model_path": path, "model_name": "numpy_scale"})))
        self.assertTrue(reply["ok"], reply.get("message"))
        files = reply["files"] + [f for step in reply["steps"] for f in step["files"]]
        texts = {f["path"]: f["content"] for f in files if f["path"].endswith(".py")
                 and not f["path"].startswith("level_0_kernel/") and "/children/" not in f["path"]
                 and not f["path"].endswith("/refactored.py") and not f["path"].startswith("verification/")}
        self.assertIn("import numpy.linalg\n", texts["level_3_model/numpy_scale.py"])
        with mock.patch.object(coverage, "_trace_counts", side_effect=AssertionError("traced again")):
            for rel, text in texts.items():
                with self.subTest(rel):
                    written = os.path.join(self.tmp.name, "out", rel)
                    os.makedirs(os.path.dirname(written), exist_ok=True)
                    with open(written, "w", encoding="utf-8") as f:
                        f.write(text)
                    for checked in (False, True):
                        coverage.count_ops(written, checked)

    def test_a_state_written_through_a_slice_counts_the_write_once(self):
        # self.cache[:, 4:9].copy_(...) then read: the read after the write
        # is a name for the written buffer, not an op of its own
        path = os.path.join(self.tmp.name, "cache.py")
        with open(path, "w") as f:
            f.write(CACHE_WRITE)
        coverage._KNOWN.clear()
        counts, _, method = coverage.count_ops(path)
        self.assertEqual(method, "recorded")
        self.assertEqual(dict(counts), {"linear": 1, "copy": 1, "softmax": 1})


CACHE_WRITE = textwrap.dedent('''
    import torch
    import torch.nn as nn


    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.k = nn.Linear(16, 16)
            self.register_buffer("cache", torch.zeros(2, 12, 16))

        def forward(self, x):
            if x.sum() > 1e9:  # a branch on data: recorded
                x = x * 2
            self.cache[:, 4:9].copy_(self.k(x))
            return torch.softmax(self.cache[:, :9], dim=1)


    def get_inputs():
        return [torch.randn(2, 5, 16)]


    def get_init_inputs():
        return []
''')


if __name__ == "__main__":
    unittest.main()


NUMPY_SCALE = textwrap.dedent('''
    import numpy
    import torch
    import torch.nn as nn


    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            return self.out(torch.relu(self.fc(x)) * float(numpy.linalg.norm([3.0, 4.0])))


    def get_inputs():
        return [torch.randn(3, 4)]


    def get_init_inputs():
        return []
    ''')
