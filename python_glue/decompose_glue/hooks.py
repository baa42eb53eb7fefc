"""Forward hooks that change what a module takes or gives, spelt out as ops.

No generated file carries a hook: a kernel file builds a plain nn.Linear.
So where a hook changes a module's inputs or its output (a clamp before a
head, a scale after a block), its ops must be in the graph. torch.fx puts
them there for a module it traces through, since the hooks run on proxies
inside Module.__call__, and a recording records them likewise. But a module
kept whole, a kernel module, is one call_module node: its hooks run where no
tracer looks, and the node's value is what they made of the module's own.

Within `spelt_out(model, found)` both tracers call those hooks themselves
(`run`), on what they trace and in the parent's scope, around one call of
the module with them taken off. The GraphModule holds the module without
them (`unhooked`), or its run would apply them twice; the model keeps its
own. The module's other hooks stay on it: a logger, which gives back
nothing, would keep a tracer's proxy; and weight norm's, spectral norm's and
pruning's set a weight that each file's constructor sets up again
(trace.is_reparametrization).
"""

import collections
import contextlib
import contextvars
import copy

from . import trace

# {id of a module: {(table name, key)}} of the hooks the tracers spell out,
# set only for the length of a `spelt_out` block
_SPELT_OUT = contextvars.ContextVar("decompose_hooks_spelt_out", default={})


def changing(module):
    """{table name: [(key, hook)]} of a module's forward hooks that may
    change what it takes or gives: all but reparametrizations."""
    found = {}
    for attr in ("_forward_pre_hooks", "_forward_hooks"):
        hooks = [(k, h) for k, h in getattr(module, attr, {}).items() if not trace.is_reparametrization(h)]
        if hooks:
            found[attr] = hooks
    return found


def has_changing(model):
    """Whether any module of `model` has a hook that may change what it takes
    or gives."""
    return any(changing(m) for m in model.modules())


@contextlib.contextmanager
def spelt_out(model, found):
    """Within the block the tracers spell out the hooks `found`, {path of a
    module ("" is the model itself): [(table name, key)]}."""
    spelt = dict(_SPELT_OUT.get())
    for path, keys in found.items():
        module = model.get_submodule(path) if path else model
        spelt[id(module)] = spelt.get(id(module), frozenset()) | frozenset(keys)
    token = _SPELT_OUT.set(spelt)
    try:
        yield
    finally:
        _SPELT_OUT.reset(token)


def _spelt(module):
    """{table name: [(key, hook)]} of the module's hooks a tracer spells out."""
    keys = _SPELT_OUT.get().get(id(module))
    if not keys:  # every module call of every trace asks: most have none
        return {}
    found = {}
    for attr, hooks in changing(module).items():
        hooks = [(k, h) for k, h in hooks if (attr, k) in keys]
        if hooks:
            found[attr] = hooks
    return found


def spells_out(module):
    """Whether a tracer calls some of this module's hooks itself."""
    return bool(_spelt(module))


@contextlib.contextmanager
def _taken_off(module, spelt):
    """The module without the hooks `spelt`; each table back whole, in its
    order, after."""
    kept = {}
    for attr, hooks in spelt.items():
        table = getattr(module, attr)
        kept[attr] = collections.OrderedDict(table)
        for key, _ in hooks:
            del table[key]
    try:
        yield
    finally:
        for attr, before in kept.items():
            table = getattr(module, attr)
            table.clear()
            table.update(before)


def run(module, args, kwargs, call):
    """`call(args, kwargs)`, the module called with the hooks a tracer spells
    out taken off, and those hooks run around it as Module.__call__ runs
    them: a pre-hook's result replaces the inputs, a forward hook's the
    output. torch 2.x's hooks registered with_kwargs take and give the
    keyword inputs as well."""
    hooks = _spelt(module)
    pre_with_kwargs = getattr(module, "_forward_pre_hooks_with_kwargs", {})
    post_with_kwargs = getattr(module, "_forward_hooks_with_kwargs", {})
    args, kwargs = tuple(args), dict(kwargs)
    for key, hook in hooks.get("_forward_pre_hooks", []):
        if key in pre_with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    with _taken_off(module, hooks):
        output = call(args, kwargs)
    for key, hook in hooks.get("_forward_hooks", []):
        result = hook(module, args, kwargs, output) if key in post_with_kwargs else hook(module, args, output)
        if result is not None:
            output = result
    return output


def unhooked(gm, model):
    """Give `gm` its own copy, without them, of each module it calls whose
    hooks a tracer spelt out: the copy shares the module's weights. A module
    of the model on the way to it (where fx installed a whole ancestor) is
    copied too, so the model's own modules keep theirs."""
    if not _SPELT_OUT.get():
        return gm
    originals = {id(m) for m in model.modules()}
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        spelt = _spelt(module)
        if not spelt:
            continue
        bare = copy.copy(module)
        for attr, hooks in spelt.items():
            dropped = {key for key, _ in hooks}
            setattr(bare, attr, collections.OrderedDict(
                (k, h) for k, h in getattr(module, attr).items() if k not in dropped))
        *path, name = node.target.split(".")
        holder = gm
        for step in path:
            child = holder._modules[step]
            if id(child) in originals:
                child = copy.copy(child)
                child._modules = collections.OrderedDict(child._modules)
                holder._modules[step] = child
            holder = child
        holder._modules[name] = bare
    return gm
