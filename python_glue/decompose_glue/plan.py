"""The plan of a run: the user's model traced, grouped and written out as text.

Returns plain data (docs/GLUE_API.md, `plan`): the tree's nodes, the data
flow, every file's content, and the steps in gate order. Writing the files
and running the gates is the C host's job.
"""

import ast
import copy
import datetime
import gc
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

import torch
import torch.fx as fx

from . import capture, codegen, coverage, hf, modsrc, naming, repo, trace, verify
from .codegen import LEVEL_DIRS, Rendered, json_text
from .emit import Names, literal
from .levels import KERNEL, LEVEL_NAMES, MODEL, Component, build_tree, is_compute, op_name
from .loader import BadInput, build_recording_init_args, forget_last_run, load_model_file

_PLURAL = {"layer": "layers", "fusion": "fusions", "kernel": "kernels", "model": "model"}

# Phase 0's check and result for the request they were made for, the last
# one only: a re-trace of the same model (check_trace) takes them again
# rather than building and running the model twice per trial once more.
_PREPARED = {}


def _prepared_key(request):
    return json.dumps({k: v for k, v in request.items() if k != "check_trace"}, sort_keys=True, default=str)


def _strip_main_block(source):
    """The user's source without its `if __name__ == "__main__":` blocks."""
    tree = ast.parse(source)
    lines = source.split("\n")
    for stmt in reversed(tree.body):
        if (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare)
                and isinstance(stmt.test.left, ast.Name) and stmt.test.left.id == "__name__"):
            del lines[stmt.lineno - 1:stmt.end_lineno]
    return "\n".join(lines).rstrip() + "\n"


def _first_shape(r, side):
    """The first shape an instance takes (in), gives (out) or holds (w)."""
    if side == "w":
        shapes = list(r.weight_shapes.values())
    else:
        shapes = codegen.leaf_shapes(r.inputs if side == "in" else r.outputs)
    return list(shapes[0]) if shapes else None


def _differing_op_arguments(r, owner):
    """Names of the arguments that tell `r` from `owner` where the ops of
    one are called as the other's with another value: each such argument
    that is not a tensor (Swin's torch.roll by -3 and by +3:
    `shifts_neg3_neg3`; its window attention fusions, shifted by 4 and by
    none: `shift_size_4_4`), by name (a keyword) or position, in order.
    Those that make no short name are left out."""
    mine = [n for n in r.component.nodes if n.op in ("call_function", "call_method")]
    theirs = [n for n in owner.component.nodes if n.op in ("call_function", "call_method")]
    if mine and len(mine) == len(theirs) and all(a.target == b.target for a, b in zip(mine, theirs)):
        # a number the kernel takes as a constructor argument differs between
        # its own instances, and names none of them; its type may (x * 2 of an
        # integer tensor stays one, x * 2.0 does not): other_int
        taken = {key: name for key, name, _ in r.settings}
        for a, b in zip(mine, theirs):
            for key, name, x, y in _argument_pairs(a.args, a.kwargs, b.args, b.kwargs):
                if key in taken and type(x) != type(y):
                    yield f"{taken[key]}_{type(x).__name__}"
                elif not (_holds_node(x) or _holds_node(y) or x == y or key in taken):
                    yield from filter(None, [_argument_name(name, x, y)])


def _argument_pairs(args, kwargs, other_args, other_kwargs, names=()):
    """(key, name, value, other value) for each argument of two calls of one
    callee: by position, named by `names` where it has one (else arg<i>),
    then by keyword."""
    pairs = [(i, names[i] if i < len(names) else f"arg{i}", x, y) for i, (x, y) in enumerate(zip(args, other_args))]
    return pairs + [(k, k, v, other_kwargs.get(k)) for k, v in kwargs.items()]


def _one_op(r):
    """Whether a workload is one op of torch's (a function or a method) and
    no module."""
    calls = [n for n in r.component.nodes if n.op in ("call_function", "call_method", "call_module")]
    return len(calls) == 1 and calls[0].op != "call_module"


def _holds_node(value):
    """Whether an argument is, or holds, a value of the graph (a tensor)."""
    found = []
    fx.node.map_arg(value, found.append)
    return bool(found)


def _differing_constructor_arguments(r, owner):
    """The constructor arguments of `r`'s modules that differ from those of
    `owner`'s, as names (a LayerNorm's eps: `eps_1eneg06`), by keyword or
    by its parameter's name, where the two build modules of one class each,
    in one order, from plain values. A number the file takes as a
    constructor argument (a block's drop rate) tells no file apart."""
    mine = [n for n in r.component.nodes if n.op == "call_module"]
    theirs = [n for n in owner.component.nodes if n.op == "call_module"]
    if len(mine) != len(theirs):
        return
    pairs = []
    for m, t in zip(mine, theirs):
        a, b = modsrc.call_values(r.module_calls.get(m.target)), modsrc.call_values(owner.module_calls.get(t.target))
        if a is None or b is None or a[0] != b[0]:
            return
        pairs.append((m, a, b))
    taken = {key[1:] for key, _, _ in r.settings if isinstance(key, tuple)}
    for node, (_, args, kwargs), (_, other_args, other_kwargs) in pairs:
        cls = modsrc.unparametrized_class(node.graph.owning_module.get_submodule(node.target))
        for _, name, x, y in _argument_pairs(args, kwargs, other_args, other_kwargs, modsrc.parameter_names(cls)):
            if x != y and (node.target, name) not in taken:
                yield from filter(None, [_argument_name(name, x, y)])


