"""Unit tests of the Python glue: op table, grouping, naming, code emission,
weight transfer and the api's error replies.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import contextlib
import copy
import json
import math
import operator
import os
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from decompose_glue import api, capture, codegen, emit, levels, modsrc, naming, ops, trace, verify  # noqa: E402
from decompose_glue.loader import load_model_file, weights_left_uninitialised  # noqa: E402


def traced(model, *inputs):
    gm = trace.symbolic(model.eval())
    trace.record_values(gm, list(inputs), {})
    return gm


def by_op(gm, name):
    return [n for n in gm.graph.nodes if levels.op_name(n, gm) == name]


class ConvBnRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)) + x)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.proj = nn.Linear(16, 16)

    def forward(self, x):
        qkv = self.qkv(x).chunk(3, dim=-1)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) * 0.25
        att = att.softmax(dim=-1)
        return self.proj(att @ v)


class TwoBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBnRelu()
        self.blocks = nn.Sequential(ConvBnReluRes(), ConvBnReluRes())
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))


class ConvBnReluRes(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = nn.BatchNorm2d(8)
        self.c = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        return self.c(F.relu(self.b(self.a(x)))) + x


class OpTable(unittest.TestCase):
    def test_class_names_split_into_their_words(self):
        # a lone capital ends a short or numbered word; it is no word of its own
        for name, snake in (("RoIHeads", "roi_heads"), ("MaxViT", "max_vit"), ("Conv1D", "conv1d"),
                            ("S3D", "s3d"), ("InceptionA", "inception_a"), ("ConvReLU2d", "conv_re_lu2d"),
                            ("GPT2Model", "gpt2_model"), ("MBConv", "mb_conv"), ("LSTMHn", "lstm_hn"),
                            ("GeneralizedRCNNTransform", "generalized_rcnn_transform"), ("mT", "m_t"),
                            ("max_pool2d", "max_pool2d"), ("_pack_padded_sequence", "pack_padded_sequence")):
            self.assertEqual(ops.snake(name), snake)

    def test_snake_names_modules_and_functions(self):
        self.assertEqual(ops.snake("BatchNorm2d"), "batch_norm")
        self.assertEqual(ops.snake("ReLU"), "relu")
        self.assertEqual(ops.snake("relu_"), "relu")
        self.assertEqual(ops.snake("RMSNorm"), "rms_norm")
        self.assertEqual(ops.module_op(nn.Conv2d(1, 1, 1)), "conv2d")
        self.assertEqual(ops.function_op(torch.bmm), "matmul")

    def test_residual_add_is_plumbing_but_constant_mul_is_compute(self):
        gm = traced(Residual(), torch.randn(1, 8, 4, 4))
        add = by_op(gm, "add")[0]
        self.assertFalse(levels.is_compute(add, gm))
        gm = traced(Attention(), torch.randn(2, 5, 16))
        mul = by_op(gm, "mul")[0]
        self.assertTrue(levels.is_compute(mul, gm))

    def test_parameter_operand_makes_arithmetic_compute(self):
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.s = nn.Parameter(torch.ones(3))

            def forward(self, x):
                return x * self.s

        gm = traced(Scale(), torch.randn(2, 3))
        self.assertTrue(levels.is_compute(by_op(gm, "mul")[0], gm))

    def test_views_of_parameters_go_with_the_kernel_that_reads_them(self):
        # a relative position bias gathered from its table, a weight read transposed
        class Biased(nn.Module):
            def __init__(self):
                super().__init__()
                self.table = nn.Parameter(torch.randn(7))
                self.register_buffer("index", torch.tensor([[0, 3], [6, 2]]))
                self.w = nn.Parameter(torch.randn(2, 2))

            def forward(self, x):
                y = x + self.table[self.index.view(-1)].view(2, 2)
                return torch.nn.functional.linear(y, self.w.t())

        gm = traced(Biased(), torch.randn(2, 2))
        root = levels.build_tree(gm, Biased())
        self.assertEqual([c.label for c in root.children], ["add", "linear"])
        add = root.children[0]
        self.assertEqual(sorted(n.target for n in add.nodes if n.op == "get_attr"), ["index", "table"])
        self.assertEqual(len([n for n in add.nodes if levels.is_parameter_view(n, gm)]), 3)
        self.assertEqual(codegen.interface(add, gm)[1], [by_op(gm, "add")[0]])


class Fusions(unittest.TestCase):
    def test_conv_bn_relu_is_one_chain(self):
        gm = traced(ConvBnRelu(), torch.randn(1, 3, 8, 8))
        chains = levels.fusion_chains(levels.graph_nodes(gm), gm)
        self.assertEqual([[levels.op_name(n, gm) for n in c] for c in chains],
                         [["conv2d", "batch_norm", "relu"]])

    def test_a_residual_add_ends_the_chain(self):
        gm = traced(Residual(), torch.randn(1, 8, 4, 4))
        chains = levels.fusion_chains(levels.graph_nodes(gm), gm)
        self.assertEqual([[levels.op_name(n, gm) for n in c] for c in chains], [["conv2d", "batch_norm"]])

    def test_attention_core_is_one_chain(self):
        gm = traced(Attention(), torch.randn(2, 5, 16))
        chains = levels.fusion_chains(levels.graph_nodes(gm), gm)
        ops_ = [[levels.op_name(n, gm) for n in c if levels.is_compute(n, gm)] for c in chains]
        self.assertIn(["matmul", "mul", "softmax", "matmul"], ops_)

    def test_two_heavy_ops_never_share_a_chain(self):
        gm = traced(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU()), torch.randn(2, 4))
        chains = levels.fusion_chains(levels.graph_nodes(gm), gm)
        self.assertEqual(len(chains), 2)


class Tree(unittest.TestCase):
    def test_single_op_model_is_one_kernel(self):
        model = nn.Conv2d(3, 4, 3)
        gm = traced(model, torch.randn(1, 3, 8, 8))
        root = levels.build_tree(gm, model)
        self.assertEqual(root.level, levels.KERNEL)

    def test_chain_model_is_one_fusion_of_kernels(self):
        model = ConvBnRelu()
        gm = traced(model, torch.randn(1, 3, 8, 8))
        root = levels.build_tree(gm, model)
        self.assertEqual(root.level, levels.FUSION)
        self.assertEqual([c.level for c in root.children], [levels.KERNEL] * 3)

    def test_blocks_become_layers_and_small_modules_settle_lower(self):
        model = TwoBlocks()
        gm = traced(model, torch.randn(1, 3, 8, 8))
        root = levels.build_tree(gm, model)
        self.assertEqual(root.level, levels.MODEL)
        kinds = [(c.label, c.level) for c in root.children]
        self.assertIn(("stem", levels.FUSION), kinds)
        self.assertIn(("blocks.0", levels.LAYER), kinds)
        self.assertIn(("blocks.1", levels.LAYER), kinds)
        leaves = [c for c in levels.walk(root) if not c.children]
        self.assertTrue(all(c.level == levels.KERNEL for c in leaves))
        computes = [n for n in levels.graph_nodes(gm) if levels.is_compute(n, gm)]
        self.assertEqual(sorted(n.name for c in leaves for n in c.nodes if levels.is_compute(n, gm)),
                         sorted(n.name for n in computes))

    def test_a_value_read_into_python_belongs_to_the_kernel_that_takes_it_or_made_it(self):
        # x / x.std().item(): in the parent, the item() would be a number made
        # outside every child (the anti-cheat); the division reads it itself.
        # A read two ops take is made by the kernel that made its tensor.
        class Scaled(nn.Module):
            def forward(self, x):
                once = x / (x.std().item() * 2)
                twice = x.mean().item()
                return once + x * twice - twice

        gm = traced(Scaled(), torch.randn(4, 8))
        root = levels.build_tree(gm, Scaled())
        kernels = {c.label: [levels.op_name(n, gm) for n in c.nodes] for c in root.children}
        self.assertEqual(kernels["div"], ["item", "mul", "div"])
        self.assertEqual(kernels["mean"], ["mean", "item"])
        self.assertEqual(kernels["mul"], ["mul"])
        self.assertEqual(kernels["sub"], ["sub"])

    def test_a_model_that_only_joins_its_inputs_is_that_arithmetic(self):
        # KernelBench level 1's diag(A) @ B as A.unsqueeze(1) * B: no other op
        class Scale(nn.Module):
            def forward(self, a, b):
                return a.unsqueeze(1) * b

        gm = traced(Scale(), torch.randn(4), torch.randn(4, 3))
        root = levels.build_tree(gm, Scale())
        self.assertEqual(root.level, levels.KERNEL)
        self.assertEqual([c.label for c in root.children], ["mul"])
        # with other compute in the graph, the same multiply is plumbing again
        gm = traced(Residual(), torch.randn(1, 8, 8, 8))
        adds = [n for n in levels.graph_nodes(gm) if levels.op_name(n, gm) == "add"]
        self.assertTrue(adds and not any(levels.is_compute(n, gm) for n in adds))

    def test_a_wrapped_model_is_looked_through_for_its_blocks(self):
        # tools/zoo wraps torchvision models as self.net; GoogLeNet keeps its
        # inception blocks as plain attributes: those blocks are the layers
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(4, 4, 3, padding=1)
                self.b = nn.Conv2d(4, 4, 1)

            def forward(self, x):
                return torch.relu(self.b(torch.relu(self.a(x))))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Conv2d(3, 4, 1)
                self.block_a = Block()
                self.block_b = Block()

            def forward(self, x):
                return self.block_b(self.block_a(self.stem(x)))

        class Wrapper(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = Net()

            def forward(self, x):
                return self.net(x)

        model = Wrapper()
        root = levels.build_tree(traced(model, torch.randn(1, 3, 8, 8)), model)
        kinds = [(c.label, c.level) for c in root.children]
        self.assertIn(("net.block_a", levels.LAYER), kinds)
        self.assertIn(("net.block_b", levels.LAYER), kinds)

    def test_flat_sequential_is_cut_into_stages_after_pooling(self):
        model = nn.Sequential()
        model.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                       nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = model.features
                self.fc = nn.Linear(32, 2)

            def forward(self, x):
                return self.fc(self.features(x).flatten(1))

        net = Net()
        gm = traced(net, torch.randn(1, 3, 8, 8))
        root = levels.build_tree(gm, net)
        stages = [c for c in root.children if c.kind == "stage"]
        self.assertEqual(len(stages), 2)


class Naming(unittest.TestCase):
    def test_attribute_names_in_a_layer_do_not_name_its_instance(self):
        # each of MobileNet's five 512-channel stages (model.7 ... model.11)
        # must name its convs alike, or the five are five files
        for stage in ("7", "8"):
            names = codegen._attr_names([f"model.{stage}.0", f"model.{stage}.1"], "m")
            self.assertEqual(list(names.values()), ["m_0", "m_1"])
        # a tensor in a list attribute is named with the list
        held = ["anchors.cell_anchors.0", "anchors.cell_anchors.1"]
        self.assertEqual(list(codegen._attr_names(held, "m", dict.fromkeys(held, 1)).values()),
                         ["cell_anchors_0", "cell_anchors_1"])
        # ... and one deeper, with all its keys
        self.assertEqual(list(codegen._attr_names(["head.bounds.image.1"], "m", {"head.bounds.image.1": 2}).values()),
                         ["bounds_image_1"])

    def test_kernel_names_carry_the_workload(self):
        model = ConvBnRelu()
        gm = traced(model, torch.randn(1, 3, 8, 8))
        conv = by_op(gm, "conv2d")[0]
        self.assertEqual(naming.kernel_name(conv, gm), "conv2d_3x8_k3s1p1_fp32")
        self.assertEqual(naming.kernel_name(by_op(gm, "relu")[0], gm), "relu_fp32")

    def test_matmul_names_carry_operand_shapes(self):
        gm = traced(Attention(), torch.randn(2, 5, 16))
        mm = by_op(gm, "matmul")[0]
        self.assertEqual(naming.kernel_name(mm, gm), "matmul_2x5x16_2x16x5_fp32")


    def test_child_attributes_never_hide_what_nn_module_has(self):
        # a child named after the op `to` became `self.to`, which the method shadows
        for name in ("to", "float", "eval", "parameters", "forward", "training", "lambda"):
            safe = codegen._attr_safe(name)
            self.assertNotEqual(safe, name)
            self.assertFalse(hasattr(nn.Module, safe))
        self.assertEqual(codegen._attr_safe("conv1_bn1_relu"), "conv1_bn1_relu")

    def test_a_downsampling_block_is_named_by_what_it_gives(self):
        # layer2[0] takes what layer1's blocks take (16x16x16) and gives 32x8x8
        reply = json.loads(api.plan(json.dumps(
            {"model_path": os.path.join(ROOT, "tests", "models", "resnet_blocks.py")})))
        layers = sorted(os.path.basename(f["path"]) for f in reply["files"]
                        if f["path"].startswith("level_2_layer/"))
        self.assertEqual(layers, ["basic_block_16x16x16_fp32.py", "basic_block_16x16x16_fp32_out32x8x8.py",
                                  "basic_block_32x8x8_fp32.py"])

    def test_a_second_workload_is_told_apart_by_what_differs(self):
        from decompose_glue import plan

        class Node:
            def __init__(self, shape):
                self.meta = {"value": {"kind": "tensor", "shape": shape, "dtype": "float32"}}

        class Instance:
            def __init__(self, inputs, outputs, weights, op_list=("roll",)):
                self.inputs, self.outputs = [Node(s) for s in inputs], [Node(s) for s in outputs]
                self.weight_shapes = {"w": weights} if weights else {}
                self.component = levels.Component(levels.KERNEL, [], "kernel", "")  # no op node to compare
                self.op_list = list(op_list)
                self.settings = []
                self.loose_names = []

        owner = Instance([[]], [[3, 1, 1]], [3, 1, 1])
        # Swin V2's logit-scale clamps: a 0-dim input, outputs that differ only whole
        self.assertEqual(plan._told_apart("clamp_fp32", Instance([[]], [[6, 1, 1]], [6, 1, 1]), owner, "b", {}),
                         "clamp_fp32_out6x1x1")
        # weights alone differ
        owner = Instance([[2, 8]], [[2, 8]], [8])
        self.assertEqual(plan._told_apart("scale_fp32", Instance([[2, 8]], [[2, 8]], [4, 2]), owner, "b", {}),
                         "scale_fp32_w4x2")
        # the ops one runs and the other does not (a shifted window block pads)
        block = "swin_block_49x96_fp32"
        owner = Instance([[2, 8]], [[2, 8]], None, ["layer_norm", "linear"])
        shifted = Instance([[2, 8]], [[2, 8]], None, ["layer_norm", "pad", "linear", "roll"])
        self.assertEqual(plan._told_apart(block, shifted, owner, "b", {}), f"{block}_with_pad_roll")
        self.assertEqual(plan._told_apart(block, owner, shifted, "b", {}), f"{block}_no_pad_roll")
        # nothing but the text differs
        owner = Instance([[2, 8]], [[2, 8]], None)
        self.assertRegex(plan._told_apart("roll_fp32", Instance([[2, 8]], [[2, 8]], None), owner, "body", {}),
                         r"^roll_fp32_[0-9a-f]{6}$")

    def test_a_kernel_called_with_another_value_is_named_by_it(self):
        # Swin's cyclic shift and its reverse: torch.roll by -1 and by +1
        reply = plan_of(textwrap.dedent("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)

                def forward(self, x):
                    y = torch.roll(x, shifts=-1, dims=1)
                    return torch.roll(self.fc(y), shifts=1, dims=1)
            """))
        rolls = sorted(n["id"] for n in reply["nodes"] if n["id"].startswith("roll"))
        self.assertEqual(len(rolls), 2, rolls)
        self.assertTrue(rolls[1].endswith("_shifts_1"), rolls)

    def test_a_fusion_child_is_named_after_all_its_modules(self):
        reply = json.loads(api.plan(json.dumps(
            {"model_path": os.path.join(ROOT, "tests", "models", "resnet_blocks.py")})))
        root = next(f["content"] for s in reply["steps"] for f in s["files"]
                    if f["path"].endswith("step_1_model_to_layers/refactored.py"))
        self.assertIn("self.conv1_bn1_relu_maxpool = ", root)
        # a Sequential's indices (layer2[0].downsample[0], [1]) are named with the Sequential
        block = next(f["content"] for s in reply["steps"] for f in s["files"]
                     if f["path"].endswith("_out32x8x8_to_fusions/refactored.py"))
        self.assertIn("self.downsample_0_1 = ", block)


