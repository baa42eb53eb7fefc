"""Every step of a decomposition verified in one pass of the model per trial.

A step's original is a component, and that component is a child inside its
parent's refactored model. So the reference for every step below the root is
already computed while its parent's refactored model runs: each child there
is wrapped, and when it is called its own step's refactored model runs on
the same inputs, with the child's own weights (shared, never copied), and
the two outputs are compared on the spot. A child's inputs are copied before
it runs only while it may write into them: once a call shows that both its
models leave them as they were, the step takes its parent's own tensors, and
every later call checks by their version counters that neither model wrote
into them. Per trial the model runs once for the reference and each level's
refactored models run once: T x (L + 1) forward passes for T trials over L
levels, where checking each step on its own costs 2 x T x L plus a model
build per step.

A forward that writes into its own buffers (a running average kept in eval,
a static cache) or counts in a number attribute (its position in that cache)
is run from their values as built in every trial, and the refactored model
from the values the original started from: a component's, within a trial,
from where its parent's run had left them. What the refactored run leaves
in those buffers is compared with what the original's left (written.py).

The inputs of a step below the root are the activations its component sees
inside the model on the model's inputs for the trial's seed, at the model's
own shapes. The first trial's run of each refactored model is the
anti-cheat's watched run: watching costs no run of its own. When the
pipeline planned this decomposition in the same interpreter, the model it
built and traced is the root step's original, and its eager run on the first
trial's inputs is that trial's reference (verify.keep_planned): the model is
neither built again nor run again for it. The gate order does not change:
the caller reads the results in step order and stops at the first that fails.
"""

import contextlib
import datetime
import inspect
import math
import sys

import torch

from . import anticheat, fastpath, trace, written
from .loader import BadInput, _one_line, recording_init_arguments, weights_left_uninitialised
from .trace import state
from .verify import (LentInputs, _load, auto_weight_map, clone_inputs,
                     compare, file_sha1, keep_for_composition, NUM_TRIALS, own, plan_transfer, read_weight_map,
                     seed_forward, take_planned, tensors, tolerance, transfer_report, trial_seeds, versions)


def _children_files():
    """{Model class: file} for the children/ modules imported last."""
    found = {}
    for name, module in list(sys.modules.items()):
        if (name == "children" or name.startswith("children.")) and getattr(module, "__file__", None):
            cls = getattr(module, "Model", None)
            if isinstance(cls, type):
                found[cls] = module.__file__
    return found


def _put(root, name, tensor):
    """Make `tensor` the refactored model's weight `name`, without a copy.
    Through setattr, so that a module caching its weights (an RNN's flat
    weight list) sees the new ones."""
    path, _, attr = name.rpartition(".")
    module = root.get_submodule(path) if path else root
    if attr in module._parameters:
        if not isinstance(tensor, torch.nn.Parameter):
            tensor = torch.nn.Parameter(tensor, requires_grad=False)
        setattr(module, attr, tensor)
    elif attr in module._buffers:
        setattr(module, attr, tensor)
    else:
        module.__dict__[attr] = tensor


def _takes_arguments(cls):
    """Whether a child file's class is built with arguments: the numbers its
    modules are built with (a drop rate), which each instance has its own."""
    init = cls.__dict__.get("__init__")
    if init is None:
        return False
    try:
        return len(inspect.signature(init).parameters) > 1
    except (TypeError, ValueError):
        return False


def _bound_arguments(recorded):
    """{id(module): {parameter: value}}: each recorded call to a module's
    constructor (loader.recording_init_arguments) bound to its parameters."""
    bound = {}
    for key, (args, kwargs, module) in recorded.items():
        try:
            arguments = inspect.signature(type(module).__init__).bind(module, *args, **kwargs).arguments
        except (TypeError, ValueError):
            continue  # built through another class's __init__: its own numbers are not known
        bound[key] = dict(list(arguments.items())[1:])
    return bound


