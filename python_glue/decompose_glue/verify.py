"""The parts of a step gate: comparing outputs, weight maps and their
transfer, and running a component's or the composition's own test.

verify_tree.py runs the gate itself. Its verification_result.json has the
fields of the reference workflow's verify_step.py, so agents read ours as
they read theirs. Inputs are cloned before each run, so that an in-place op
in one model cannot change what the other sees.
"""

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import random
import sys

import torch

from . import meta
from .trace import state
from .loader import BadInput, _one_line, load_model_file

FIRST_SEED = 42
# The trials a gate runs where none are asked for (--num-trials).
NUM_TRIALS = 3


def trial_seeds(num_trials):
    """The seeds of a gate's trials, the first trial's first."""
    return [FIRST_SEED + i for i in range(num_trials)]


def seed_forward():
    """Seed a forward pass, of the model or of a part of its tree, alike in
    every trial: torch's, Python's and numpy's global generators from
    FIRST_SEED, the seed the model is traced with. A trial's own seed draws
    its inputs. What a model draws and reads into Python (HuBERT's
    pretraining masks: how many spans, int(... + torch.rand(1))) a
    recording holds as the values they were, so the runs that check it draw
    the same again, on each trial's new inputs; torch's random ops in the
    files run from that seed on both sides."""
    torch.manual_seed(FIRST_SEED)
    random.seed(FIRST_SEED)
    numpy = sys.modules.get("numpy")  # a model that draws from numpy has imported it
    if numpy is not None:
        numpy.random.seed(FIRST_SEED)


# Per file, what the root step's last trial leaves for the composition test,
# which runs on that trial's seed: the original model the step ran, the
# trial's inputs (LentInputs) and the model's output on them. The test would
# otherwise build the model again (a draw of every weight: 0.5 s for VGG16),
# draw those inputs again (GBs of random numbers for a level-1 file) and run
# the model again. Taken once.
_KEPT_FOR_COMPOSITION = {}

# The plan's model, with its eager run on the first trial's inputs and those
# inputs: the root step's original and that trial's reference, so that the
# model is built once in a run and does not run again for that trial (VGG16's
# weights alone take 0.7 of a forward to draw). Kept by the sha1 of the root
# original's text, the user's file the plan built the model from, and taken
# once.
_PLANNED = {}


def forget_kept_outputs():
    """A new run starts: what the last run kept for its steps and its
    composition test (a run that failed leaves some of it unused) goes now,
    before the next model is built (a job file runs many models in one
    interpreter)."""
    _PLANNED.clear()
    _KEPT_FOR_COMPOSITION.clear()


def keep_for_composition(path, model, seed, inputs, output):
    """Keep `model` (built from `path` with seed 0, as the composition test
    builds it), the LentInputs of `seed` and `output`, the model's output on
    them (None where the trial did not make one), for the composition test."""
    _KEPT_FOR_COMPOSITION.clear()  # one run's at a time
    _KEPT_FOR_COMPOSITION[os.path.realpath(path)] = (model, seed, inputs, output)


def state_signature(model):
    """Each weight, buffer and tensor attribute by name, object and version
    counter: a forward that made, replaced or changed one in place (a cache
    filled on the first call) changes it. Reads no tensor's data."""
    return tuple((name, id(t), t._version) for name, t in state(model).items())


def keep_planned(text, seed, model, inputs, output):
    """`model`, built from `text` with seed 0 and run by the plan on `inputs`
    (LentInputs) for `seed`, with that run's `output`: the trial of that seed
    takes the inputs too rather than draw them again."""
    _PLANNED.clear()  # one plan's at a time: a job's models do not pile up
    _PLANNED[hashlib.sha1(text.encode("utf-8")).hexdigest()] = (model, seed, inputs, output)


def file_sha1(path):
    """The sha1 of a file's bytes: the text a kept model, output or
    recording was made from."""
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def take_planned(text_sha1):
    """(model, seed, LentInputs, output) the plan kept for the file whose
    text has this sha1, else None (then the caller builds and runs the model)."""
    return _PLANNED.pop(text_sha1, None)


def tolerance(outputs, rtol, atol):
    low = any(t.dtype in (torch.float16, torch.bfloat16) for t in outputs)
    default = (1e-3, 1e-3) if low else (1e-5, 1e-6)
    return (default[0] if rtol is None else rtol, default[1] if atol is None else atol)