def _argument_name(name, value, other=None):
    """`p_0p055`, `shifts_neg3_neg3`: an argument and its value as a short
    name part, or None where it makes no short one. A text is named by its
    words the `other` text has not: MViT's einsum equations
    `bythwc,hkc->bythwk` and `bythwc,wkc->bythwk` are `arg0_hkc` and
    `arg0_wkc`."""
    if isinstance(value, str) and isinstance(other, str):
        theirs = re.findall(r"[A-Za-z0-9]+", other)
        value = "_".join(w for w in re.findall(r"[A-Za-z0-9]+", value) if w not in theirs) or value
    if isinstance(value, (tuple, list)):
        value = "_".join(str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:g}"  # 0.05500000000000001 reads as 0.055
    value = str(value).replace("-", "neg").replace(".", "p")
    text = naming.identifier(f"{name}_{value}")
    return text if len(text) <= 24 and not text.startswith("m_") else None


def _told_apart(base, r, owner, body, used):
    """A stem for a second workload whose name `base` the workload `owner`
    holds. One op called with another value says which (`shifts_3_3`).
    Else the first of the shapes it takes, gives or holds that no workload
    named `base` so far has (an activation's without its batch dimension,
    as names write shapes, else whole; a weight's whole), where the name
    does not hold it already: a stage's downsampling block takes what the
    others take and differs in what it gives; Swin V2's logit-scale clamps
    differ in their weight, one per head count. Else an argument of its ops
    (_differing_op_arguments), else of its modules' constructors, that
    differs (_differing_constructor_arguments): Swin's blocks by shift and
    by drop rate; else the ops one runs and the other does not
    (_ops_apart); else its text."""
    def forms(shape, side):
        whole = "x".join(str(d) for d in shape)
        return [whole] if side == "w" else [naming.shape_signature(shape), whole]

    def unused(parts):
        return next((f"{base}_{p}" for p in parts if p and f"{base}_{p}" not in used), None)

    if _one_op(r) and _one_op(owner) and (stem := unused(_differing_op_arguments(r, owner))):
        return stem
    # a shape names it only where no workload of this name has that shape too
    peers = [u for name, u in used.items() if name == base or name.startswith(f"{base}_")]
    for side in ("in", "out", "w"):
        mine, theirs = _first_shape(r, side), _first_shape(owner, side)
        if mine is None or any(mine == _first_shape(u, side) for u in peers):
            continue
        others = forms(theirs, side) if theirs is not None else [None, None]
        for signature, other in zip(forms(mine, side), others):
            stem = f"{base}_{side}{signature}"
            if signature and signature != other and signature not in base.split("_") and stem not in used:
                return stem
    stem = (unused(_differing_op_arguments(r, owner)) or unused(_differing_constructor_arguments(r, owner))
            or unused([_ops_apart(r, owner)]) or unused([_weights_apart(r, owner)])
            or unused([_buffers_apart(r, owner)]))
    if stem:
        return stem
    return f"{base}_{hashlib.sha1(body.encode()).hexdigest()[:6]}"


def _ops_apart(r, owner):
    """`with_tril` or `no_tril`: the compute ops one of two workloads of one
    name runs and the other does not (gpt-oss's sliding-window attention
    block against its full one). None where both run the same kinds."""
    return _with_or_no(dict.fromkeys(r.op_list), dict.fromkeys(owner.op_list))


def _weights_apart(r, owner):
    """`with_bias` or `no_bias`: the weights one of two workloads of one name
    holds and the other does not, by their modules' names for them (WaveRNN's
    nn.Conv1d(128, 128, 1) beside its nn.Conv1d(128, 128, 1, bias=False)).
    None where both hold weights of the same names. The model's own
    tensors are named apart by _buffers_apart."""
    def names(rendered):
        return dict.fromkeys(key.rsplit(".", 1)[-1] for key in rendered.weight_shapes
                             if key not in rendered.loose_names)
    return _with_or_no(names(r), names(owner))


def _has_out_of_place(op):
    """Whether torch has `op` as an op that makes a new tensor: masked_fill
    beside masked_fill_, not copy beside copy_."""
    return hasattr(torch.Tensor, op) or hasattr(torch, op)


def _buffers_apart(r, owner):
    """`wh_pairs_2`: the model's name for the first tensor of its own that
    one of two workloads of one name computes with and the other does not:
    a buffer written out value by value is part of the workload (loose.py),
    so SSD's anchor tables, one per feature map, are kernels apart. None
    where it has none the other has not, or its name is long."""
    theirs = set(owner.loose_names)
    found = next((naming.identifier(n) for n in r.loose_names if n not in theirs), "")
    return found if found and len(found) <= 24 else None


def _with_or_no(mine, theirs):
    """`with_<what mine has>`, else `no_<what theirs has>`, of two ordered
    collections, as a short name part; None where neither has more."""
    for word, found in (("with", [x for x in mine if x not in theirs]), ("no", [x for x in theirs if x not in mine])):
        text = naming.identifier(f"{word}_{'_'.join(found[:2])}") if found else ""
        if text and len(text) <= 24:
            return text
    return None


