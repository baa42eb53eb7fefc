"""One traced graph per model file: symbolic tracing, else recording a real run.

Both the plan and the coverage count go through here, so the ops counted in
the original are the ops of the graph the files were generated from.
"""

import collections
import contextlib
import copy
import os
import sys

import torch
import torch.fx as fx
import torch.nn as nn

from . import (attention, autocast, fastpath, followreads, generators, hooks, memory, meta, modsrc, ops, record,
               torchscript, trace, verify, written)
from .loader import BadInput, _one_line, run_forward


# Every run that is compared starts from this seed, so that a model drawing
# random numbers in forward draws the same ones each time. It is the first
# verification trial's seed: the eager run made here on that trial's inputs
# is that trial's reference (verify.keep_planned).
FORWARD_SEED = verify.FIRST_SEED


def _same_output(a, b):
    """Equal up to rounding: the graph may spell an op another way than the
    eager forward (a traced graph's ops run one by one)."""
    ta, tb = verify.tensors(a), verify.tensors(b)
    def same(x, y):
        if x.is_floating_point():
            return verify.close(x, y, 1e-5, 1e-6)[1]
        return torch.equal(verify.dense(x), verify.dense(y))
    return len(ta) == len(tb) and all(x.shape == y.shape and x.layout == y.layout and same(x, y)
                                      for x, y in zip(ta, tb)) \
        and verify.compare(verify.numbers(a), verify.numbers(b), 1e-5, 1e-6)[0]


def device_of(args, kwargs):
    """The device of a run's first tensor input: what a symbolic graph's
    `x.device` reads (trace.fold_tensor_reads)."""
    return next((t.device for t in verify.tensors((args, kwargs))), torch.device("cpu"))


def canonical(gm, device):
    """The graph every later pass reads, however it was traced; `device` is
    the run's (device_of)."""
    gm = trace.read_after_writes(trace.inline_plumbing_modules(gm))
    return attention.expand(trace.fold_sizes(trace.fold_tensor_reads(gm, device)), node_values)


def node_values(gm, args, kwargs):
    """Give every node of `gm` meta["value"]: from a run on the meta device
    where that stands for a real one (values_on_meta), else from a real run."""
    if not values_on_meta(gm, args, kwargs):
        trace.record_values(gm, args, kwargs)


def _integer_tensors(value):
    """Whether a described value (trace.describe) holds an integer tensor."""
    if value.get("kind") == "tensor":
        return not value["dtype"].startswith(ops.FLOATING_DTYPES + ("bool",))
    return any(_integer_tensors(v) for v in trace.items_of(value))


