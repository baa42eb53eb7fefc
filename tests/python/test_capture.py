"""Unit tests of reading a symbolic graph's values on the meta device: the
same descriptions as a real run's, the user's weights untouched, and a real
run wherever meta cannot stand for one.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import fractions
import operator
import os
import re
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy  # noqa: E402
import torch  # noqa: E402

from decompose_glue import autocast, capture, emit, followreads, record, trace, verify  # noqa: E402
from decompose_glue.loader import BadInput, load_model_file  # noqa: E402
from newer_fx import newer_fx  # noqa: E402

MODELS = os.path.join(ROOT, "tests", "models")


def traced(name):
    """(model file, model, its symbolic graph, args, kwargs)."""
    model_file = load_model_file(os.path.join(MODELS, name + ".py"))
    model = model_file.build()
    args, kwargs = model_file.inputs(seed=capture.FORWARD_SEED)
    return model_file, model, trace.symbolic(model), args, kwargs


def checked(name):
    """(model file, model, graph, method, notes) of the pipeline's trace of
    a model in tests/models checked on the three trials' inputs."""
    model_file = load_model_file(os.path.join(MODELS, name + ".py"))
    model = model_file.build()
    inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
    return (model_file, model, *capture.trace_model(model_file, model, inputs,
                                                    trial_seeds=verify.trial_seeds(3))[:3])


def written(folder, name, text):
    """The model file `text`, written as `name` in `folder`, loaded."""
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return load_model_file(path)


def values(gm):
    return [n.meta.get("value") for n in gm.graph.nodes]


def _without_counts(value):
    return {k: v for k, v in value.items() if k != "nonzero"} if isinstance(value, dict) else value


class ValuesOnMeta(unittest.TestCase):
    def test_the_descriptions_are_a_real_runs(self):
        names = ["resnet_blocks", "lstm", "mamba_einsum", "unet", "causal_attention_sizes"]
        if torch.__version__.startswith("1."):
            # torch 2.x's nn.TransformerDecoder branches on its mask in
            # Python: there it has no symbolic graph (tests/e2e/test_families.py)
            names.append("torch_decoder")
        for name in names:
            with self.subTest(name):
                _, _, gm, args, kwargs = traced(name)
                self.assertTrue(capture.values_on_meta(gm, args, kwargs))
                on_meta = values(gm)
                trace.record_values(gm, args, kwargs)
                # but a mask's count of set entries, which no meta tensor has
                # and no graph that runs on meta needs: an op whose shape
                # follows it (torch.nonzero, x[mask]) has no meta kernel
                self.assertEqual(on_meta, [_without_counts(v) for v in values(gm)])

    def test_the_models_own_weights_stay_as_they_are(self):
        _, model, gm, args, kwargs = traced("resnet_blocks")
        before = {k: (t, t.clone()) for k, t in model.state_dict(keep_vars=True).items()}
        self.assertTrue(capture.values_on_meta(gm, args, kwargs))
        after = model.state_dict(keep_vars=True)
        for k, (t, copy) in before.items():
            self.assertIs(after[k], t)
            self.assertTrue(torch.equal(t, copy), k)

    def test_integer_tensors_need_a_real_run(self):
        # token ids: describe() records their range, which meta has not
        _, _, gm, args, kwargs = traced("transformer")
        self.assertFalse(capture.values_on_meta(gm, args, kwargs))
        self.assertEqual(set(map(str, values(gm))), {"None"})  # the graph as it was

    def test_a_plan_leaves_the_check_to_the_root_step_only_when_asked(self):
        model_file, model, _, _, _ = traced("resnet_blocks")
        inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
        _, method, notes, _ = capture.trace_model(model_file, model, inputs, check=False)
        self.assertEqual((method, notes["checked"]), ("symbolic", False))
        _, method, notes, _ = capture.trace_model(model_file, model, inputs)
        self.assertEqual((method, notes["checked"]), ("symbolic", True))

    def test_a_symbolic_trace_that_takes_another_branch_is_caught_when_checked(self):
        # isinstance(x, torch.Tensor) is False for a traced value: the graph
        # leaves out the scaling, and only a run of it shows that
        model_file = load_model_file(os.path.join(MODELS, "untraceable", "tensor_check.py"))
        model = model_file.build()
        inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
        _, method, notes, _ = capture.trace_model(model_file, model, inputs, check=False)
        self.assertEqual((method, notes["checked"]), ("symbolic", False))
        _, method, notes, _ = capture.trace_model(model_file, model, inputs)
        self.assertEqual(method, "recorded")
        self.assertEqual(notes["symbolic_error"], "the symbolic trace does not reproduce the eager output")