def _user_file(model_file, out_shapes, python, title, header_lines, has_kwargs, what, siblings=""):
    """`siblings`: repo.siblings_source, before the user's code."""
    with open(model_file.path, encoding="utf-8") as f:
        source = _strip_main_block(f.read())
    contract = codegen.contract(out_shapes, has_kwargs)
    header = '"""\n' + "\n".join([f"Component: {title}"] + header_lines +
                                  ["", f"Run: {python} {title}.py   (prints PASS or FAIL; exit code 0 or 1)"]) + '\n"""\n'
    guard = ("import sys\n\ntry:\n    import torch\nexcept ImportError:\n"
             f"    sys.exit(\"This file needs PyTorch. Run it with {python}, the interpreter that has torch.\")\n")
    future, source = _future_imports(source)
    if future:
        # Python compiles a __future__ import only before every other statement
        header += "\n" + future + "\n\n"
        what = what.rstrip(".") + ", its __future__ imports moved to the top, where Python requires them."
    return header + guard + siblings + f"\n# {what}\n" + source + contract


def _future_imports(source):
    """(the `from __future__ import ...` lines of a module's source, the
    source without them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "", source  # the loader has reported it
    lines = source.split("\n")
    taken = [range(s.lineno - 1, s.end_lineno) for s in tree.body
             if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    if not taken:
        return "", source
    future = "\n".join(lines[i] for r in taken for i in r)
    dropped = {i for r in taken for i in r}
    return future, "\n".join(l for i, l in enumerate(lines) if i not in dropped)


def _output_leaves(gm, numbers_read=()):
    """(output node, the shapes of its tensors). `numbers_read`: numbers
    the model's own forward read off its inputs' values and the graph holds
    as they were (capture: notes["numbers_fixed"]); the model's own code
    computes them again from what a file draws, so an output length equal
    to one is -1 in the user's file (int(lengths.max()) sizing a mask)."""
    out = next(n for n in gm.graph.nodes if n.op == "output")
    found = []
    fx.node.map_aggregate(out.args[0], found.append)
    leaves = [a for a in found if isinstance(a, fx.Node)]
    places = codegen.value_sized_places(gm.graph.nodes, gm)
    numbers = {v for v in numbers_read if v > 1}  # not every length 1
    for node in leaves:
        shapes = [t["shape"] for t in trace.tensor_leaves(node.meta.get("value", {}))]
        read = {(i, k) for i, shape in enumerate(shapes) for k, d in enumerate(shape) if d in numbers}
        if read:
            places[node] = places.get(node, set()) | read
    return out, codegen.leaf_shapes(leaves, places)


def _memory_formats(r):
    """The channels_last layouts of the tensors a component takes, in order
    (None for each plain one): part of its workload."""
    return tuple(t.get("memory_format") for n in r.inputs for t in trace.tensor_leaves(n.meta.get("value", {})))


def _each_with_why(key, names, why):
    """[{key: name, "why": why}] for a list in decomposition_log.json."""
    return [{key: name, "why": why} for name in names]


