"""attention.expand: nn.MultiheadAttention spelled out as its ops must compute
what the module computes, in every configuration it takes, and leave alone the
ones it does not.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from decompose_glue import attention, levels, trace  # noqa: E402


class SelfAttention(nn.Module):
    def __init__(self, mask=None, padding=None, **options):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, **options)
        self.call = {}
        if mask is not None:
            self.register_buffer("mask", mask)
        if padding is not None:
            self.register_buffer("padding", padding)

    def forward(self, x):
        mask, padding = getattr(self, "mask", None), getattr(self, "padding", None)
        result = self.attn(x, x, x, attn_mask=mask, key_padding_mask=padding, **self.call)
        return (result[0], result[1]) if self.call.get("need_weights", True) else result[0]


class CrossAttention(nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, **options)

    def forward(self, x, memory):
        return self.attn(x, memory, memory)[0]


class ThreeInputs(CrossAttention):
    def forward(self, x, keys, values):
        return self.attn(x, keys, values)[0]


def with_causal_hint(attention):
    """The call torch 2.x's nn.TransformerDecoderLayer makes: is_causal=True
    says attn_mask is the causal mask (torch 1.13's forward has no such
    argument; torch 2.x's reads the mask when it is given)."""
    plain = attention.forward

    def forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        return plain(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                     attn_mask=attn_mask, average_attn_weights=average_attn_weights)

    attention.forward = forward
    return attention


def expanded(model, *inputs):
    gm = trace.symbolic(model.eval())
    trace.record_values(gm, list(inputs), {})
    return attention.expand(gm)


def ops_of(gm):
    return [levels.op_name(n, gm) for n in gm.graph.nodes if levels.is_compute(n, gm)]


class Expand(unittest.TestCase):
    def check(self, model, *inputs):
        torch.manual_seed(0)
        gm = expanded(model, *inputs)
        self.assertFalse(any(n.op == "call_module" for n in gm.graph.nodes), gm.code)
        with torch.no_grad():
            want, got = model(*inputs), gm(*inputs)
        for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
        return gm

    def test_batch_first_without_weights(self):
        model = SelfAttention(batch_first=True)
        model.call = {"need_weights": False}
        gm = self.check(model, torch.randn(3, 5, 8))
        self.assertEqual(ops_of(gm), ["linear", "matmul", "div", "softmax", "matmul", "linear"])

    def test_sequence_first_with_averaged_weights(self):
        self.check(SelfAttention(), torch.randn(5, 3, 8))

    def test_per_head_weights(self):
        model = SelfAttention()
        model.call = {"average_attn_weights": False}
        self.check(model, torch.randn(5, 3, 8))

    def test_causal_bool_mask(self):
        mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
        gm = self.check(SelfAttention(mask), torch.randn(5, 3, 8))
        self.assertIn("masked_fill", ops_of(gm))

    def test_causal_hint_with_its_mask_is_spelled_out(self):
        model = SelfAttention(torch.triu(torch.full((5, 5), float("-inf")), 1))
        with_causal_hint(model.attn)
        model.call = {"need_weights": False, "is_causal": True}
        self.assertIn("softmax", ops_of(self.check(model, torch.randn(5, 3, 8))))

    def test_causal_hint_without_a_mask_stays_one_kernel(self):
        model = SelfAttention()
        with_causal_hint(model.attn)
        model.call = {"need_weights": False, "is_causal": True}
        self.assertEqual(ops_of(expanded(model, torch.randn(5, 3, 8))), ["multihead_attention"])

    def test_float_mask_per_head(self):
        self.check(SelfAttention(torch.randn(6, 5, 5)), torch.randn(5, 3, 8))

    def test_key_padding_mask(self):
        padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
        model = SelfAttention(padding=padding, batch_first=True)
        model.call = {"need_weights": False}
        self.check(model, torch.randn(3, 5, 8))

    def test_bool_key_padding_with_a_float_mask(self):
        padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [True] + [False] * 4])
        self.check(SelfAttention(torch.randn(5, 5), padding), torch.randn(5, 3, 8))

    def test_float_key_padding(self):
        self.check(SelfAttention(padding=torch.randn(3, 5)), torch.randn(5, 3, 8))

    def test_without_biases(self):
        self.check(SelfAttention(bias=False), torch.randn(5, 3, 8))

    def test_cross_attention_slices_the_packed_weight(self):
        gm = self.check(CrossAttention(), torch.randn(5, 3, 8), torch.randn(7, 3, 8))
        self.assertEqual(ops_of(gm)[:2], ["linear", "linear"])  # key/value first, as torch orders them
        views = [n for n in gm.graph.nodes if levels.is_parameter_view(n, gm)]
        self.assertTrue(views)  # the split weight belongs to the projections that read it

    def test_three_inputs(self):
        self.check(ThreeInputs(batch_first=True), torch.randn(3, 5, 8), torch.randn(3, 7, 8),
                   torch.randn(3, 7, 8))

    def test_separate_projection_weights(self):
        self.check(ThreeInputs(kdim=6, vdim=4), torch.randn(5, 3, 8), torch.randn(7, 3, 6),
                   torch.randn(7, 3, 4))

    def test_added_key_bias_stays_one_kernel(self):
        gm = expanded(SelfAttention(add_bias_kv=True), torch.randn(5, 3, 8))
        self.assertEqual(ops_of(gm), ["multihead_attention"])


if __name__ == "__main__":
    unittest.main()
