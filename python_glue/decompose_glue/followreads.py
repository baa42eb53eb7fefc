"""Numbers the model's own forward reads off tensors, put back into a recording.

`max_len = int(lengths.max().item())`, then `torch.arange(max_len)` and
`x[:, :max_len]`: a recording sees the read give 8 and the ops take 8, so
its graph holds 8, and it fails every input whose longest length is
another. A function or a module that reads so is kept whole (capture.py);
the model's own forward cannot be (nothing would be left to decompose).
Python hands the ops a plain int (int() of anything gives one), so where
the number went is found by comparing the trials' recordings instead: where
they differ only in numbers, and each of those numbers is, on every trial,
what one read gave, the graph takes that read there (`number =
max_1.item()`, `arange(number)`), or that read times a whole number plus
another (`2 * longest`, `longest + 1`), or floor-divided by one
(`longest // 2`). The root step runs the graph on every trial and says
whether it is right.
"""

import fractions
import operator

import torch.fx as fx

from .trace import describe


def places(runs):
    """{(node name, argument place): (index of the read, scale, offset)}
    where the graphs of `runs` ([(GraphModule, [(read, number)])], one per
    trial, the first trial's first) differ, each place explained by one
    read, or by one read times the same whole number plus another on every
    trial (`2 * longest`, `longest + 1`), or floor-divided by one (a scale
    Fraction(1, k): `longest // 2`); None where they differ otherwise, or
    in nothing."""
    graphs = [list(gm.graph.nodes) for gm, _ in runs]
    numbers = [read for _, read in runs]
    if len(runs) < 2 or len({len(g) for g in graphs}) != 1 or len({len(n) for n in numbers}) != 1:
        return None
    found = {}
    for nodes in zip(*graphs):
        first = nodes[0]
        if any((n.op, n.name, n.target) != (first.op, first.name, first.target) for n in nodes[1:]):
            return None
        differing = []
        if not _differing([(n.args, n.kwargs) for n in nodes], (), differing):
            return None
        for place, values in differing:
            explained = _explained(values, numbers)
            if explained is None:
                return None  # a number no read gave
            found[(first.name, place)] = explained
    return found or None


def _explained(values, numbers):
    """(read index, scale, offset) whose numbers are `values` on every
    trial: the read itself first, else the read plus one whole number, else
    the read times one whole number plus another, else the read
    floor-divided by a small whole number (scale Fraction(1, k)) plus
    another."""
    reads = range(len(numbers[0]))
    for k in reads:
        if all(type(read[k][1]) is type(v) and read[k][1] == v for read, v in zip(numbers, values)):
            return k, 1, 0
    whole = [k for k in reads if all(type(read[k][1]) is int and type(v) is int for read, v in zip(numbers, values))]
    for k in whole:
        offsets = {v - read[k][1] for read, v in zip(numbers, values)}
        if len(offsets) == 1:
            return k, 1, offsets.pop()
    for k in whole:
        scale = _scale([read[k][1] for read in numbers], values)
        if scale is not None:
            offsets = {v - scale * read[k][1] for read, v in zip(numbers, values)}
            if len(offsets) == 1:
                return k, scale, offsets.pop()
    for divisor in _DIVISORS:
        for k in whole:
            offsets = {v - read[k][1] // divisor for read, v in zip(numbers, values)}
            if len(offsets) == 1 and len({read[k][1] // divisor for read in numbers}) > 1:
                return k, fractions.Fraction(1, divisor), offsets.pop()
    return None


# What a size is floor-divided by (halves, quarters, a patch or a stride);
# tried in this order, the first that explains every trial is taken.
_DIVISORS = (2, 3, 4, 8, 16, 32, 64)


def _scale(reads, values):
    """The whole number, not 0 or 1, that the change of `values` between two
    trials is of the change of `reads` there; None where there is none."""
    r0, v0 = reads[0], values[0]
    for r, v in zip(reads[1:], values[1:]):
        if r != r0:
            scale, rest = divmod(v - v0, r - r0)
            return scale if rest == 0 and scale not in (0, 1) else None
    return None


def _differing(values, place, out):
    """Append to `out` the (place, numbers) where the trials' `values`
    hold different numbers; False where they differ in anything else."""
    first = values[0]
    if isinstance(first, fx.Node):
        return all(isinstance(v, fx.Node) and v.name == first.name for v in values)
    if type(first) in (int, float):
        if any(type(v) is not type(first) for v in values):
            return False
        if any(v != first for v in values):
            out.append((place, tuple(values)))
        return True
    if isinstance(first, (tuple, list)):
        if any(type(v) is not type(first) or len(v) != len(first) for v in values):
            return False
        return all(_differing([v[i] for v in values], place + (i,), out) for i in range(len(first)))
    if isinstance(first, dict):
        if any(not isinstance(v, dict) or v.keys() != first.keys() for v in values):
            return False
        return all(_differing([v[k] for v in values], place + (k,), out) for k in first)
    if isinstance(first, slice):
        if any(not isinstance(v, slice) for v in values):
            return False
        return all(_differing([getattr(v, part) for v in values], place + (part,), out)
                   for part in ("start", "stop", "step"))
    try:
        return all(type(v) is type(first) and bool(v == first) for v in values)
    except Exception:  # a value with no plain equality: not a number that moved
        return False


def put_back(graph, places, number_nodes):
    """Make each place of `places` take the node that reads its number
    (`number_nodes`, in read order), times its scale, plus its offset; a
    recording on the first trial's inputs again, so its nodes have the
    names `places` gives."""
    by_name = {n.name: n for n in graph.nodes}
    for (name, place), (index, scale, offset) in places.items():
        node = by_name[name]
        number = number_nodes[index]
        with graph.inserting_before(node):
            if isinstance(scale, fractions.Fraction):
                number = _arithmetic(graph, operator.floordiv, scale.denominator, number)
            elif scale != 1:
                number = _arithmetic(graph, operator.mul, scale, number)
            if offset:
                number = _arithmetic(graph, *((operator.add, offset) if offset > 0 else (operator.sub, -offset)),
                                     number)
        node.args, node.kwargs = _replaced((node.args, node.kwargs), place, number)


def _arithmetic(graph, op, operand, number):
    """`scale * number`, `number // divisor`, `number + offset` or
    `number - offset`: a number read off a tensor too."""
    moved = graph.call_function(op, (operand, number) if op is operator.mul else (number, operand))
    moved.meta.update(scope=number.meta.get("scope", ()), number_read=True,
                      value=describe(op(number.meta["value"]["value"], operand)))
    return moved


def _replaced(value, place, new):
    if not place:
        return new
    head, rest = place[0], place[1:]
    if isinstance(value, slice):
        parts = {part: getattr(value, part) for part in ("start", "stop", "step")}
        parts[head] = _replaced(parts[head], rest, new)
        return slice(parts["start"], parts["stop"], parts["step"])
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    items = list(value)
    items[head] = _replaced(items[head], rest, new)
    return tuple(items) if isinstance(value, tuple) else items
