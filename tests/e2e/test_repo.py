"""End-to-end: the binary on a model spread over a folder's files (input type
repo), from the command line and from a job file, and its bad input.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/e2e -t .
DECOMPOSE_BIN names the binary (default build/decompose).
"""

import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DECOMPOSE_BIN", os.path.join(ROOT, "build", "decompose"))
TINY = os.path.join(ROOT, "tests", "repos", "tiny_lm")
TYPED = os.path.join(ROOT, "tests", "repos", "typed_fusion")  # one fusion, written with postponed annotations
PYTHON = sys.executable
ENTRY = ["--entry-file", "modeling_tiny.py", "--entry-class", "TinyLM",
         "--init-args", '[{"class": "configuration_tiny.TinyConfig", "kwargs": {"vocab_size": 64}}]',
         "--inputs", '[{"shape": [2, 8], "dtype": "int64", "high": 64}]']
JOB = """input_type: repo
repo_path: {folder}
entry_file: modeling_tiny.py
entry_class: TinyLM
init_args:
  - class: configuration_tiny.TinyConfig
    kwargs: {{vocab_size: 64}}
inputs:
  - {{shape: [2, 8], dtype: int64, high: 64}}
output_dir: {out}
"""


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)


class FolderModel(unittest.TestCase):
    """One run from the command line on a copy of tests/repos/tiny_lm."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="decompose-e2e-repo-")
        cls.folder = os.path.join(cls.tmp, "tiny_lm")
        shutil.copytree(TINY, cls.folder)
        cls.out = os.path.join(cls.tmp, "out")
        cls.proc = run(cls.folder, *ENTRY, "-o", cls.out, "--json")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_run_passes_with_phase_0_in_its_tree(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr[-3000:])
        self.assertEqual(json.loads(self.proc.stdout)["status"], "PASS")
        with open(os.path.join(self.out, "decomposition_tree.json")) as f:
            meta = json.load(f)["metadata"]
        self.assertEqual(meta["model_name"], "modeling_tiny")
        self.assertEqual(meta["source_file"], os.path.join(self.folder, "modeling_tiny.py"))
        self.assertEqual(meta["preparation"]["status"], "PASS")
        self.assertEqual(meta["preparation"]["wrapper"], "level_3_model/modeling_tiny.py")
        self.assertIn("layers.act", meta["preparation"]["modules"])

    def test_the_phase_0_check_is_a_file_that_passes_on_its_own(self):
        step = os.path.join(self.out, "steps", "step_0_preparation")
        with open(os.path.join(step, "verification_result.json")) as f:
            self.assertEqual(json.load(f)["status"], "PASS")
        proc = subprocess.run([PYTHON, "verify_wrapper.py"], cwd=step, capture_output=True, text=True,
                              timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout.strip().split("\n")[-1], "PASS")

    def test_check_runs_phase_0_again_and_sees_the_folder_change(self):
        proc = run("check", self.out, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        first = json.loads(proc.stdout)["steps"][0]
        self.assertEqual((first["name"], first["status"]), ("step_0_preparation", "PASS"))
        path = os.path.join(self.folder, "activations.py")
        with open(path) as f:
            text = f.read()
        try:
            with open(path, "w") as f:
                f.write(text.replace("0.044715", "0.05"))
            proc = run("check", self.out, "--json")
        finally:
            with open(path, "w") as f:
                f.write(text)
        self.assertEqual(proc.returncode, 1, proc.stderr[-3000:])
        first = json.loads(proc.stdout)["steps"][0]
        self.assertEqual(first["status"], "FAIL")
        self.assertIn("differs from the folder's own code", first["reason"])

    def test_the_files_run_without_the_folder(self):
        # The wrapper and every file made from it stand alone: a kernel of a
        # class from the folder (GeluNew) carries the code it calls.
        hidden = self.folder + ".away"
        os.rename(self.folder, hidden)
        try:
            files = [os.path.join(self.out, "level_3_model", "modeling_tiny.py")]
            files += sorted(glob.glob(os.path.join(self.out, "level_0_kernel", "*.py")))
            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                procs = list(pool.map(lambda p: subprocess.run([PYTHON, p], cwd=self.tmp, capture_output=True,
                                                               text=True, timeout=300), files))
        finally:
            os.rename(hidden, self.folder)
        self.assertTrue(any("gelu_new" in p for p in files), files)
        for path, proc in zip(files, procs):
            with self.subTest(os.path.basename(path)):
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr[-2000:])


class FolderModelRepl(unittest.TestCase):
    def test_the_prompt_builds_the_model_from_the_phase_0_wrapper(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            # the wrapper's copy of the class, not the folder's file
            lines = ["source = sys.modules[type(model).__module__].__file__",
                     f"print('model', type(model).__name__, 'in the folder' if source.startswith({TINY!r}) "
                     "else 'bundled')",
                     "print('outputs', tuple(output.shape), 'inputs', tuple(args[0].shape), args[0].dtype)",
                     "print('graph', sum(1 for n in gm.graph.nodes if n.op == 'call_module'))",
                     "exit()"]
            proc = subprocess.run([BIN, TINY, *ENTRY, "-o", out, "--num-trials", "1", "--repl"],
                                  input="import os, sys\n" + "\n".join(lines) + "\n", capture_output=True,
                                  text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertIn(os.path.join("level_3_model", "modeling_tiny.py"), proc.stderr + proc.stdout)
        self.assertIn("model TinyLM bundled", proc.stdout)
        self.assertIn("outputs (2, 8, 64) inputs (2, 8) torch.int64", proc.stdout)
        self.assertRegex(proc.stdout, r"graph [1-9]")


class FolderModelBadInput(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="decompose-e2e-repo-bad-")
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _assert_bad(self, args, words):
        proc = run(*args, "-o", self.out)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        lines = [l for l in proc.stderr.strip().split("\n") if l.startswith("decompose: error")]
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(words, lines[0])
        self.assertFalse(os.path.exists(self.out))

    def test_a_folder_without_its_entry(self):
        self._assert_bad([TINY], "needs --entry-file, --entry-class and --inputs")

    def test_inputs_that_are_not_json(self):
        self._assert_bad([TINY, *ENTRY[:4], "--inputs", "[2, 8"], "option '--inputs': not JSON")

    def test_a_class_the_entry_file_does_not_have(self):
        args = list(ENTRY)
        args[3] = "TinyGPT"
        self._assert_bad([TINY, *args], "no class TinyGPT in the entry file")

    def test_a_job_without_its_inputs(self):
        path = os.path.join(self.tmp, "job.yaml")
        with open(path, "w") as f:
            f.write(JOB.format(folder=TINY, out=self.out).split("inputs:")[0])
        self._assert_bad([path], "input_type repo needs 'inputs'")


class FolderModelOfOneFusion(unittest.TestCase):
    def test_a_folder_whose_model_is_one_fusion_written_with_future_annotations(self):
        # the tree's root is then the fusion's file, beside Phase 0's wrapper; and a
        # class copied from a module that starts with `from __future__ import
        # annotations` keeps that import first in the file, where Python needs it
        with tempfile.TemporaryDirectory(prefix="decompose-e2e-repo-fusion-") as tmp:
            folder = shutil.copytree(TYPED, os.path.join(tmp, "typed_fusion"))
            out = os.path.join(tmp, "out")
            proc = run(folder, "--entry-file", "pkg/net.py", "--entry-class", "Net",
                       "--inputs", '[{"shape": [2, 8], "dtype": "float32"}]', "-o", out, "--json")
            self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
            with open(os.path.join(out, "decomposition_tree.json")) as f:
                root = json.load(f)["nodes"]["root"]
            self.assertEqual((root["level"], root["path"]), ("fusion", "level_1_fusion/linear_relu_scale_8x8_fp32.py"))
            self.assertTrue(os.path.isfile(os.path.join(out, "level_3_model", "net.py")))
            with open(os.path.join(out, "level_0_kernel", "scale_8_fp32.py")) as f:
                kernel = f.read()
            self.assertIn('"""\n\nfrom __future__ import annotations\n\nimport sys\n', kernel)


class FolderModelJob(unittest.TestCase):
    def test_a_job_file_runs_the_folders_model(self):
        with tempfile.TemporaryDirectory(prefix="decompose-e2e-repo-job-") as tmp:
            out = os.path.join(tmp, "out")
            path = os.path.join(tmp, "job.yaml")
            with open(path, "w") as f:
                f.write(JOB.format(folder=TINY, out=out))
            proc = run(path, "--json")
            self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
            summary = json.loads(proc.stdout)
            self.assertEqual(summary["status"], "PASS")
            self.assertEqual([m["model"] for m in summary["models"]], [TINY])
            self.assertTrue(os.path.isfile(os.path.join(out, "steps", "step_0_preparation", "verify_wrapper.py")))


if __name__ == "__main__":
    unittest.main()