def _key(arguments):
    """A set of constructor arguments as a dict key (by text: a value may be a list)."""
    return tuple(sorted((name, repr(value)) for name, value in arguments.items()))


class _Pass:
    """What the wrapped children need to know about the run they are in."""

    def __init__(self, rtol, atol):
        self.active = False
        self.trial = 0
        self.rtol, self.atol = rtol, atol
        self.within = ()  # ids of the instances whose steps' refactored models are running, outermost first


class _Step:
    def __init__(self, index, request, recorded):
        self.index = index
        self.original_path = request["original"]
        self.refactored_path = request["refactored"]
        self.weight_map_path = request.get("weight_map")
        self.error = None
        self.refactored = None
        self.mapping = None
        self.pairs = None
        self.weights = None          # the weight_transfer report
        self.anticheat = None
        self.trials = {}             # trial -> {"max_diff", "pass", "details", "error", "instances"}
        self.planned_references = set()  # trials whose reference came from the plan
        self.rtol_used = self.atol_used = None
        self.recorded = recorded     # its files come from a recorded graph (verify_steps)
        self.copies_inputs = True    # until a call shows that its original leaves them as they were
        self.refactored_file = None
        self.taking = []             # its children's classes that are built with arguments
        self.arguments = None        # what the refactored model in use was built with (_key)
        self.builds = {}             # _key(arguments) -> a refactored model built with them
        self.built_with = {}         # id(child of a build) -> {parameter: value} it was built with
        self.link = None             # wraps a build's children for their own steps (verify_steps)
        self.restores = []           # put each build's numbers and tensor attributes back as built
        self.writes_state = None     # whether its original writes into its buffers; known after a call
        self.counts = None           # whether a run of a build changes its numbers; known after a call
        self.as_built = {}           # id(build) -> its numbers as built (trace.numbers)
        self.left_by = {}            # (instances, id(build)) -> the numbers its run for them left, this trial

    def load(self):
        """Build the refactored model; returns {child class: file} it imports."""
        try:
            self.refactored_file = _load(self.refactored_path, "refactored", ("RefactoredModel", "Model"))
            children = _children_files()
            self.taking = [c for c in children if _takes_arguments(c)]
            # every weight is bound from the original's
            with weights_left_uninitialised(), recording_init_arguments({}, self.taking) as built:
                self.refactored = self.refactored_file.build(seed=1)
            self.original_sha = file_sha1(self.original_path)
        except BadInput as e:
            self.error = f"{e.path}: {e.message}"
            return {}
        except OSError as e:
            self.error = f"{self.original_path}: cannot read: {e}"
            return {}
        try:
            init = inspect.signature(self.refactored_file.cls.__init__)
            given = init.bind(None, *self.refactored_file.get_init_inputs()).arguments
            self.arguments = _key(dict(list(given.items())[1:]))
        except (TypeError, ValueError):
            self.arguments = None  # unknown: an instance's arguments build a model of their own
        self.builds[self.arguments] = self.refactored
        self.restores = [trace.snapshot(self.refactored)]
        self.as_built[id(self.refactored)] = trace.numbers(self.refactored)
        self.built_with = _bound_arguments(built)
        return children

    def use(self, arguments):
        """Make the refactored model the one built with `arguments`, the
        numbers the instance just compared was built with: built once for
        each set of them, its children wrapped for their own steps."""
        key = _key(arguments)
        if key == self.arguments:
            return
        model = self.builds.get(key)
        if model is None:
            with weights_left_uninitialised(), recording_init_arguments({}, self.taking) as built:
                model = self.refactored_file.cls(**arguments).eval()
            self.built_with.update(_bound_arguments(built))
            self.builds[key] = model
            self.restores.append(trace.snapshot(model))
            self.as_built[id(model)] = trace.numbers(model)
            self.link(self, model)
        self.refactored, self.arguments = model, key

    def prepare(self, original):
        """Weight map and its report, from the first instance of the original;
        the refactored model's own random weights are dropped after."""
        explicit = read_weight_map(self.weight_map_path)
        self.mapping = explicit if explicit is not None else auto_weight_map(original, self.refactored)
        src, dst = state(original), state(self.refactored)
        self.pairs, unmapped, left, errors = plan_transfer(src, dst, self.mapping)
        self.weights = transfer_report(self.mapping, explicit is not None, unmapped, left, errors)
        for _, d in self.pairs:
            _put(self.refactored, d, torch.empty(0, dtype=dst[d].dtype))

    def bind(self, original):
        src = state(original)
        for key, d in self.pairs:
            _put(self.refactored, d, src[key])

    def record(self, trial, ok, max_diff, details=None, error=None):
        entry = self.trials.setdefault(trial, {"max_diff": 0.0, "pass": True, "details": None,
                                              "error": None, "instances": 0})
        entry["instances"] += 1
        # The details shown are the worst instance's, a failing one first.
        worse = (entry["pass"] and not ok) or (ok == entry["pass"] and max_diff >= entry["max_diff"])
        if details is not None and (entry["details"] is None or worse):
            entry["details"] = details
        entry["pass"] = entry["pass"] and ok
        entry["max_diff"] = max(entry["max_diff"], max_diff)
        if error and not entry["error"]:
            entry["error"] = error

    def check(self, instance, inputs, expected, rng, run, unchanged=None, arguments=None):
        """Run this step's refactored model where its original just ran.
        `unchanged`: the versions of `inputs` where the original left its
        own as they were, which the refactored model must do too.
        `arguments`: what the instance was built with, where it takes any."""
        if self.error:
            return
        if arguments:
            try:
                self.use(arguments)
            except Exception as e:
                self.record(run.trial, False, math.inf, error=f"building the refactored model with "
                            f"{arguments}: {_one_line(e)}")
                return
        if self.mapping is None:
            self.prepare(instance)
        self.bind(instance)
        args, kwargs = inputs
        torch.set_rng_state(rng)
        within = run.within + (id(instance),)
        try:
            with self._counting_for(within):
                run.within = within
                try:
                    got = self.run_refactored(args, kwargs, watch=run.trial == 0 and self.anticheat is None)
                finally:
                    run.within = within[:-1]
        except Exception as e:
            self.record(run.trial, False, math.inf, error=_one_line(e))
            return
        if unchanged is not None and versions(inputs) != unchanged:
            self.copies_inputs = True  # its parent's tensors are not its to write into
            self.record(run.trial, False, math.inf, error=(
                "the refactored model changes its inputs in place, and the original leaves them as "
                "they were: the parent would read them changed"))
            return
        self.compare(run.trial, expected, got, run.rtol, run.atol)

    @contextlib.contextmanager
    def _counting_for(self, within):
        """The build runs from the numbers it left for these instances (the
        chain of components it runs inside, this one last) this trial, or
        from them as built. One build serves every instance of a component,
        and each original instance counts its own calls (a kernel that
        anneals by its count, in each of three blocks): run after run, one
        count would run ahead of every instance's but the first's. Known
        after one call not to change its numbers, a build is left as it is."""
        if self.counts is False:
            yield
            return
        key = (within, id(self.refactored))
        start = self.left_by.get(key) or self.as_built[id(self.refactored)]
        trace.put_numbers(start)
        yield
        now = trace.numbers(self.refactored)
        if self.counts is None:
            self.counts = trace.numbers_differ(start, now)
        self.left_by[key] = now

    def compare(self, trial, expected, got, rtol, atol):
        self.rtol_used, self.atol_used = tolerance(tensors(expected), rtol, atol)
        ok, max_diff, details = compare(expected, got, self.rtol_used, self.atol_used)
        self.record(trial, ok, max_diff, details)

    def compare_state(self, trial, left, kept, rtol, atol):
        """What the refactored run left in the original's buffers against
        what the original's run `left` there ({name: copy}); `kept`: their
        values from before both runs (written.Values). A buffer only one of
        the two wrote into is compared with its value from before."""
        now = kept.changed()
        tensors, before = kept.tensors(), {name: copy for name, _, copy, _ in kept.kept}
        for name in sorted(set(left) | set(now)):
            expected, got = left.get(name, before[name]), tensors[name]
            rtol_used, atol_used = tolerance([expected], rtol, atol)
            ok, max_diff, _ = compare(expected, got, rtol_used, atol_used)
            if not ok:
                self.record(trial, False, max_diff, error=(
                    f"the refactored model leaves {name}, which the forward writes into, other than the "
                    f"original does (max diff {max_diff:.3g})"))
                return

    def run_refactored(self, args, kwargs, watch):
        """The refactored model's output; the first run is the anti-cheat's
        watched one (its own trial, not a run more)."""
        if not watch:
            return self.refactored(*args, **kwargs)
        got, runtime = anticheat.watched_forward(self.refactored, args, kwargs)
        with _unwrapped(self.refactored):
            static, owned = anticheat.structure_violations(str(self.refactored_path), self.refactored)
        self.anticheat = anticheat.report(static, owned, runtime)
        self.anticheat["watched_run"] = "the first trial's run of the refactored model"
        if got is None:
            raise RuntimeError(runtime[0]["reason"])
        return got

    def result(self, seeds, num_trials, inputs_note, ended_at=None):
        """`ended_at`: the trial at which the pass stopped (stop_when_root_fails);
        a trial not run after it is marked so, and carries no error of its own."""
        result = {
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "original_file": str(self.original_path), "refactored_file": str(self.refactored_path),
            "status": "UNKNOWN", "inputs": inputs_note,
            "anticheat": self.anticheat or {"status": "NOT_RUN", "violations": []},
            "weight_transfer": self.weights or {"status": "NOT_RUN"},
            "numerical_comparison": {"status": "NOT_RUN"},
        }
        if self.error:
            result.update(status="ERROR", error=self.error)
            return result
        if not self.trials:
            result.update(status="ERROR", error=(
                f"{self.original_path}: this component never ran inside its parent's refactored "
                "model on the model's inputs, so nothing compared it"))
            return result
        trials, worst = [], 0.0
        for i in range(num_trials):
            entry = self.trials.get(i)
            if entry is None and ended_at is not None and i != ended_at:
                trials.append({"trial": i, "seed": seeds[i], "pass": False, "max_diff": math.inf,
                               "not_run": f"the pass ended at trial {ended_at}, where the root step "
                                          "failed on a graph that is traced again"})
                continue
            if entry is None:
                trials.append({"trial": i, "seed": seeds[i], "pass": False, "max_diff": math.inf,
                               "error": "the component did not run in this trial"})
                continue
            trial = {"trial": i, "seed": seeds[i], "max_diff": entry["max_diff"], "pass": entry["pass"],
                     "instances_compared": entry["instances"]}
            if entry["error"]:
                trial["error"] = entry["error"]
                if self.recorded and i > 0 and self.trials.get(0, {}).get("pass"):
                    trial["error"] += (" (the first trial passed: the recorded graph holds values and "
                                       "control flow fixed to that trial's inputs, listed in "
                                       "decomposition_log.json at trace.values_fixed_by_the_inputs, "
                                       "and these inputs take another path)")
            if entry["details"] is not None:
                trial["output_details"] = entry["details"]
            if i in self.planned_references:
                trial["reference"] = ("the original's eager run made while tracing, on this trial's "
                                      "inputs and seed, by the same model instance")
            trials.append(trial)
            worst = max(worst, entry["max_diff"])
        numbers_ok = all(t["pass"] for t in trials)
        result["numerical_comparison"] = {
            "status": "PASS" if numbers_ok else "FAIL", "rtol": self.rtol_used, "atol": self.atol_used,
            "num_trials": num_trials, "seeds": seeds, "max_diff_across_trials": worst, "trials": trials,
        }
        checks_ok = (self.anticheat or {}).get("status") == "PASS"
        weights_ok = (self.weights or {}).get("status") == "PASS"
        ok = checks_ok and weights_ok and numbers_ok
        result["status"] = "PASS" if ok else "FAIL"
        if not ok:
            # A trial that raised before the watch could run is a numerical failure.
            watched = self.anticheat is not None
            result["fail_reason"] = ("anticheat_violation" if watched and not checks_ok else
                                     "weight_transfer" if not weights_ok else "numerical_mismatch")
        return result


