"""A torch.Generator that the model keeps and draws from, as state.

A sampler or a noise layer may keep its own generator
(`self.generator = torch.Generator().manual_seed(1234)`) and draw from it in
forward (`torch.randn(shape, generator=self.generator)`). Each draw moves its
state, as `self.calls += 1` moves a count. The graph reads it as an
attribute (record.py), and each file whose ops draw from it builds its own
from the same seed, so that it starts where the model's started; every run of
each step starts from the states as built, and each instance of a component
from where its own runs left them (trace.snapshot, trace.numbers). A
generator drawn from before forward ran is no longer where its seed starts
it (as_seeded), and one that two ops draw from would be split between two
kernels that each start from the seed (drawn_more_than_once): capture
refuses both. A module kept whole, one kernel, may draw from its own as
often as it likes.
"""

import torch


def drawn_more_than_once(gm):
    """The targets of the generators that more than one op of `gm` draws
    from, with those ops' names: each op is a kernel of its own, and each
    kernel's file would start its generator from the seed, where the second
    op's draw starts from where the first left it."""
    draws = {}
    for n in gm.graph.nodes:
        if n.op == "get_attr" and n.meta.get("value", {}).get("kind") == "generator":
            draws.setdefault(n.target, []).extend(u.name for u in n.users)
    return {target: users for target, users in draws.items() if len(users) > 1}


def as_seeded(generator):
    """Whether `generator` is where its seed starts one: a file builds it so."""
    fresh = torch.Generator(device=generator.device).manual_seed(generator.initial_seed())
    return torch.equal(fresh.get_state(), generator.get_state())


def constructor(desc):
    """The source that builds a generator described by trace.describe."""
    device = "" if desc["device"] == "cpu" else f"device={desc['device']!r}"
    return f"torch.Generator({device}).manual_seed({desc['seed']})"
