"""Every step verified in one pass: the results must be those of checking each
step on its own, and a wrong step deep in the tree must be the one that fails.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import collections
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import api, loader, record, verify, verify_tree  # noqa: E402

RESNET = os.path.join(ROOT, "tests", "models", "resnet_blocks.py")
LSTM = os.path.join(ROOT, "tests", "models", "lstm.py")
SHAPE_UNPACK = os.path.join(ROOT, "tests", "models", "untraceable", "shape_unpack.py")
DROP_PATH = os.path.join(ROOT, "tests", "models", "drop_path_blocks.py")


def materialise(model_path, folder):
    """Write a plan's files as the host does; returns the verify requests."""
    reply = json.loads(api.plan(json.dumps({"model_path": model_path, "model_name": "m"})))
    assert reply["ok"], reply
    for f in reply["files"] + [f for s in reply["steps"] for f in s["files"]]:
        path = os.path.join(folder, f["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write(f["content"])
    requests = []
    for step in reply["steps"]:
        d = os.path.join(folder, "steps", step["name"])
        wm = os.path.join(d, "weight_map.json")
        requests.append({"original": os.path.join(d, "original.py"),
                         "refactored": os.path.join(d, "refactored.py"),
                         "weight_map": wm if os.path.exists(wm) else None})
    return [s["name"] for s in reply["steps"]], requests


MOVERS = """
import torch
import torch.nn as nn


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):  # no __init__ of its own, as in torchvision
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.norm2d = LayerNorm2d(8, eps=1e-6)
        self.to_last = Permute([0, 2, 3, 1])
        self.norm = nn.LayerNorm(8)
        self.to_first = Permute([0, 3, 1, 2])
        self.flat = nn.Flatten(2)
        self.unflat = nn.Unflatten(2, (6, 6))
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.to_first(self.norm(self.to_last(self.norm2d(self.conv(x)))))
        return self.act(self.unflat(self.flat(x)))


def get_inputs():
    return [torch.randn(2, 4, 6, 6)]


def get_init_inputs():
    return []
"""


NORMED = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.utils.weight_norm(nn.Conv1d(8, 8, 5, padding=2, groups=2), name="weight", dim=2)
        self.act = nn.GELU()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        y = self.act(self.pos(x))
        return self.proj((x + y).transpose(1, 2))


def get_inputs():
    return [torch.randn(2, 8, 16)]


def get_init_inputs():
    return []
"""


COUNTING = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return torch.relu(self.proj(x))


def get_inputs():
    return [torch.randn(2, 8)]


def get_init_inputs():
    return []
"""


def rewrite_return(path, template):
    """Rewrite forward's `return value` as template.format(value)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n        return ", text.index("    def forward("))
    end = text.index("\n", start + 1)
    value = text[start + len("\n        return "):end]
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{text[:start]}\n        return {template.format(value)}{text[end:]}")


class VerifyTree(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="decompose-verify-tree-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_every_step_passes_on_the_activations_inside_the_model(self):
        names, requests = materialise(RESNET, self.tmp)
        results = verify_tree.verify_steps(requests)
        self.assertEqual(len(results), len(names))
        for name, result in zip(names, results):
            with self.subTest(name):
                self.assertEqual(result["status"], "PASS", result.get("fail_reason"))
                self.assertEqual(result["anticheat"]["status"], "PASS")
                self.assertEqual(result["weight_transfer"]["status"], "PASS")
                self.assertEqual(result["numerical_comparison"]["seeds"], [42, 43, 44])
        # layer1's two blocks are one step, compared at both places they run
        counts = {n: [t.get("instances_compared") for t in r["numerical_comparison"]["trials"]]
                  for n, r in zip(names, results)}
        self.assertIn([2, 2, 2], counts.values())
        self.assertIn("inside the model", results[1]["inputs"])
        # the trace's eager run is the first trial's reference, and only the first's
        trials = results[0]["numerical_comparison"]["trials"]
        self.assertIn("made while tracing", trials[0].get("reference", ""))
        self.assertNotIn("reference", trials[1])

    def test_a_run_runs_the_model_once_per_trial_and_the_composed_model_once(self):
        # What a run costs, in runs of whole models (the benchmark's floor):
        # the model once per trial, its first run the plan's; each level's
        # refactored models once per trial; the composed model once.
        runs = collections.Counter()
        wholes = ("Model.forward", "RefactoredModel.forward", "ComposedModel.forward")

        def count(frame, event, _):
            # A profile function, not a forward hook: the anti-cheat rejects
            # a global hook as code that could compute behind a file's back.
            code = frame.f_code
            if event != "call" or getattr(code, "co_qualname", code.co_name) not in wholes:
                return
            first = frame.f_locals.get(code.co_varnames[1]) if code.co_argcount > 1 else None
            if isinstance(first, torch.Tensor) and not first.is_meta:
                path = os.path.realpath(code.co_filename)
                runs[os.path.relpath(path, self.tmp) if path.startswith(self.tmp) else path] += 1
        sys.setprofile(count)
        try:
            names, requests = materialise(RESNET, self.tmp)
            self.assertEqual(runs[os.path.realpath(RESNET)], 1)  # the plan's eager run
            results = verify_tree.verify_steps(requests, keep_outputs=True)
            composition = verify.run_composition(os.path.join(self.tmp, "verification",
                                                              "composition_test.py"))
        finally:
            sys.setprofile(None)
        self.assertEqual([r["status"] for r in results] + [composition["status"]],
                         ["PASS"] * (len(names) + 1))
        self.assertEqual(runs[os.path.realpath(RESNET)], 3)
        self.assertEqual(runs[os.path.join("verification", "composition_test.py")], 1)
        for name, result in zip(names, results):
            trials = result["numerical_comparison"]["trials"]
            instances = [t["instances_compared"] for t in trials]
            self.assertEqual(len(set(instances)), 1, name)  # the same instances each trial
            self.assertEqual(runs[os.path.join("steps", name, "refactored.py")], sum(instances), name)
        # the steps' originals are the model and its components, run where
        # their parents run them: none is built and run on its own
        self.assertFalse([p for p in runs if p.endswith("original.py")])

    def test_the_plans_model_is_the_root_steps_original_built_once(self):
        built = []
        build = loader.ModelFile.build

        def counted(model_file, seed=0):
            built.append(os.path.basename(model_file.path))
            return build(model_file, seed)
        with mock.patch("decompose_glue.loader.ModelFile.build", counted):
            names, requests = materialise(RESNET, self.tmp)
            self.assertEqual(built, ["resnet_blocks.py"])
            results = verify_tree.verify_steps(requests)
        self.assertNotIn("original.py", built)  # the root's original was not built again
        self.assertEqual(built.count("resnet_blocks.py"), 1)
        self.assertEqual([r["status"] for r in results], ["PASS"] * len(names))
        # the next run builds its own: nothing was left kept
        built.clear()
        with mock.patch("decompose_glue.loader.ModelFile.build", counted):
            results = verify_tree.verify_steps(requests[:1])
        self.assertEqual(sorted(built), ["original.py", "refactored.py"])
        self.assertEqual(results[0]["status"], "PASS")
        self.assertNotIn("reference", results[0]["numerical_comparison"]["trials"][0])

    def test_a_model_whose_forward_changed_its_state_is_not_kept(self):
        # The plan ran the model; a file built again has not: the steps
        # must not take a model whose forward counted itself in a buffer.
        path = os.path.join(self.tmp, "counting.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(COUNTING)
        verify.forget_kept_outputs()
        reply = json.loads(api.plan(json.dumps({"model_path": path, "model_name": "m"})))
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(verify._PLANNED, {})
        materialise(RESNET, self.tmp)
        self.assertEqual(len(verify._PLANNED), 1)  # a model that keeps still is kept

    def test_a_planned_model_serves_only_the_text_it_was_built_from(self):
        model = nn.Linear(4, 3)
        x = torch.randn(2, 4)
        out = model(x)
        sha = hashlib.sha1(b"text").hexdigest()
        verify.keep_planned("text", 42, model, x, out)
        self.assertIsNone(verify.take_planned(hashlib.sha1(b"other text").hexdigest()))
        kept_model, seed, inputs, output = verify.take_planned(sha)
        self.assertIs(kept_model, model)
        self.assertEqual(seed, 42)
        self.assertIs(inputs, x)
        self.assertIs(output, out)
        self.assertIsNone(verify.take_planned(sha))  # taken once
        verify.keep_planned("text", 42, model, x, out)
        verify.forget_kept_outputs()  # a new run starts
        self.assertIsNone(verify.take_planned(sha))

    def test_the_composition_runs_once_on_what_the_last_trial_kept(self):
        verify._KEPT_FOR_COMPOSITION.clear()
        composition, original = self.verified_keeping_outputs()
        self.assertEqual(list(verify._KEPT_FOR_COMPOSITION), [original])
        _, seed, _, output = verify._KEPT_FOR_COMPOSITION[original]
        self.assertEqual(seed, 44)
        self.assertIsInstance(output, torch.Tensor)
        with mock.patch("torch.manual_seed", wraps=torch.manual_seed) as seeded:
            result = verify.run_composition(composition)
        self.assertEqual(result["status"], "PASS", result)
        self.assertEqual([t["seed"] for t in result["trials"]], [44])
        # no input drawn, the original not run: only the composed model, once,
        # from the seed of every forward (verify.seed_forward)
        self.assertEqual(seeded.call_args_list, [mock.call(verify.FIRST_SEED)])
        self.assertEqual(verify._KEPT_FOR_COMPOSITION, {})  # taken, not copied: freed after its trial

    def verified_keeping_outputs(self, seeds=None):
        """(composition_test.py, the original's real path) of a pass that
        kept the composition's reference; `seeds` rewrites the test's SEEDS,
        as a user asking for more inputs would."""
        names, requests = materialise(RESNET, self.tmp)
        verify_tree.verify_steps(requests, keep_outputs=True)
        path = os.path.join(self.tmp, "verification", "composition_test.py")
        if seeds is not None:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            self.assertIn("\nSEEDS = [44]\n", text)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace("\nSEEDS = [44]\n", f"\nSEEDS = {seeds}\n"))
        return path, os.path.realpath(requests[0]["original"])

    def kept_for_composition(self, seeds=None):
        """(composition_test.py, model, seed, LentInputs) kept by such a pass."""
        composition, original = self.verified_keeping_outputs(seeds)
        return (composition, *verify._KEPT_FOR_COMPOSITION[original][:3])

    def test_the_composition_runs_the_model_the_root_step_built(self):
        composition, model, seed, _ = self.kept_for_composition(seeds=[42, 43, 44])
        self.assertEqual(seed, 44)
        # A weight changed in the kept model after the pass: seeds 42 and 43
        # run it both ways and agree; seed 44's reference was kept from before.
        with torch.no_grad():
            next(model.parameters()).add_(1.0)
        result = verify.run_composition(composition)
        self.assertEqual([t["pass"] for t in result["trials"]], [True, True, False])
        self.assertEqual(verify._KEPT_FOR_COMPOSITION, {})  # taken once

    def test_the_composition_runs_on_the_last_trials_inputs_not_a_new_draw(self):
        # seeds added to the test: the one with kept inputs goes first, so
        # that a multi-GB input is let go before the next is drawn
        composition, _, _, lent = self.kept_for_composition(seeds=[42, 43, 44])
        with mock.patch("torch.manual_seed", wraps=torch.manual_seed) as seeded:
            result = verify.run_composition(composition)
        self.assertEqual(result["status"], "PASS", result)
        # seed 44's inputs are the kept ones, not drawn again; 43's are drawn once
        self.assertNotIn(mock.call(44), seeded.call_args_list)
        self.assertEqual(seeded.call_args_list.count(mock.call(43)), 1)
        self.assertEqual([t["seed"] for t in result["trials"]], [42, 43, 44])
        # other inputs in their place: seed 44 no longer matches its reference
        composition, _, _, lent = self.kept_for_composition()
        lent.args = [torch.zeros_like(a) for a in lent.args]
        lent._versions = verify.versions((lent.args, lent.kwargs))
        result = verify.run_composition(composition)
        self.assertEqual([t["pass"] for t in result["trials"]], [False])

    def test_a_new_run_drops_outputs_a_failed_run_kept(self):
        verify.keep_for_composition("/elsewhere/original.py", nn.Linear(2, 2), 44, None, torch.zeros(4))
        materialise(RESNET, self.tmp)
        self.assertEqual(verify._KEPT_FOR_COMPOSITION, {})

    def test_a_recorded_graph_that_misses_the_model_fails_the_root_step(self):
        # A recorded graph is not replayed when the plan is made (capture.py):
        # the root step runs the files made from it against the model. Here
        # the recorder misreads the softmax as a log_softmax.
        recorded, misread_nodes = record.record, []

        def misread(*args, **kwargs):
            gm, notes, output = recorded(*args, **kwargs)
            for node in gm.graph.nodes:
                if node.target is torch.nn.functional.softmax:
                    node.target = torch.nn.functional.log_softmax
                    misread_nodes.append(node.name)
            gm.recompile()
            return gm, notes, output
        with mock.patch.object(record, "record", misread):
            names, requests = materialise(SHAPE_UNPACK, self.tmp)
        self.assertEqual(len(misread_nodes), 1)
        results = verify_tree.verify_steps(requests)
        self.assertEqual(results[0]["status"], "FAIL")
        self.assertFalse(any(t["pass"] for t in results[0]["numerical_comparison"]["trials"]))

    def test_a_recorded_graph_that_raises_after_a_passing_first_trial_says_what_was_fixed(self):
        # A graph recorded on the first trial's inputs holds values read off
        # them (a loop over torch.unique's values): other inputs can take a
        # path it does not have. Here a kernel raises from the second call on.
        names, requests = materialise(SHAPE_UNPACK, self.tmp)
        children = os.path.join(os.path.dirname(requests[0]["refactored"]), "children")
        kernel = os.path.join(children, sorted(f for f in os.listdir(children) if f.endswith(".py"))[0])
        rewrite_return(kernel, "(CALLS.append(1) or {}) if len(CALLS) < 1 else ().__getitem__(0)")
        with open(kernel, "a", encoding="utf-8") as f:
            f.write("\n\nCALLS = []\n")
        for recorded in (True, False):
            with self.subTest(recorded=recorded):
                for name in [m for m in sys.modules if m.startswith("children")]:
                    del sys.modules[name]  # the kernel's CALLS starts empty
                trials = verify_tree.verify_steps(requests, recorded=recorded)[0]["numerical_comparison"]["trials"]
                self.assertTrue(trials[0]["pass"])
                self.assertIn("IndexError: tuple index out of range", trials[1]["error"])
                self.assertEqual("trace.values_fixed_by_the_inputs" in trials[1]["error"], recorded)

    def test_a_root_step_left_to_check_the_trace_stops_at_its_first_failing_trial(self):
        # Where the plan did not check its graph, a failing root step has it
        # traced again (pipeline.c): the rest of the pass would be thrown
        # away. A recording runs the second trial's inputs first, the first
        # it was not made on.
        names, requests = materialise(RESNET, self.tmp)
        children = os.path.join(os.path.dirname(requests[0]["refactored"]), "children")
        layer = os.path.join(children, sorted(f for f in os.listdir(children) if f.endswith(".py"))[0])
        rewrite_return(layer, "{} + 1e-3")
        for recorded, first in ((False, 0), (True, 1)):
            with self.subTest(recorded=recorded):
                results = verify_tree.verify_steps(requests, recorded=recorded, stop_when_root_fails=True)
                trials = results[0]["numerical_comparison"]["trials"]
                self.assertEqual([t["trial"] for t in trials if "instances_compared" in t], [first])
                self.assertEqual(results[0]["status"], "FAIL")
                # the trials not run say so, and name no error (a failing
                # step's reason is its first trial with one)
                skipped = [t for t in trials if "instances_compared" not in t]
                self.assertEqual([("not_run" in t, "error" in t) for t in skipped], [(True, False)] * 2)
        trials = verify_tree.verify_steps(requests)[0]["numerical_comparison"]["trials"]
        self.assertEqual([t.get("instances_compared") for t in trials], [1, 1, 1])

    def test_a_recording_that_passes_runs_every_trial_and_keeps_the_last_for_the_composition(self):
        names, requests = materialise(RESNET, self.tmp)
        results = verify_tree.verify_steps(requests, keep_outputs=True, recorded=True,
                                           stop_when_root_fails=True)
        self.assertEqual([r["status"] for r in results], ["PASS"] * len(names))
        trials = results[0]["numerical_comparison"]["trials"]
        self.assertEqual([t["seed"] for t in trials], [42, 43, 44])
        self.assertIn("made while tracing", trials[0].get("reference", ""))  # the plan's run, still used
        (kept,) = verify._KEPT_FOR_COMPOSITION.values()
        self.assertEqual(kept[1], 44)

    def test_a_wrong_child_deep_in_the_tree_fails_its_own_step_only(self):
        names, requests = materialise(RESNET, self.tmp)
        k = next(i for i, n in enumerate(names) if n.startswith("step_3_"))
        children = os.path.join(os.path.dirname(requests[k]["refactored"]), "children")
        kernel = os.path.join(children, sorted(f for f in os.listdir(children) if f.endswith(".py"))[0])
        rewrite_return(kernel, "{} + 1e-3")  # a small error in one kernel copy
        results = verify_tree.verify_steps(requests)
        for i, (name, result) in enumerate(zip(names, results)):
            with self.subTest(name):
                if i == k:
                    self.assertEqual(result["status"], "FAIL")
                    self.assertEqual(result["fail_reason"], "numerical_mismatch")
                    self.assertGreater(result["numerical_comparison"]["max_diff_across_trials"], 5e-4)
                else:
                    self.assertEqual(result["status"], "PASS")

    def test_a_refactored_parent_that_computes_is_caught_where_it_runs(self):
        # watched inside the root's watched run (a layer), and one level deeper (a fusion)
        for prefix in ("step_2_basic_block", "step_3_conv2d_batch_norm_relu"):
            with self.subTest(prefix):
                names, requests = materialise(RESNET, self.tmp)
                k = next(i for i, n in enumerate(names) if n.startswith(prefix))
                rewrite_return(requests[k]["refactored"], "torch.relu({})")  # same numbers
                results = verify_tree.verify_steps(requests)
                self.assertEqual(results[k]["status"], "FAIL")
                self.assertEqual(results[k]["fail_reason"], "anticheat_violation")
                self.assertEqual([r["status"] for i, r in enumerate(results) if i != k],
                                 ["PASS"] * (len(results) - 1))

    def test_a_step_whose_component_never_runs_is_an_error(self):
        names, requests = materialise(RESNET, self.tmp)
        k = len(requests) - 1
        with open(requests[k]["original"], "a", encoding="utf-8") as f:
            f.write("\n# not the file the parent's children/ holds\n")
        results = verify_tree.verify_steps(requests)
        self.assertEqual(results[k]["status"], "ERROR")
        self.assertIn("never ran", results[k]["error"])

    def verify_source(self, source):
        """Every step's status for a model file with this text."""
        path = os.path.join(self.tmp, "model.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        _, requests = materialise(path, os.path.join(self.tmp, "out"))
        return [(r["status"], r.get("fail_reason")) for r in verify_tree.verify_steps(requests)]

    def test_modules_that_only_move_data_become_kernels(self):
        # torchvision's Permute (ConvNeXt) and nn.Unflatten cannot stay inline in
        # a parent, which owns no modules: the plan used to fail on them; and a
        # subclass without its own __init__ must still be rebuilt from its arguments
        statuses = self.verify_source(MOVERS)
        self.assertEqual(statuses, [("PASS", None)] * len(statuses))

    def test_weight_normed_convs_are_rebuilt_and_verified(self):
        # wav2vec2's positional conv: weight_g and weight_v, and a hook that makes weight
        statuses = self.verify_source(NORMED)
        self.assertEqual(statuses, [("PASS", None)] * len(statuses))

    def test_recurrent_weights_are_shared_into_the_rnn(self):
        # nn.LSTM caches its weights in a flat list: binding must reach it
        names, requests = materialise(LSTM, self.tmp)
        results = verify_tree.verify_steps(requests)
        self.assertEqual([r["status"] for r in results], ["PASS"] * len(names))
        self.assertEqual(results[0]["numerical_comparison"]["max_diff_across_trials"], 0.0)


    def test_a_step_is_checked_at_each_instance_as_built_with_its_numbers(self):
        # four blocks, one fusion file taking each block's scale and drop rate
        names, requests = materialise(DROP_PATH, self.tmp)
        results = verify_tree.verify_steps(requests)
        self.assertEqual([r["status"] for r in results], ["PASS"] * len(results))
        k = next(i for i, n in enumerate(names) if n.startswith("step_2_"))
        self.assertEqual([t["instances_compared"] for t in results[k]["numerical_comparison"]["trials"]],
                         [4, 4, 4])
        # a refactored block that builds its scale with the first block's number
        with open(requests[k]["refactored"], encoding="utf-8") as f:
            text = f.read()
        self.assertIn("ResidualScaleFp32(scale=scale)", text)
        with open(requests[k]["refactored"], "w", encoding="utf-8") as f:
            f.write(text.replace("ResidualScaleFp32(scale=scale)", "ResidualScaleFp32(scale=1.0)"))
        results = verify_tree.verify_steps(requests)
        self.assertEqual(results[k]["status"], "FAIL")
        self.assertEqual(results[k]["fail_reason"], "numerical_mismatch")
        self.assertEqual(results[0]["status"], "PASS")

    def test_a_kernel_that_writes_into_what_the_model_only_reads_fails_its_step(self):
        # tanh_ computes tanh's numbers, into the head's input, which the
        # model reads again: the step passed on a copy, the composition failed
        path = os.path.join(self.tmp, "model.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(TANH_HEAD)
        names, requests = materialise(path, os.path.join(self.tmp, "out"))
        folders = [os.path.join(os.path.dirname(r["refactored"]), "children") for r in requests]
        k = next(i for i, d in enumerate(folders) if "tanh_fp32.py" in os.listdir(d) and i > 0)
        kernel = os.path.join(folders[k], "tanh_fp32.py")
        with open(kernel, encoding="utf-8") as f:
            text = f.read()
        with open(kernel, "w", encoding="utf-8") as f:
            f.write(text.replace("torch.tanh(", "torch.tanh_("))
        results = verify_tree.verify_steps(requests)
        self.assertEqual(results[k]["status"], "FAIL")
        errors = [t.get("error", "") for t in results[k]["numerical_comparison"]["trials"]]
        self.assertTrue(all("changes its inputs in place" in e for e in errors), errors)
        self.assertEqual([r["status"] for i, r in enumerate(results) if i != k], ["PASS"] * (len(results) - 1))


TANH_HEAD = """
import torch
import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        return self.norm(self.proj(torch.tanh(x) * 2.0 + 1.0))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Head()
        self.second = Head()

    def forward(self, x):
        return self.second(self.first(x)) + x


def get_inputs():
    return [torch.randn(2, 8)]


def get_init_inputs():
    return []
"""


class _Checks:
    """A step as the wrapper sees it: what it was handed on each call."""

    def __init__(self):
        self.copies_inputs = True
        self.writes_state = None
        self.calls, self.errors = [], []

    def check(self, instance, inputs, out, rng, run, unchanged=None, arguments=None):
        self.calls.append((inputs, unchanged))

    def record(self, trial, ok, max_diff, details=None, error=None):
        self.errors.append(error)


class _WritesLater(nn.Module):
    """Changes its input in place from its second call on."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 1:
            x.mul_(2)
        return x + 1


class InputCopies(unittest.TestCase):
    def wrapped(self, module):
        step, run = _Checks(), verify_tree._Pass(None, None)
        run.active = True
        verify_tree._wrap(module, step, run)
        return step

    def test_inputs_are_copied_only_until_a_call_shows_they_stay_as_they_were(self):
        xs = [torch.randn(2, 4) for _ in range(3)]
        module = nn.Linear(4, 4)
        step = self.wrapped(module)
        for x in xs:
            module(x)
        (first, unchanged_first), *later = step.calls
        self.assertIsNot(first[0][0], xs[0])  # the first call's are a copy
        self.assertTrue(torch.equal(first[0][0], xs[0]))
        self.assertEqual(unchanged_first, verify.versions(first))
        for (inputs, unchanged), x in zip(later, xs[1:]):
            self.assertIs(inputs[0][0], x)  # then the parent's own, watched
            self.assertEqual(unchanged, verify.versions(([x], {})))
        self.assertEqual(step.errors, [])

    def test_a_component_that_writes_into_its_inputs_keeps_being_copied(self):
        module = nn.ReLU(inplace=True)
        step = self.wrapped(module)
        xs = [torch.randn(2, 4) for _ in range(3)]
        kept = [x.clone() for x in xs]
        for x in xs:
            module(x)
        self.assertEqual(len(step.calls), 3)
        for (inputs, unchanged), x in zip(step.calls, kept):
            self.assertTrue(torch.equal(inputs[0][0], x))  # as they were before relu_
            self.assertIsNone(unchanged)
        self.assertTrue(step.copies_inputs)

    def test_a_write_its_first_call_did_not_make_is_an_error_not_a_comparison(self):
        module = _WritesLater()
        step = self.wrapped(module)
        for _ in range(3):
            module(torch.randn(2, 4))
        self.assertEqual(len(step.calls), 2)  # the first, and the third (copied again)
        self.assertEqual(len(step.errors), 1)
        self.assertIn("not on its first", step.errors[0])
        self.assertIsNone(step.calls[1][1])


if __name__ == "__main__":
    unittest.main()