def tensors(value):
    """Every tensor in a nested output, in order (tuples, lists, dicts,
    dataclasses: an output object whose tensors went unread would compare
    equal to anything)."""
    return _leaves(value, lambda v: isinstance(v, torch.Tensor))


def numbers(value):
    """Every Python number in a nested output, in order, as tensors() walks
    it: a kernel that gives `int(x.max())`, a model that returns
    `loss.item()` beside its logits."""
    return _leaves(value, lambda v: isinstance(v, (bool, int, float)))


def _leaves(value, wanted):
    if wanted(value):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v, wanted)]
    return []


def nbytes(value):
    """Bytes held by the tensors in a nested value."""
    return sum(t.numel() * t.element_size() for t in tensors(value))


# Elements compared at a time: a difference of two multi-GB outputs is taken
# piece by piece, so checking costs a few hundred MB, not three more outputs.
_CHUNK = 1 << 24


def dense(t):
    return t.to_dense() if t.layout == torch.sparse_coo else t


def close(e, g, rtol, atol):
    """(max |e - g|, allclose) for two floating tensors of one shape, NaN
    where both are NaN counting as equal. A half-precision difference is
    taken in float64, where it is exact. Sparse tensors are compared by
    their dense values: two stored orders of one matrix are equal."""
    low = e.dtype in (torch.float16, torch.bfloat16)
    e, g = dense(e), dense(g)
    flat_e, flat_g = e.reshape(-1), g.reshape(-1)
    max_diff, match = 0.0, True
    for start in range(0, flat_e.numel(), _CHUNK):
        a, b = flat_e[start:start + _CHUNK], flat_g[start:start + _CHUNK]
        if torch.equal(a, b):
            continue  # one pass, no temporaries: most pieces are bit-equal
        if low:
            a, b = a.double(), b.double()
        if not torch.equal(a.isnan(), b.isnan()):
            return math.inf, False
        diff = (a - b).abs()
        diff.masked_fill_(diff.isnan(), 0)  # both NaN, or one infinity twice
        max_diff = max(max_diff, diff.max().item())
        # torch.allclose's test, |a - b| <= atol + rtol * |b|, on the difference
        # already taken: allclose makes five temporaries of its own (a third
        # of a level-1 run's time). An infinite difference is never close;
        # NaN against NaN has difference 0 and bound 0.
        bound = b.abs().mul_(rtol).add_(atol).masked_fill_(b.isnan(), 0)
        match = match and max_diff < math.inf and bool(diff.le(bound).all())
    return max_diff, match


def versions(value):
    """The version counters of the tensors in a value: a counter moves when
    its tensor is changed in place."""
    return [t._version for t in tensors(value)]


def storage_address(t):
    """Where a tensor's memory starts: its views' and its own alike; a
    sparse one's, where its values' does."""
    if t.layout == torch.sparse_coo:
        t = t._values()
    return (t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()).data_ptr()


def own(output, inputs):
    """`output`, copied only where it shares memory with an input: a
    reference that is a view of the inputs must not change when a later run
    changes them."""
    held = {storage_address(t) for t in tensors(inputs) if t.numel()}
    if any(t.numel() and storage_address(t) in held for t in tensors(output)):
        return clone_inputs(output)
    return output


class LentInputs:
    """A model file's inputs for one seed, lent to run after run without a
    copy: multi-GB inputs (KernelBench level 1) are not doubled. A run that
    changed one in place (its version counter moved) makes the next `lend`
    draw them again from the seed."""

    def __init__(self, model_file, seed):
        self.model_file, self.seed = model_file, seed
        self.args, self.kwargs = model_file.inputs(seed=seed)
        self._versions = versions((self.args, self.kwargs))

    def lend(self):
        if versions((self.args, self.kwargs)) != self._versions:
            self.args, self.kwargs = self.model_file.inputs(seed=self.seed)
            self._versions = versions((self.args, self.kwargs))
        return self.args, self.kwargs


def clone_inputs(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (tuple, list)):
        return type(value)(clone_inputs(v) for v in value)
    if isinstance(value, dict):
        return {k: clone_inputs(v) for k, v in value.items()}
    return value


