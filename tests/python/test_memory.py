"""Unit tests of memory.py: the peak of a run, and the warning when the
machine cannot hold the run's next check.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402

from decompose_glue import api, memory  # noqa: E402

GB = 1 << 30


class Run:
    def __init__(self, before, peak):
        self.before, self.peak = before, peak


@unittest.skipUnless(os.path.exists("/proc/self/clear_refs"), "needs Linux's /proc")
class PeakOfRunTest(unittest.TestCase):
    def test_peak_sees_a_tensor_made_and_freed_inside_the_run(self):
        with memory.PeakOfRun() as run:
            t = torch.ones(64 << 20, dtype=torch.uint8)  # 64 MiB, every page touched
            del t
        self.assertIsNotNone(run.before)
        self.assertGreaterEqual(run.peak - run.before, 60 << 20)

    def test_peak_starts_again_with_each_run(self):
        with memory.PeakOfRun():
            t = torch.ones(256 << 20, dtype=torch.uint8)
            del t
        with memory.PeakOfRun() as small:
            pass
        self.assertLess(small.peak - small.before, 64 << 20)


class ShortfallTest(unittest.TestCase):
    def test_a_run_that_fits_says_nothing(self):
        self.assertIsNone(memory.shortfall(Run(1 * GB, 9 * GB), 10 * GB, 4 * GB))

    def test_a_run_that_does_not_fit_says_what_it_needs(self):
        # KernelBench level-1 63: 1 GB of inputs, a 17.5 GB peak, an 8.5 GB output
        message = memory.shortfall(Run(1 * GB, int(17.5 * GB)), 13 * GB, int(8.5 * GB))
        self.assertIn("16.5 GB", message)
        self.assertIn("13.0 GB are available", message)
        self.assertIn("(8.5 GB)", message)
        self.assertNotIn("\n", message)

    def test_nothing_measured_says_nothing(self):
        self.assertIsNone(memory.shortfall(Run(None, None), 0, 4 * GB))

    def test_warning_goes_to_stderr_naming_the_file(self):
        err = io.StringIO()
        with mock.patch.object(memory, "available_bytes", return_value=2 * GB), redirect_stderr(err):
            message = memory.warn_if_short("/m/model.py", Run(0, 3 * GB), GB)
        self.assertTrue(err.getvalue().startswith("decompose: warning: /m/model.py: the model's forward"))
        self.assertIn(message, err.getvalue())


MODEL = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 256)

    def forward(self, x):
        return torch.relu(self.fc(x))


def get_inputs():
    return [torch.randn(4096, 256)]


def get_init_inputs():
    return []
"""


@unittest.skipUnless(os.path.exists("/proc/self/clear_refs"), "needs Linux's /proc")
class PlanWarnsTest(unittest.TestCase):
    def plan_log(self, available):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.py")
            with open(path, "w") as f:
                f.write(MODEL)
            err = io.StringIO()
            with mock.patch.object(memory, "available_bytes", return_value=available), \
                    redirect_stderr(err):
                reply = json.loads(api.plan(json.dumps({"model_path": path})))
        log = next(f for f in reply["files"] if f["path"] == "decomposition_log.json")
        return json.loads(log["content"]), err.getvalue()

    def test_a_machine_without_room_is_warned_and_the_log_says_so(self):
        log, err = self.plan_log(available=0)
        self.assertIn("may run out of memory", err)
        self.assertEqual([d["kind"] for d in log["difficulties"]], ["memory"])

    def test_a_machine_with_room_is_not(self):
        log, err = self.plan_log(available=1 << 40)
        self.assertEqual(err, "")
        self.assertEqual(log["difficulties"], [])


if __name__ == "__main__":
    unittest.main()
