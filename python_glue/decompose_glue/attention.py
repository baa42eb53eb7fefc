"""nn.MultiheadAttention spelled out as the ops it runs.

Both tracers keep torch.nn modules whole, and an nn.MultiheadAttention kept
whole is one opaque kernel. Its work is a layer of its own: the input
projection, q @ k^T with its scale, softmax, @ v, the output projection.
`expand` replaces each call of one in a traced graph by those ops, written as
torch.nn.functional.multi_head_attention_forward computes them, so that the
levels pass cuts it like any other attention. Only the configurations that
function handles with plain ops are spelled out (self-attention over packed
weights, batched input, bool or float masks, no added key/value bias or zero
attention, no dropout at inference); any other call (cross-attention) stays
one kernel.
"""

import inspect
import math
from operator import getitem as _getitem

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from . import trace


class _SelfAttention(nn.Module):
    """The ops of one self-attention call, for one input shape; traced, never
    run in the model. Holds the attention module's own parameters."""

    def __init__(self, attention, seq_first_shape, need_weights, average_weights, masked, padded):
        super().__init__()
        self.in_proj_weight = attention.in_proj_weight
        self.in_proj_bias = attention.in_proj_bias
        self.out_proj = attention.out_proj
        self.heads = attention.num_heads
        self.batch_first = attention.batch_first
        self.shape = seq_first_shape
        self.need_weights = need_weights
        self.average_weights = average_weights
        self.masked = masked    # the attn_mask's kind: None, "bool" or "float"
        self.padded = padded    # the key_padding_mask's kind

    def forward(self, x, attn_mask=None, key_padding_mask=None):
        if self.batch_first:
            x = x.transpose(1, 0)
        length, batch, embed = self.shape
        head_dim = embed // self.heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        q = qkv[0].contiguous().view(length, batch * self.heads, head_dim).transpose(0, 1)
        k = qkv[1].contiguous().view(length, batch * self.heads, head_dim).transpose(0, 1)
        v = qkv[2].contiguous().view(length, batch * self.heads, head_dim).transpose(0, 1)
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(head_dim)
        if self.masked == "bool":
            scores = scores.masked_fill(attn_mask, float("-inf"))
        elif self.masked == "float":
            scores = scores + attn_mask
        if self.padded:
            padding = (key_padding_mask.view(batch, 1, 1, length).expand(-1, self.heads, -1, -1)
                       .reshape(batch * self.heads, 1, length))
            if self.padded == "bool":
                scores = scores.masked_fill(padding, float("-inf"))
            else:
                scores = scores + padding
        weights = torch.softmax(scores, dim=-1)
        out = torch.bmm(weights, v)
        out = out.transpose(0, 1).contiguous().view(length * batch, embed)
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias).view(length, batch, embed)
        if self.batch_first:
            out = out.transpose(1, 0)
        if not self.need_weights:
            return out, None
        weights = weights.view(batch, self.heads, length, length)
        if self.average_weights:
            weights = weights.sum(dim=1) / self.heads
        return out, weights


def _value(arg):
    return arg.meta.get("value", {}) if isinstance(arg, fx.Node) else {}


def _spelled_out(module, node):
    """(the traced ops, their inputs) for one call, or None to keep it whole."""
    try:
        bound = inspect.signature(module.forward).bind(*node.args, **node.kwargs)
    except TypeError:
        return None
    call = dict(bound.arguments)
    query, key, value = call.get("query"), call.get("key"), call.get("value")
    need_weights = call.get("need_weights", True)
    average = call.get("average_attn_weights", True)
    mask, padding = call.get("attn_mask"), call.get("key_padding_mask")
    shape = _value(query).get("shape")
    if (not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn
            or (module.training and module.dropout > 0) or not (query is key is value)
            or call.get("is_causal", False)
            or not isinstance(need_weights, bool) or not isinstance(average, bool)
            or shape is None or len(shape) != 3):
        return None
    # A bool mask puts -inf where it is set; a float mask is added. A 2-D
    # attn_mask broadcasts over batch and heads as torch's unsqueeze(0) does;
    # the key padding mask (batch, keys) is spread over the heads.
    masked, padded = _mask_kind(mask, query, (2, 3)), _mask_kind(padding, query, (2,))
    if masked is False or padded is False or (padded == "float" and masked):
        return None  # torch 1.13 reads a float padding mask beside an attn_mask as bool, 2.x adds it
    for user in node.users:
        if not (user.op == "call_function" and user.target is _getitem and isinstance(user.args[1], int)):
            return None
        if user.args[1] == 1 and not need_weights and user.users:
            return None  # the None a graph passes on is not worth spelling
    seq_first = [shape[1], shape[0], shape[2]] if module.batch_first else list(shape)
    ops = _SelfAttention(module, seq_first, need_weights, average, masked, padded)
    gm = fx.symbolic_trace(ops)
    inputs = [query, mask, padding]
    example = [torch.zeros(_value(a)["shape"], dtype=_dtype(_value(a))) if a is not None else None
               for a in inputs]
    trace.record_values(gm, example, {})
    return gm, inputs


def _mask_kind(mask, query, ranks):
    """None for no mask, "bool" or "float", or False for one not spelled out."""
    if mask is None:
        return None
    value = _value(mask)
    if len(value.get("shape", ())) not in ranks:
        return False
    if value.get("dtype") == "bool":
        return "bool"
    return "float" if value.get("dtype") == _value(query).get("dtype") else False


def _dtype(value):
    return getattr(torch, value["dtype"])


def _inline(gm, node, ops, inputs, path):
    """Copy the traced ops in before `node`, then drop it and its getitems."""
    placeholders = iter(inputs)
    mapped = {}
    results = None
    with gm.graph.inserting_before(node):
        for n in ops.graph.nodes:
            if n.op == "placeholder":
                mapped[n] = next(placeholders, None)
                continue
            if n.op == "output":
                results = fx.node.map_arg(n.args[0], lambda a: mapped[a])
                continue
            if n.op == "get_attr":
                mapped[n] = gm.graph.get_attr(f"{path}.{n.target}")
            else:
                mapped[n] = gm.graph.node_copy(n, lambda a: mapped[a])
            mapped[n].meta = dict(n.meta, scope=node.meta.get("scope", ()))
    for user in list(node.users):
        if results[user.args[1]] is not None:
            user.replace_all_uses_with(results[user.args[1]])
        gm.graph.erase_node(user)
    gm.graph.erase_node(node)


def expand(gm):
    """Spell out every nn.MultiheadAttention call in a traced graph whose
    nodes carry meta["value"]; returns the graph module."""
    changed = False
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        if not isinstance(module, nn.MultiheadAttention):
            continue
        found = _spelled_out(module, node)
        if found is None:
            continue
        _inline(gm, node, *found, node.target)
        changed = True
    if changed:
        gm.graph.lint()
        gm.recompile()
    return gm
