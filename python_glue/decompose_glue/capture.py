"""One traced graph per model file: symbolic tracing, else recording a real run.

Both the plan and the coverage count go through here, so the ops counted in
the original are the ops of the graph the files were generated from.
"""

import torch
import torch.fx as fx

from . import attention, fastpath, memory, record, trace, verify
from .loader import BadInput, _one_line, run_forward


# Every run that is compared starts from this seed, so that a model drawing
# random numbers in forward draws the same ones each time. It is the first
# verification trial's seed: the eager run made here on that trial's inputs
# is that trial's reference (verify.keep_reference).
FORWARD_SEED = verify.FIRST_SEED


def _same_output(a, b):
    """Equal up to rounding: the graph may spell an op another way than the
    eager forward (a traced graph's ops run one by one)."""
    ta, tb = verify.tensors(a), verify.tensors(b)
    return len(ta) == len(tb) and all(
        x.shape == y.shape and (verify.close(x, y, 1e-5, 1e-6)[1] if x.is_floating_point() else torch.equal(x, y))
        for x, y in zip(ta, tb))


def canonical(gm):
    """The graph every later pass reads, however it was traced."""
    return attention.expand(trace.inline_plumbing_modules(gm))


def _attributes(model):
    return {(id(m), name): value for m in model.modules() for name, value in vars(m).items()}


def _drop_proxies(model, before):
    """Attributes a forward set while being traced symbolically (a hidden
    state moved with `.to(x.device)`) hold proxies, which a real run must
    not read: each gets back its value from `before` (_attributes), or goes."""
    for module in model.modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, fx.Proxy):
                if (id(module), name) in before:
                    setattr(module, name, before[(id(module), name)])
                else:
                    delattr(module, name)


def trace_model(model_file, model, inputs):
    """(GraphModule, method, notes, eager output): symbolic tracing, else
    recording a real run, on `inputs` (verify.LentInputs).

    A symbolic trace is kept only if it reproduces the eager output exactly:
    a trace that silently took another branch would make every file wrong.
    Where symbolic tracing raises, the recording run is the model's own
    forward on these inputs and its output is the eager output: the model
    runs once for both. A recorded graph is not run again here to see that
    it reproduces that output: the root step runs the files made from it
    against the model on every trial, the same check three times, and a
    graph that missed an op fails there. (A symbolic trace is run here
    because what it gives decides between the two ways.)
    """
    notes = {"symbolic_error": None, "specialised": [], "memory_warning": None}
    restore = trace.snapshot(model)
    before = _attributes(model)
    try:
        gm = trace.symbolic(model)
    except Exception as e:
        gm = None
        notes["symbolic_error"] = _one_line(e)[:300]
    restore()
    _drop_proxies(model, before)
    del before
    expected = None
    if gm is not None:
        torch.manual_seed(FORWARD_SEED)
        args, kwargs = inputs.lend()
        with fastpath.off(), memory.PeakOfRun() as eager:  # the path the graph spells out (fastpath.py)
            expected = verify.own(run_forward(model_file, model, args, kwargs), (args, kwargs))
        del args, kwargs
        notes["memory_warning"] = memory.warn_if_short(model_file.path, eager, verify.nbytes(expected))
        restore()
        try:
            torch.manual_seed(FORWARD_SEED)
            with fastpath.off():
                got = trace.record_values(gm, *inputs.lend())
            folded = [n.target for n in gm.graph.nodes
                      if n.op == "get_attr" and n.target.startswith("_tensor_constant")]
            if folded:
                # A tensor made in forward from no input (torch.arange(t)) is run
                # at trace time and kept as an anonymous constant: its op is lost.
                notes["symbolic_error"] = ("the symbolic trace folded tensors made in forward into "
                                           f"constants ({', '.join(folded)})")
            elif _same_output(expected, got):
                return canonical(gm), "symbolic", notes, expected
            else:
                notes["symbolic_error"] = "the symbolic trace does not reproduce the eager output"
            del got
        except Exception as e:
            notes["symbolic_error"] = _one_line(e)[:300]
        restore()
    torch.manual_seed(FORWARD_SEED)
    args, kwargs = inputs.lend()
    try:
        with memory.PeakOfRun() as eager:
            gm, recorded, output = record.record(model, args, kwargs)
    except Exception as e:
        why = _one_line(e)
        if expected is None:  # a forward that fails on its own says so, not that recording failed
            restore()
            torch.manual_seed(FORWARD_SEED)
            run_forward(model_file, model, *inputs.lend())
        raise BadInput(model_file.path, "cannot trace the model, symbolically ("
                       + notes["symbolic_error"] + ") nor by running it: " + why) from None
    if expected is None:
        expected = verify.own(output, (args, kwargs))
        notes["memory_warning"] = memory.warn_if_short(model_file.path, eager, verify.nbytes(expected))
    del output, args, kwargs
    notes.update(recorded)
    restore()
    return canonical(gm), "recorded", notes, expected
