"""End-to-end: the built binary on real model files, as a user runs it.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/e2e -t .
DECOMPOSE_BIN names the binary (default build/decompose).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DECOMPOSE_BIN", os.path.join(ROOT, "build", "decompose"))
EXAMPLE = os.path.join(ROOT, "workspace", "data", "examples", "mlp_conv.py")
# The interpreter meson runs these tests with is the one the binary embeds
# (meson option python_exe): generated files are run with it too.
PYTHON = sys.executable


def run(*args, cwd=None):
    return subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


class ExampleRun(unittest.TestCase):
    """One full run of the bundled example, shared by the checks below."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="decompose-e2e-")
        cls.out = os.path.join(cls.tmp, "out")
        cls.proc = run(EXAMPLE, "-o", cls.out, "--json")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_run_passes_with_exit_code_0(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr[-3000:])

    def test_json_mode_prints_one_json_object_on_stdout(self):
        summary = json.loads(self.proc.stdout)
        self.assertEqual(summary["status"], "PASS")
        self.assertGreater(summary["steps_total"], 1)
        self.assertEqual(summary["steps_passed"], summary["steps_total"])

    def test_output_has_the_spec_layout(self):
        for name in ("level_3_model", "level_2_layer", "level_1_fusion", "level_0_kernel", "steps",
                     "verification/composition_test.py", "verification/test_results.json",
                     "verification/step_verification_summary.json", "verification/coverage_summary.json",
                     "decomposition_tree.json", "decomposition_analysis.md", "decomposition_log.json"):
            self.assertTrue(os.path.exists(os.path.join(self.out, name)), name)

    def test_every_step_folder_is_complete_and_passed(self):
        steps = sorted(os.listdir(os.path.join(self.out, "steps")))
        self.assertTrue(steps[0].startswith("step_1_model_to_"))
        for step in steps:
            folder = os.path.join(self.out, "steps", step)
            for name in ("original.py", "refactored.py", "children", "weight_map.json",
                         "verification_result.json", "coverage_report.json"):
                self.assertTrue(os.path.exists(os.path.join(folder, name)), f"{step}/{name}")
            with open(os.path.join(folder, "verification_result.json")) as f:
                result = json.load(f)
            self.assertEqual(result["status"], "PASS", step)
            trials = result["numerical_comparison"]["trials"]
            self.assertEqual(len(trials), 3)
            self.assertEqual(len({t["seed"] for t in trials}), 3)

    def test_tree_has_every_level_and_deduplicated_kernels(self):
        with open(os.path.join(self.out, "decomposition_tree.json")) as f:
            tree = json.load(f)
        meta = tree["metadata"]
        self.assertEqual(meta["verification_status"], "PASSED")
        self.assertEqual(meta["by_level"]["model"], 1)
        self.assertGreaterEqual(meta["by_level"]["layer"], 1)
        self.assertGreaterEqual(meta["by_level"]["fusion"], 2)
        kernels = [n for n in tree["nodes"].values() if n["level"] == "kernel"]
        self.assertEqual(meta["unique_kernels"], len(kernels))
        self.assertEqual(len(os.listdir(os.path.join(self.out, "level_0_kernel"))), len(kernels))
        names = [os.path.basename(n["path"]) for n in kernels]
        self.assertFalse([n for n in names if re.search(r"_\d+\.py$", n)], names)
        self.assertTrue(any(n["instance_count"] > 1 for n in kernels))
        for node in tree["nodes"].values():
            for child in node["children"]:
                self.assertIn(child, tree["nodes"])

    def test_component_files_run_standalone_and_print_pass(self):
        for level in ("level_0_kernel", "level_1_fusion", "level_2_layer", "level_3_model"):
            folder = os.path.join(self.out, level)
            for name in sorted(os.listdir(folder))[:4]:
                proc = subprocess.run([PYTHON, os.path.join(folder, name)], capture_output=True, text=True)
                self.assertEqual(proc.returncode, 0, f"{name}: {proc.stdout}{proc.stderr}")
                self.assertIn("PASS", proc.stdout)

    def test_generated_files_say_which_interpreter_runs_them(self):
        kernel = sorted(os.listdir(os.path.join(self.out, "level_0_kernel")))[0]
        with open(os.path.join(self.out, "level_0_kernel", kernel)) as f:
            text = f.read()
        self.assertIn(f"Run: {PYTHON}", text)
        self.assertIn("This file needs PyTorch", text)

    def test_composition_test_passes_standalone(self):
        proc = subprocess.run([PYTHON, os.path.join(self.out, "verification", "composition_test.py")],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertTrue(proc.stdout.strip().endswith("PASS"))

    def test_coverage_is_full(self):
        with open(os.path.join(self.out, "verification", "coverage_summary.json")) as f:
            self.assertEqual(json.load(f)["status"], "FULL_COVERAGE")

    def test_check_revalidates_the_folder(self):
        proc = run("check", self.out)
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-2000:])

    def test_verify_step_command_uses_reference_exit_codes(self):
        folder = os.path.join(self.out, "steps", sorted(os.listdir(os.path.join(self.out, "steps")))[0])
        result = os.path.join(self.tmp, "verify.json")
        proc = run("verify-step", "--original", os.path.join(folder, "original.py"),
                   "--refactored", os.path.join(folder, "refactored.py"),
                   "--weight-map", os.path.join(folder, "weight_map.json"), "--output", result)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(result) as f:
            self.assertEqual(json.load(f)["status"], "PASS")

    def test_extract_ops_command_reports_full_coverage(self):
        proc = run("extract-ops", "--model", EXAMPLE, "--decomp-dir", self.out, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["status"], "FULL_COVERAGE")