class _AutocastBranch(torch.nn.Module):
    """A bfloat16 linear, an fp32 softmax in a region turned off, and a
    branch on a value, which only a recording follows."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(8, 8)

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = self.a(x)
            with torch.autocast("cpu", enabled=False):
                h = h.float().softmax(-1)
        return h * 2 if h.mean() > 0 else h


class Autocast(unittest.TestCase):
    """Autocast works below torch.fx and below a recording: each node notes
    the autocast it ran under, graph runs enter it again, files write it."""

    def test_both_traces_note_which_nodes_ran_under_autocast(self):
        model, x = _AutocastBranch().eval(), torch.randn(3, 8)
        recorded = record.record(model, (x,), {}, set())[0]
        bf16 = (("cpu", torch.bfloat16),)
        self.assertEqual([(n.name, autocast.of(n)) for n in recorded.graph.nodes],
                         [("x", ()), ("a", bf16), ("float_1", ()), ("softmax", ()), ("mul", ()), ("output", ())])
        # the run of the graph computes in bfloat16 where the model did
        with torch.no_grad():
            self.assertTrue(torch.equal(trace.run_graph(recorded, (x,), {}), model(x)))

    def test_a_graph_under_autocast_is_not_run_on_meta(self):
        # meta tensors are not autocast: their dtypes would be float32's
        model_file = load_model_file(os.path.join(MODELS, "untraceable", "autocast_mixed.py"))
        model = model_file.build()
        gm = trace.symbolic(model)
        self.assertTrue(autocast.in_graph(gm))
        args, kwargs = model_file.inputs(seed=capture.FORWARD_SEED)
        self.assertFalse(capture.values_on_meta(gm, args, kwargs))
        _, method, notes, _ = capture.trace_model(model_file, model, verify.LentInputs(model_file, capture.FORWARD_SEED))
        self.assertEqual((method, notes["checked"]), ("symbolic", True))

    def test_lines_under_one_autocast_are_one_block_with_their_frees(self):
        bf16 = (("cpu", torch.bfloat16),)
        entries = [("q = self.q(x)", ["q"], ["x"], bf16), ("k = q @ q", ["k"], ["q"], bf16),
                   ("f = k.float()", ["f"], ["k"], ()), ("g = f + x", ["g"], ["f", "x"])]
        self.assertEqual(emit.with_frees(entries, keep={"g"}), [
            'with torch.autocast("cpu", dtype=torch.bfloat16):', "    q = self.q(x)", "    k = q @ q", "    del q",
            "f = k.float()", "del k", "g = f + x", "del f"])


_TWICE_THE_LONGEST = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, lengths):
        steps = int(lengths.max()) * 2  # the read times a whole number
        return self.fc(x[:, :steps])


def get_inputs():
    return [torch.randn(3, 30, 4), torch.randint(2, 25, (3,))]


def get_init_inputs():
    return []
'''

_SQUARED_THE_LONGEST = _TWICE_THE_LONGEST.replace(
    "int(lengths.max()) * 2  # the read times a whole number",
    "int(lengths.max()) ** 2 % 29 + 1  # a number no read gave, nor one times a whole number plus another")


class FollowedReads(unittest.TestCase):
    """A number the model's own forward reads off a tensor, which differs
    between the trials' inputs, is read by the graph where the ops took it."""

    def setUp(self):
        self.seeds = verify.trial_seeds(3)

    def test_the_longest_length_is_read_by_the_graph_and_sizes_what_it_cuts(self):
        model_file, model, gm, method, notes = checked("untraceable/length_mask")
        self.assertEqual((method, notes["methods_reading_differently"], notes["specialised"]), ("recorded", [], []))
        nodes = {n.name: n for n in gm.graph.nodes}
        number = nodes["number"]
        self.assertEqual((number.op, number.target, number.args), ("call_function", int, (nodes["max_1"],)))
        self.assertEqual(nodes["arange"].args, (number,))
        self.assertEqual(nodes["getitem_2"].args[1], (slice(None), slice(None, number)))
        shapes = {n: [t["shape"] for t in trace.tensor_leaves(n.meta.get("value", {}))] for n in gm.graph.nodes}
        self.assertEqual(trace.number_sized_places(nodes["arange"], shapes[nodes["arange"]]), {(0, 0)})
        self.assertEqual(trace.number_sized_places(nodes["getitem_2"], shapes[nodes["getitem_2"]]), {(0, 1)})
        # the graph is right on the trial whose longest length is 13, not 22
        for seed in self.seeds:
            args, kwargs = verify.LentInputs(model_file, seed).lend()
            with torch.no_grad():
                self.assertTrue(torch.equal(trace.run_graph(gm, args, kwargs), model(*args, **kwargs)))

    def test_the_read_plus_or_times_a_whole_number_is_read_by_the_graph_too(self):
        # steps = lengths.max().item() + 1; arange(steps) and x[:, :steps]
        numbers = [[("item", 7)], [("item", 7)], [("item", 6)]]
        self.assertEqual(followreads._explained((8, 8, 7), numbers), (0, 1, 1))
        self.assertEqual(followreads._explained((7, 7, 6), numbers), (0, 1, 0))
        self.assertEqual(followreads._explained((14, 14, 12), numbers), (0, 2, 0))  # 2 * steps
        self.assertEqual(followreads._explained((13, 13, 11), numbers), (0, 2, -1))
        self.assertIsNone(followreads._explained((8, 9, 7), numbers))  # one read, two numbers
        # steps // 2, where no whole number times the read gives it
        self.assertEqual(followreads._explained((10, 3, 11), [[("item", 20)], [("item", 7)], [("item", 22)]]),
                         (0, fractions.Fraction(1, 2), 0))
        # a change of 5 where the read changed by 2: no whole number times
        # it, and no floor division of it changes so
        self.assertIsNone(followreads._explained((8, 8, 3), [[("item", 7)], [("item", 7)], [("item", 5)]]))

    def test_twice_the_read_is_read_by_the_graph_as_twice_the_number(self):
        with tempfile.TemporaryDirectory() as folder:
            model_file = written(folder, "twice_the_longest.py", _TWICE_THE_LONGEST)
            model = model_file.build()
            runs = capture._watched_runs(model_file, model, self.seeds, set(), trace.snapshot(model))
            self.assertEqual([run.numbers for run in runs], [[("__int__", 20)], [("__int__", 7)], [("__int__", 22)]])
            # before, no place: the slice stops at 40, 14 and 44, twice each read
            self.assertEqual(list(followreads.places([(run.graph, run.numbers) for run in runs]).values()),
                             [(0, 2, 0)])
            inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
            gm, _, notes, _ = capture.trace_model(model_file, model, inputs, trial_seeds=self.seeds)
            self.assertEqual((notes["methods_reading_differently"], notes["specialised"]), ([], []))
            for seed in self.seeds:
                args, kwargs = verify.LentInputs(model_file, seed).lend()
                with torch.no_grad():
                    self.assertTrue(torch.equal(trace.run_graph(gm, args, kwargs), model(*args, **kwargs)))

    def test_a_number_no_read_gave_leaves_the_graph_as_it_was(self):
        with tempfile.TemporaryDirectory() as folder:
            model_file = written(folder, "squared_the_longest.py", _SQUARED_THE_LONGEST)
            model = model_file.build()
            runs = capture._watched_runs(model_file, model, self.seeds, set(), trace.snapshot(model))
            self.assertIsNone(followreads.places([(run.graph, run.numbers) for run in runs]))
            inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
            _, _, notes, _ = capture.trace_model(model_file, model, inputs, trial_seeds=self.seeds)
            self.assertEqual(notes["methods_reading_differently"], ["Model.forward"])