class Plan:
    """Everything rendered for one model; `reply()` is the api answer."""

    def __init__(self, request):
        self.request = request
        self.python = request.get("python") or sys.executable
        self.model_path = os.path.abspath(request["model_path"])
        self.name = request.get("model_name") or os.path.splitext(os.path.basename(self.model_path))[0]
        self.source_path = self.model_path  # what the files name as their source
        self.preparation = None  # Phase 0's result, for a folder's model
        self.scratch = None
        self.files = []
        self.steps = []
        self.decisions = []
        self.groups = {}       # stem -> [Rendered]
        self.timings = {}
        self.group_level = {}

    # ---- Phase 0 (input types repo and huggingface) ----
    def prepare_repo(self):
        """Make the folder's model one file (repo.py), load it from a scratch
        copy until the host writes it as level_3_model/<name>.py, and prove
        it equal to the folder's own code, or stop: every later step takes
        the wrapper for the user's model."""
        req = self.request["repo"]
        folder = os.path.abspath(req["path"])
        self.source_path = os.path.join(folder, req["entry_file"])
        text, modules = repo.wrapper_source(folder, req["entry_file"], req["entry_class"], req.get("init_args", []),
                                            req.get("inputs"), self.name, self.python)
        self._prepare(text, lambda wrapper_rel, seeds, rtol, atol: repo.verify_source(
            folder, req["entry_class"], wrapper_rel, self.python, seeds, rtol, atol),
            f"{req['entry_class']} of the folder's own code", {"modules": modules}, "the folder's model")

    def prepare_huggingface(self):
        """The same for a Hugging Face model (hf.py): the wrapper is the
        config written out, and the check builds the model from its id or
        folder as transformers does."""
        req = self.request["huggingface"]
        ref = req["model"]
        self.source_path = ref
        hf.refuse_remote_code(ref, req["model_class"], ref)
        tf = hf.import_transformers(ref, self.python)
        loaded, changes, config = hf.load_config(tf, ref, req.get("config") or {}, ref)
        _, concrete = hf.model_class(tf, req["model_class"], config, ref)
        inputs = req.get("inputs") or hf.default_inputs(concrete, config, ref)
        text, names = hf.wrapper_source(ref, self.name, req["model_class"], loaded, changes, concrete, inputs, tf)
        self._prepare(text, lambda wrapper_rel, seeds, rtol, atol: hf.verify_source(
            ref, req["model_class"], changes, names, wrapper_rel, self.python, seeds, rtol, atol),
            f"{req['model_class']} built from {ref}", {"inputs": inputs}, f"{concrete.__name__}")

    def _prepare(self, text, verify_text, original, facts, what):
        """Write the wrapper to scratch, run its check, keep both files."""
        self.scratch = tempfile.mkdtemp(prefix="decompose-prepare-")
        self.model_path = os.path.join(self.scratch, self.name + ".py")
        with open(self.model_path, "w", encoding="utf-8") as f:
            f.write(text)
        key = _prepared_key(self.request)
        if self.request.get("check_trace") and key in _PREPARED:
            check, result = _PREPARED[key]
            result = copy.deepcopy(result)
        else:
            _PREPARED.clear()
            seeds = verify.trial_seeds(self.num_trials)
            rtol, atol = verify.tolerance([], self.request.get("rtol"), self.request.get("atol"))
            wrapper_rel = f"{LEVEL_DIRS[MODEL]}/{self.name}.py"
            check = verify_text(wrapper_rel, seeds, rtol, atol)
            result = repo.run_check(check, self.model_path, self.source_path, what)
            result["wrapper"] = wrapper_rel
            result.update(facts)
            if result["status"] == "PASS":
                _PREPARED[key] = (check, copy.deepcopy(result))
        self.preparation = result
        self.files += [{"path": "steps/step_0_preparation/verify_wrapper.py", "content": check},
                       {"path": "steps/step_0_preparation/verification_result.json",
                        "content": json_text(result)}]
        if result["status"] != "PASS":
            bad = next(t for t in result["trials"] if not t["pass"])
            raise BadInput(self.source_path, f"the self-contained wrapper does not reproduce {original} "
                           f"(seed {bad['seed']}, max diff {bad['max_diff']})")

    @property
    def num_trials(self):
        return self.request.get("num_trials") or verify.NUM_TRIALS

    def clean_up(self):
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # ---- loading and tracing ----
    def load(self):
        t = time.perf_counter()
        if self.request.get("repo"):
            self.prepare_repo()
        elif self.request.get("huggingface"):
            self.prepare_huggingface()
        self.model_file = load_model_file(self.model_path)
        self.model, self.records = build_recording_init_args(self.model_file)
        self.built_state = verify.state_signature(self.model)
        self.inputs = verify.LentInputs(self.model_file, capture.FORWARD_SEED)
        self.timings["load"] = time.perf_counter() - t
        t = time.perf_counter()
        self.gm, self.trace_method, self.trace_notes, self.expected = capture.trace_model(
            self.model_file, self.model, self.inputs, check=bool(self.request.get("check_trace")),
            trial_seeds=verify.trial_seeds(self.num_trials))
        self.root = build_tree(self.gm, self.model, self.trace_notes["opened"])
        if not self.root.children:
            # Every tree has a root step (a one-op model's proves its one
            # kernel), which is also what checks the traced graph.
            raise BadInput(self.source_path, "its forward has no compute op to decompose, only "
                           "data movement (views, reshapes, indexing)")
        self.timings["trace"] = time.perf_counter() - t

    # ---- rendering ----
    def render(self):
        gm = self.gm
        self.instances = []

        def visit(component, parent, depth):
            r = codegen.render_component(component, gm, self.records)
            r.parent, r.depth = parent, depth
            parent.children.append(r)
            self.instances.append(r)
            for c in component.children:
                visit(c, r, depth + 1)

        root = Rendered(self.root)
        root.depth = 0
        root.stem = self.name
        root.inputs = trace.placeholders(gm)
        # Inputs keep the names of the user's forward (fx renames `X` to `x`).
        root.names = Names({n: n.target.lstrip("*") if n.op == "placeholder" else n.name
                            for n in gm.graph.nodes if n.op != "get_attr"})
        codegen.follow_device(root, gm.graph.nodes, signature_fixed=True)
        root.op_list = [op_name(n, gm) for n in self.root.nodes if is_compute(n, gm)]
        children = self.root.children
        for c in children:
            visit(c, root, 1)
        self.root_r = root
        self._name_groups()

    def _name_groups(self):
        by_body = {}
        for r in self.instances:
            # One file per workload (shared/SPEC.md §5: op, parameter shapes,
            # dtypes), read from r.workload: the class text with torch.nn modules
            # as their settings, or a one-op kernel as its function's arguments;
            # a layer is also its shapes.
            key = r.workload.split("\n\ndef get_inputs():")[0] if r.component.level <= 1 else r.workload
            by_body.setdefault((r.component.level, key, _memory_formats(r)), []).append(r)
        used = {}
        for (level, body, formats), members in by_body.items():
            first = members[0]
            c = first.component
            if c.level == KERNEL:
                node = next(n for n in c.nodes if is_compute(n, self.gm))
                base = naming.kernel_name(node, self.gm)
            elif c.kind == "fusion" or c.level == 1:
                base = naming.fusion_name(c.nodes, self.gm)
            else:
                base = naming.layer_name(c.module_class or c.kind, first.inputs)
            if any(formats):  # a conv on NHWC data: another kernel than on NCHW
                base = f"{base}_{next(f for f in formats if f)}"
            base = naming.identifier(base.replace("-", "neg"))  # a module name: dim-1 -> dimneg1
            if c.level == KERNEL and (trace.takes_inplace(node, self.gm) or (
                    trace.writes_into_its_input(node, self.gm) and _has_out_of_place(first.op_list[0]))):
                # Writes into its input (x.masked_fill_(m, v) too): not the same
                # workload as the out-of-place op. An op that only writes
                # (x.copy_(y), x.zero_()) has no other to be told from.
                base = base.replace(f"{first.op_list[0]}_", f"{first.op_list[0]}_inplace_", 1)
            stem = base if base not in used else _told_apart(base, first, used[base], body, used)
            used[stem] = first
            for r in members:
                r.stem = stem
                # the file holds the first instance's names for its loose weights
                renamed = dict(zip(r.loose_names, first.loose_names))
                r.local_keys = {k: renamed.get(v, v) for k, v in r.local_keys.items()}
            self.groups[stem] = members
            self.group_level[stem] = level

    # ---- files ----
    def write_files(self):
        gm = self.gm
        source = self.source_path
        self.component_paths = []
        self.with_imports = set()  # files whose text has its module imports already
        for stem, members in self.groups.items():
            level = self.group_level[stem]
            path = f"{LEVEL_DIRS[level]}/{stem}.py"
            # with its imports as written, so that coverage knows this text
            content = codegen.with_module_imports(
                codegen.component_file(stem, members, level, source, self.python, self._trace_header()))
            if level != KERNEL:  # kernel files are counted by tracing them: that is the check
                coverage.remember(content, members[0].component.nodes, gm, self.trace_method)
            members[0].file_content = content
            members[0].path = path
            self.files.append({"path": path, "content": content})
            self.component_paths.append(path)
            self.with_imports.add(path)

        _, out_shapes = _output_leaves(gm, self.trace_notes.get("numbers_fixed", ()))
        has_kwargs = hasattr(self.model_file.module, "get_input_kwargs")
        root_level = self.root.level
        # with its imports as written (make_plan adds them to the files that
        # lack them), so that coverage knows this text: a root step's count
        # of a text it did not know traced the model again (Mask R-CNN: four
        # recordings, 30 s)
        self.user_copy = codegen.with_module_imports(_user_file(
            self.model_file, out_shapes, self.python, self.name,
            [f"Source: {source}", "Abstraction Level: model (level 3)", "Parent: none",
             f"Children: {', '.join(dict.fromkeys(r.stem for r in self.root_r.children))}",
             f"Operations: {len(self.root_r.op_list)} compute ops "
             f"({', '.join(sorted(set(self.root_r.op_list)))})",
             f"Traced with: torch.fx {self.trace_method} tracing"], has_kwargs,
            "Phase 0's one-file wrapper of the user's model." if self.preparation else "The user's model, verbatim.",
            "" if self.preparation else repo.siblings_source(self.model_path)))
        with open(self.model_path, encoding="utf-8") as f:
            coverage.remember(f.read(), self.root.nodes, gm, self.trace_method)
        coverage.remember(self.user_copy, self.root.nodes, gm, self.trace_method)
        if self.preparation and root_level != MODEL:
            # the wrapper Phase 0 proved is kept, whatever the tree's root
            self.files.append({"path": self.preparation["wrapper"], "content": self.user_copy})
        if root_level == MODEL:
            self.root_path = f"{LEVEL_DIRS[MODEL]}/{self.name}.py"
            self.files.append({"path": self.root_path, "content": self.user_copy})
            self.component_paths.insert(0, self.root_path)
        elif root_level == KERNEL:
            self.root_path = self.root_r.children[0].path
        else:
            # The model is one layer or one fusion: its file is the flat rendering of all of it.
            flat = codegen.render_component(Component(root_level, self.root.nodes, "model", "(the whole model)"), gm,
                                            self.records)
            flat.parent = None
            flat.children = self.root_r.children
            flat.stem = (naming.fusion_name(self.root.nodes, gm) if root_level == 1 else
                         naming.layer_name(type(self.model).__name__, flat.inputs))
            self.root_path = f"{LEVEL_DIRS[root_level]}/{flat.stem}.py"
            self.files.append({"path": self.root_path, "content": codegen.component_file(
                flat.stem, [flat], root_level, source, self.python, self._trace_header())})
            self.component_paths.insert(0, self.root_path)
        self._steps()
        self._composition()

    def _root_keys(self):
        state = trace.state(self.model)
        keys = {name: name for name in state}
        # A tied weight (an LM head sharing the embedding's) has one state
        # name, but each module that holds it reaches it by its own path.
        canonical = {id(t): name for name, t in state.items()}
        for path, module in self.model.named_modules(remove_duplicate=False):
            for attr, t in list(module._parameters.items()) + list(module._buffers.items()):
                if t is not None and id(t) in canonical:
                    keys.setdefault(f"{path}.{attr}" if path else attr, canonical[id(t)])
        return keys

    def _root_signature(self):
        parts = []
        for node in trace.placeholders(self.gm):
            name = node.target
            if name.startswith("*"):
                parts.append(name)
            elif node.args:
                parts.append(f"{name}={node.args[0]!r}")
            else:
                parts.append(name)
        return ", ".join(parts)

    def _refactored_file(self, parent, step_name, parent_desc, parent_keys, is_root):
        gm = self.gm
        if is_root:
            out, out_shapes = _output_leaves(gm)
            result = literal(out.args[0], parent.names)
            args = self._root_signature()
            input_exprs = [codegen.input_expr(n.meta.get("value", {})) for n in trace.placeholders(gm)]
        else:
            result = ", ".join(parent.names.of(n) for n in parent.outputs)
            args = codegen.forward_arguments(parent)
            input_exprs = [codegen.input_expr(n.meta.get("value", {})) for n in parent.inputs]
            out_shapes = codegen.leaf_shapes(parent.outputs,
                                             codegen.value_sized_places(parent.component.nodes, gm))
        body, imports, wmap = codegen.refactored_source(
            parent, gm, parent.names, parent_keys, step_name, self.python, input_exprs, out_shapes, result, args)
        children = list(dict.fromkeys(r.stem for r in parent.children))
        header = '"""\n' + "\n".join([
            f"Step: {step_name}",
            f"Parent: {parent_desc}",
            f"Children: {', '.join(children)}",
            "The parent rewritten to call only its children (children/); its forward",
            "keeps only data plumbing. Weights come from weight_map.json.",
            "",
            "Check: decompose verify-step --original original.py --refactored refactored.py "
            "--weight-map weight_map.json",
            f"Run: {self.python} refactored.py   (prints PASS or FAIL on its own inputs' shapes)",
        ]) + '\n"""\n'
        head = codegen.imports(self.python, body, ("os",))
        head += "\n\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n" + "\n".join(imports)
        return header + "\n" + head + "\n\n\n" + body, wmap

    def _steps(self):
        # The root step proves the children equal the user's own model.
        root_children_level = max(r.component.level for r in self.root_r.children)
        plural = _PLURAL[LEVEL_NAMES[root_children_level]]
        if self.root.level == KERNEL:
            plural = "kernel"
        name = f"step_1_model_to_{plural}"
        self._add_step(name, self.root_r, "root", self.user_copy, self._root_keys(), True,
                       f"{self.name} (the user's model, {self.source_path})")
        order = sorted(self.groups.items(), key=lambda kv: kv[1][0].depth)
        for stem, members in order:
            first = members[0]
            if not first.children:
                continue
            top = max(r.component.level for r in first.children)
            name = f"step_{first.depth + 1}_{stem}_to_{_PLURAL[LEVEL_NAMES[top]]}"
            self._add_step(name, first, stem, first.file_content, first.local_keys, False,
                           f"{stem} ({LEVEL_NAMES[first.component.level]}, {first.path})")

    def _add_step(self, name, parent, parent_id, original, parent_keys, is_root, parent_desc):
        folder = f"steps/{name}"
        refactored, wmap = self._refactored_file(parent, name, parent_desc, parent_keys, is_root)
        files = [{"path": f"{folder}/original.py", "content": original},
                 {"path": f"{folder}/refactored.py", "content": refactored},
                 {"path": f"{folder}/weight_map.json", "content": json_text(wmap)}]
        for stem in dict.fromkeys(r.stem for r in parent.children):
            files.append({"path": f"{folder}/children/{stem}.py",
                          "content": self.groups[stem][0].file_content})
        self.steps.append({"name": name, "parent": parent_id, "depth": parent.depth + 1, "files": files})

    def _composition(self):
        gm = self.gm
        leaves = [r for r in self.instances if r.component.level == KERNEL and not r.children]
        flat = Rendered(self.root)
        flat.names = self.root_r.names
        flat.children = leaves
        flat.inputs = self.root_r.inputs
        out, out_shapes = _output_leaves(gm)
        result = literal(out.args[0], flat.names)
        inputs = [n.meta.get("value", {}) for n in trace.placeholders(gm)]
        input_exprs = [codegen.input_expr(d) for d in inputs]
        body, imports, wmap = codegen.refactored_source(
            flat, gm, flat.names, self._root_keys(), "composition", self.python, input_exprs, out_shapes,
            result, self._root_signature(), class_name="ComposedModel", import_dir=None)
        body = body.split("\n\ndef get_inputs():")[0]
        original = f"../steps/{self.steps[0]['name']}/original.py"
        rtol = self.request.get("rtol")
        atol = self.request.get("atol")
        self.files.append({"path": "verification/composition_test.py",
                           "content": codegen.composition_source(
                               self.name, len(leaves), len(self.groups_of_level(KERNEL)), self.python,
                               imports, body, wmap, original, self.num_trials, rtol, atol, out_shapes,
                               held=not trace.held_in_containers(self.model).keys().isdisjoint(wmap),
                               sparse_inputs=codegen.holds_sparse(inputs), lazy=self.model_file.lazy,
                               written=self.trace_notes["state_written"])})

    def groups_of_level(self, level):
        return [s for s, lv in self.group_level.items() if lv == level]

    # ---- the tree and the notes ----
    def nodes(self):
        gm = self.gm
        counts = {stem: len(members) for stem, members in self.groups.items()}
        nodes = []
        root = {"id": "root", "name": type(self.model).__name__, "level": LEVEL_NAMES[self.root.level],
                "path": self.root_path, "children": list(dict.fromkeys(r.stem for r in self.root_r.children)),
                "instance_count": 1}
        if self.root.level == KERNEL:
            root["children"] = []
        root.update(_shapes(self.root_r.inputs, [n for n in _flat_outputs(gm)], self.root_r.names))
        root["parameter_shapes"] = {k: list(v.shape) for k, v in self.model.state_dict().items()}
        nodes.append(root)
        for stem, members in self.groups.items():
            if self.root.level == KERNEL:
                continue
            first = members[0]
            node = {"id": stem, "name": stem, "level": LEVEL_NAMES[self.group_level[stem]],
                    "path": first.path, "children": list(dict.fromkeys(r.stem for r in first.children)),
                    "instance_count": counts[stem],
                    "model_paths": [r.component.label for r in members]}
            node.update(_shapes(first.inputs, first.outputs, first.names))
            node["parameter_shapes"] = first.weight_shapes
            if first.settings:
                # its constructor arguments, per instance in model_paths' order
                node["instance_init_inputs"] = [[v for _, _, v in r.settings] for r in members]
            nodes.append(node)
        return nodes

    def data_flow(self):
        edges = []
        parents = [("root", self.root_r)] + [(s, m[0]) for s, m in self.groups.items() if m[0].children]
        for pid, parent in parents:
            owner = {}
            for r in parent.children:
                for n in r.component.nodes:
                    owner[n] = r.stem
            for r in parent.children:
                for a in r.inputs:
                    desc = a.meta.get("value", {})
                    if desc.get("kind") != "tensor":
                        continue
                    edge = {"parent": pid, "from": owner.get(a, pid), "to": r.stem,
                            "tensor_name": a.name, "shape": desc["shape"], "dtype": desc["dtype"]}
                    if edge not in edges:
                        edges.append(edge)
        return edges

    def notes(self, nodes):
        by_level = {}
        for n in nodes:
            by_level[n["level"]] = by_level.get(n["level"], 0) + 1
        lines = [f"# Decomposition of {self.name}", "",
                 f"Source: `{self.source_path}`  ",
                 f"Traced with torch.fx {self.trace_method} tracing on the inputs of `get_inputs()` "
                 f"(seed {capture.FORWARD_SEED}).", "",
                 "## Architecture", ""]
        lines.append(f"`{self.name}` runs {len(self.root_r.op_list)} compute ops; its tree starts at "
                     f"the {LEVEL_NAMES[self.root.level]} level. Unique files per level: "
                     + ", ".join(f"{name} {by_level[name]}" for name in LEVEL_NAMES.values()
                                 if name in by_level) + ".")
        lines += ["", "Input shapes are each instance's, where instances of one file see several "
                  "(the file's own get_inputs() uses the first).", "",
                  "| component | level | instances | input shapes | output shapes |",
                  "|---|---|---|---|---|"]
        for n in nodes:
            lines.append(f"| `{n['id']}` | {n['level']} | {n['instance_count']} | "
                         f"{self._instance_shapes(n)} | {list(n.get('output_shapes', {}).values())} |")
        taking = [(stem, members) for stem, members in self.groups.items() if members[0].settings]
        if taking:
            lines += ["", "## Numbers its files take", "",
                      "Instances built alike but for a number (a drop rate, a fill value) share a file that "
                      "takes it as a constructor argument; each parent builds its instance with its own "
                      "(`instance_init_inputs` in decomposition_tree.json).", ""]
            for stem, members in taking:
                numbers = "; ".join(f"{name}: {shown}" for name, shown in codegen.settings_values(members))
                level = LEVEL_NAMES[self.group_level[stem]]
                lines.append(f"- `{stem}` ({level}, {len(members)} instances): {numbers}")
        lines += ["", "## Data flow (model level)", ""]
        for e in self.data_flow():
            if e["parent"] == "root":
                lines.append(f"- `{e['from']}` -> `{e['to']}`: `{e['tensor_name']}` {e['shape']} {e['dtype']}")
        lines += ["", "## Decisions", ""]
        lines += [f"- {d}" for d in self.decision_list()]
        return "\n".join(lines) + "\n"

    def _instance_shapes(self, node):
        """The node's input shapes, then those of its other instances that differ."""
        members = self.groups.get(node["id"])
        seen = (codegen.instance_input_shapes(members) if members
                else [list(node.get("input_shapes", {}).values())])
        return "; ".join(str(s) for s in seen)

    def decision_list(self):
        d = []
        for r in self.instances:
            c = r.component
            if c.kind == "layer" and c.level == 2:
                d.append(f"layer `{r.stem}` from the module `{c.label}` ({c.module_class})")
            elif c.kind == "stage":
                d.append(f"layer `{r.stem}` is a stage of the flat container `{c.label.split('[')[0]}`, "
                         "cut after a pooling op")
            elif c.kind in ("layer", "stage"):
                d.append(f"module `{c.label}` ({c.module_class}) holds one {LEVEL_NAMES[c.level]}: "
                         f"it is that {LEVEL_NAMES[c.level]}, not a layer of its own")
            elif c.level == 1:
                d.append(f"fusion `{r.stem}`: a straight chain {' -> '.join(r.op_list)}")
        if self.trace_notes["unused"]:
            d.append("left out, as no output reads what they compute (a file of theirs would be "
                     "checked against nothing): " + ", ".join(f"`{u}`" for u in self.trace_notes["unused"]))
        seen = []
        for x in d:
            if x not in seen:
                seen.append(x)
        return seen

    def log(self):
        return {
            "model": self.name, "source_file": self.source_path,
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "trace": self._trace_log(),
            "root_level": LEVEL_NAMES[self.root.level],
            "decisions": self.decision_list(),
            "difficulties": ([{"kind": "memory", "message": self.trace_notes["memory_warning"]}]
                             if self.trace_notes["memory_warning"] else []),
            "deviations": [],
        }

    def _trace_header(self):
        if self.trace_method == "symbolic":
            return ()
        return ("", "Traced by running the model on its example inputs (torch.fx could not trace it",
                "symbolically): control flow is fixed to those inputs, and this file reproduces",
                "the model on inputs of the shapes above.")

    def _trace_log(self):
        unused = {"computed_but_unused": self.trace_notes["unused"]}
        if self.trace_notes["state_written"]:
            unused["written_by_forward"] = {
                "tensors": self.trace_notes["state_written"],
                "note": "the forward writes into these tensors in place, changes these numbers (a "
                        "position in a cache) or draws from these generators: every run of each step "
                        "starts from them as built, and what the refactored run leaves in the tensors "
                        "is compared with what the original's left"}
        if self.trace_notes["hooks_spelt_out"]:
            unused["hooks_spelt_out"] = {
                "modules": self.trace_notes["hooks_spelt_out"],
                "note": "a forward hook on each changes what it takes or gives, and no file carries a "
                        "hook: the hooks' ops are in the graph around the module's call, as ops of the "
                        "module that calls it, and every file builds the module without them"}
        if self.trace_method == "symbolic":
            return {"method": "symbolic", "note": "torch.fx symbolic tracing: the graph keeps "
                    "the model's own code paths; no value was fixed to the example inputs",
                    "checked": ("by running the graph against the model" if self.trace_notes["checked"]
                                else "by the root step (the graph's shapes were read on the meta "
                                     "device; had the root step failed, the model would have been "
                                     "traced again and the graph run against it)"), **unused}
        return {"method": "recorded", "symbolic_error": self.trace_notes["symbolic_error"], **unused,
                # read by a count or a REPL made again on this folder (coverage.run_checked)
                "checked_on_every_trial": self.trace_notes["checked"],
                "note": f"traced by running the model on the inputs of get_inputs() (seed {capture.FORWARD_SEED}): "
                        "control flow and Python values read from tensors are fixed to those "
                        "inputs; the generated files reproduce the model on inputs of these "
                        "shapes and values like them",
                "values_fixed_by_the_inputs": self.trace_notes["specialised"],
                "numbers_read_by_the_graph": self.trace_notes.get("followed", []),
                "functions_kept_whole": _each_with_why(
                    "function", self.trace_notes["kept_whole"],
                    "the values it reads into Python (a loop's length, a box's corners) differ between "
                    "the trials' inputs: recorded as one call, one kernel, it runs on any of them"),
                "modules_kept_whole": _each_with_why(
                    "module", self.trace_notes["modules_kept_whole"],
                    "a method of its class (named) reads values into Python that differ between the "
                    "trials' inputs, here or in another module of the class, and no module-level "
                    "function holds the reads: recorded as one call, one kernel, it runs on any of them"),
                "methods_reading_differently": _each_with_why(
                    "method", self.trace_notes["methods_reading_differently"],
                    "the values it reads into Python differ between the trials' inputs, in the model's "
                    "own forward (which cannot be kept whole: nothing would be left to decompose) or in "
                    "a module whose call takes or gives what no file can: the graph holds the first "
                    "trial's, and a loop or branch here that follows them fails the other trials; moved "
                    "into a submodule, it would be kept whole"),
                "leaf_modules_opened": _each_with_why(
                    "path", self.trace_notes["opened"],
                    "its call takes or gives an object that holds tensors (not a tensor, tuple, list, "
                    "dict or dataclass), which no kernel file can take or give: its ops are recorded "
                    "one by one")}

    def reply(self):
        nodes = self.nodes()
        self.files.append({"path": "decomposition_analysis.md", "content": self.notes(nodes)})
        self.files.append({"path": "decomposition_log.json", "content": json_text(self.log())})
        reply = {"ok": True, "model_name": self.name, "source_file": self.source_path,
                "source_level": self.request.get("source_level") or "custom",
                "trace_method": self.trace_method, "trace_checked": self.trace_notes["checked"],
                "methods_reading_differently": self.trace_notes["methods_reading_differently"],
                "root": "root", "nodes": nodes,
                "data_flow": self.data_flow(), "files": self.files, "steps": self.steps,
                "component_files": self.component_paths,
                "composition_test": "verification/composition_test.py"}
        if self.preparation:
            reply["preparation"] = {k: v for k, v in self.preparation.items()
                                    if k in ("status", "wrapper", "modules", "inputs")}
        return reply


