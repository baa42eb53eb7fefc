"""nn.MultiheadAttention spelled out as the ops it runs.

Both tracers keep torch.nn modules whole, and an nn.MultiheadAttention kept
whole is one opaque kernel. Its work is a layer of its own: the input
projection, q @ k^T with its scale, softmax, @ v, the output projection.
`expand` replaces each call of one in a traced graph by those ops, written as
torch.nn.functional.multi_head_attention_forward computes them, so that the
levels pass cuts it like any other attention. Only the configurations that
function handles with plain ops are spelled out (batched input, packed or
separate projection weights, self- or cross-attention, bool or float masks,
no added key/value bias or zero attention, no dropout at inference); any
other call stays one kernel. Slices of the packed weight for a cross-
attention's query and key/value projections are views of a parameter, which
the levels pass keeps with the kernel that reads them.
"""

import inspect
import math
from operator import getitem as _getitem

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from . import trace


def _parts(proxy, n):
    # indexed, not unpacked: fx cannot unpack a traced value under Python 3.11
    return tuple(proxy[i] for i in range(n))


class _Attention(nn.Module):
    """The ops of one attention call, for one set of input shapes; traced,
    never run in the model. Holds the attention module's own parameters.
    `inputs` says which of query, key and value are one tensor: "qkv" (self-
    attention), "q,kv" (cross-attention over one memory) or "q,k,v"."""

    def __init__(self, attention, lengths, batch, inputs, need_weights, average_weights, masked, padded):
        super().__init__()
        self.packed = attention._qkv_same_embed_dim
        if self.packed:
            self.in_proj_weight = attention.in_proj_weight
        else:
            self.q_proj_weight = attention.q_proj_weight
            self.k_proj_weight = attention.k_proj_weight
            self.v_proj_weight = attention.v_proj_weight
        self.in_proj_bias = attention.in_proj_bias
        self.out_proj = attention.out_proj
        self.heads = attention.num_heads
        self.embed = attention.embed_dim
        self.batch_first = attention.batch_first
        self.lengths = lengths  # (query length, key length)
        self.batch = batch
        self.inputs = inputs
        self.need_weights = need_weights
        self.average_weights = average_weights
        self.masked = masked    # the attn_mask's kind: None, "bool" or "float"
        self.padded = padded    # the key_padding_mask's kind

    def project(self, query, key, value):
        """q, k, v as F.multi_head_attention_forward's in-projection makes them."""
        e, b = self.embed, self.in_proj_bias
        if not self.packed:
            b_q, b_k, b_v = _parts(b.chunk(3), 3) if b is not None else (None, None, None)
            return (F.linear(query, self.q_proj_weight, b_q), F.linear(key, self.k_proj_weight, b_k),
                    F.linear(value, self.v_proj_weight, b_v))
        w = self.in_proj_weight
        if self.inputs == "qkv":
            qkv = F.linear(query, w, b).chunk(3, dim=-1)
            return qkv[0], qkv[1], qkv[2]
        if self.inputs == "q,kv":
            w_q, w_kv = _parts(w.split([e, e * 2]), 2)
            b_q, b_kv = _parts(b.split([e, e * 2]), 2) if b is not None else (None, None)
            kv = F.linear(key, w_kv, b_kv).chunk(2, dim=-1)
            return F.linear(query, w_q, b_q), kv[0], kv[1]
        w_q, w_k, w_v = _parts(w.chunk(3), 3)
        b_q, b_k, b_v = _parts(b.chunk(3), 3) if b is not None else (None, None, None)
        return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    def forward(self, query, key, value, attn_mask=None, key_padding_mask=None):
        if self.batch_first:
            query, key, value = query.transpose(1, 0), key.transpose(1, 0), value.transpose(1, 0)
        (length, keys), batch, heads = self.lengths, self.batch, self.heads
        head_dim = self.embed // heads
        q, k, v = self.project(query, key, value)
        q = q.contiguous().view(length, batch * heads, head_dim).transpose(0, 1)
        k = k.contiguous().view(keys, batch * heads, head_dim).transpose(0, 1)
        v = v.contiguous().view(keys, batch * heads, head_dim).transpose(0, 1)
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(head_dim)
        if self.masked == "bool":
            scores = scores.masked_fill(attn_mask, float("-inf"))
        elif self.masked == "float":
            scores = scores + attn_mask
        if self.padded:
            padding = (key_padding_mask.view(batch, 1, 1, keys).expand(-1, heads, -1, -1)
                       .reshape(batch * heads, 1, keys))
            if self.padded == "bool":
                scores = scores.masked_fill(padding, float("-inf"))
            else:
                scores = scores + padding
        weights = torch.softmax(scores, dim=-1)
        out = torch.bmm(weights, v)
        out = out.transpose(0, 1).contiguous().view(length * batch, self.embed)
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias).view(length, batch, self.embed)
        if self.batch_first:
            out = out.transpose(1, 0)
        if not self.need_weights:
            return out, None
        weights = weights.view(batch, heads, length, keys)
        if self.average_weights:
            weights = weights.sum(dim=1) / heads
        return out, weights


