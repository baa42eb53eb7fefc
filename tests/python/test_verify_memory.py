"""The verification's memory rules: inputs lent without copies (drawn again
only after a run changed them in place), references copied only where they
are views of the inputs, and outputs compared a piece at a time.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import math
import os
import sys
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402

from decompose_glue import verify  # noqa: E402


class Drawn:
    """A model file's input generator, counting its draws."""

    def __init__(self):
        self.draws = 0

    def inputs(self, seed=None):
        self.draws += 1
        torch.manual_seed(seed)
        return [torch.randn(3, 4)], {"scale": torch.randn(4)}


class LentInputs(unittest.TestCase):
    def test_lent_again_without_a_copy_until_changed_in_place(self):
        source = Drawn()
        inputs = verify.LentInputs(source, 42)
        args, kwargs = inputs.lend()
        first = args[0]
        torch.relu(args[0])  # not in place
        self.assertIs(inputs.lend()[0][0], first)
        self.assertEqual(source.draws, 1)
        kwargs["scale"].mul_(2)  # in place: the next run must see the seed's values again
        again = inputs.lend()
        self.assertEqual(source.draws, 2)
        self.assertIsNot(again[0][0], first)
        torch.manual_seed(42)
        self.assertTrue(torch.equal(again[1]["scale"], (torch.randn(3, 4), torch.randn(4))[1]))

    def test_a_reference_that_views_an_input_is_copied(self):
        x = torch.randn(3, 4)
        view = x[:, :2]
        kept = verify.own((view, torch.ones(2)), ([x], {}))
        self.assertIsNot(kept[0], view)
        x.zero_()
        self.assertFalse(torch.equal(kept[0], view))
        result = torch.randn(2)
        self.assertIs(verify.own(result, ([x], {})), result)


class Close(unittest.TestCase):
    def test_pieces_give_the_whole_tensors_answer(self):
        e = torch.randn(1000)
        g = e.clone()
        g[3] += 1e-3
        g[997] -= 2e-3
        with mock.patch.object(verify, "_CHUNK", 7):
            diff, close = verify.close(e, g, 1e-5, 1e-6)
        self.assertAlmostEqual(diff, (e - g).abs().max().item(), places=6)
        self.assertFalse(close)
        with mock.patch.object(verify, "_CHUNK", 7):
            self.assertEqual(verify.close(e, e.clone(), 1e-5, 1e-6), (0.0, True))

    def test_nan_and_infinity(self):
        e = torch.tensor([1.0, math.nan, math.inf, 2.0])
        self.assertEqual(verify.close(e, e.clone(), 1e-5, 1e-6), (0.0, True))
        other = e.clone()
        other[1] = 0.0
        self.assertEqual(verify.close(e, other, 1e-5, 1e-6), (math.inf, False))
        other = e.clone()
        other[2] = -math.inf
        self.assertEqual(verify.close(e, other, 1e-5, 1e-6)[1], False)

    def test_verdict_is_torch_allclose(self):
        torch.manual_seed(0)
        base = torch.randn(64)
        cases = []
        for scale in (0.0, 1e-7, 1e-6, 1e-5, 1e-3):
            cases.append((base, base + scale * torch.randn(64)))
        finite = torch.tensor([1.0, 2.0, 3.0])
        cases += [(finite, torch.tensor([1.0, 2.0, math.inf])),
                  (torch.tensor([1.0, 2.0, math.inf]), finite),
                  (torch.tensor([1.0, -math.inf]), torch.tensor([1.0, -math.inf])),
                  (torch.tensor([3e38, 1.0]), torch.tensor([-3e38, 1.0])),
                  (torch.tensor([0.0, 1.0]), torch.tensor([5e-7, 1.0])),
                  (torch.tensor([0.0, 1.0]), torch.tensor([2e-6, 1.0]))]
        for e, g in cases:
            for chunk in (2, 1 << 24):
                with mock.patch.object(verify, "_CHUNK", chunk):
                    self.assertEqual(verify.close(e, g, 1e-5, 1e-6)[1],
                                     torch.allclose(e, g, rtol=1e-5, atol=1e-6, equal_nan=True), (e, g))

    def test_half_precision_difference_is_exact(self):
        e = torch.tensor([1.0, 2.0], dtype=torch.float16)
        g = torch.tensor([1.0, 2.001953125], dtype=torch.float16)
        self.assertEqual(verify.close(e, g, 1e-3, 1e-3)[0], 0.001953125)


if __name__ == "__main__":
    unittest.main()