def compare(expected, got, rtol, atol):
    """(pass, max_diff, details) for two model outputs."""
    e_list, g_list = tensors(expected), tensors(got)
    if len(e_list) != len(g_list):
        return False, math.inf, [{"error": f"output count: original {len(e_list)}, refactored {len(g_list)}"}]
    ok, worst, details = True, 0.0, []
    for i, (e, g) in enumerate(zip(e_list, g_list)):
        if e.shape != g.shape or e.dtype != g.dtype or e.layout != g.layout:
            ok = False
            details.append({"output_idx": i, "shape_match": e.shape == g.shape,
                            "original_shape": list(e.shape), "refactored_shape": list(g.shape),
                            "original_dtype": str(e.dtype), "refactored_dtype": str(g.dtype)})
            if e.layout != g.layout:
                details[-1].update(original_layout=str(e.layout), refactored_layout=str(g.layout))
            continue
        if e.is_floating_point() or e.is_complex():
            # close passes over bit-equal pieces at once: most steps only
            # regroup the same ops
            max_diff, match = close(e, g, rtol, atol)
        else:
            match = torch.equal(dense(e), dense(g))
            max_diff = 0.0 if match else math.inf
        ok = ok and match
        worst = max(worst, max_diff)
        details.append({"output_idx": i, "shape_match": True, "shape": list(e.shape),
                        "dtype": str(e.dtype), "max_diff": max_diff, "matches": match})
    e_numbers, g_numbers = numbers(expected), numbers(got)
    if len(e_numbers) != len(g_numbers):
        details.append({"error": f"Python numbers in the output: original {len(e_numbers)}, "
                                 f"refactored {len(g_numbers)}"})
        return False, math.inf, details
    for i, (e, g) in enumerate(zip(e_numbers, g_numbers)):
        if e == g or (isinstance(e, float) and isinstance(g, float) and math.isnan(e) and math.isnan(g)):
            diff, match = 0.0, type(e) is type(g)
        elif type(e) is not type(g) or not isinstance(e, float) or not math.isfinite(e - g):
            diff, match = math.inf, False
        else:
            diff = abs(e - g)
            match = diff <= atol + rtol * abs(e)
        ok = ok and match
        worst = max(worst, diff)
        details.append({"number_idx": i, "original": e, "refactored": g, "matches": match})
    return ok, worst, details


def auto_weight_map(original, refactored):
    """Without a map: same names first, then same shape and dtype in order."""
    src, dst = state(original), state(refactored)
    mapping, free = {}, dict(dst)
    for k in src:
        if k in free:
            mapping[k] = k
            del free[k]
    for k, v in src.items():
        if k in mapping:
            continue
        for d, t in list(free.items()):
            if t.shape == v.shape and t.dtype == v.dtype:
                mapping[k] = d
                del free[d]
                break
    return mapping


def plan_transfer(src, dst, mapping):
    """Where each weight goes: ([(source key, destination name)], unmapped
    source keys, destinations left unset, errors), from {name: tensor} states."""
    pairs, filled, errors = [], set(), []
    for key, destinations in mapping.items():
        if destinations is None:
            continue  # marked unused by forward: nothing moves, whether or not the original has it
        if key not in src:
            errors.append(f"weight map names {key!r}, which the original does not have")
            continue
        for d in [destinations] if isinstance(destinations, str) else destinations:
            if d not in dst:
                errors.append(f"weight map names {d!r}, which the refactored model does not have")
            elif dst[d].shape != src[key].shape:
                errors.append(f"{key} {list(src[key].shape)} -> {d} {list(dst[d].shape)}: shapes differ")
            else:
                pairs.append((key, d))
                filled.add(d)
    unmapped = [k for k in src if k not in mapping]
    left = [k for k in dst if k not in filled]
    return pairs, unmapped, left, errors


def read_weight_map(path):
    """The explicit map, or None when there is no file."""
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def transfer_report(mapping, explicit, unmapped, left, errors):
    return {
        "status": "PASS" if not unmapped and not left and not errors else "FAIL",
        "source": "weight_map.json" if explicit else "automatic (names, then shapes)",
        "mapped_count": sum(1 for v in mapping.values() if v is not None),
        "unmapped_original": unmapped, "unmapped_refactored": left,
        "unused_by_forward": [k for k, v in mapping.items() if v is None],
        "errors": errors, "weight_map": mapping,
    }