def _wrap(instance, step, run, arguments=None):
    """Make a child check its own step each time its parent calls it;
    `arguments`: what the child was built with, where it takes any."""
    forward = instance.forward

    def checked(*args, **kwargs):
        if not run.active:
            return forward(*args, **kwargs)
        given = (list(args), kwargs)
        # The refactored model must take the inputs the original took. They
        # are copied before the original runs only while it may change them
        # in place: the first call copies them and shows whether either does.
        copied = step.copies_inputs
        inputs = clone_inputs(given) if copied else given
        before = versions(given)
        # Its buffers' values, while it is not known that it leaves them as
        # they were: the refactored model starts from them too.
        kept = written.Values(instance) if step.writes_state is not False else None
        rng = torch.get_rng_state()
        out = forward(*args, **kwargs)
        after = torch.get_rng_state()
        left = written.copies(kept.changed()) if kept is not None else {}
        if step.writes_state is None:
            step.writes_state = bool(left)
        if left:
            kept.restore()
        if versions(given) == before:
            step.copies_inputs = False
            step.check(instance, inputs, out, rng, run, unchanged=versions(inputs), arguments=arguments)
        elif copied:
            step.check(instance, inputs, out, rng, run, arguments=arguments)
        else:
            step.copies_inputs = True
            step.record(run.trial, False, math.inf, error=(
                "the original changed its inputs in place on this call and not on its first, so the "
                "inputs it took were not kept to run the refactored model on"))
        if left:
            step.compare_state(run.trial, left, kept, run.rtol, run.atol)
            kept.restore()
            kept.put(left)
        torch.set_rng_state(after)  # the parent goes on as if only its child ran
        return out

    checked.checks_step = True
    instance.forward = checked