def _flat_outputs(gm):
    out = next(n for n in gm.graph.nodes if n.op == "output")
    found = []
    fx.node.map_aggregate(out.args[0], found.append)
    return [a for a in found if isinstance(a, fx.Node)]


def _shapes(inputs, outputs, names):
    d = {"input_shapes": {}, "input_dtypes": {}, "output_shapes": {}, "output_dtypes": {}}
    for kind, nodes in (("input", inputs), ("output", outputs)):
        for n in nodes:
            for i, t in enumerate(trace.tensor_leaves(n.meta.get("value", {}))):
                key = names.of(n) if i == 0 else f"{names.of(n)}[{i}]"
                d[f"{kind}_shapes"][key] = t["shape"]
                d[f"{kind}_dtypes"][key] = t["dtype"]
    return d


def make_plan(request):
    forget_last_run()
    capture.forget_first_recordings(request["model_path"])
    verify.forget_kept_outputs()
    # What the last run left in reference cycles (its modules, the graphs its
    # coverage counted) goes before this model is built, not beside it.
    gc.collect()
    plan = Plan(request)
    try:
        plan.load()
        t = time.perf_counter()
        plan.render()
        plan.write_files()
        reply = plan.reply()
    finally:
        plan.clean_up()
    for f in reply["files"] + [f for step in reply["steps"] for f in step["files"]]:
        if f["path"].endswith(".py") and f["path"] not in plan.with_imports:
            f["content"] = codegen.with_module_imports(f["content"])
    # The steps take the model as built: not one whose forward left state
    # behind, which a build of the file has not (they build it then).
    if reply["steps"] and verify.state_signature(plan.model) == plan.built_state:
        root_original = next(f for f in reply["steps"][0]["files"] if f["path"].endswith("/original.py"))
        verify.keep_planned(root_original["content"], capture.FORWARD_SEED, plan.model,
                            plan.inputs, plan.expected)
    plan.expected = plan.inputs = None
    plan.timings["codegen"] = time.perf_counter() - t
    reply["timings"] = plan.timings
    return reply
