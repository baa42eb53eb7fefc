"""Names rebound in module namespaces for the length of a block: a
function the model's code calls by a global name, swapped for another
while it is traced (record._kept_whole, torchscript.seen_through)."""

import contextlib


@contextlib.contextmanager
def rebound(namespaces, replacements):
    """Inside the block, each name in `namespaces` (dicts) bound to an object
    of `replacements` ({id(object): (object, replacement)}) is bound to its
    replacement; every one is bound back after."""
    swapped = []
    for names in namespaces:
        for name, value in list(names.items()):
            held = replacements.get(id(value))
            if held is not None and held[0] is value:
                names[name] = held[1]
                swapped.append((names, name, value))
    try:
        yield
    finally:
        for names, name, value in swapped:
            names[name] = value