def plan_of(model_class_source):
    """The plan of a model file made of a Model class taking one (4, 8) input."""
    return plan_of_file("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
                        + model_class_source
                        + "\n\ndef get_inputs():\n    return [torch.randn(4, 8)]\n\n\n"
                        "def get_init_inputs():\n    return []\n")


def plan_of_file(text):
    """The plan of a model file of this text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.py")
        with open(path, "w") as f:
            f.write(text)
        return json.loads(api.plan(json.dumps({"model_path": path})))


class SimpleConvForTest(nn.Conv1d):
    def __init__(self, channels, midplanes):
        super().__init__(channels, channels, 3, padding=1)


class ScaledConvForTest(nn.Conv1d):
    def forward(self, x):
        return super().forward(x) * 2


class Workloads(unittest.TestCase):
    def test_weights_of_other_names_and_one_shape_are_one_workload(self):
        # CaiT's layer scales gamma_1 and gamma_2: one mul kernel file, each instance its own weight
        reply = plan_of(textwrap.dedent("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)
                    self.gamma_1 = nn.Parameter(torch.randn(8))
                    self.gamma_2 = nn.Parameter(torch.randn(8))

                def forward(self, x):
                    x = x + self.fc(x) * self.gamma_1
                    return x + torch.tanh(x) * self.gamma_2
            """))
        kernels = sorted(os.path.basename(f["path"]) for f in reply["files"]
                         if f["path"].startswith("level_0_kernel/"))
        self.assertEqual([k for k in kernels if k.startswith("mul")], ["mul_8_fp32.py"], kernels)
        mapping = next(json.loads(f["content"]) for s in reply["steps"] for f in s["files"]
                       if f["path"].endswith("weight_map.json") and "step_1_" in f["path"])
        targets = sorted(v for k, v in mapping.items() if k.startswith("gamma"))
        self.assertEqual(len(set(t.split(".")[0] for t in targets)), 2, mapping)  # two instances
        self.assertEqual(len(set(t.split(".")[1] for t in targets)), 1, mapping)  # of one file's weight

    def test_one_call_spelled_two_ways_is_one_workload(self):
        self.assertEqual(modsrc.settings(nn.Conv2d(16, 16, 3, padding=1, bias=False)),
                         modsrc.settings(nn.Conv2d(16, 16, kernel_size=(3, 3), stride=1, padding=1, bias=False)))
        self.assertEqual(modsrc.settings(nn.ReLU(True)), modsrc.settings(nn.ReLU(inplace=True)))

    def test_any_setting_weight_or_child_that_differs_is_another_workload(self):
        base = modsrc.settings(nn.Conv2d(16, 16, 3, padding=1))
        for other in (nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.Conv2d(16, 16, 3, padding=1, stride=2),
                      nn.Conv2d(16, 16, 3, padding=1, padding_mode="reflect"),
                      nn.Conv2d(16, 16, 3, padding=1).double()):
            self.assertNotEqual(modsrc.settings(other), base, other)
        self.assertNotEqual(modsrc.settings(nn.MultiheadAttention(8, 2)),
                            modsrc.settings(nn.MultiheadAttention(8, 2, bias=False)))

    def test_factory_defaults_torch_passes_on_are_not_written(self):
        # nn.TransformerEncoderLayer builds nn.Linear(d, f, device=None, dtype=None)
        reply = json.loads(api.plan(json.dumps(
            {"model_path": os.path.join(ROOT, "tests", "models", "torch_encoder.py")})))
        texts = [f["content"] for f in reply["files"] if f["path"].endswith(".py")]
        self.assertTrue(any("nn.Linear(" in t for t in texts))
        self.assertFalse([t for t in texts if "device=None" in t or "dtype=None" in t])

    def test_an_op_written_as_a_module_or_a_function_is_one_workload(self):
        text = textwrap.dedent("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 8)
                    self.fc2 = nn.Linear(8, 8)
                    self.fc3 = nn.Linear(8, 8)
                    self.act = nn.ReLU(inplace=True)
                    self.soft = nn.Softmax(dim=1)

                def forward(self, x):
                    a = self.act(self.fc1(x))
                    b = F.relu(self.fc2(a), inplace=True)
                    c = torch.relu(self.fc3(b))           # not in place: another workload
                    return self.soft(c) + torch.softmax(c, 1) + c.softmax(0)
            """)
        reply = plan_of(text)
        kernels = {n["id"]: n["instance_count"] for n in reply["nodes"] if n["level"] == "kernel"}
        self.assertEqual(kernels.get("relu_inplace_fp32"), 2, kernels)
        self.assertEqual(kernels.get("relu_fp32"), 1, kernels)
        softmax = sorted(n for k, n in kernels.items() if k.startswith("softmax"))
        self.assertEqual(softmax, [1, 2], kernels)  # dim=1 twice (module, function), dim=0 once

    def test_a_module_training_flag_counts_where_the_function_takes_one(self):
        # nn.Dropout in eval does nothing; F.dropout(x, p) with its default training=True drops
        text = textwrap.dedent("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)
                    self.drop = nn.Dropout(0.1)

                def forward(self, x):
                    y = self.fc(x)
                    return self.drop(y) + F.dropout(y, 0.1, training=False) + F.dropout(y * 2, 0.1)
            """)
        reply = plan_of(text)
        dropout = sorted(n["instance_count"] for n in reply["nodes"]
                         if n["level"] == "kernel" and n["id"].startswith("dropout"))
        self.assertEqual(dropout, [1, 2])

    def test_only_torch_nn_modules_have_settings(self):
        self.assertIsNone(modsrc.settings(ConvBnRelu()))

    def test_a_subclass_that_only_builds_a_torch_nn_module_is_that_module(self):
        # torchvision's Conv3DSimple(in, out, midplanes) is an nn.Conv3d whatever its midplanes
        reply = plan_of_file(textwrap.dedent("""
            import torch
            import torch.nn as nn


            class SimpleConv(nn.Conv1d):
                def __init__(self, channels, midplanes, stride=1):
                    super().__init__(channels, channels, 3, stride=stride, padding=1, bias=False)

                @staticmethod
                def stride_of(stride):
                    return stride


            class Scaled(nn.Conv1d):
                def forward(self, x):
                    return super().forward(x) * 2


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = SimpleConv(8, 20)
                    self.b = SimpleConv(8, 36, 1)
                    self.c = nn.Conv1d(8, 8, 3, padding=1, bias=False)
                    self.d = Scaled(8, 8, 3, padding=1, bias=False)

                def forward(self, x):
                    return self.d(self.c(torch.relu(self.b(torch.relu(self.a(x))))))


            def get_inputs():
                return [torch.randn(2, 8, 16)]


            def get_init_inputs():
                return []
            """))
        self.assertTrue(reply["ok"], reply)
        kernels = {n["id"]: n["instance_count"] for n in reply["nodes"]
                   if n["level"] == "kernel" and n["id"].startswith(("conv1d", "scaled"))}
        # a, b and c run nn.Conv1d's code alone: one file; d computes more: its own,
        # named by its class (ops.own_forward_class)
        self.assertEqual(kernels, {"conv1d_8x8_k3s1p1_fp32": 3, "scaled_8x8_k3s1p1_fp32": 1})
        self.assertIs(modsrc.computes_as(SimpleConvForTest), nn.Conv1d)
        for cls in (ScaledConvForTest, ConvBnRelu, nn.Module):
            self.assertIsNone(modsrc.computes_as(cls), cls)
        self.assertIs(modsrc.computes_as(nn.Conv1d), nn.Conv1d)

    def test_a_torch_nn_subclass_whose_float_the_file_takes_is_one_file_for_every_value(self):
        # read by its base's settings, the drop rate the file takes would tell the instances apart
        reply = plan_of_file(textwrap.dedent("""
            import torch
            import torch.nn as nn


            class Drop(nn.Dropout):
                def __init__(self, rate):
                    super().__init__(rate)


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Linear(8, 8)
                    self.da = Drop(0.1)
                    self.b = nn.Linear(8, 8)
                    self.db = Drop(0.2)

                def forward(self, x):
                    return self.db(self.b(torch.relu(self.da(self.a(x)))))


            def get_inputs():
                return [torch.randn(2, 8)]


            def get_init_inputs():
                return []
            """))
        self.assertTrue(reply["ok"], reply)
        kernels = {n["id"]: n["instance_count"] for n in reply["nodes"]
                   if n["level"] == "kernel" and n["id"].startswith("drop")}
        self.assertEqual(kernels, {"drop_fp32": 2})

    def test_numbers_an_op_computes_with_are_constructor_arguments_of_one_file(self):
        # SSDlite fills one label tensor per class: one kernel, each instance its own label
        reply = plan_of(textwrap.dedent("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)

                def forward(self, x):
                    y = self.fc(x)
                    labels = [torch.full_like(y, k, dtype=torch.int64) for k in (1, 2, 3)]
                    low = y.clamp(min=-1.0, max=1.0) + y.clamp(min=-0.5, max=0.5)
                    return low * 0.5 + y * 0.25 + y * 2, torch.stack(labels) * 2
            """))
        kernels = {n["id"]: n["instance_count"] for n in reply["nodes"] if n["level"] == "kernel"}
        self.assertEqual(kernels.get("full_like_4x8_fp32_i64"), 3, kernels)
        self.assertEqual(kernels.get("clamp_fp32"), 2, kernels)
        # y * 2 of a float tensor computes as y * 2.0: one file with y * 0.5; an
        # int tensor's x * 2 stays an int, another file
        self.assertEqual({k: n for k, n in kernels.items() if k.startswith("mul")},
                         {"mul_fp32": 3, "mul_i64": 1}, kernels)
        files = {os.path.basename(f["path"]): f["content"] for f in reply["files"]}
        self.assertIn("def __init__(self, other: float):", files["mul_fp32.py"])
        self.assertIn("def __init__(self, other: int):", files["mul_i64.py"])
        full = files["full_like_4x8_fp32_i64.py"]
        self.assertIn("    def __init__(self, fill_value: int):\n        super().__init__()\n"
                      "        self.fill_value = fill_value\n", full)
        self.assertIn("torch.full_like(x, self.fill_value, dtype=torch.int64", full)
        self.assertIn("def get_init_inputs():\n    return [1]\n", full)
        self.assertIn("  - fill_value: 1, 2, 3\n", full)
        self.assertIn("def __init__(self, min: float, max: float):", files["clamp_fp32.py"])
        # each instance built with its own, in the steps and the composition
        refactored = next(f["content"] for s in reply["steps"] for f in s["files"]
                          if f["path"].endswith("refactored.py") and "step_1_" in f["path"])
        for text in ("FullLike4x8Fp32I64(fill_value=3)", "ClampFp32(min=-0.5, max=0.5)", "MulFp32(other=2.0)"):
            self.assertIn(text, refactored)
            self.assertIn(text, files["composition_test.py"])


class FutureImports(unittest.TestCase):
    def test_a_model_file_with_future_annotations_gives_files_that_compile(self):
        text = textwrap.dedent("""\
            \"\"\"A model written with postponed annotations.\"\"\"
            from __future__ import annotations

            import itertools

            import torch
            import torch.nn as nn


            class Gate(nn.Module):
                def __init__(self, width: int) -> None:
                    super().__init__()
                    self.bias = nn.Parameter(torch.zeros(width))

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return x * torch.sigmoid(x + self.bias)


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    layers = itertools.chain((nn.Linear(8, 8), nn.ReLU(), Gate(8)), (nn.Linear(8, 8), Gate(8)))
                    self.blocks = nn.Sequential(*layers)

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.blocks(x).sum(-1) + x.mean(-1)


            def get_inputs():
                return [torch.randn(2, 8)]


            def get_init_inputs():
                return []
            """)
        reply = plan_of_file(text)
        self.assertTrue(reply["ok"], reply)
        files = reply["files"] + [f for s in reply["steps"] for f in s["files"]]
        for f in files:
            if f["path"].endswith(".py"):
                compile(f["content"], f["path"], "exec")  # a late __future__ import is a SyntaxError
        model = next(f["content"] for f in files if f["path"].startswith("level_3_model/"))
        self.assertIn('"""\n\nfrom __future__ import annotations\n\nimport sys\n', model)
        # a file that copies Gate takes the imports Gate needs, not the model's itertools
        gates = [f["content"] for f in files if "\nclass Gate(nn.Module):" in f["content"] and f["content"] != model
                 and not f["path"].endswith("original.py")]
        self.assertTrue(gates)
        for text in gates:
            self.assertIn('"""\n\nfrom __future__ import annotations\n\nimport sys\n', text)
            self.assertNotIn("import itertools", text)
        self.assertIn("# The user's model, verbatim, its __future__ imports moved to the top", model)


class LibraryClasses(unittest.TestCase):
    def test_classes_of_a_library_are_imported_in_the_import_block_one_line_a_module(self):
        text = textwrap.dedent("""\
            import torch
            import torch.nn as nn
            from torchvision.ops import FrozenBatchNorm2d
            from torchvision.ops.misc import Permute


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(4, 8, 3, padding=1)
                    self.bn = FrozenBatchNorm2d(8)
                    self.to_last = Permute([0, 2, 3, 1])

                def forward(self, x):
                    return self.to_last(self.bn(self.conv(x))).relu()


            def get_inputs():
                return [torch.randn(2, 4, 8, 8)]


            def get_init_inputs():
                return []
            """)
        reply = plan_of_file(text)
        self.assertTrue(reply["ok"], reply)
        fusion = next(f["content"] for f in reply["files"] if f["path"].startswith("level_1_fusion/"))
        # torchvision.ops re-exports both from torchvision.ops.misc, where they are defined
        self.assertIn("import torch.nn.functional as F\n\nfrom torchvision.ops.misc import FrozenBatchNorm2d, Permute"
                      "\n\n\nclass Model(nn.Module):", fusion)


class KernelNames(unittest.TestCase):
    def test_a_torch_subclass_is_named_by_its_class_only_where_it_computes_in_its_own_forward(self):
        self.assertIs(ops.own_forward_class(ScaledConvForTest(4, 4, 3)), ScaledConvForTest)
        parametrized = nn.Linear(4, 4)
        torch.nn.utils.parametrize.register_parametrization(parametrized, "weight", nn.Identity())
        for module in (SimpleConvForTest(4, 2), nn.Conv1d(4, 4, 3), parametrized,
                       nn.modules.linear.NonDynamicallyQuantizableLinear(4, 4), ConvBnRelu()):
            self.assertIsNone(ops.own_forward_class(module), type(module))

    def test_kernels_of_one_op_are_named_by_what_tells_them_apart(self):
        text = textwrap.dedent("""\
            import torch
            import torch.nn as nn
            from torchvision.ops import StochasticDepth


            class Scaled(nn.Module):
                def __init__(self, scales):
                    super().__init__()
                    self.scales = scales

                def forward(self, x):
                    return x * self.scales[0]


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    # one drop rate per block, as torchvision's models grow them
                    self.drops = nn.ModuleList(StochasticDepth(p, "row") for p in (0.0, 0.05))
                    self.norms = nn.ModuleList(nn.LayerNorm(8, eps=eps) for eps in (1e-5, 1e-6))
                    self.up = nn.Linear(8, 16)
                    # scales too long to name: two at one shape, the first at another
                    self.scaled = nn.ModuleList(Scaled(tuple(float(i + k) for i in range(8))) for k in range(3))

                def forward(self, x):
                    for drop, norm in zip(self.drops, self.norms):
                        x = x + drop(norm(x))
                    x = self.scaled[0](x)
                    x = self.up(x)
                    return self.scaled[2](self.scaled[1](x))


            def get_inputs():
                return [torch.randn(2, 8)]


            def get_init_inputs():
                return []
            """)
        reply = plan_of_file(text)
        self.assertTrue(reply["ok"], reply)
        kernels = sorted(f["path"][len("level_0_kernel/"):-3] for f in reply["files"]
                         if f["path"].startswith("level_0_kernel/"))
        # torch.nn's are told apart by the setting that differs; before, by a hash of their text
        for stem in ("layer_norm_8_fp32", "layer_norm_8_fp32_eps_1eneg06"):
            self.assertIn(stem, kernels)
        # a library's module built with another number is one file, which takes it
        self.assertEqual([k for k in kernels if k.startswith("stochastic_depth")], ["stochastic_depth_fp32"])
        # a fusion of such modules, by the first that differs
        fusions = sorted(f["path"] for f in reply["files"] if f["path"].startswith("level_1_fusion/"))
        self.assertIn("level_1_fusion/layer_norm_stochastic_depth_8_fp32_eps_1eneg06.py", fusions)
        # the second of shape 2x16 is not named by a shape the first has too
        # (before: scaled_fp32_in16 and scaled_fp32_in2x16, for one shape)
        scaled = [k for k in kernels if k.startswith("scaled_fp32")]
        self.assertEqual(len(scaled), 3, kernels)
        self.assertIn("scaled_fp32_in16", scaled)
        self.assertEqual([k for k in scaled if k.startswith(("scaled_fp32_in", "scaled_fp32_out"))],
                         ["scaled_fp32_in16"])

    def test_kernels_of_one_shape_are_named_by_the_weight_or_the_word_one_has(self):
        # WaveRNN's 1x1 convs with and without a bias; MViT's einsums over h and over w;
        # a masked_fill_ beside a masked_fill
        reply = plan_of_file(textwrap.dedent("""\
            import torch
            import torch.nn as nn


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Conv1d(8, 8, 1, bias=False)
                    self.b = nn.Conv1d(8, 8, 1)
                    self.rel = nn.Parameter(torch.randn(4, 3, 8))

                def forward(self, x, y):
                    h = torch.einsum("bhwc,hkc->bhwk", y, self.rel)
                    w = torch.einsum("bhwc,wkc->bhwk", y, self.rel)
                    low = torch.zeros_like(x).masked_fill_(x > 0, -1.0)  # torch 2.x's attention mask
                    kept = torch.empty_like(x).copy_(x * 3)  # copy_ has no out-of-place op
                    return self.b(torch.relu(self.a(x))) + low.masked_fill(x < -1, 2.0) + kept, h + w


            def get_inputs():
                return [torch.randn(2, 8, 16), torch.randn(2, 4, 4, 8)]


            def get_init_inputs():
                return []
            """))
        self.assertTrue(reply["ok"], reply)
        kernels = sorted(f["path"][len("level_0_kernel/"):-3] for f in reply["files"]
                         if f["path"].startswith("level_0_kernel/"))
        self.assertIn("conv1d_8x8_k1s1p0_fp32", kernels)
        self.assertIn("conv1d_8x8_k1s1p0_fp32_with_bias", kernels)
        einsums = [k for k in kernels if k.startswith("einsum")]
        self.assertEqual(len(einsums), 2, kernels)
        self.assertTrue(einsums[1].endswith("_arg0_wkc"), einsums)
        # a write into its input is another workload, and says so
        self.assertEqual([k for k in kernels if k.startswith("masked_fill")],
                         ["masked_fill_fp32", "masked_fill_inplace_fp32"])
        self.assertIn("copy_2x8x16_2x8x16_fp32", kernels)

    def test_kernels_apart_by_the_values_of_a_table_they_read_are_named_by_the_table(self):
        # SSD's anchor tables, one per feature map: before, clamp_2x2_fp32_<hash>
        reply = plan_of_file(textwrap.dedent("""\
            import torch
            import torch.nn as nn


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 4)
                    self.tables = [torch.tensor([[0.5, 2.0], [1.5, 3.5]]), torch.tensor([[4.0, 0.25], [2.5, 1.0]])]

                def forward(self, x):
                    y = self.fc(x)
                    return [y + t.clamp(min=0.0, max=3.0).sum() for t in self.tables]


            def get_inputs():
                return [torch.randn(2, 4)]


            def get_init_inputs():
                return []
            """))
        self.assertTrue(reply["ok"], reply)
        kernels = sorted(f["path"][len("level_0_kernel/"):-3] for f in reply["files"]
                         if f["path"].startswith("level_0_kernel/clamp"))
        self.assertEqual(kernels, ["clamp_2x2_fp32", "clamp_2x2_fp32_tables_1"])


class ModuleNumbers(unittest.TestCase):
    def test_a_fusions_modules_that_name_their_numbers_alike_take_them_apart(self):
        # a block scales by its own p and drops at a rate StochasticDepth also calls p:
        # the second is the fusion's stochastic_depth_p, and the blocks are one file
        text = textwrap.dedent("""\
            import torch
            import torch.nn as nn
            from torchvision.ops import StochasticDepth


            class Scale(nn.Module):
                def __init__(self, p):
                    super().__init__()
                    self.p = p

                def forward(self, x):
                    return x * self.p


            class Block(nn.Module):
                def __init__(self, a, b):
                    super().__init__()
                    self.fc = nn.Linear(8, 8)
                    self.one = Scale(a)
                    self.two = StochasticDepth(b, "row")

                def forward(self, x):
                    return x + self.two(self.one(torch.relu(self.fc(x))))


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = nn.Sequential(*[Block(1.0 / (i + 1), 0.05 * i) for i in range(3)])

                def forward(self, x):
                    return self.blocks(x)


            def get_inputs():
                return [torch.randn(2, 8)]


            def get_init_inputs():
                return []
            """)
        reply = plan_of_file(text)
        self.assertTrue(reply["ok"], reply)
        fusions = [f for f in reply["files"] if f["path"].startswith("level_1_fusion/")]
        self.assertEqual(len(fusions), 1, [f["path"] for f in fusions])
        self.assertIn("    def __init__(self, p: float, stochastic_depth_p: float):\n", fusions[0]["content"])
        self.assertIn("self.stochastic_depth = StochasticDepth(stochastic_depth_p, 'row')", fusions[0]["content"])
        step = next(s for s in reply["steps"] if s["name"].startswith("step_2_"))
        refactored = next(f["content"] for f in step["files"] if f["path"].endswith("/refactored.py"))
        self.assertIn("= StochasticDepthFp32(p=stochastic_depth_p)", refactored)


class Headers(unittest.TestCase):
    def test_a_kernel_of_many_parents_names_the_first_eight(self):
        # EfficientNetV2-S's StochasticDepth file has 35 parent fusions: one line named them all
        reply = plan_of(textwrap.dedent("""\
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fcs = nn.ModuleList(nn.Linear(8 + i, 9 + i) for i in range(10))

                def forward(self, x):
                    for fc in self.fcs:
                        x = torch.relu(fc(x))
                    return x
            """))
        self.assertTrue(reply["ok"], reply)
        relu = next(f["content"] for f in reply["files"] if f["path"] == "level_0_kernel/relu_fp32.py")
        parent = next(line for line in relu.split("\n") if line.startswith("Parent: "))
        self.assertTrue(parent.startswith("Parent: linear_relu_8x9_fp32, "), parent)
        self.assertTrue(parent.endswith(", linear_relu_15x16_fp32 ... (10 in all)"), parent)
        self.assertEqual(parent.count(", "), 7)


class LooseWeights(unittest.TestCase):
    """A weight that is no torch.nn module's (an attention projection, a
    position table) is written drawn through torch.nn.init: the same numbers
    as torch.randn, and no draw where the weights are bound right after."""

    TEXT = textwrap.dedent("""
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(8, 8))
                self.register_buffer("shift", torch.rand(8))

            def forward(self, x):
                return F.linear(x, self.w) + self.shift
        """)

    def _built(self, context):
        reply = plan_of(self.TEXT)
        kernel = next(f for f in reply["files"] if f["path"].startswith("level_0_kernel/linear"))
        self.assertIn("nn.Parameter(nn.init.normal_(torch.empty((8, 8))))", kernel["content"])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "linear.py")
            with open(path, "w") as f:
                f.write(kernel["content"])
            cls = load_model_file(path).cls
            torch.manual_seed(0)
            before = torch.get_rng_state()
            with context():
                model = cls()
            return model, before

    def test_a_standalone_build_draws_what_torch_randn_draws(self):
        model, _ = self._built(contextlib.nullcontext)
        torch.manual_seed(0)
        self.assertTrue(torch.equal(model.w, torch.randn(8, 8)))

    def test_a_build_whose_weights_are_bound_after_draws_nothing(self):
        _, before = self._built(weights_left_uninitialised)
        self.assertTrue(torch.equal(torch.get_rng_state(), before))


class BufferValues(unittest.TestCase):
    """A buffer is what the model computes with (a mask, an index): a kernel
    file holds the model's own values where a short text makes them."""

    TEXT = textwrap.dedent("""
        class Pick(nn.Module):  # not a leaf: its buffer goes to the kernel that reads it
            def __init__(self, order):
                super().__init__()
                self.register_buffer("index", torch.tensor(order))
                self.act = nn.ReLU()

            def forward(self, x):
                return self.act(torch.index_select(x, 1, self.index))


        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.pick = Pick([3, 1, 0, 2, 7, 5, 6, 4])
                self.reverse = Pick([7, 6, 5, 4, 3, 2, 1, 0])
                self.again = Pick([3, 1, 0, 2, 7, 5, 6, 4])
                self.register_buffer("scale", torch.full((8,), 0.5))
                self.register_buffer("mask", torch.tril(torch.ones(4, 8)).view(1, 1, 4, 8))
                self.register_buffer("table", torch.arange(24.0).view(8, 3) / 7)
                self.register_buffer("noise", torch.arange(4100.0))

            def forward(self, x):
                a = self.pick(x) * self.scale + self.reverse(x) + self.again(x)
                c = a.masked_fill(self.mask[0, 0] == 0, 0.0)
                return c @ self.table + self.noise[:12].view(4, 3)
        """)

    @classmethod
    def setUpClass(cls):
        cls.reply = plan_of(cls.TEXT)
        cls.texts, cls.buffers = {}, {}
        with tempfile.TemporaryDirectory() as tmp:
            for f in cls.reply["files"]:
                if not f["path"].startswith("level_0_kernel/"):
                    continue
                path = os.path.join(tmp, os.path.basename(f["path"]))
                with open(path, "w") as out:
                    out.write(f["content"])
                model = load_model_file(path).build()
                for name, value in model.named_buffers():
                    # the two index files by their first value
                    key = f"index{value[0].item()}" if name == "index" else name
                    cls.texts[key] = f["content"]
                    cls.buffers[key] = value

    def test_the_model_s_values_are_written_where_they_are_short(self):
        expected = {"index3": torch.tensor([3, 1, 0, 2, 7, 5, 6, 4]), "index7": torch.tensor([7, 6, 5, 4, 3, 2, 1, 0]),
                    "scale": torch.full((8,), 0.5), "mask": torch.tril(torch.ones(4, 8)).view(1, 1, 4, 8),
                    "table": torch.arange(24.0).view(8, 3) / 7}
        for name, value in expected.items():
            self.assertEqual(self.buffers[name].dtype, value.dtype, name)
            self.assertTrue(torch.equal(self.buffers[name], value), name)

    def test_a_constant_and_a_triangle_are_one_call_and_other_values_a_list(self):
        self.assertIn("self.register_buffer('scale', torch.full((8,), 0.5))", self.texts["scale"])
        self.assertIn("torch.tril(torch.ones(4, 8)).view(1, 1, 4, 8)", self.texts["mask"])
        self.assertIn("INDEX_VALUES = [\n    3, 1, 0, 2, 7, 5, 6, 4,\n]", self.texts["index3"])
        self.assertIn("torch.tensor(TABLE_VALUES, dtype=torch.float32).view(8, 3)", self.texts["table"])

    def test_one_op_on_other_buffer_values_is_another_workload(self):
        # the same op, shapes and buffer name: the values tell the workloads apart
        counts = sorted(n["instance_count"] for n in self.reply["nodes"]
                        if n["level"] == "kernel" and n["id"].startswith("index_select"))
        self.assertEqual(counts, [1, 2])
        self.assertNotEqual(self.texts["index3"], self.texts["index7"])

    def test_a_complex_table_is_written_as_its_real_and_imaginary_parts(self):
        # LLaMA's rotary table, torch.polar(ones, angles): written, not stood in for
        from decompose_glue import loose
        table = torch.polar(torch.ones(16, 4), torch.randn(16, 4))
        expression, source = loose.exact(table, "freqs_cis")
        self.assertTrue(expression.startswith("torch.view_as_complex(torch.tensor(FREQS_CIS_VALUES"), expression)
        scope = {"torch": torch}
        exec(source, scope)
        self.assertTrue(torch.equal(eval(expression, scope), table))
        self.assertIn("torch.randn((100, 100), dtype=torch.complex64)",
                      loose.init_line(torch.ones(100, 100, dtype=torch.complex64) * 1j + 2, "big")[0])

    def test_a_buffer_too_large_to_write_says_its_values_stand_in(self):
        self.assertIn("# noise: the model's 4100 values are too many to write out; random values stand in",
                      self.texts["noise"])
        self.assertEqual(self.buffers["noise"].shape, (4100,))


class Capture(unittest.TestCase):
    MODELS = os.path.join(os.path.dirname(__file__), "..", "models")

    def _trace(self, name):
        model_file = load_model_file(os.path.join(self.MODELS, name))
        torch.manual_seed(0)
        model = model_file.build()
        calls = []
        model.register_forward_hook(lambda *_: calls.append(1))
        inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
        gm, method, notes, expected = capture.trace_model(model_file, model, inputs)
        runs = len(calls)
        torch.manual_seed(capture.FORWARD_SEED)
        with torch.no_grad():
            eager = model(*inputs.lend()[0])
        return method, notes, expected, eager, runs

    def test_a_recorded_model_runs_once_and_its_output_is_the_eager_output(self):
        method, notes, expected, eager, calls = self._trace("untraceable/data_dependent.py")
        self.assertEqual(method, "recorded")
        self.assertIn("TraceError", notes["symbolic_error"])
        self.assertEqual(calls, 1)  # the recording run is the eager run
        self.assertTrue(torch.equal(expected, eager))

    def test_a_symbolic_trace_is_checked_against_one_eager_run(self):
        method, _, expected, eager, calls = self._trace("mlp.py")
        self.assertEqual(method, "symbolic")
        self.assertEqual(calls, 1)  # the symbolic trace calls no hook; the Interpreter runs the graph
        self.assertTrue(torch.equal(expected, eager))


class StatefulModel(nn.Module):
    """Sets attributes in forward: a symbolic trace leaves proxies in them."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = None

    def forward(self, x):
        if self.scale is None:
            self.scale = x.abs().mean()
        self.last = self.fc(x)
        return self.last * self.scale


class CarriedState(nn.Module):
    """A hidden state reassigned in forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.hidden = torch.randn(2, 4)

    def forward(self, x):
        self.hidden = self.hidden.to(x.device)
        self.hidden = torch.tanh(self.fc(torch.cat((x, self.hidden), dim=1)))
        return self.hidden


class Proxies(unittest.TestCase):
    def test_a_symbolic_trace_leaves_no_proxy_behind(self):
        model = StatefulModel()
        trace.symbolic(model)
        self.assertIsNone(model.scale)  # its value before the trace
        self.assertFalse(hasattr(model, "last"))  # made by the trace: gone
        model(torch.randn(2, 4))  # runs for real

    def test_the_graph_reads_the_models_tensors_not_what_forward_assigned(self):
        # KernelBench's VanillaRNN moves its state with `self.hidden =
        # self.hidden.to(x.device)`: the GraphModule copies `hidden` for its
        # get_attr, and copied the proxy, which code generation then refused.
        model = CarriedState()
        hidden = model.hidden
        gm = trace.symbolic(model)
        self.assertIs(model.hidden, hidden)
        self.assertIs(gm.hidden, hidden)

    def test_a_device_read_off_a_tensor_is_a_constant_that_files_follow(self):
        # a symbolic graph's `x.device` would reach a kernel as an input,
        # which no file can make: it is written as recording writes it
        model, x = CarriedState(), torch.randn(2, 4)
        expected = copy.deepcopy(model)(x)
        gm = trace.symbolic(model)
        trace.record_values(gm, (x,), {})
        trace.fold_tensor_reads(gm, torch.device("cpu"))
        self.assertFalse([n for n in gm.graph.nodes if n.target is getattr])
        move = next(n for n in gm.graph.nodes if n.target == "to")
        self.assertEqual(move.args[1], torch.device("cpu"))
        self.assertEqual(move.meta["devices_read"], [1])
        self.assertTrue(torch.equal(gm(x), expected))


class Inputs(unittest.TestCase):
    def test_input_expressions_make_the_described_shapes(self):
        # a 0-dim input (Swin V2's log of a constant) once rendered as torch.randn()
        for shape in ([], [5], [2, 3]):
            for dtype in ("float32", "float16", "int64", "bool"):
                expr = codegen.input_expr({"kind": "tensor", "shape": shape, "dtype": dtype, "min": 0, "max": 3})
                value = eval(expr, {"torch": torch})
                self.assertEqual(list(value.shape), shape, expr)
                self.assertEqual(str(value.dtype), f"torch.{dtype}", expr)

    def test_values_described_round_trip_through_their_expressions(self):
        # a torch.Size is a tuple: it was described item by item, as a kind no file could make
        size = trace.describe(torch.Size([224, 224]))
        self.assertEqual(eval(codegen.input_expr(size), {"torch": torch}), torch.Size([224, 224]))
        # a complex tensor has no min or max to record
        z = trace.describe(torch.randn(2, 3, dtype=torch.complex64))
        self.assertNotIn("min", z)
        value = eval(codegen.input_expr(z), {"torch": torch})
        self.assertEqual((list(value.shape), value.dtype), ([2, 3], torch.complex64))
        # a mask keeps its count of set entries, bool or 0/1 integers
        for mask in (torch.rand(4, 5) > 0.7, (torch.rand(7) > 0.5).long()):
            desc = trace.describe(mask)
            self.assertEqual(desc["nonzero"], int(mask.count_nonzero()))
            for _ in range(3):
                drawn = eval(codegen.input_expr(desc), {"torch": torch})
                self.assertEqual((drawn.shape, drawn.dtype), (mask.shape, mask.dtype))
                self.assertEqual(int(drawn.count_nonzero()), desc["nonzero"])
        # past the limit, drawn like any integer tensor: a shuffle of a billion entries is too slow
        huge = {"kind": "tensor", "shape": [32768, 32768], "dtype": "bool", "nonzero": 5}
        self.assertEqual(codegen.input_expr(huge), "torch.randint(0, 2, (32768, 32768)).bool()")


class MemoryFormats(unittest.TestCase):
    def test_a_module_whose_weights_were_moved_to_channels_last_is_built_so(self):
        built = {layout: modsrc.constructor(conv.to(memory_format=getattr(torch, layout)), {})[0]
                 for layout, conv in (("channels_last", nn.Conv2d(3, 8, 3)),
                                      ("channels_last_3d", nn.Conv3d(3, 8, 3)))}
        for layout, text in built.items():
            self.assertTrue(text.endswith(f".to(memory_format=torch.{layout})"), text)
            rebuilt = eval(text, {"nn": nn, "torch": torch})
            self.assertTrue(rebuilt.weight.is_contiguous(memory_format=getattr(torch, layout)))
        # a 1x1 conv's weights are both layouts at once, a plain conv's plain: nothing to say
        for conv in (nn.Conv2d(3, 8, 1).to(memory_format=torch.channels_last), nn.Conv2d(3, 8, 3)):
            self.assertNotIn("memory_format", modsrc.constructor(conv, {})[0])

    def test_a_channels_last_tensor_is_described_and_drawn_so(self):
        x = torch.randn(2, 3, 5, 5).contiguous(memory_format=torch.channels_last)
        desc = trace.describe(x)
        self.assertEqual(desc["memory_format"], "channels_last")
        drawn = eval(codegen.input_expr(desc), {"torch": torch})
        self.assertTrue(drawn.is_contiguous(memory_format=torch.channels_last) and not drawn.is_contiguous())
        self.assertEqual(trace.describe(torch.randn(2, 3, 4, 4, 4).contiguous(
            memory_format=torch.channels_last_3d))["memory_format"], "channels_last_3d")
        # plain, or both at once (one channel): nothing to say
        for t in (torch.randn(2, 3, 5, 5), torch.randn(2, 1, 5, 5).contiguous(memory_format=torch.channels_last),
                  torch.randn(3, 5, 5).transpose(0, 1)):
            self.assertNotIn("memory_format", trace.describe(t))

    def test_meta_copies_keep_the_layout(self):
        from decompose_glue import meta
        x = torch.randn(2, 3, 5, 5).contiguous(memory_format=torch.channels_last)
        self.assertEqual(meta.like(x).stride(), x.stride())


class SparseTensors(unittest.TestCase):
    """A graph's adjacency in sparse COO: its count of stored entries is the
    workload, and its values (a buffer's) what the model computes with."""

    ADJ = torch.sparse_coo_tensor(torch.tensor([[0, 1, 1, 3], [2, 0, 3, 3]]), torch.tensor([0.5, 1.0, 2.0, 0.25]),
                                  (4, 4)).coalesce()

    def test_a_sparse_input_is_drawn_with_the_models_count_of_entries(self):
        desc = trace.describe(self.ADJ)
        self.assertEqual((desc["layout"], desc["nnz"], desc["sparse_dim"], desc["coalesced"]),
                         ("sparse_coo", 4, 2, True))
        uncoalesced = torch.sparse_coo_tensor(torch.tensor([[0, 0], [1, 1]]), torch.ones(2, 3), (2, 2, 3))
        for value in (self.ADJ, uncoalesced):
            drawn = eval(codegen.input_expr(trace.describe(value)), {"torch": torch})
            self.assertEqual((drawn.layout, drawn.shape, drawn.dtype, drawn.is_coalesced()),
                             (torch.sparse_coo, value.shape, value.dtype, value.is_coalesced()))
            self.assertEqual(drawn._values().shape[1:], value._values().shape[1:])
        self.assertEqual(eval(codegen.input_expr(trace.describe(uncoalesced)), {"torch": torch})._nnz(), 2)

    def test_a_sparse_buffer_is_written_from_its_indices_and_values(self):
        from decompose_glue import loose
        line, source, workload = loose.init_line(self.ADJ, "adj")
        scope = {"torch": torch}
        exec(source or "", scope)
        made = eval(line[len("self.register_buffer('adj', "):-1], scope)
        self.assertTrue(made.is_coalesced())
        self.assertTrue(torch.equal(made.to_dense(), self.ADJ.to_dense()))
        # two adjacencies with other values are two workloads
        other = torch.sparse_coo_tensor(self.ADJ._indices(), torch.ones(4), (4, 4)).coalesce()
        self.assertNotEqual(loose.fingerprint(other), loose.fingerprint(self.ADJ))
        self.assertEqual(loose.fingerprint(torch.arange(4.0)), loose.fingerprint(torch.arange(4.0)))

    def test_a_sparse_buffer_too_large_to_write_is_drawn_with_its_count_of_entries(self):
        from decompose_glue import loose
        hybrid = torch.sparse_coo_tensor(torch.randint(0, 60, (1, 2000)), torch.randn(2000, 3), (60, 3))
        comment, line = loose.init_line(hybrid, "h")[0].split("\n")
        self.assertIn("2000 stored entries are too many to write out", comment)
        self.assertIn("torch.randn((2000, 3))", line)
        drawn = eval(line[len("self.register_buffer('h', "):-1], {"torch": torch})
        self.assertEqual((drawn.layout, drawn.shape, drawn.sparse_dim()), (torch.sparse_coo, hybrid.shape, 1))

    def test_sparse_outputs_compare_by_their_values_and_their_layout(self):
        reordered = torch.sparse_coo_tensor(torch.tensor([[3, 1, 1, 0], [3, 3, 0, 2]]),
                                            torch.tensor([0.25, 2.0, 1.0, 0.5]), (4, 4))
        self.assertTrue(verify.compare(self.ADJ, reordered, 1e-5, 1e-6)[0])
        self.assertFalse(verify.compare(self.ADJ, reordered * 2, 1e-5, 1e-6)[0])
        ok, _, details = verify.compare(self.ADJ, self.ADJ.to_dense(), 1e-5, 1e-6)
        self.assertFalse(ok)
        self.assertEqual(details[0]["refactored_layout"], "torch.strided")


class Repeats(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])

    def forward(self, x):
        for i in range(40):
            x = self.features[i % 2](x + 1)[:, :]
            x = torch.sum(x, 0, keepdim=True).expand(2, 3) if i % 10 == 0 else x
        return x