class WhereFxFollowsMore(unittest.TestCase):
    def test_the_untraceable_models_are_recorded_by_the_pipelines_tracer(self):
        # torch 2.x's fx unpacks shapes, returns dataclasses and takes traced
        # sizes in torch's functions (newer_fx.py); our tracer keeps a library's
        # leaf whole, so a model whose only barrier sits inside one (the
        # rotary embedding's slice by a traced length) traced there, and its
        # family's tree was not the one recorded here
        # (a file is imported before: TorchScript cannot compile newer_fx's
        # wrappers of torch's functions)
        folder = os.path.join(MODELS, "untraceable")
        for name in sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py")):
            with self.subTest(name):
                model_file = load_model_file(os.path.join(folder, name + ".py"))
                model = model_file.build()
                inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
                with newer_fx():
                    _, method, _, _ = capture.trace_model(model_file, model, inputs)
                # fx's graph of autocast_mixed drops the autocast; ours notes it on each
                # node, sees through scripted_functions' TorchScript functions,
                # keeps torch_subclasses' Conv2dSame and grown_cache's rotary (which
                # fx cannot trace) one leaf each, and puts annealed_blocks' counts
                # back after tracing, which a plain fx graph holds as they were
                symbolic = name in ("autocast_mixed", "scripted_functions", "torch_subclasses", "grown_cache",
                                    "annealed_blocks")
                self.assertEqual(method, "symbolic" if symbolic else "recorded")