@contextlib.contextmanager
def _unwrapped(model):
    """The model as its file builds it, for the anti-cheat (which rejects a
    child whose forward is replaced on the instance)."""
    taken = []
    for module in model.modules():
        wrapper = module.__dict__.get("forward")
        if getattr(wrapper, "checks_step", False):
            taken.append((module, wrapper))
            del module.__dict__["forward"]
    try:
        yield model
    finally:
        for module, wrapper in taken:
            module.__dict__["forward"] = wrapper


def _link(steps, children, run):
    """Wrap every child, in every refactored model, whose file is some step's
    original; a model a step builds later (Step.use) is linked as it is built."""
    by_sha = {s.original_sha: s for s in steps[1:] if not s.error}
    sha_of = {cls: file_sha1(path) for cls, path in children.items()}

    def link(step, model):
        for name, module in model.named_modules():
            target = by_sha.get(sha_of.get(type(module))) if name else None
            if target is not None and target is not step:
                _wrap(module, target, run, step.built_with.get(id(module)))

    for step in steps:
        step.link = link
        if step.refactored is not None:
            link(step, step.refactored)


def _trial_order(num_trials, made_on_the_first):
    """The trials in the order they run. A graph `made_on_the_first` trial's
    inputs (a recording not checked on the others) passes there whatever it
    holds fixed to them: the second trial runs first, where a wrong one
    fails before a whole trial is spent on the inputs it cannot fail on
    (Mask R-CNN: a failing first attempt took 69 s). The last trial stays
    last: the composition test takes its output."""
    order = list(range(num_trials))
    if made_on_the_first and num_trials > 2:
        order[0], order[1] = 1, 0
    return order