class Sabotage(unittest.TestCase):
    """The checks must fail when what they check is broken."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="decompose-sabotage-")
        cls.out = os.path.join(cls.tmp, "out")
        proc = run(EXAMPLE, "-o", cls.out)
        assert proc.returncode == 0, proc.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _copy(self):
        copy = tempfile.mkdtemp(dir=self.tmp)
        shutil.rmtree(copy)
        shutil.copytree(self.out, copy)
        return copy

    def test_a_sabotaged_kernel_fails_the_composition_test(self):
        out = self._copy()
        folder = os.path.join(out, "level_0_kernel")
        linear = next(n for n in sorted(os.listdir(folder)) if n.startswith("linear_"))
        path = os.path.join(folder, linear)
        with open(path) as f:
            text = f.read()
        sabotaged = text.replace("return linear", "return linear * 1.001")
        self.assertNotEqual(text, sabotaged)
        with open(path, "w") as f:
            f.write(sabotaged)
        proc = subprocess.run([PYTHON, os.path.join(out, "verification", "composition_test.py")],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("FAIL", proc.stdout)
        self.assertEqual(run("check", out).returncode, 1)

    def test_a_weight_map_that_swaps_two_weights_fails_the_composition_test(self):
        # conv1 and conv2 have one shape: only the numbers can tell them apart
        out = self._copy()
        path = os.path.join(out, "verification", "composition_test.py")
        with open(path) as f:
            text = f.read()
        sabotaged = (text.replace("'block_conv1.conv2d.weight'", "'SWAP'")
                     .replace("'block_conv2.conv2d.weight'", "'block_conv1.conv2d.weight'")
                     .replace("'SWAP'", "'block_conv2.conv2d.weight'"))
        self.assertNotEqual(text, sabotaged)
        with open(path, "w") as f:
            f.write(sabotaged)
        proc = subprocess.run([PYTHON, path], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("FAIL", proc.stdout)

    def test_inline_compute_in_a_refactored_file_fails_verify_step(self):
        out = self._copy()
        step = os.path.join(out, "steps", sorted(os.listdir(os.path.join(out, "steps")))[0])
        path = os.path.join(step, "refactored.py")
        with open(path) as f:
            text = f.read()
        lines = text.split("\n")
        start = next(i for i, l in enumerate(lines) if l.startswith("    def forward("))
        ret = next(i for i in range(start, len(lines)) if lines[i].startswith("        return "))
        value = lines[ret].strip()[len("return "):]
        lines[ret] = f"        return torch.relu({value})"
        with open(path, "w") as f:
            f.write("\n".join(lines))
        proc = run("verify-step", "--original", os.path.join(step, "original.py"),
                   "--refactored", path, "--weight-map", os.path.join(step, "weight_map.json"), "--json")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        result = json.loads(proc.stdout)
        self.assertEqual(result["anticheat"]["status"], "FAIL")


class BadInput(unittest.TestCase):
    """Bad input: one line naming the file, exit 2, no output folder."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="decompose-bad-")
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _model(self, text):
        path = os.path.join(self.tmp, "model.py")
        with open(path, "w") as f:
            f.write(text)
        return path

    def _module_model(self, init, forward, before="", inputs="torch.randn(2, 4)"):
        """A model file of one Model class: `before` (helpers, module-level
        names) after the imports, `init` the lines of __init__ after its
        super().__init__(), `forward` the body of forward(self, x)."""
        lines = ["import torch", "import torch.nn as nn", *before.splitlines(), "class Model(nn.Module):",
                 "    def __init__(self):", "        super().__init__()", *("        " + l for l in init),
                 "    def forward(self, x):", "        " + forward,
                 "def get_inputs():", f"    return [{inputs}]", "def get_init_inputs():", "    return []"]
        return self._model("\n".join(lines) + "\n")

    def _assert_bad(self, path, words):
        proc = run(path, "-o", self.out)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        lines = [l for l in proc.stderr.strip().split("\n") if l.startswith("decompose: error")]
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(path, lines[0])
        self.assertIn(words, lines[0])
        self.assertFalse(os.path.exists(self.out))
        self.assertEqual([n for n in os.listdir(self.tmp) if n != "model.py"], [])

    def test_missing_file(self):
        self._assert_bad(os.path.join(self.tmp, "nope.py"), "no such file")

    def test_syntax_error(self):
        self._assert_bad(self._model("import torch\ndef f(:\n"), "syntax error")

    def test_no_model_class(self):
        self._assert_bad(self._model("import torch\ndef get_inputs():\n    return []\n"
                                     "def get_init_inputs():\n    return []\n"), "Model")

    def test_no_get_inputs(self):
        self._assert_bad(self._model("import torch.nn as nn\nclass Model(nn.Module):\n    pass\n"
                                     "def get_init_inputs():\n    return []\n"), "get_inputs")

    def test_forward_raises(self):
        self._assert_bad(self._module_model([], "raise RuntimeError('boom')", inputs="torch.randn(2)"),
                         "forward raised RuntimeError: boom")

    def test_a_torchscript_submodule(self):
        # its ops run inside TorchScript: before, an internal error about block._c
        self._assert_bad(self._module_model(
            ["self.block = torch.jit.script(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))"], "return self.block(x) * 2"),
                         "its submodule block is a TorchScript module")

    def test_a_forward_that_differentiates_says_how(self):
        # an energy model's force: before, its gradient was a kernel file that could
        # not run, and a step failed (a TorchScript function of the model's own file,
        # which this test named in the error before, is seen through: the
        # scripted_functions family)
        self._assert_bad(self._module_model(
            ["self.energy = nn.Linear(4, 1)"],
            "return -force(self.energy, x)",
            before="def force(energy, x):\n    with torch.enable_grad():\n"
                   "        x = x.detach().requires_grad_(True)\n"
                   "        return torch.autograd.grad(energy(x).sum(), x)[0]"),
            "forward computes gradients (torch.autograd.grad), and a kernel file cannot")

    def test_a_quantized_module_says_its_weights_are_packed(self):
        # before: an internal error, "attribute q._packed_params._packed_params is not a tensor"
        self._assert_bad(self._module_model(["self.q = torch.nn.quantized.Linear(4, 4)",
                                             "self.quant = torch.nn.quantized.Quantize(0.1, 0, torch.quint8)",
                                             "self.dequant = torch.nn.quantized.DeQuantize()"],
                                            "return self.dequant(self.q(self.quant(x)))"),
                         "its submodule q is a quantized module (")

    def test_a_parametrization_of_torch_that_files_do_not_rebuild_says_to_remove_it(self):
        # torch's spectral norm, weight norm and orthogonal parametrizations
        # are rebuilt (the parametrized family); one a later torch adds is
        # not, and a file without it would compute another weight
        self._assert_bad(self._module_model(
            ["self.fc = parametrize.register_parametrization(nn.Linear(4, 4), 'weight', _Symmetric())"],
            "return torch.relu(self.fc(x))",
            before="from torch.nn.utils import parametrize\nclass _Symmetric(nn.Module):\n"
                   "    __module__ = 'torch.nn.utils.parametrizations'\n"
                   "    def forward(self, w):\n        return w.triu() + w.triu(1).mT"),
            "its submodule fc has torch's _Symmetric parametrization")

    def test_a_forward_hook_that_no_file_would_carry_is_an_op_beside_its_module(self):
        # before, exit 2: "a forward hook on fc changes what it takes or gives"
        path = self._module_model(["self.fc = nn.Linear(4, 4)",
                                   "self.fc.register_forward_hook(lambda m, i, o: o * 2.0)"],
                                  "return torch.relu(self.fc(x))")
        proc = run(path, "-o", self.out)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertIn("mul_fp32.py", os.listdir(os.path.join(self.out, "level_0_kernel")))

    def test_a_generator_that_two_ops_draw_from_is_named(self):
        # before: "cannot trace the model, ... SyntaxError: invalid syntax (<eval_with_key>.0, line 5)"
        self._assert_bad(self._module_model(["self.fc = nn.Linear(4, 4)",
                                             "self.gen = torch.Generator().manual_seed(7)"],
                                            "return self.fc(x + torch.rand(x.shape, generator=self.gen)) "
                                            "+ torch.randn(x.shape, generator=self.gen)"),
                         "forward draws from the torch.Generator gen in 2 ops (rand, randn)")

    def test_a_generator_drawn_from_before_forward_ran_is_named(self):
        self._assert_bad(self._module_model(["self.fc = nn.Linear(4, 4)",
                                             "self.gen = torch.Generator().manual_seed(7)",
                                             "self.offset = torch.randn(4, generator=self.gen)"],
                                            "return self.fc(x) + torch.randn(x.shape, generator=self.gen)"),
                         "the model keeps a torch.Generator, gen, that was drawn from before forward ran")

    def test_a_generator_made_in_forward_is_named(self):
        self._assert_bad(self._module_model(["self.fc = nn.Linear(4, 4)"],
                                            "return self.fc(x) + torch.randn(x.shape, "
                                            "generator=torch.Generator().manual_seed(7))"),
                         "forward draws random numbers from a torch.Generator it makes itself")

    def test_a_hook_that_changes_nothing_is_let_be(self):
        path = self._module_model(["self.fc = nn.Linear(4, 4)",
                                   "self.fc.register_forward_hook(lambda m, i, o: SEEN.append(o.shape))"],
                                  "return torch.relu(self.fc(x))", before="SEEN = []")
        proc = run(path, "-o", self.out)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])

    def test_a_small_module_level_table_is_written_out_where_it_is_used(self):
        # before: step 1 FAILED, "weight map names '_tensor_constant0', which
        # the original does not have" (torch.fx had left it on the model)
        path = self._module_model(["self.fc = nn.Linear(4, 4)"], "return torch.relu(self.fc(x) * TABLE)",
                                  before="TABLE = torch.linspace(0.0, 1.0, 4)")
        proc = run(path, "-o", self.out)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        with open(os.path.join(self.out, "level_0_kernel", "tensor_fp32.py")) as f:
            self.assertIn("torch.tensor([0.0, 0.3333333432674408, 0.6666666269302368, 1.0], "
                          "dtype=torch.float32)", f.read())

    def test_a_large_module_level_table_is_named_in_the_error(self):
        self._assert_bad(self._module_model(["self.fc = nn.Linear(4, 256)"], "return torch.relu(self.fc(x) * TABLE)",
                                            before="TABLE = torch.linspace(0.0, 1.0, 256)"),
                         "forward uses TABLE (a module-level tensor of the model's code, shape [256])")

    def test_a_branch_on_values_in_the_models_own_forward_is_named(self):
        # the third trial's inputs take the other branch; no module holds it
        # to keep whole: the run fails, not as bad input, and says which method
        path = self._module_model(["self.fc = nn.Linear(8, 8)"],
                                  "return torch.relu(self.fc(x)) if x.mean() > 0 else torch.tanh(self.fc(x))",
                                  inputs="torch.randn(2, 8)")
        proc = run(path, "-o", self.out)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("tracing again, checked", proc.stderr)
        self.assertIn("decompose: Model.forward reads values into Python that differ between the trials' inputs, "
                      "and the recording holds the first trial's", proc.stderr)

    def test_nothing_to_decompose(self):
        self._assert_bad(self._module_model([], "return x.transpose(0, 1).reshape(8, 4)", inputs="torch.randn(4, 8)"),
                         "no compute op to decompose")