class _SlicesByLength(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mask", torch.tril(torch.ones(16, 16)))

    def forward(self, x):
        t = x.size(1)
        return x.masked_fill(self.mask[:t, :t] == 0, 0.0).view(x.shape[0], -1)


class SizesReadOffTensors(unittest.TestCase):
    def test_a_weight_sliced_by_the_inputs_length_is_sliced_by_a_number(self):
        # as a recording writes it: without this the slice read its bound
        # from the parent, and was a kernel of its own that takes an int
        model, x = _SlicesByLength(), torch.randn(2, 10, 10)
        gm = trace.symbolic(model)
        trace.record_values(gm, (x,), {})
        gm = trace.fold_sizes(gm)
        self.assertEqual([n for n in gm.graph.nodes if n.target in ("size", getattr)], [])
        sliced = next(n for n in gm.graph.nodes if n.target is operator.getitem)
        self.assertEqual(sliced.args[1], (slice(None, 10, None), slice(None, 10, None)))
        self.assertEqual(next(n for n in gm.graph.nodes if n.target == "view").args[1:], (2, -1))
        self.assertTrue(torch.equal(gm(x), model(x)))

    def test_a_length_read_from_values_stays_a_number_the_graph_reads(self):
        # how many entries torch.where kept changes with the inputs: folded,
        # the count of the first inputs divided every other; the input's own
        # width is folded still
        model, x = _MeanOfPositives(), torch.randn(4, 8)
        gm = trace.symbolic(model)
        trace.record_values(gm, (x,), {})
        gm = trace.fold_sizes(gm)
        self.assertEqual([n.target for n in gm.graph.nodes if n.target in ("size", "numel", getattr)], ["numel"])
        self.assertIn("numel + 8", gm.code)
        for seed in (1, 2):
            torch.manual_seed(seed)
            y = torch.randn(4, 8)
            self.assertTrue(torch.equal(gm(y), model(y)))

    def test_lengths_repeated_by_counts_or_counted_by_bincount_are_read_from_values(self):
        # a length regulator's frames: as many as the durations add up to;
        # x.repeat_interleave(2) has twice x's, whatever its values
        model = _RepeatsByDuration()
        x, durations = torch.randn(6, 4), torch.tensor([1, 3, 2, 1, 2, 3])
        gm = trace.symbolic(model)
        trace.record_values(gm, (x, durations), {})
        gm = trace.fold_sizes(gm)
        self.assertEqual(sum(n.target is getattr for n in gm.graph.nodes), 2)  # frames' and the histogram's
        self.assertIn("/ 12", gm.code)  # doubled's
        self.assertIn("+ 5", gm.code)  # classes'
        for other in (torch.tensor([2, 2, 1, 1, 1, 1]), torch.tensor([3, 3, 3, 3, 3, 3])):
            self.assertTrue(torch.equal(gm(x, other), model(x, other)))

    def test_one_hot_without_num_classes_is_as_wide_as_the_largest_class(self):
        # as many columns as the largest class + 1: read off it, the width
        # stays a number the graph reads; with num_classes it is folded
        model, x = _OneHotOfPredictions(), torch.tensor([[0.0, 3.0, 1.0, 0.0, 0.0, 0.0]] * 2)
        gm = trace.symbolic(model)
        trace.record_values(gm, (x,), {})
        self.assertEqual(trace.value_sized_lengths(gm)[next(n for n in gm.graph.nodes if n.name == "one_hot")], {2})
        gm = trace.fold_sizes(gm)
        self.assertEqual(sum(n.target is getattr for n in gm.graph.nodes), 1)
        self.assertIn("+ 6", gm.code)
        other = torch.tensor([[0.0, 0.0, 0.0, 0.0, 5.0, 0.0]] * 2)
        self.assertTrue(torch.equal(gm(other), model(other)))


class _MeanOfPositives(torch.nn.Module):
    def forward(self, x):
        kept = torch.where(x.flatten() > 0)[0]
        return x.clamp_min(0).sum() / (kept.numel() + x.shape[1])


class _RepeatsByDuration(torch.nn.Module):
    def forward(self, x, durations):
        frames = torch.repeat_interleave(x, durations, dim=0)
        doubled = x.repeat_interleave(2, dim=0)
        histogram = torch.bincount(durations)
        classes = torch.bincount(durations, minlength=5)  # its values stay below 5: 5 long
        return (frames.sum(0) / frames.shape[0] + doubled.sum(0) / doubled.shape[0] + histogram.shape[0]
                + classes.shape[0])


class _OneHotOfPredictions(torch.nn.Module):
    def forward(self, x):
        onehot = torch.nn.functional.one_hot(x.argmax(-1)).float()
        fixed = torch.nn.functional.one_hot(x.argmax(-1), num_classes=6).float()
        return onehot.sum(0).sum() * onehot.shape[-1] + fixed.shape[-1]


class _CountsInForward(torch.nn.Module):
    def forward(self, x):
        total = x[0]
        for _ in range(int((x > 0).sum())):
            total = total * 0.5 + x[0]
        return total


class LibraryFunctionsKeptWhole(unittest.TestCase):
    """torchvision's paste_masks_in_image loops once per box and reads each
    box's corners as ints: a recording of one input's boxes holds them."""

    def setUp(self):
        self.model_file = load_model_file(os.path.join(MODELS, "untraceable", "mask_paste.py"))
        self.model = self.model_file.build()
        self.inputs = verify.LentInputs(self.model_file, capture.FORWARD_SEED)
        self.seeds = verify.trial_seeds(3)

    def kept(self, gm):
        return [n for n in gm.graph.nodes if n.meta.get("kept_whole")]

    def test_unchecked_the_second_trials_other_boxes_have_it_checked_all_the_same(self):
        # the root step would fail on the second trial: no graph is left to it
        gm, method, notes, _ = capture.trace_model(self.model_file, self.model, self.inputs, check=False,
                                                   trial_seeds=self.seeds)
        self.assertEqual((method, notes["checked"]), ("recorded", True))
        self.assertEqual(notes["kept_whole"], ["torchvision.models.detection.roi_heads.paste_masks_in_image"])
        self.assertEqual(len(self.kept(gm)), 1)

    def test_checked_on_the_trials_inputs_it_is_one_call_that_runs_on_any_boxes(self):
        gm, method, notes, expected = capture.trace_model(self.model_file, self.model, self.inputs,
                                                          trial_seeds=self.seeds)
        # roi_align reads no value of the boxes it is given: recorded op by op
        self.assertEqual(notes["kept_whole"], ["torchvision.models.detection.roi_heads.paste_masks_in_image"])
        (paste,) = self.kept(gm)
        masks, boxes = paste.args[:2]
        # the boxes, whose corners it reads, keep their values; the masks are drawn
        self.assertEqual(len(boxes.meta["value"]["values"]), boxes.meta["value"]["shape"][0])
        self.assertNotIn("values", masks.meta["value"])
        for seed in self.seeds:
            args, kwargs = self.model_file.inputs(seed=seed)
            verify.seed_forward()
            want = self.model(*args, **kwargs)
            got = gm(*args, **kwargs)
            self.assertEqual([t.shape for t in got], [t.shape for t in want])
            self.assertTrue(all(torch.equal(a, b) for a, b in zip(got, want)))

    def test_a_function_of_the_models_own_file_is_kept_whole_too(self):
        model_file = load_model_file(os.path.join(MODELS, "untraceable", "own_loop.py"))
        model = model_file.build()
        inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
        gm, _, notes, _ = capture.trace_model(model_file, model, inputs, trial_seeds=self.seeds)
        (pool,) = self.kept(gm)
        self.assertEqual(pool.target.__name__, "pool_runs")
        self.assertEqual(notes["kept_whole"], [f"{model_file.path}: pool_runs"])
        # the sizes it slices by are the model's; the rows are drawn
        rows, sizes = pool.args
        self.assertEqual(sum(sizes.meta["value"]["values"]), 12)
        self.assertNotIn("values", rows.meta["value"])

    def test_a_loop_in_the_models_own_forward_is_named_where_nothing_keeps_it_whole(self):
        model, runs = _CountsInForward(), []
        for x in (torch.tensor([1.0, -1.0, 2.0]), torch.tensor([1.0, 3.0, 2.0])):
            _, notes, _ = record.record(model, (x,), {}, watch_reads=True)
            runs.append(notes["reads"])
        self.assertEqual(record.varying_reads(runs), ([], [record.MethodRead("", "_CountsInForward.forward")]))

    def test_reads_that_do_not_change_keep_nothing_whole(self):
        same = [(len, "__int__", 3), (None, "item", 0.5)]
        self.assertEqual(record.varying_reads([same, list(same)]), ([], []))
        self.assertEqual(record.varying_reads([same, [(len, "__int__", 4), (None, "item", 0.7)]]), ([len], []))
        arrays = [[(len, "__array__", numpy.zeros(2))], [(len, "__array__", numpy.ones(2))]]
        self.assertEqual(record.varying_reads(arrays), ([len], []))
        self.assertEqual(record.varying_reads([arrays[0], arrays[0]]), ([], []))
        # a length read from values keeps a function whole even where the
        # trials agree; a module's method, where they differ
        heads = record.MethodRead("roi_heads", "Heads.forward")
        sized = [(len, "size", record.LengthFromValues(100)), (heads, "size", record.LengthFromValues(100))]
        self.assertEqual(record.varying_reads([sized, sized]), ([len], []))
        skip = [[(heads, "numel", record.LengthFromValues(0))], [(heads, "numel", record.LengthFromValues(3))]]
        self.assertEqual(record.varying_reads(skip), ([], [heads]))
        loop = [[(heads, "__int__", 3)], [(heads, "__int__", 5)]]
        self.assertEqual(record.varying_reads(loop), ([], [heads]))

    def test_a_modules_lengths_vary_where_its_output_shapes_differ(self):
        # a stage's features, a list of boxes and their scores, a decoder's steps
        runs = [{"stage": [[(4, 16)]], "boxes": [[(3, 4), (3,)]], "decoder": [[(3, 5, 5)]]},
                {"stage": [[(4, 16)]], "boxes": [[(7, 4), (7,)]], "decoder": [[(3, 2, 5)]]}]
        self.assertEqual(record.varying_lengths(runs), {"boxes": {(0, 0), (1, 0)}, "decoder": {(0, 1)}})
        self.assertEqual(record.varying_lengths(runs[:1]), {})
        # called a different number of times, or giving another rank: not known where
        looped = [{"cell": [[(3, 16)]] * 2}, {"cell": [[(3, 16)]] * 5}]
        ranked = [{"head": [[(3, 16)]]}, {"head": [[(3, 4, 4)]]}]
        self.assertEqual(record.varying_lengths(looped), {"cell": True})
        self.assertEqual(record.varying_lengths(ranked), {"head": True})


class _BranchOnMean(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.a(x).relu() if x.mean() > 0 else self.b(x).tanh()


class _HoldsABranch(torch.nn.Module):
    def __init__(self, kept_whole=None):
        super().__init__()
        self.inp = torch.nn.Linear(4, 4)
        self.gate = _BranchOnMean()
        if kept_whole is not None:
            self.kept_whole = kept_whole

    def forward(self, x):
        return self.gate(self.inp(x))


_REFUSES_A_NEGATIVE_FIRST_READING = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        if x[0, 0] < 0:  # 1.93 with seed 42, -0.017 with seed 43
            raise ValueError("the first reading must be positive")
        return self.fc(x)


def get_inputs():
    return [torch.randn(4, 8)]


def get_init_inputs():
    return []
'''


class ModulesKeptWhole(unittest.TestCase):
    """A module whose method reads values that differ between the trials'
    inputs (a branch, a loop's length) is recorded as one call."""

    def setUp(self):
        self.seeds = verify.trial_seeds(3)

    def test_an_early_exit_stage_is_one_call_that_runs_on_any_input(self):
        model_file, model, gm, method, notes = checked("untraceable/early_exit")
        # the first stage exits after one layer on the first trial's inputs
        # and runs all three on the second's; the second stage exits after
        # one on all three, and is kept whole too, as a module of that class
        self.assertEqual(notes["modules_kept_whole"], ["stages.0 (EarlyExitStage.forward)",
                                                       "stages.1 (EarlyExitStage.forward)"])
        self.assertEqual(notes["methods_reading_differently"], [])
        stages = [n for n in gm.graph.nodes if n.meta.get("kept_whole")]
        self.assertEqual([(n.op, n.target, n.meta["lengths_vary"]) for n in stages],
                         [("call_module", "stages.0", set()), ("call_module", "stages.1", set())])
        self.assertFalse(trace.is_value_sized(stages[0]))  # its output has the batch's length on any input
        for seed in self.seeds:
            args, kwargs = model_file.inputs(seed=seed)
            self.assertTrue(torch.equal(gm(*args, **kwargs), model(*args, **kwargs)))
        # unchecked, the second trial's input exits elsewhere: it is checked all the same
        inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
        unchecked = capture.trace_model(model_file, model, inputs, check=False, trial_seeds=self.seeds)
        self.assertTrue(unchecked[2]["checked"])
        self.assertEqual(unchecked[0].code, gm.code)

    def _recordings(self, path):
        """traced(check): (graph, notes, eager output, [whether each
        recording of the model at `path` watched the values read])."""
        recordings, real = [], record.record

        def counted(*args, **kwargs):
            recordings.append(bool(args[5] if len(args) > 5 else kwargs.get("watch_reads")))
            return real(*args, **kwargs)

        def traced(check):
            model_file = load_model_file(path)
            model = model_file.build()
            inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
            recordings.clear()
            with mock.patch.object(record, "record", counted):
                gm, _, notes, expected = capture.trace_model(model_file, model, inputs, check=check,
                                                             trial_seeds=self.seeds)
            return gm, notes, expected, list(recordings)
        return traced

    def test_reads_the_second_trial_agrees_on_are_left_to_the_root_step_and_a_retry_takes_both(self):
        # pipeline.c traces again, checked, where the root step of an
        # unchecked recording fails: the model on the first two trials'
        # inputs read what that recording saw, and is recorded twice less.
        # The retry imports the file anew: the holders of the reads are
        # other objects with the same code.
        path = os.path.join(MODELS, "untraceable", "saturation_guard.py")
        traced = self._recordings(path)
        unchecked = traced(False)
        # the first trial's run watched, for free, and the second's, to see
        self.assertEqual((unchecked[1]["checked"], unchecked[3]), (False, [True, True]))
        self.assertEqual(unchecked[1]["modules_kept_whole"], [])
        model_file = load_model_file(path)
        model = model_file.build()
        args, kwargs = model_file.inputs(seed=self.seeds[2])
        self.assertFalse(torch.equal(unchecked[0](*args, **kwargs), model(*args, **kwargs)))
        # the failed attempt's coverage counts other files before the retry
        other = load_model_file(os.path.join(MODELS, "untraceable", "data_dependent.py"))
        capture.trace_model(other, other.build(), verify.LentInputs(other, capture.FORWARD_SEED),
                            trial_seeds=self.seeds)
        retry = traced(True)
        self.assertEqual(retry[3], [True, False])  # the third trial watched, then the graph
        alone = traced(True)  # no unchecked recording before it: every trial is recorded
        self.assertEqual(alone[3], [True, True, True, False])
        for gm, notes, expected, _ in (retry, alone):
            self.assertEqual(notes["modules_kept_whole"], ["guard (SaturationGuard.forward)"])
            self.assertTrue(torch.equal(expected, unchecked[2]))
            for seed in self.seeds:
                args, kwargs = model_file.inputs(seed=seed)
                self.assertTrue(torch.equal(gm(*args, **kwargs), model(*args, **kwargs)))

        def code(gm):  # each import of the file is a module of its own name
            return re.sub(r"_decompose_file_\d+", "FILE", gm.code)
        self.assertEqual(code(retry[0]), code(alone[0]))
        # a plan of another model drops what no retry will take; its own retry's keeps it
        traced(False)
        capture.forget_first_recordings(path)
        self.assertEqual([k[0] for k in capture._FIRST_RECORDING], [os.path.abspath(path)])
        capture.forget_first_recordings(os.path.join(MODELS, "mlp.py"))
        self.assertEqual(capture._FIRST_RECORDING, {})

    def test_reads_that_differ_only_in_the_models_own_forward_are_left_to_the_root_step(self):
        # data_dependent's forward reads int(mask.sum()), which differs on
        # the second trial's inputs, and clamps it to 8: no recording can
        # keep the model's own forward whole, and the graph passes as it is
        traced = self._recordings(os.path.join(MODELS, "untraceable", "data_dependent.py"))
        gm, notes, _, recordings = traced(False)
        self.assertEqual((notes["checked"], recordings), (False, [True, True]))
        self.assertEqual(notes["methods_reading_differently"], [])

    def test_a_graph_whose_other_values_give_the_same_output_is_left_to_the_root_step(self):
        # candidate_topk's best_candidates sizes a top-k by a count read off
        # the scores, 11 on the first trial's inputs and 9 on the second's:
        # the second's recording is another graph, but the first's gives
        # the same best three there, as ssd300's top-k of 320 boxes where
        # the model took 351 gives the same detections
        traced = self._recordings(os.path.join(MODELS, "untraceable", "candidate_topk.py"))
        gm, notes, _, recordings = traced(False)
        self.assertEqual((notes["checked"], recordings), (False, [True, True]))
        self.assertEqual((notes["kept_whole"], notes["specialised"]), ([], ["__int__() read 11"]))
        self.assertIn(".topk(11)", gm.code)

    def test_a_forward_that_refuses_the_second_trials_inputs_is_bad_input_that_names_the_seed(self):
        # it ran on the first trial's inputs: recording is not what failed
        with tempfile.TemporaryDirectory() as folder:
            model_file = written(folder, "refuses.py", _REFUSES_A_NEGATIVE_FIRST_READING)
            with self.assertRaises(BadInput) as raised:
                capture.trace_model(model_file, model_file.build(), verify.LentInputs(model_file, capture.FORWARD_SEED),
                                    check=False, trial_seeds=self.seeds)
        self.assertEqual(raised.exception.message,
                         "forward raised ValueError: the first reading must be positive, on the inputs get_inputs() "
                         "draws with seed 43, a trial's (on the first trial's, seed 42, it ran): every trial's "
                         "inputs must be ones it takes")

    def test_reads_the_second_trial_differs_on_are_checked_at_once(self):
        # own_loop's pool_runs loops over run lengths that differ on the
        # second trial's inputs: the root step would fail there
        traced = self._recordings(os.path.join(MODELS, "untraceable", "own_loop.py"))
        unchecked, checked = traced(False), traced(True)
        self.assertEqual(unchecked[3], [True, True, True, False])
        self.assertEqual(unchecked[3], checked[3])
        self.assertTrue(unchecked[1]["checked"])
        self.assertEqual(capture._FIRST_RECORDING, {})
        self.assertEqual(len(unchecked[1]["kept_whole"]), 1)
        self.assertIn("own_loop.py: pool_runs", unchecked[1]["kept_whole"][0])
        self.assertTrue(torch.equal(unchecked[2], checked[2]))

    def test_a_branch_in_the_models_own_forward_is_named_not_kept(self):
        runs = []
        for x in (torch.ones(4), -torch.ones(4)):
            _, notes, _ = record.record(_BranchOnMean(), (x,), {}, watch_reads=True)
            runs.append(notes["reads"])
        self.assertEqual(record.varying_reads(runs), ([], [record.MethodRead("", "_BranchOnMean.forward")]))
        runs = []
        model = _HoldsABranch()
        for x in (torch.ones(2, 4), -torch.ones(2, 4) * 100):
            _, notes, _ = record.record(model, (x,), {}, watch_reads=True)
            runs.append(notes["reads"])
        self.assertEqual(record.varying_reads(runs)[1], [record.MethodRead("gate", "_BranchOnMean.forward")])

    def test_a_model_that_names_a_module_kept_whole_is_traced_with_it_one_call(self):
        # a kernel file decompose writes for a module kept whole names it so
        model = _HoldsABranch(kept_whole=("gate",))
        gm = trace.symbolic(model)  # no branch on a proxy: gate is not traced into
        self.assertEqual([n.target for n in gm.graph.nodes if n.op == "call_module"], ["inp", "gate"])
        recorded, _, _ = record.record(model, (torch.randn(2, 4),), {})
        (gate,) = [n for n in recorded.graph.nodes if n.meta.get("kept_whole")]
        self.assertEqual((gate.op, gate.target), ("call_module", "gate"))
        self.assertEqual(trace.kept_whole_paths(torch.nn.Sequential(model)), {"0.gate"})
        self.assertEqual(trace.kept_whole_paths(_HoldsABranch(kept_whole=True)), set())  # not a list of names

# An energy model's force, -dE/dx, three ways: {branch} makes it untraceable.
_FORCE = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.energy = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x):
{branch}        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
{differentiate}

def get_inputs():
    return [torch.randn(4, 6)]


def get_init_inputs():
    return []
"""
_BY_GRAD = """            return -torch.autograd.grad(self.energy(x).sum(), x)[0]
"""
_BY_BACKWARD = """            self.energy(x).sum().backward()
        return -x.grad
"""
_BRANCH = """        if x.abs().max() > 100:
            x = x / 100
"""


class Differentiating(unittest.TestCase):
    def test_a_forward_that_differentiates_is_bad_input_naming_how(self):
        # before, a kernel file for the gradient (symbolic) or a graph without
        # the energy's ops (recorded) failed its step
        cases = [("grad", "", _BY_GRAD, "torch.autograd.grad"),
                 ("grad_recorded", _BRANCH, _BY_GRAD, "torch.autograd.grad"),
                 ("backward", "", _BY_BACKWARD, "Tensor.backward"),
                 ("backward_recorded", _BRANCH, _BY_BACKWARD, "Tensor.backward")]
        with tempfile.TemporaryDirectory() as folder:
            for name, branch, differentiate, how in cases:
                with self.subTest(name):
                    model_file = written(folder, f"force_{name}.py",
                                         _FORCE.format(branch=branch, differentiate=differentiate))
                    model = model_file.build()
                    inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
                    with self.assertRaises(BadInput) as caught:
                        capture.trace_model(model_file, model, inputs, check=False)
                    self.assertEqual(caught.exception.message, capture.differentiating_message(how))
                    self.assertIn(how, caught.exception.message)


class _Tables:
    def __init__(self):
        self.cos = torch.ones(3)
        self.nested = {"sin": torch.zeros(3)}
        self.owner = None  # set to the module: a walk must not go round


class _HoldsTables(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tables = _Tables()
        self.tables.owner = self
        self.fn = torch.relu
        self.device = torch.device("cpu")


class PlainObjects(unittest.TestCase):
    def test_tensors_of_a_plain_objects_attributes_are_held_by_their_path(self):
        held = trace.containers_held(_HoldsTables())
        self.assertEqual(sorted((name, keys) for name, keys, _ in held), [("tables.cos", 1), ("tables.nested.sin", 2)])
        for value in (torch.nn.Linear(2, 2), torch.ones(1), torch.relu, torch.device("cpu"), 3, "a", _Tables):
            self.assertFalse(trace.holds_attributes(value), value)
        self.assertTrue(trace.holds_attributes(_Tables()))

    def test_modules_in_a_plain_dict_are_named_where_the_model_cannot_be_traced(self):
        with tempfile.TemporaryDirectory() as folder:
            model_file = written(folder, "plain_dict_heads.py", textwrap.dedent("""
                import torch
                import torch.nn as nn


                class Model(nn.Module):
                    def __init__(self):
                        super().__init__()
                        self.heads = {"a": nn.Linear(6, 3), "b": [nn.Linear(6, 2)]}  # not registered

                    def forward(self, x):
                        return torch.cat([self.heads["a"](x), self.heads["b"][0](x)], -1)


                def get_inputs():
                    return [torch.randn(4, 6)]


                def get_init_inputs():
                    return []
                """))
            model = model_file.build()
            self.assertEqual(trace.modules_held(model), ["heads.a", "heads.b.0"])
            inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
            with self.assertRaises(BadInput) as caught:
                capture.trace_model(model_file, model, inputs, check=False)
        self.assertIn("(it keeps modules in a plain list, dict or object, heads.a, heads.b.0, which torch does "
                      "not register: hold them in nn.ModuleList or nn.ModuleDict)", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