def values_on_meta(gm, args, kwargs):
    """Give every node of `gm` meta["value"] from a run on the meta device,
    where no op does any work; False, with the graph as it was, where that
    run cannot stand for a real one: it raised (an op with no meta kernel, a
    value read), made a tensor off meta, made an integer tensor, whose
    values (indices) describe() records and meta has not, or holds a sparse
    or channels_last one.

    The run is of a copy of the graph whose weights are meta tensors: the
    graph shares the user's model's own weights, which stay as they are."""
    if autocast.in_graph(gm):
        return False  # autocast changes the dtypes of CPU and CUDA tensors, not of meta ones
    weights = list(gm.parameters()) + list(gm.buffers()) + list(trace.tensor_attributes(gm).values())
    if any(t.layout != torch.strided or trace.memory_format(t) for t in weights + verify.tensors((args, kwargs))):
        # a sparse tensor's count of stored entries is a value meta has not,
        # and meta kernels need not keep channels_last as the CPU's do
        return False
    memo = {}
    for t in weights:
        m = torch.empty_like(t, device="meta")
        memo[id(t)] = nn.Parameter(m, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else m
    try:
        # GraphModule's own __deepcopy__ drops the memo (torch 1.13) and
        # would copy every weight: this is its recipe with the memo passed.
        holder = nn.Module()
        holder.__dict__ = copy.deepcopy(gm.__dict__, memo)
        twin = fx.GraphModule(holder, holder.__dict__["_graph"])
        with meta.FactoriesOnMeta() as mode:
            trace.record_values(twin, meta.like(args), meta.like(kwargs))
    except Exception:
        return False
    # By name, not position: torch 2.x's copy of a graph has been seen to
    # hold one node more than the graph it copied.
    twins = {n.name: n for n in twin.graph.nodes}
    pairs = [(a, twins.get(a.name)) for a in gm.graph.nodes]
    if mode.made_real or any(b is None or "value" not in b.meta or _integer_tensors(b.meta["value"])
                             or _laid_out(b.meta["value"]) for _, b in pairs):
        return False
    for a, b in pairs:
        a.meta["value"] = b.meta["value"]
    return True


def _laid_out(desc):
    """Whether a described value holds a channels_last tensor."""
    return any(t.get("memory_format") for t in trace.tensor_leaves(desc))


def mismatch(gm, expected, inputs):
    """None where `gm`, run on `inputs` (LentInputs), gives `expected`, else
    why not, in one line. Its nodes' values are recorded from that run."""
    try:
        verify.seed_forward()
        with fastpath.off():
            got = trace.record_values(gm, *inputs.lend())
    except Exception as e:
        return _one_line(e)[:300]
    if not _same_output(expected, got):
        return "the symbolic trace does not reproduce the eager output"
    return None


def _refuse_unbuildable(model_file, model):
    """Say which module no file could rebuild: a TorchScript module runs its
    ops inside TorchScript, where neither a symbolic trace nor a recorded
    run sees them, a quantized one keeps its weights packed in a
    TorchScript object, and a parametrization of torch's that files do not
    rebuild (one a later torch adds: modsrc._TORCH_PARAMETRIZATIONS lists
    those they do) would leave a file computing another weight."""
    for name, module in model.named_modules():
        what = f"its submodule {name}" if name else "the model"
        if isinstance(module, torch.jit.ScriptModule):
            raise BadInput(model_file.path, f"{what} is a TorchScript module (torch.jit.script or "
                           "torch.jit.trace), whose ops neither torch.fx nor a recorded run can see: "
                           "build it as the plain nn.Module")
        if _packs_weights(module):
            raise BadInput(model_file.path, f"{what} is a quantized module ({type(module).__module__}."
                           f"{type(module).__name__}), whose weights are packed where no weight map "
                           "reaches, which decompose does not follow yet: decompose the model before "
                           "it is converted (torchvision's quantize=False)")
        for attr, value in vars(module).items():
            if isinstance(value, torch.Generator) and not generators.as_seeded(value):
                raise BadInput(model_file.path, f"{what} keeps a torch.Generator, {attr}, that was drawn "
                               "from before forward ran: a file rebuilds one from its seed, and its "
                               "state is no longer the seed's. Seed it again (manual_seed) after drawing")
        unbuilt = modsrc.torch_parametrizations_not_rebuilt(module)
        if unbuilt:
            raise BadInput(model_file.path, f"{what} has torch's {unbuilt[0]} parametrization "
                           "(torch.nn.utils.parametrizations), which decompose does not rebuild yet: "
                           "apply torch.nn.utils.parametrize.remove_parametrizations(..., "
                           "leave_parametrized=True) first")


def _packs_weights(module):
    """A quantized module: its weights packed in a TorchScript object, its
    own (a quantized conv's) or its LinearPackedParams child's."""
    held = [module] + [m for m in module.children() if type(m).__name__.endswith("PackedParams")]
    return any(isinstance(v, torch._C.ScriptObject) for m in held for v in vars(m).values())


@contextlib.contextmanager
def _hooks_watched(model):
    """{path of a module ("" for the model): [(table name, key)]} of the
    forward hooks (weight norm's aside) that changed an input or an output
    while the model ran inside the block. One that returns nothing (a
    counter, a logger) changes nothing and is let be."""
    changed, swapped = {}, []
    for name, module in model.named_modules():
        for attr, found in hooks.changing(module).items():
            table = getattr(module, attr)
            for key, hook in found:
                def watched(*args, _hook=hook, _name=name, _which=(attr, key), **kwargs):
                    result = _hook(*args, **kwargs)
                    if result is not None and _which not in changed.get(_name, ()):
                        changed.setdefault(_name, []).append(_which)
                    return result
                table[key] = watched
                swapped.append((table, key, hook))
    try:
        yield changed
    finally:
        for table, key, hook in swapped:
            table[key] = hook


def _hooks_lost(changed, gm, method):
    """Of the hooks that changed what a module takes or gives
    (_hooks_watched), those `gm` lost: the hooks of a module it calls as one
    node, and the model's own, where a symbolic trace traced its forward alone."""
    called = {n.target for n in gm.graph.nodes if n.op == "call_module"}
    return {p: keys for p, keys in changed.items() if p in called or (not p and method == "symbolic")}


def _torchscript_functions_hint(model):
    """Where the model's code has TorchScript functions that were compiled
    before its file was imported (torchscript.py sees through the others),
    a sentence naming them: their ops run where no trace sees them, which
    is the likely reason a recording met a tensor it did not know."""
    names = torchscript.unseen(model)
    if not names:
        return ""
    return (f" (its code has TorchScript functions, {', '.join(names)}, whose ops neither "
            "torch.fx nor a recorded run can see: remove their @torch.jit.script)")


def _unregistered_modules_hint(model):
    """Where the model keeps modules in a plain list, dict or object, a
    sentence naming them: torch does not register them, so their weights
    are none of the model's, the likely tensors a recording did not know."""
    names = trace.modules_held(model)
    if not names:
        return ""
    return (f" (it keeps modules in a plain list, dict or object, {', '.join(names[:3])}"
            f"{', ...' if len(names) > 3 else ''}, which torch does not register: hold them in "
            "nn.ModuleList or nn.ModuleDict)")


# Reads of a number off a tensor's values, not off its sizes (record._NUMBER_READS).
_VALUE_NUMBERS = frozenset({"item", "__int__", "__float__"})


def trace_model(model_file, model, inputs, check=True, trial_seeds=()):
    """(GraphModule, method, notes, eager output): _trace, refusing a model
    with a module no file can rebuild (_refuse_unbuildable). A checked
    recording is checked on the inputs of `trial_seeds`.

    Where a forward hook changed what a module takes or gives
    (_hooks_watched) and the graph calls that module as one node, or the
    hook is the model's own under a symbolic trace, the graph lost it: the
    model is traced again with those hooks spelt out as ops (hooks.py).
    Models without such hooks are traced once."""
    _refuse_unbuildable(model_file, model)
    with _hooks_watched(model) as changed:
        traced = _trace(model_file, model, inputs, check, trial_seeds)
    lost = _hooks_lost(changed, traced[0], traced[1])
    if lost:
        _FIRST_RECORDING.clear()  # what it saw ran the hooks where no tracer looked
        del traced
        with hooks.spelt_out(model, lost):
            traced = _trace(model_file, model, inputs, check, trial_seeds)
        traced[2]["hooks_spelt_out"] = [p or "the model" for p in lost]
    _refuse_differentiating(model_file, traced[0])
    for target, ops_drawing in generators.drawn_more_than_once(traced[0]).items():
        raise BadInput(model_file.path, f"forward draws from the torch.Generator {target} in {len(ops_drawing)} "
                       f"ops ({', '.join(ops_drawing[:4])}), each a kernel whose file would start it from its "
                       "seed: draw from it in one op, or in a module of its own, or from torch's default "
                       "generator")
    return traced


def _refuse_differentiating(model_file, gm):
    """A forward that differentiates (an energy model's force, -dE/dx) cannot
    be cut into files: the gradient's kernel needs the graph autograd
    recorded from the ops before it, and no file's inputs carry one. A
    recording stops at the call (record.Differentiates); a symbolic graph
    holds it."""
    for node in gm.graph.nodes:
        name = record.differentiating(node.target) if node.op == "call_function" else \
            "Tensor.backward" if node.op == "call_method" and node.target == "backward" else None
        if name is not None:
            raise BadInput(model_file.path, differentiating_message(name))


def differentiating_message(name):
    return (f"forward computes gradients ({name}), and a kernel file cannot: its inputs carry no "
            "autograd graph. decompose splits models that do not differentiate in forward")


def _trace(model_file, model, inputs, check, trial_seeds):
    """(GraphModule, method, notes, eager output): symbolic tracing, else
    recording a real run, on `inputs` (verify.LentInputs).

    A symbolic trace is kept only if it reproduces the eager output exactly:
    a trace that silently took another branch would make every file wrong.
    Without `check`, that is left to the root step, which runs the files
    made from the graph against the model on every trial, and the graph's
    shapes are read on the meta device (values_on_meta): one forward fewer.
    `notes["checked"]` says whether it was done here; where it was not and
    the root step fails, the caller traces again with `check`.
    Where symbolic tracing raises, the recording run is the model's own
    forward on these inputs and its output is the eager output: the model
    runs once for both. A recorded graph is not run again here to see that
    it reproduces that output: the root step is that check too, and a graph
    that missed an op fails there. With `check`, the model is first recorded
    on every trial's inputs, and the functions and modules whose reads
    differ between them are recorded as one call each (_kept_whole); where
    an unchecked recording of the same file came first (the pipeline's
    retry), what it read on the first two trials' inputs is taken from it
    (_FIRST_RECORDING), and the first trial is recorded once, for the graph.
    Without `check`, a recording that read values is recorded on the second
    trial's inputs too, and is checked after all where its graph gives
    another output than the model there: the root step would fail on that
    trial.
    """
    notes = {"symbolic_error": None, "specialised": [], "followed": [], "memory_warning": None, "checked": True,
             "opened": [], "unused": [], "kept_whole": [], "modules_kept_whole": [], "methods_reading_differently": [],
             "state_written": [], "hooks_spelt_out": []}
    kept = written.State(model)

    def restore():
        kept.restore()
        notes["state_written"] = kept.written()
    device = device_of(*inputs.lend())
    try:
        gm = trace.symbolic(model)
    except Exception as e:
        gm = None
        notes["symbolic_error"] = _one_line(e)[:300]
    expected = None
    if gm is not None:
        verify.seed_forward()
        args, kwargs = inputs.lend()
        with fastpath.off(), memory.PeakOfRun() as eager:  # the path the graph spells out (fastpath.py)
            expected = verify.own(run_forward(model_file, model, args, kwargs), (args, kwargs))
        del args, kwargs
        notes["memory_warning"] = memory.warn_if_short(model_file.path, eager, verify.nbytes(expected))
        restore()
        folded = [n.target for n in gm.graph.nodes
                  if n.op == "get_attr" and n.target.startswith("_tensor_constant")]
        if folded:
            # A tensor made in forward from no input (torch.arange(t)) is run
            # at trace time and kept as an anonymous constant: its op is lost.
            notes["symbolic_error"] = ("the symbolic trace folded tensors made in forward into "
                                       f"constants ({', '.join(folded)})")
        else:
            notes["unused"] = trace.remove_unused(gm)
            if not check and values_on_meta(gm, *inputs.lend()):
                notes["checked"] = False
                return canonical(gm, device), "symbolic", notes, expected
            notes["symbolic_error"] = mismatch(gm, expected, inputs)
            if notes["symbolic_error"] is None:
                return canonical(gm, device), "symbolic", notes, expected
        restore()
    opened, whole, methods = set(), [], []
    key = _file_key(model_file)
    earlier = _FIRST_RECORDING.pop(key, None) if check else None
    try:
        checking = check and len(trial_seeds) > 1
        # this run on the first trial's inputs watches the values read: it
        # is the first of _kept_whole's runs, now or in a checked retry
        watch = len(trial_seeds) > 0 and trial_seeds[0] == FORWARD_SEED
        if checking and watch and earlier is not None:
            seen, seen_opened = earlier  # this model on these inputs, recorded by the unchecked attempt
            opened |= seen_opened
            reads_values = True
        else:
            earlier = None
            gm, recorded, output, args, kwargs, eager = _record_once(model, inputs, opened, restore,
                                                                     watch_reads=watch)
            seen = [Run(recorded.pop("reads"), recorded.pop("module_shapes"), gm, recorded.pop("numbers"))] \
                if watch else []
            reads_values = bool(recorded["specialised"]) or any(trace.is_value_sized(n) for n in gm.graph.nodes)
            if not check and watch and reads_values and len(trial_seeds) > 1:
                # The root step would fail on the second trial where this
                # graph gives another output than the model there: then
                # the graph is checked here, with no plan and no root step
                # thrown away (Mask R-CNN: 149 s to 140 s). Where the second
                # trial's recording is the same graph, or the graph's other values
                # give the same output (ssd300's top-k of 320 boxes where
                # the model took 351: the same detections), the root step
                # is left the check, as for a recording that read no
                # values; a retry takes both runs.
                second, second_code, second_output = _watched_run(model_file, model, trial_seeds[1], opened,
                                                                  restore)
                seen.append(second)
                checking = second_code != gm.code and _fails_on(gm, model_file, trial_seeds[1], second_output,
                                                                restore)
                del second_output
                if not checking:
                    _FIRST_RECORDING.clear()
                    _FIRST_RECORDING[key] = (seen, set(opened))
        if checking and reads_values:
            runs = list(seen) + _watched_runs(model_file, model, trial_seeds[len(seen):], opened, restore)
            whole, methods, lengths_vary = _kept_whole(runs)
            # every module of a class whose reads differed, also where this
            # instance's agreed on the trials' inputs: the branch is the class's
            kinds = {type(model.get_submodule(m.path)) for m in methods if m.path}
            modules = {path: lengths_vary.get(path, set()) for path, module in model.named_modules()
                       if path and type(module) in kinds}
            follow = None
            if not whole and not modules and any(not m.path for m in methods):
                # the model's own forward reads differently: the numbers it
                # reads, followed to the ops that take them (followreads.py)
                follow = followreads.places([(run.graph, run.numbers) for run in runs])
                if follow:
                    methods = [m for m in methods if m.path]
            if earlier is not None:  # the graph and the eager output come from this recording
                gm, recorded, output, args, kwargs, eager = _record_once(model, inputs, opened, restore, whole,
                                                                         whole_modules=modules, follow_numbers=follow)
            elif whole or modules or follow:  # recorded again; the first run's output is the eager one
                gm, recorded = _record_once(model, inputs, opened, restore, whole, whole_modules=modules,
                                            follow_numbers=follow)[:2]
    except BadInput:
        raise  # a trial's inputs the forward refuses, or get_inputs() itself: said as it is
    except record.Differentiates as e:
        raise BadInput(model_file.path, differentiating_message(e.name)) from None
    except record.Refused as e:
        raise BadInput(model_file.path, str(e)) from None
    except Exception as e:
        why = _one_line(e)
        if expected is None:  # a forward that fails on its own says so, not that recording failed
            restore()
            verify.seed_forward()
            run_forward(model_file, model, *inputs.lend())
        raise BadInput(model_file.path, "cannot trace the model, symbolically ("
                       + notes["symbolic_error"] + ") nor by running it: " + why
                       + _torchscript_functions_hint(model) + _unregistered_modules_hint(model)) from None
    if expected is None:
        expected = verify.own(output, (args, kwargs))
        notes["memory_warning"] = memory.warn_if_short(model_file.path, eager, verify.nbytes(expected))
    del output, args, kwargs
    notes.update(recorded)
    # what the model's own forward read off values, as the graph holds it (plan._output_leaves)
    notes["numbers_fixed"] = sorted({v for name, v in (seen[0].numbers if seen else [])
                                     if name in _VALUE_NUMBERS and type(v) is int})
    notes["kept_whole"] = [_function_name(fn) for fn in whole]
    notes["modules_kept_whole"], notes["methods_reading_differently"] = _modules_kept(gm, model, methods)
    # A recording that read values, or sizes that values gave (nms), may hold
    # them where the other trials' inputs differ: that it was not checked
    # for them says a failing root step is worth a second, checked attempt.
    notes["checked"] = bool(check or checking or not reads_values or len(trial_seeds) < 2)
    restore()
    return canonical(gm, device), "recorded", notes, expected


# What an unchecked recording of a model on the first two trials' inputs saw
# (each run's reads of values and module shapes; the modules it opened), for
# the checked retry that follows where the root step fails (pipeline.c): the
# model reads the same there, and is recorded twice less. One entry, keyed by
# the file and its text (_file_key): the counts of other files made between
# the two (a failed root step's coverage) leave it.
_FIRST_RECORDING = {}


def forget_first_recordings(keep_path):
    """A plan starts: an unchecked recording of another file than
    `keep_path` (the model a retry plans again) has no retry to serve, and
    its read holders would keep that file's module alive."""
    for key in [k for k in _FIRST_RECORDING if k[0] != os.path.abspath(keep_path)]:
        del _FIRST_RECORDING[key]


def _file_key(model_file):
    try:
        return model_file.path, verify.file_sha1(model_file.path)
    except OSError:
        return model_file.path, None


def _modules_kept(gm, model, methods):
    """(["path (Class.method)"] of the modules `gm` holds as one call, the
    methods of `methods` (MethodReads) that none of them holds): the model's
    own forward, and a module opened because its call gives an ImageList,
    still hold their first trial's path."""
    kept = list(dict.fromkeys(n.target for n in trace.kept_whole_calls(gm.graph.nodes, "call_module")))
    method_of = {}
    for m in methods:
        if m.path:
            method_of.setdefault(type(model.get_submodule(m.path)), m.method)
    named = []
    for path in kept:
        method = method_of.get(type(model.get_submodule(path)))
        named.append(f"{path} ({method})" if method else path)  # else named by the model's kept_whole
    held = [m.method for m in methods
            if not any(m.path == path or m.path.startswith(f"{path}.") for path in kept)]
    return named, list(dict.fromkeys(held))


def _function_name(fn):
    """A library's function by its import path; one of the model's files by
    that file's path: the name it was loaded under is the glue's own."""
    module = sys.modules.get(fn.__module__)
    if modsrc.is_bundled(module) or fn.__module__.startswith("_decompose_file_"):
        return f"{module.__file__}: {fn.__qualname__}"
    return f"{fn.__module__}.{fn.__qualname__}"


def _record_once(model, inputs, opened, restore, whole=(), watch_reads=False, whole_modules=(), follow_numbers=None):
    """record.record on `inputs` from the forward seed, again with a leaf
    module opened wherever one gave back an ImageList; with the eager run's
    inputs and memory peak."""
    while True:
        verify.seed_forward()
        args, kwargs = inputs.lend()
        try:
            with memory.PeakOfRun() as eager:
                gm, recorded, output = record.record(model, args, kwargs, opened, whole, watch_reads,
                                                     whole_modules, follow_numbers)
            return gm, recorded, output, args, kwargs, eager
        except record.Reopen as again:  # rare: a leaf module gave back an ImageList
            opened.add(again.path)
            del args, kwargs
            restore()


# One recording of the model on one trial's inputs, as _kept_whole and
# followreads compare them: the values it read into Python, its modules'
# output shapes, its graph, and the numbers its own forward read.
Run = collections.namedtuple("Run", "reads shapes graph numbers")


def _kept_whole(runs):
    """(functions, methods, module paths) of record.varying_reads and
    record.varying_lengths, from the model's recordings on each trial's
    inputs (Run): the functions (a loop over detections) and the modules (a
    branch on a mean) to record as one call each, and where the modules'
    output lengths differ between the trials."""
    return (*record.varying_reads([run.reads for run in runs]),
            record.varying_lengths([run.shapes for run in runs]))


def _watched_runs(model_file, model, seeds, opened, restore):
    """[Run] of the model recorded on each seed's inputs."""
    return [_watched_run(model_file, model, seed, opened, restore)[0] for seed in seeds]


def _watched_run(model_file, model, seed, opened, restore):
    """(Run, the graph's code, the model's output) of the model recorded
    on the seed's inputs. Where the model's own forward raises on them, bad
    input that names the seed: it ran on the first trial's, and recording is
    not what failed."""
    restore()
    try:
        gm, recorded, output, args, kwargs = _record_once(model, verify.LentInputs(model_file, seed), opened,
                                                          restore, watch_reads=True)[:5]
    except Exception:
        restore()
        verify.seed_forward()
        try:
            run_forward(model_file, model, *verify.LentInputs(model_file, seed).lend())
        except BadInput as e:
            raise BadInput(model_file.path, f"{e.message}, on the inputs get_inputs() draws with seed {seed}, a "
                           f"trial's (on the first trial's, seed {FORWARD_SEED}, it ran): every trial's inputs "
                           "must be ones it takes") from None
        raise
    output = verify.own(output, (args, kwargs))
    restore()
    return Run(recorded["reads"], recorded["module_shapes"], gm, recorded["numbers"]), gm.code, output


def _fails_on(gm, model_file, seed, expected, restore):
    """Whether `gm` raises or gives another output than `expected` (the
    model's) on the inputs of `seed`, as the root step would find."""
    verify.seed_forward()
    args, kwargs = verify.LentInputs(model_file, seed).lend()
    try:
        with fastpath.off():
            if autocast.in_graph(gm):  # fx's code of the graph has no autocast: each node enters its own
                got = trace.run_graph(gm, args, kwargs)
            else:
                got = gm.forward(*args, **kwargs)  # not gm(): fx prints the generated code's traceback
    except Exception:
        return True
    finally:
        restore()
    return not _same_output(expected, got)
