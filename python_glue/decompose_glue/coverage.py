"""Coverage: the original's compute ops against the ops of the kernel files.

Counted by canonical op name (ops.py), count by count: a decomposition that
drops a relu, or runs a linear twice where the model ran it once, shows here
even when every step passed. Kernel files are counted once per instance:
the instance counts come from decomposition_tree.json (a whole output
folder) or from the refactored model that uses the children (a step folder).
"""

import collections
import datetime
import gc
import hashlib
import inspect
import json
import os

from . import capture, hooks, meta, ops, trace, verify
from .levels import graph_nodes, is_compute, op_name
from .loader import BadInput, import_file, load_model_file, weights_left_uninitialised


# Op counts of file texts whose graph this interpreter already traced (the
# plan traces the user's model and renders every component from that one
# graph): counting them again would only repeat the same trace and run
# every parent's forward once more. Keyed by the file's exact text.
_KNOWN = {}


def _text_key(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def remember(text, nodes, gm, method):
    """Record the counts of a file rendered from these nodes of a traced
    graph, the run's own, however a count would trace the file."""
    for checked in (False, True):
        _KNOWN[_text_key(text), checked] = (*node_counts(nodes, gm), method)


def run_checked(folder):
    """Whether the run whose decomposition_log.json is in `folder`, or up to
    two folders above it (a step folder's), recorded
    the model on every trial's inputs, keeping whole the functions and
    modules whose reads of values differ between them: a count or a trace
    made again of its model does the same, and keeps them whole too. False
    where no log says so: the model's one recording, as a run makes first
    and as a decomposition by hand follows."""
    folder = os.path.abspath(folder)
    for _ in range(3):
        path = os.path.join(folder, "decomposition_log.json")
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    return json.load(f).get("trace", {}).get("checked_on_every_trial") is True
            except (OSError, ValueError, AttributeError):
                return False
        folder = os.path.dirname(folder)
    return False


def node_counts(nodes, gm):
    counts, plumbing = collections.Counter(), collections.Counter()
    for n in nodes:
        if n.op in ("get_attr", "placeholder", "output"):
            continue
        if n.op == "call_function" and n.target is ops.after_write:
            continue  # a name for a tensor after a write through its view: no op runs
        (counts if is_compute(n, gm) else plumbing)[op_name(n, gm)] += 1
    return counts, plumbing


def count_ops(path, checked=True):
    """{op: count} of compute ops in a model file, and the trace method.
    A text counted once is not counted again (a kernel file is copied into
    the children/ of every step that uses it). A recording is `checked` on
    the default trials' inputs (run_checked)."""
    try:
        with open(path, encoding="utf-8") as f:
            key = _text_key(f.read()), checked
    except (OSError, UnicodeDecodeError):
        key = None
    if key not in _KNOWN:
        _KNOWN[key] = _trace_counts(path, checked)
    counts, plumbing, method = _KNOWN[key]
    return collections.Counter(counts), collections.Counter(plumbing), method


def _trace_counts(path, checked):
    model_file = load_model_file(path, class_names=("Model", "RefactoredModel"), require_init=False)
    shapes_only = _inputs_on_meta(model_file)
    if shapes_only is not None:
        gm = _symbolic_graph(model_file, *shapes_only)
        if gm is not None:
            return (*node_counts(graph_nodes(gm), gm), "symbolic")
    inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
    gm = _symbolic_graph(model_file, *inputs.lend())
    if gm is not None:
        return (*node_counts(graph_nodes(gm), gm), "symbolic")
    model = model_file.build()
    # checked where asked, as a run checks a recording whose root step
    # fails: the functions and modules it keeps whole are one op each here too
    gm, method, _, _ = capture.trace_model(model_file, model, inputs, check=checked,
                                           trial_seeds=verify.trial_seeds(verify.NUM_TRIALS))
    counted = (*node_counts(graph_nodes(gm), gm), method)
    # The one count that holds the file's weights drawn for real, in the
    # cycles a GraphModule makes: they go now (api.extract_ops does not
    # collect after each call).
    del gm, model, inputs
    gc.collect()
    return counted


def _symbolic_graph(model_file, args, kwargs):
    """The symbolic trace with one run for the nodes' values, or None.

    Counting needs no check that the trace matches the eager run: a symbolic
    trace cannot take a branch on data (it raises), and the one thing it
    hides, a tensor made in forward and folded into a constant, is looked
    for. The weights' values do not matter, so they are not drawn."""
    try:
        with weights_left_uninitialised():
            model = model_file.build()
        if hooks.has_changing(model):
            return None  # a kernel module's hook may change its output: trace_model spells it out
        gm = trace.symbolic(model)
        if any(n.op == "get_attr" and n.target.startswith("_tensor_constant") for n in gm.graph.nodes):
            return None
        _record_kinds(gm, args, kwargs)
        trace.remove_unused(gm)  # as the pipeline counts: a value no output reads covers nothing
    except Exception:
        return None
    return capture.canonical(gm, capture.device_of(args, kwargs))


def _inputs_on_meta(model_file):
    """The file's inputs drawn on the meta device, or None. Counting needs
    their shapes and dtypes only, and drawing a level-1 file's real inputs
    (GBs of random numbers, one core) took as long as its forward. None
    where get_inputs reads a value (.item(), a mask) or leaves a tensor off
    meta: then the inputs are drawn for real."""
    return verify.inputs_on_meta(lambda: model_file.inputs(seed=capture.FORWARD_SEED))


def _record_kinds(gm, args, kwargs):
    """Give every node meta["value"]. Counting reads each value's kind, shape
    and dtype, never its numbers, so the graph runs on the meta device, where
    no work is done (a level-1 kernel's run was a whole forward of the
    model). An op without a meta implementation runs for real."""
    gm.to("meta")
    try:
        trace.record_values(gm, meta.like(args), meta.like(kwargs))
    except Exception:
        gm.to_empty(device="cpu")
        trace.record_values(gm, args, kwargs)


def _tree_instances(decomp_dir):
    path = os.path.join(decomp_dir, "decomposition_tree.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        tree = json.load(f)
    return {os.path.realpath(os.path.join(decomp_dir, n["path"])): n.get("instance_count", 1)
            for n in tree.get("nodes", {}).values() if n.get("level") == "kernel"}


def _child_instances(path, class_names):
    """{realpath of a child's file: instances} in a model made of children."""
    module = import_file(path)
    cls = next((getattr(module, c) for c in class_names if hasattr(module, c)), None)
    if cls is None:
        raise BadInput(path, f"no class {' or '.join(class_names)} defined")
    counts = collections.Counter()
    # a refactored parent takes the numbers its children are built with
    init = getattr(module, "get_init_inputs", None)
    with weights_left_uninitialised():  # only the children's classes are read
        model = cls(*(init() if callable(init) else ()))
    for child in model.children():
        counts[os.path.realpath(inspect.getfile(type(child)))] += 1
    return counts


def _kernel_instances(decomp_dir):
    """Instances per kernel file: from the composition test, which builds the
    model from kernels, else from decomposition_tree.json."""
    composition = os.path.join(decomp_dir, "verification", "composition_test.py")
    if os.path.exists(composition):
        return _child_instances(composition, ("ComposedModel",))
    return _tree_instances(decomp_dir)


def _step_instances(children):
    """Instance counts of child files, from the refactored.py beside children/."""
    folder = os.path.dirname(os.path.dirname(os.path.abspath(children[0])))
    refactored = os.path.join(folder, "refactored.py")
    if not os.path.exists(refactored):
        return {}
    return _child_instances(refactored, ("RefactoredModel",))


def compare_counts(original, decomposed):
    details, missing, extra = [], [], []
    for op in sorted(set(original) | set(decomposed)):
        o, d = original.get(op, 0), decomposed.get(op, 0)
        status = ("covered" if o == d else "partial" if o and d and d < o else
                  "missing" if o and not d else "extra")
        if status in ("partial", "missing"):
            missing.append(op)
        elif status == "extra":
            extra.append(op)
        details.append({"op_type": op, "original_count": o, "decomposed_count": d, "status": status})
    total = sum(original.values())
    covered = sum(min(original[op], decomposed.get(op, 0)) for op in original)
    return {
        "total_original_ops": total, "total_decomposed_ops": sum(decomposed.values()),
        "covered_op_count": covered, "missing_op_types": missing, "extra_op_types": extra,
        "coverage_pct": round(100.0 * covered / total, 1) if total else 100.0,
        "op_details": details,
    }


def extract_ops(model, decomp_dir=None, children=None):
    result = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "model_file": str(model), "status": "UNKNOWN"}
    # the model as the run that wrote the folder traced it; a kernel file's
    # recording checked, which keeps whole what it names (a kept function's
    # file may not trace symbolically)
    original, plumbing, method = count_ops(
        model, checked=run_checked(decomp_dir or os.path.dirname(os.path.abspath(model))))
    result.update(extraction_method=method, original_compute_ops=dict(original),
                  original_plumbing_ops=dict(plumbing))
    if children:
        files = [os.path.abspath(c) for c in children]
        instances = _step_instances(files)
        weights = {f: instances.get(os.path.realpath(f), 1) for f in files}
    elif decomp_dir:
        kernel_dir = os.path.join(decomp_dir, "level_0_kernel")
        files = sorted(os.path.join(kernel_dir, f) for f in os.listdir(kernel_dir)
                       if f.endswith(".py")) if os.path.isdir(kernel_dir) else []
        instances = _kernel_instances(decomp_dir)
        weights = {f: instances.get(os.path.realpath(f), 1) for f in files}
    else:
        raise BadInput(str(model), "give --decomp-dir or --children")
    decomposed = collections.Counter()
    components = []
    for f in files:
        counts, _, _ = count_ops(f)
        for op, n in counts.items():
            decomposed[op] += n * weights[f]
        components.append({"file": f, "instances": weights[f], "ops": dict(counts)})
    result["components"] = components
    result["decomposed_compute_ops"] = dict(decomposed)
    result["coverage"] = compare_counts(original, decomposed)
    exact = original == decomposed
    pct = result["coverage"]["coverage_pct"]
    result["status"] = ("FULL_COVERAGE" if exact else "PARTIAL_COVERAGE" if pct >= 80.0
                        else "LOW_COVERAGE")
    return result