def verify_steps(requests, rtol=None, atol=None, num_trials=NUM_TRIALS, keep_outputs=False, recorded=False,
                 stop_when_root_fails=False):
    """verification_result.json objects for the steps of one decomposition,
    the root's first, in the order given. `recorded`: the files come from a
    graph recorded on the first trial's inputs (its errors on other trials
    say so). `stop_when_root_fails`: the caller traces again, checked, when
    the root step fails (the graph was not checked against the model), so
    the pass ends at the first trial the root fails on; a recorded graph is
    then run first on the second trial's inputs, the first it was not made
    on (_trial_order)."""
    steps = [_Step(i, r, recorded) for i, r in enumerate(requests)]
    if not steps:
        return []
    run = _Pass(rtol, atol)
    root = steps[0]
    children = {}
    for step in steps:
        children.update(step.load())
    seeds = trial_seeds(num_trials)
    note_root = "the model's inputs from get_inputs(), seeded per trial"
    note = ("the activations this component receives inside the model, on the model's inputs "
            "for the trial's seed")

    ended_at = None

    def results():
        return [root.result(seeds, num_trials, note_root, ended_at)] + [
            s.result(seeds, num_trials, note, ended_at) for s in steps[1:]]
    planned = take_planned(file_sha1(root.original_path)) if not root.error else None
    try:
        original_file = _load(root.original_path, "original", ("Model",))
        original = planned[0] if planned else original_file.build(seed=0)
    except BadInput as e:
        root.error = f"{e.path}: {e.message}"
    if root.error:
        return results()
    if planned and planned[1] not in seeds:
        planned = None  # its inputs and output serve no trial: not held through the pass
    _link(steps, children, run)

    # The root shares the original's weights: no second copy of the model.
    root.prepare(original)
    root.bind(original)
    kept = written.State(original)  # the refactored model shares its tensors
    restore_refactored = trace.snapshot(root.refactored)
    last_inputs = last_output = None
    for i in _trial_order(num_trials, recorded and stop_when_root_fails):
        seed = seeds[i]
        run.trial = i
        try:
            if planned and planned[1] == seed:
                inputs, expected = planned[2], planned[3]
                planned = None
            else:
                inputs, expected = LentInputs(original_file, seed), None
        except BadInput as e:
            root.error = f"{e.path}: {e.message}"
            break
        if keep_outputs and i == num_trials - 1:
            last_inputs = inputs
        kept.restore()
        restore_refactored()
        # a component's refactored model that counts its calls (a childless
        # module's own counter, in a kernel file) starts each trial as its
        # original does: from the count as built
        for step in steps[1:]:
            for restore in step.restores:
                restore()
            step.left_by.clear()
        left = {}
        try:
            with torch.no_grad(), fastpath.off():  # one computation both sides (fastpath.py)
                if expected is not None:
                    root.planned_references.add(i)
                else:
                    seed_forward()
                    args, kwargs = inputs.lend()
                    expected = own(original(*args, **kwargs), (args, kwargs))
                    del args, kwargs
                    left = written.copies(kept.values.changed())
                    kept.values.restore()
                seed_forward()
                run.active = True
                try:
                    got = root.run_refactored(*inputs.lend(), watch=i == 0)
                finally:
                    run.active = False
        except Exception as e:
            root.record(i, False, math.inf, error=_one_line(e))
            if stop_when_root_fails:
                ended_at = i
                break
            continue
        finally:
            del inputs
        if keep_outputs and i == num_trials - 1:
            # The composition test runs on the last trial's seed: this output
            # and those inputs, alive when the pass ends anyway, are its own.
            last_output = expected
        root.compare(i, expected, got, rtol, atol)
        root.compare_state(i, left, kept.values, rtol, atol)
        del expected, got, left
        if stop_when_root_fails and not root.trials[i]["pass"]:
            ended_at = i
            break
    if keep_outputs and last_inputs is not None:
        kept.restore()  # as built: the composition snapshots it
        keep_for_composition(root.original_path, original, seeds[-1], last_inputs, last_output)
    del last_inputs, last_output
    return results()
