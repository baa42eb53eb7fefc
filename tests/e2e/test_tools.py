"""End-to-end: tools/bench on one tiny model, to show it works.

Not a timed test: the ratios a tiny model gets (the fixed cost of starting
torch against a forward of microseconds) say nothing, so only the form of
the report is checked, and that its numbers are measured ones.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DECOMPOSE_BIN", os.path.join(ROOT, "build", "decompose"))
MODEL = os.path.join(ROOT, "tests", "models", "mlp.py")


class Bench(unittest.TestCase):
    def test_bench_reports_ratio_split_and_memory_for_one_model(self):
        with tempfile.TemporaryDirectory() as tmp:
            rows_path = os.path.join(tmp, "rows.json")
            proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench"), "--bin", BIN,
                                   "--json", rows_path, MODEL],
                                  capture_output=True, text=True, timeout=600)
            with open(rows_path) as f:
                rows = json.load(f)
        lines = proc.stdout.strip().splitlines()
        self.assertRegex(lines[-1], r"^\d+ passed, \d+ failed$")
        self.assertEqual(proc.returncode, 0 if lines[-1].startswith("1 passed") else 1)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["model"], "mlp")
        self.assertEqual(row["status"], "PASS", row.get("why"))
        self.assertGreater(row["forward"], 0)
        # two processes' timed forwards; the faster one's median is the forward
        self.assertEqual([len(f) for f in row["forwards"]], [3, 3])
        medians = [sorted(f)[1] for f in row["forwards"]]
        self.assertEqual(row["forward"], min(medians))
        self.assertGreater(row["pipeline"], row["forward"])
        self.assertAlmostEqual(row["ratio"], row["pipeline"] / row["forward"], places=6)
        self.assertEqual(row["floor"], 9)  # 3 trials x (fusions and kernels below the model + 1)
        self.assertIn("(floor 9, start-up ", proc.stdout)
        self.assertAlmostEqual(row["start_forwards"], row["timings"]["start"] / row["forward"], places=6)
        self.assertGreater(row["eager_mem"], 0)
        self.assertGreater(row["pipeline_mem"], 0)
        for phase in ("start", "trace", "verify", "components", "composition", "coverage"):
            self.assertIn(phase, row["timings"])
        self.assertGreater(row["timings"]["verify"], 0)
        # Starting Python and torch is most of a tiny model's run, and the
        # split says so: its phases account for the run's wall time.
        self.assertGreater(row["timings"]["start"], 0)
        phases = sum(v for k, v in row["timings"].items() if k != "plan")  # plan holds start, load, trace, codegen
        self.assertLessEqual(phases, row["pipeline"])
        self.assertGreater(phases, 0.75 * row["pipeline"])
        self.assertIn("split: ", proc.stdout)


if __name__ == "__main__":
    unittest.main()