PRINTING_MODEL = """
import torch
import torch.nn as nn

print("imported: a line on stdout")


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        print("forward: a line on stdout")
        return torch.relu(self.fc(x))


def get_inputs():
    return [torch.randn(2, 8)]


def get_init_inputs():
    return []
"""


class Mcp(unittest.TestCase):
    """decompose mcp: a client's session over stdio, with a model that prints."""

    def test_a_session_decomposes_checks_and_counts_with_nothing_stray_on_stdout(self):
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "printing.py")
            with open(model, "w") as f:
                f.write(PRINTING_MODEL)
            out = os.path.join(tmp, "out")
            calls = [("decompose", {"model": model, "output": out, "num_trials": 2}),
                     ("check", {"dir": out}),
                     ("extract_ops", {"model": model, "decomp_dir": out}),
                     ("verify_step", {"original": model, "refactored": os.path.join(tmp, "nope.py")})]
            messages = [{"jsonrpc": "2.0", "id": 0, "method": "initialize",
                         "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                                    "clientInfo": {"name": "e2e", "version": "1"}}},
                        {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]
            messages += [{"jsonrpc": "2.0", "id": 2 + i, "method": "tools/call",
                          "params": {"name": name, "arguments": args}} for i, (name, args) in enumerate(calls)]
            proc = subprocess.run([BIN, "mcp"], input="".join(json.dumps(m) + "\n" for m in messages),
                                  capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        replies = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertEqual([r["id"] for r in replies], [0, 1, 2, 3, 4, 5])
        self.assertEqual(replies[0]["result"]["protocolVersion"], "2025-03-26")
        self.assertEqual([t["name"] for t in replies[1]["result"]["tools"]],
                         ["decompose", "verify_step", "extract_ops", "check"])
        run_result, check, ops, missing = (r["result"] for r in replies[2:])
        self.assertFalse(run_result["isError"])
        self.assertEqual(run_result["structuredContent"]["status"], "PASS")
        self.assertEqual(json.loads(run_result["content"][0]["text"]), run_result["structuredContent"])
        self.assertEqual(check["structuredContent"]["status"], "PASS", check)
        self.assertEqual(ops["structuredContent"]["status"], "FULL_COVERAGE", ops)
        self.assertTrue(missing["isError"])
        self.assertIn("nope.py: no such file", missing["structuredContent"]["error"])
        self.assertIn("forward: a line on stdout", proc.stderr)  # the model's prints went to stderr


class JobFile(unittest.TestCase):
    def test_a_job_of_four_models_runs_each_in_one_interpreter(self):
        # One interpreter for the whole job: what a run keeps between its
        # phases (kept outputs, compiled files, imported modules) must not
        # leak into the next model's run, and a failing model must not stop
        # the others. tensor_check's run traces twice (its root step fails
        # on the symbolic graph): the second attempt must not see the first's.
        models = os.path.join(ROOT, "tests", "models")
        with tempfile.TemporaryDirectory() as tmp:
            job = os.path.join(tmp, "job.yaml")
            with open(job, "w") as f:
                f.write(f"input_type: single_file\nmodels_dir: {models}\n"
                        "models: [mlp.py, resnet_blocks.py, untraceable/tensor_check.py, mlp.py]\n"
                        f"output_dir: {tmp}/out/{{model_name}}\nnum_trials: 2\n")
            proc = subprocess.run([BIN, job, "--json"], capture_output=True, text=True, timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
            for name in ("mlp", "resnet_blocks", "tensor_check"):
                with open(os.path.join(tmp, "out", name, "decomposition_tree.json")) as f:
                    self.assertEqual(json.load(f)["metadata"]["verification_status"], "PASSED")
        runs = json.loads(proc.stdout)["models"]
        self.assertEqual([r["status"] for r in runs], ["PASS"] * 4)
        self.assertIn("tracing again, checked", proc.stderr)
        # the same model twice in one interpreter: the same tree both times
        self.assertEqual(runs[0]["by_level"], runs[3]["by_level"])
        self.assertEqual(runs[0]["unique_kernels"], runs[3]["unique_kernels"])


    def test_models_of_a_job_with_kernel_files_of_one_name_each_count_their_own(self):
        # Both models have relu_fp32.py, once and three times: the second's
        # composition test and coverage must import its own file, not keep
        # the first model's module of that name.
        layers = {"one_relu": "nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)",
                  "three_relus": "nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU()"}
        with tempfile.TemporaryDirectory() as tmp:
            for name, body in layers.items():
                with open(os.path.join(tmp, name + ".py"), "w") as f:
                    f.write("import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
                            "    def __init__(self):\n        super().__init__()\n"
                            f"        self.net = nn.Sequential({body})\n\n"
                            "    def forward(self, x):\n        return self.net(x)\n\n\n"
                            "def get_inputs():\n    return [torch.randn(4, 8)]\n\n\n"
                            "def get_init_inputs():\n    return []\n")
            job = os.path.join(tmp, "job.yaml")
            with open(job, "w") as f:
                f.write(f"models_dir: {tmp}\nmodels: [one_relu.py, three_relus.py]\n"
                        f"output_dir: {tmp}/out/{{model_name}}\nnum_trials: 1\n")
            proc = subprocess.run([BIN, job, "--json"], capture_output=True, text=True, timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
            with open(os.path.join(tmp, "out", "three_relus", "verification", "coverage_summary.json")) as f:
                coverage = json.load(f)
        self.assertEqual(coverage["status"], "FULL_COVERAGE")
        relu = next(c for c in coverage["components"] if c["file"].endswith("relu_fp32.py"))
        self.assertEqual(relu["instances"], 3)


class Repl(unittest.TestCase):
    def test_the_prompt_has_the_model_its_trace_and_the_tree(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            lines = ["kernels = [k for k, n in tree['nodes'].items() if n['level'] == 'kernel']",
                     "print('model', type(model).__name__, 'outputs', tuple(output.shape))",
                     "print('graph', sum(1 for n in gm.graph.nodes if n.op == 'call_module'))",
                     "print('kernel file runs', load(node(kernels[0])['path']).run_tests())",
                     "exit()",
                     "print('not reached')"]
            proc = subprocess.run([BIN, EXAMPLE, "-o", out, "--num-trials", "1", "--repl"],
                                  input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertIn("decompose --repl:", proc.stderr + proc.stdout)
        self.assertRegex(proc.stdout, r"model Model outputs \(\d+, \d+")
        self.assertRegex(proc.stdout, r"graph [1-9]")
        self.assertIn("kernel file runs True", proc.stdout)
        self.assertNotIn("not reached", proc.stdout)


class CommandLine(unittest.TestCase):
    def test_help_and_version(self):
        self.assertEqual(run("--help").returncode, 0)
        proc = run("--version")
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"decompose \d+\.\d+\.\d+")

    def test_unknown_flag_is_exit_2(self):
        self.assertEqual(run("--frobnicate").returncode, 2)


if __name__ == "__main__":
    unittest.main()