def _load(path, role, class_names):
    try:
        return load_model_file(path, class_names=class_names, require_init=False)
    except BadInput as e:
        raise BadInput(path, f"cannot load the {role}: {e.message}") from None


def _self_test(module):
    """(passed, what it printed) of a component module's run_tests()."""
    printed = io.StringIO()
    # The file's own PASS/FAIL line is for a person running it; here it is
    # returned, and the C side decides what to show.
    with contextlib.redirect_stdout(printed):
        ok = bool(module.run_tests())
    return ok, printed.getvalue().strip()


def inputs_on_meta(draw):
    """What `draw()` returns with torch's factories on the meta device, or
    None where that cannot stand for a real draw: it raised (it read a
    value: .item(), a mask) or left a tensor off meta (numpy)."""
    try:
        with meta.FactoriesOnMeta():
            inputs = draw()
    except Exception:
        return None
    return None if any(not t.is_meta for t in tensors(inputs)) else inputs


def _self_test_on_meta(module):
    """(passed, printed) of run_tests() on the meta device, or None where a
    meta run cannot stand for a real one: the file's inputs cannot be drawn
    on meta or hold integers (indices: an index out of range raises only
    for real), the run raised (an op with no meta kernel, a value read) or
    made a tensor off meta. Where it raised, it is tried once more with the
    Model built for real and then moved to meta (meta.built_for_real): its
    __init__ may read a value. A boolean mask may go to meta: where its
    values decide a shape (x[mask], nonzero) the op has no meta kernel and
    raises; elsewhere (masked_fill, where) they decide no shape."""
    inputs = inputs_on_meta(module.get_inputs)
    if inputs is None or any(not (t.is_floating_point() or t.dtype == torch.bool) for t in tensors(inputs)):
        return None
    del inputs
    for build_for_real in (False, True):
        try:
            with meta.FactoriesOnMeta() as mode, \
                    meta.built_for_real(module.Model, mode) if build_for_real else contextlib.nullcontext():
                ok, printed = _self_test(module)
        except Exception:
            continue
        return None if mode.made_real or not ok else (ok, printed)
    return None


def run_component(path, on_meta=False):
    """Run a component file's own run_tests() in this interpreter.

    The test builds the file's Model with its own weights, draws its inputs
    and checks the output's shapes. With `on_meta` it runs on the meta
    device first (meta.py), in no time: a whole run's steps have already run
    this Model for real, at these shapes, on the model's own activations,
    so what the self-test adds is that the file stands alone, and a meta run
    shows that. Where the meta run cannot stand for a real one, or fails, the
    test runs for real and its result is the one reported. `device` says
    which run it was.
    """
    try:
        module = _load(path, "component", ("Model",)).module
    except BadInput as e:
        return {"status": "FAIL", "message": e.message, "device": "cpu"}
    if not callable(getattr(module, "run_tests", None)):
        return {"status": "FAIL", "message": "no run_tests() function", "device": "cpu"}
    if on_meta and callable(getattr(module, "get_inputs", None)):
        got = _self_test_on_meta(module)
        if got is not None:
            return {"status": "PASS", "message": got[1], "device": "meta"}
    try:
        ok, printed = _self_test(module)
    except Exception as e:
        return {"status": "FAIL", "message": f"run_tests() raised {_one_line(e)}", "device": "cpu"}
    return {"status": "PASS" if ok else "FAIL", "message": printed, "device": "cpu"}


def run_composition(path):
    """Run a composition_test.py's run_composition() in this interpreter."""
    from .loader import import_file
    try:
        module = import_file(path)
        original = os.path.realpath(getattr(module, "ORIGINAL", ""))
        # taken out, not copied: each is freed once its trial is done
        model, seed, lent, output = _KEPT_FOR_COMPOSITION.pop(original, (None, None, None, None))
        inputs = {seed: lent.lend()} if lent is not None else {}
        reference = {seed: output} if output is not None else {}
        del lent, output
        result = module.run_composition(reference, model, inputs)
    except BadInput as e:
        return {"status": "FAIL", "message": e.message, "max_diff": math.inf, "trials": []}
    except Exception as e:
        return {"status": "FAIL", "message": _one_line(e),
                "max_diff": math.inf, "trials": []}
    return result