class Recording(unittest.TestCase):
    def test_a_recordings_node_names_are_the_ones_fx_gives(self):
        # the recorder starts fx's search for a free name where it would end
        # (record._Recorder._create), and must end on the same names
        from decompose_glue import record
        gm = record.record(Repeats(), [torch.ones(2, 3)], {})[0]
        plain = torch.fx.Graph()
        for n in gm.graph.nodes:
            if n.op == "placeholder":
                plain.placeholder(n.name)
            elif n.op != "output":
                plain.create_node(n.op, n.target, ())
        names = [n.name for n in gm.graph.nodes if n.op != "output"]
        self.assertEqual(names, [n.name for n in plain.nodes])
        self.assertIn("sum_4", names)        # a builtin's name is never a node's
        self.assertIn("features_39", names)  # a module path that ends in a number, as fx names it

    def test_a_tensor_kept_in_a_list_attribute_is_named_where_it_is(self):
        from decompose_glue import record

        class Anchors(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.cell_anchors = [torch.randn(4), torch.randn(4)]

            def forward(self, x):
                return self.fc(x) + self.cell_anchors[1]

        model = Anchors()
        gm, _, _ = record.record(model, (torch.randn(2, 4),), {})
        reads = [n.target for n in gm.graph.nodes if n.op == "get_attr"]
        self.assertIn("cell_anchors.1", reads)
        # the graph's module holds it there, and the model's state names it so
        self.assertIs(gm.get_buffer("cell_anchors.1"), model.cell_anchors[1])
        self.assertIs(trace.state(model)["cell_anchors.1"], model.cell_anchors[1])
        x = torch.randn(2, 4)
        self.assertTrue(torch.equal(gm(x), model(x)))

    def test_a_tensor_kept_deeper_in_containers_is_named_by_every_key(self):
        from decompose_glue import record

        class Tables(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.tables = [[torch.randn(4), torch.randn(4)], [torch.randn(4)]]
                self.scales = {"a": (torch.randn(4),), "b": {"c": torch.randn(4)}, 3: torch.randn(4)}

            def forward(self, x):
                return self.fc(x) * self.tables[0][1] + self.scales["a"][0] * self.scales["b"]["c"]

        model = Tables()
        gm, _, _ = record.record(model, (torch.randn(2, 4),), {})
        held = {n.target: n.meta["held"] for n in gm.graph.nodes if n.op == "get_attr"}
        self.assertEqual(held, {"tables.0.1": 2, "scales.a.0": 2, "scales.b.c": 2})
        self.assertIs(gm.get_buffer("scales.b.c"), model.scales["b"]["c"])
        # a key no get_attr target can spell (an integer key of a dict) is not state
        self.assertEqual(sorted(k for k in trace.state(model) if not k.startswith("fc.")),
                         ["scales.a.0", "scales.b.c", "tables.0.0", "tables.0.1", "tables.1.0"])
        x = torch.randn(2, 4)
        self.assertTrue(torch.equal(gm(x), model(x)))

    def test_a_dict_given_to_forward_or_returned_by_a_leaf_binds_its_tensors(self):
        from decompose_glue import record

        class Heads(nn.Module):
            def forward(self, x):
                return {"gate": x.sigmoid(), "value": x.tanh()}

        class Batched(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.heads = Heads()

            def forward(self, batch):
                out = self.heads(self.fc(batch["x"]))
                return out["gate"] * out["value"] + batch["bias"]

        model, batch = Batched(), {"x": torch.randn(2, 4), "bias": torch.randn(4)}
        gm, _, _ = record.record(model, (batch,), {})
        keys = [n.args[1] for n in gm.graph.nodes if n.target is operator.getitem]
        self.assertEqual(sorted(keys), ["bias", "gate", "value", "x"])
        self.assertTrue(torch.equal(gm(batch), model(batch)))
        self.assertEqual(codegen.input_expr({"kind": "dict", "items": {
            "x": {"kind": "tensor", "shape": [2, 4], "dtype": "float32"}, "k": {"kind": "const", "value": 3}}}),
            "{'x': torch.randn(2, 4), 'k': 3}")

    def test_a_tensor_of_zero_dim_tensors_is_made_while_and_after_recording(self):
        # replacing torch.Tensor.__getitem__ made every tensor a Python
        # sequence for the rest of the process: torch.tensor([a, b]) of 0-dim
        # tensors asked each its len() and raised (HuBERT's pretraining mask)
        from decompose_glue import record

        class Bounds(nn.Module):
            def forward(self, x):
                return x * torch.tensor([x.max(), x.min()]).sum()

        x = torch.randn(3, 2)
        _, _, output = record.record(Bounds(), (x,), {})
        self.assertTrue(torch.equal(output, Bounds()(x)))
        self.assertNotIn("__getitem__", vars(torch.Tensor))
        self.assertEqual(torch.tensor([x[0, 0], x[1, 1]]).shape, (2,))

    def test_symbolic_tracing_leaves_the_model_as_it_was(self):
        table = torch.arange(4.0)

        class Scaled(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)

            def forward(self, x):
                return self.fc(x) * table

        model = Scaled()
        gm = trace.symbolic(model)
        self.assertIs(gm._tensor_constant0, table)  # fx's constant, in the graph's module only
        self.assertFalse(hasattr(model, "_tensor_constant0"))

        class ScaledThenBranches(Scaled):
            def forward(self, x):
                y = self.fc(x) * table
                return y if y.sum() > 0 else -y

        # ... also when the trace raises after fx kept the constant: the
        # recording that follows would read it as the model's state
        model = ScaledThenBranches()
        with self.assertRaises(Exception):
            trace.symbolic(model)
        self.assertFalse(hasattr(model, "_tensor_constant0"))

    def test_a_leaf_module_that_hands_over_an_object_holding_tensors_is_opened(self):
        from decompose_glue import record

        class Batch:
            def __init__(self, tensors):
                self.tensors = tensors

        class Wrap(nn.Module):  # a leaf: no children
            def forward(self, x):
                return Batch(x * 2)

        class Unwrap(nn.Module):
            def forward(self, batch):
                return batch.tensors + 1

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.wrap, self.unwrap, self.fc = Wrap(), Unwrap(), nn.Linear(4, 4)

            def forward(self, x):
                return self.fc(self.unwrap(self.wrap(x)))

        # Unwrap takes the object: opened as soon as it is called. Wrap gives
        # it: seen only after its call, so the recording starts again.
        with self.assertRaises(record.Reopen) as caught:
            record.record(Net(), (torch.randn(2, 4),), {})
        self.assertEqual(caught.exception.path, "wrap")
        gm, notes, _ = record.record(Net(), (torch.randn(2, 4),), {}, {"wrap"})
        self.assertEqual(notes["opened"], ["unwrap", "wrap"])
        self.assertEqual([n.target for n in gm.graph.nodes if n.op == "call_module"], ["fc"])
        self.assertEqual([n.target for n in gm.graph.nodes if n.op == "call_method"], ["mul", "add"])

    def test_a_leaf_module_that_appends_to_the_list_it_takes_takes_the_list_as_it_was(self):
        from decompose_glue import record

        class LastLevelPool(nn.Module):  # torchvision's FPN extra block
            def forward(self, features, names):
                names.append("pool")
                features.append(F.max_pool2d(features[-1], 1, 2, 0))
                return features, names

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.extra = nn.Conv2d(3, 3, 1), LastLevelPool()

            def forward(self, x):
                features, _ = self.extra([self.conv(x)], ["conv"])
                return features[0] + 1, features[1] * 2

        gm, _, _ = record.record(Net(), (torch.randn(1, 3, 8, 8),), {})
        call = next(n for n in gm.graph.nodes if n.target == "extra")
        self.assertEqual(len(call.args[0]), 1)  # the list before the call
        self.assertEqual(call.args[1], ["conv"])


class KeptAndFixed(nn.Module):
    def forward(self, x, y):
        kept = torch.nonzero(x > 0)   # as many rows as x has positive entries: 3 here
        return kept[:2], kept, y * 2  # y's 3 rows are fixed, whatever x holds


class ValueSizedPlaces(unittest.TestCase):
    def test_a_length_read_from_values_is_free_where_it_is_not_where_an_equal_one_is_fixed(self):
        x = torch.tensor([1.0, -1.0, 2.0, 3.0, -4.0])
        gm = traced(KeptAndFixed(), x, torch.ones(3, 3))
        places = codegen.value_sized_places(list(gm.graph.nodes), gm)
        out = next(n for n in gm.graph.nodes if n.op == "output")
        shapes = codegen.leaf_shapes(list(out.args[0]), places)
        # the slice's first length follows nonzero's; y's 3 rows, as many as
        # nonzero kept on these inputs, are not freed with them
        self.assertEqual(shapes, [[-1, 1], [-1, 1], [3, 3]])
        self.assertEqual(codegen.leaf_shapes(list(out.args[0])), [[2, 1], [3, 1], [3, 3]])

    def test_a_module_kept_whole_frees_only_the_places_that_differed_between_the_trials(self):
        gm = traced(KeptAndFixed(), torch.tensor([1.0, 2.0, -3.0]), torch.ones(3, 3))
        mul = by_op(gm, "mul")[0]
        mul.meta.update(kept_whole=True, lengths_vary={(0, 1)})  # as record() marks one
        places = codegen.value_sized_places(list(gm.graph.nodes), gm)
        self.assertEqual(places[mul], {(0, 1)})
        self.assertEqual(codegen.leaf_shapes([mul], places), [[3, -1]])


    def test_one_hot_without_num_classes_frees_its_last_length(self):
        class Encoded(nn.Module):
            def forward(self, labels):
                return nn.functional.one_hot(labels) * 2

        gm = traced(Encoded(), torch.tensor([0, 3, 1]))
        places = codegen.value_sized_places(list(gm.graph.nodes), gm)
        out = next(n for n in gm.graph.nodes if n.op == "output")
        self.assertEqual(codegen.leaf_shapes([out.args[0]], places), [[3, -1]])


class Compare(unittest.TestCase):
    def test_outputs_in_a_dataclass_are_compared_tensor_by_tensor(self):
        # an output object whose tensors went unread compared equal to anything
        import dataclasses

        @dataclasses.dataclass
        class Output:
            logits: torch.Tensor
            hidden: tuple

        a = Output(torch.ones(2), (torch.zeros(3),))
        self.assertTrue(verify.compare(a, Output(torch.ones(2), (torch.zeros(3),)), 1e-5, 1e-6)[0])
        ok, diff, _ = verify.compare(a, Output(torch.ones(2), (torch.ones(3),)), 1e-5, 1e-6)
        self.assertFalse(ok)
        self.assertEqual(diff, 1.0)


class Frees(unittest.TestCase):
    def test_long_forwards_free_each_value_after_its_last_use(self):
        chain = [(f"v{i} = v{i - 1} + 1" if i else "v0 = x + 1", [f"v{i}"], [f"v{i - 1}"] if i else ["x"])
                 for i in range(emit.SHORT_FORWARD + 1)]
        last = f"v{emit.SHORT_FORWARD}"
        lines = emit.with_frees(chain, keep={last})
        self.assertEqual(lines[1:3], ["v1 = v0 + 1", "del v0"])  # v1 read v0 last
        self.assertNotIn("del x", lines)               # an argument: the caller holds it
        self.assertFalse(any(l.startswith("del") and last in l for l in lines))
        scope = {"x": 1}
        exec("\n".join(lines), {}, scope)
        self.assertEqual(scope[last], emit.SHORT_FORWARD + 2)
        self.assertEqual(set(scope), {"x", last})       # nothing else left alive

    def test_short_forwards_stay_as_they_are(self):
        chain = [("a = x + 1", ["a"], ["x"]), ("b = a * 2", ["b"], ["a"])]
        self.assertEqual(emit.with_frees(chain, keep={"b"}), ["a = x + 1", "b = a * 2"])


class ModuleImports(unittest.TestCase):
    def test_functions_called_by_full_name_get_their_module_imported(self):
        # as torchvision.models.swin_transformer._patch_merging_pad in swin_t's kernels
        import email.utils  # noqa: F401  (loaded here, as the model's import loads torchvision)
        source = ("import torch.nn.functional as F\n\n"
                  "def f(x, y):\n    z = email.utils.quote(x) + torch.relu(y)\n"
                  "    w = y.view(2, 3).permute(1, 0)\n    return self.fc.weight.t()\n")
        out = codegen.with_module_imports(source)
        self.assertIn("import torch.nn.functional as F\nimport email.utils\n", out)
        self.assertEqual(out.count("import "), 2)      # nothing for locals, self or torch
        self.assertEqual(codegen.with_module_imports(out), out)


class Emit(unittest.TestCase):
    def test_literals_write_slices_and_specials(self):
        names = emit.Names()
        self.assertEqual(emit.literal((slice(None), slice(1, None), Ellipsis), names, in_index=True), ":, 1:, ...")
        self.assertEqual(emit.literal(float("-inf"), names), "float('-inf')")
        self.assertEqual(emit.literal(torch.float16, names), "torch.float16")


def transfer(original, refactored, mapping):
    """(unmapped original keys, refactored keys left unset, errors)."""
    return verify.plan_transfer(verify.state(original), verify.state(refactored), mapping)[1:]


class WeightTransfer(unittest.TestCase):
    def test_unmapped_and_left_over_weights_are_reported(self):
        a, b = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2))
        unmapped, left, errors = transfer(a, b, {"weight": "0.weight"})
        self.assertEqual(unmapped, ["bias"])
        self.assertEqual(left, ["0.bias"])
        self.assertEqual(errors, [])

    def test_shape_mismatch_is_an_error(self):
        a, b = nn.Linear(2, 3), nn.Linear(3, 2)
        _, _, errors = transfer(a, b, {"weight": "weight", "bias": "bias"})
        self.assertEqual(len(errors), 2)

    def test_a_name_marked_unused_is_no_error_even_if_the_original_lacks_it(self):
        # a recorded graph's constant (KernelBench's VanillaRNN) is in the map as unused
        a, b = nn.Linear(2, 2), nn.Linear(2, 2)
        _, _, errors = transfer(a, b, {"weight": "weight", "bias": "bias", "_tensor_constant0": None})
        self.assertEqual(errors, [])
        _, _, errors = transfer(a, b, {"weight": "weight", "bias": "bias", "ghost": "weight"})
        self.assertEqual(len(errors), 1)

    def test_compare_handles_nested_outputs(self):
        x = torch.randn(3)
        ok, diff, _ = verify.compare({"a": (x, x)}, {"a": (x, x + 1)}, 1e-5, 1e-6)
        self.assertFalse(ok)
        self.assertAlmostEqual(diff, 1.0, places=5)

    def test_compare_reads_the_python_numbers_an_output_holds(self):
        # a kernel that gives int(x.max()), a model that returns loss.item(): never compared before
        x = torch.randn(3)
        self.assertTrue(verify.compare((x, 7), (x, 7), 1e-5, 1e-6)[0])
        ok, diff, details = verify.compare((x, 7), (x, 8), 1e-5, 1e-6)
        self.assertEqual((ok, diff, details[-1]), (False, math.inf, {"number_idx": 0, "original": 7,
                                                                       "refactored": 8, "matches": False}))
        self.assertTrue(verify.compare([0.5], [0.5 + 1e-9], 1e-5, 1e-6)[0])
        self.assertFalse(verify.compare([0.5], [0.6], 1e-5, 1e-6)[0])
        self.assertFalse(verify.compare(7, 7.0, 1e-5, 1e-6)[0])  # an int where the original gave a float
        self.assertTrue(verify.compare(float("nan"), float("nan"), 1e-5, 1e-6)[0])
        self.assertFalse(verify.compare((x, 1), (x,), 1e-5, 1e-6)[0])


class ApiErrors(unittest.TestCase):
    def _plan(self, text):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.py")
            with open(path, "w") as f:
                f.write(textwrap.dedent(text))
            return json.loads(api.plan(json.dumps({"model_path": path}))), path

    def test_bad_input_is_one_line_naming_the_file(self):
        reply, path = self._plan("import torch\nx = 1 +\n")
        self.assertFalse(reply["ok"])
        self.assertEqual(reply["kind"], "bad_input")
        self.assertEqual(reply["file"], path)
        self.assertNotIn("\n", reply["message"])

    def test_missing_get_init_inputs_is_reported(self):
        reply, _ = self._plan("""
            import torch.nn as nn
            class Model(nn.Module):
                pass
            def get_inputs():
                return []
            """)
        self.assertIn("get_init_inputs", reply["message"])

    def test_missing_torch_api_names_the_torch_version(self):
        reply, _ = self._plan("""
            import torch
            import torch.nn as nn
            class Model(nn.Module):
                def forward(self, x):
                    return torch.nn.functional.an_api_from_a_later_torch(x)
            def get_inputs():
                return [torch.randn(2)]
            def get_init_inputs():
                return []
            """)
        self.assertEqual(reply["kind"], "bad_input")
        self.assertIn("forward raised AttributeError", reply["message"])
        self.assertIn(f"(this is torch {torch.__version__})", reply["message"])


if __name__ == "__main__":
    unittest.main()


class TransposedLinear(nn.Module):
    """transformers' Conv1D: its name says conv, its weight says matrix multiply."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(x.size()[:-1] + (self.nf,))


TransposedLinear.__name__ = "Conv1D"


class KernelNamesTest(unittest.TestCase):
    def test_a_torch_nn_module_is_named_by_its_settings_and_a_librarys_by_its_weights(self):
        model = nn.Sequential(TransposedLinear(12, 8), nn.Softmax(dim=-1), nn.Conv1d(4, 6, 3))
        gm = traced(model, torch.randn(4, 8))
        names = {n.target: naming.kernel_name(n, gm) for n in gm.graph.nodes if n.op == "call_module"}
        self.assertEqual(names["0"], "conv1d_8x12_12_fp32")
        self.assertEqual(names["1"], "softmax_dim-1_fp32")
        self.assertTrue(names["2"].startswith("conv1d_4x6_k3s1p0"), names["2"])
        self.assertTrue(levels.is_heavy(next(n for n in gm.graph.nodes if n.target == "0"), gm))
        self.assertFalse(levels.is_heavy(next(n for n in gm.graph.nodes if n.target == "1"), gm))


class EncoderAttention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        att = torch.softmax(self.q(x) @ self.k(x).transpose(-1, -2), dim=-1)
        return self.o(att @ self.v(x))


class EncoderLayer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.attn = EncoderAttention(d)
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        x = self.norm(x + self.attn(x))
        return x + self.fc(x)


class Encoder(nn.Module):
    """A library's encoder: blocks in a ModuleList, a norm on its way in."""

    def __init__(self, d, n):
        super().__init__()
        self.embed_norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList(EncoderLayer(d) for _ in range(n))

    def forward(self, x):
        x = self.embed_norm(x)
        for layer in self.layers:
            x = layer(x)
        return x


class Holder(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder


class Seq2SeqLike(nn.Module):
    """The stack two modules down (model.encoder.layers), as transformers' models keep it."""

    def __init__(self, n):
        super().__init__()
        self.model = Holder(Encoder(8, n))
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.model.encoder(x))


class StackLayers(unittest.TestCase):
    def test_blocks_in_a_stack_two_modules_down_are_the_layers(self):
        self.assertEqual(levels.layer_paths(Seq2SeqLike(2)),
                         [("model.encoder.layers.0", "layer"), ("model.encoder.layers.1", "layer")])

    def test_a_stack_of_one_block_keeps_its_block_as_the_layer(self):
        # a model cut down to one layer ({"num_hidden_layers": 1}) is cut as
        # its full size is, and a ModuleList of one block is no wrapper
        self.assertEqual(levels.layer_paths(Seq2SeqLike(1)), [("model.encoder.layers.0", "layer")])


class NumbersInTensors(unittest.TestCase):
    def test_a_0_dim_float_is_drawn_as_the_number_the_model_held(self):
        # an arange between two of them has the model's length only with their values
        self.assertEqual(codegen.input_expr(trace.describe(torch.tensor(7.0))), "torch.tensor(7.0)")
        self.assertEqual(codegen.input_expr(trace.describe(torch.tensor(-0.5, dtype=torch.float64))),
                         "torch.tensor(-0.5, dtype=torch.float64)")
        self.assertEqual(codegen.input_expr(trace.describe(torch.tensor(float("-inf")))),
                         "torch.tensor(float('-inf'))")
        self.assertEqual(codegen.input_expr(trace.describe(torch.zeros(2))), "torch.randn(2)")


class SqueezeExcite(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, c // 2, 1), nn.Conv2d(c // 2, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class MBConv(nn.Module):
    """torchvision's: its convs and one squeeze-excite in a Sequential."""

    def __init__(self, c):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c), SqueezeExcite(c), nn.Conv2d(c, c, 1))

    def forward(self, x):
        return x + self.block(x)


class MBConvStages(nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = nn.Sequential(nn.Sequential(MBConv(8)), nn.Sequential(MBConv(8), MBConv(8)))

    def forward(self, x):
        return self.stages(x)


class OneBlockAmongOthers(unittest.TestCase):
    def test_one_block_among_other_modules_is_not_a_stack(self):
        # the squeeze-excite is a block, but the MBConv holding it is the layer
        self.assertEqual(levels.layer_paths(MBConvStages()),
                         [("stages.0.0", "layer"), ("stages.1.0", "layer"), ("stages.1.1", "layer")])