def _value(arg):
    return arg.meta.get("value", {}) if isinstance(arg, fx.Node) else {}


def _spelled_out(module, node, node_values):
    """(the traced ops, their inputs) for one call, or None to keep it whole.
    `node_values(gm, args, kwargs)` gives the ops' nodes meta["value"]."""
    try:
        bound = inspect.signature(module.forward).bind(*node.args, **node.kwargs)
    except TypeError:
        return None
    call = dict(bound.arguments)
    query, key, value = call.get("query"), call.get("key"), call.get("value")
    need_weights = call.get("need_weights", True)
    average = call.get("average_attn_weights", True)
    mask, padding = call.get("attn_mask"), call.get("key_padding_mask")
    shape, key_shape = _value(query).get("shape"), _value(key).get("shape")
    # torch 2.x's is_causal (nn.TransformerDecoderLayer passes it once the
    # mask it was given compares equal to a causal one) says that attn_mask
    # *is* the causal mask: the mask, spelled out, computes the same. Without
    # a mask torch raises, so that call stays whole.
    causal = call.get("is_causal", False)
    if (module.bias_k is not None or module.add_zero_attn
            or (module.training and module.dropout > 0)
            or not isinstance(causal, bool) or (causal and mask is None)
            or not isinstance(need_weights, bool) or not isinstance(average, bool)
            or shape is None or len(shape) != 3 or key_shape is None or len(key_shape) != 3):
        return None
    arrangement = "qkv" if query is key is value else "q,kv" if key is value else "q,k,v"
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
    lengths = (shape[1], key_shape[1]) if module.batch_first else (shape[0], key_shape[0])
    batch = shape[0] if module.batch_first else shape[1]
    ops = _Attention(module, lengths, batch, arrangement, need_weights, average, masked, padded)
    gm = fx.symbolic_trace(ops)
    gm.graph.eliminate_dead_code()  # the transposes of a key and value that are the query
    inputs = [query, key, value, mask, padding]
    example = [torch.zeros(_value(a)["shape"], dtype=_dtype(_value(a))) if a is not None else None
               for a in inputs]
    # a mask's ops make bool values, whose count of set entries a meta run
    # has not (trace.describe): with a mask, the ops run for real
    (node_values if mask is None and padding is None else trace.record_values)(gm, example, {})
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


def expand(gm, node_values=trace.record_values):
    """Spell out every nn.MultiheadAttention call in a traced graph whose
    nodes carry meta["value"]; returns the graph module. The spelled-out
    ops get theirs from `node_values` (capture.node_values: on the meta
    device, where a run of them on the call's shapes was a forward's work)."""
    changed = False
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        module = gm.get_submodule(node.target)
        if not isinstance(module, nn.MultiheadAttention):
            continue
        found = _spelled_out(module, node, node_values)
        if found is None:
            continue
        _inline(gm, node, *found, node.target)
        changed = True
    if changed:
        gm.graph.lint()
        gm.recompile()
    return gm
