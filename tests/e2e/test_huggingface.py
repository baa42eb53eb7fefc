"""End-to-end: the binary on a Hugging Face model (input type huggingface).

Where /usr/bin/python3 has no transformers (Debian has no package of it, so
CI has none), the run must stop with one line that names the package, exit
2, and write nothing. Where it has transformers, a small GPT-2, BERT and ViT
are saved as snapshot folders (config.json only) and decomposed from them,
the model class given as a concrete class or an Auto class.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/e2e -t .
DECOMPOSE_BIN names the binary (default build/decompose).
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DECOMPOSE_BIN", os.path.join(ROOT, "build", "decompose"))
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)


@unittest.skipIf(HAS_TRANSFORMERS, "this interpreter has transformers")
class WithoutTransformers(unittest.TestCase):
    def test_the_run_names_the_missing_package(self):
        with tempfile.TemporaryDirectory() as tmp:
            snapshot = os.path.join(tmp, "tiny_gpt2")
            os.makedirs(snapshot)
            with open(os.path.join(snapshot, "config.json"), "w") as f:
                json.dump({"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2}, f)
            out = os.path.join(tmp, "out")
            proc = run(snapshot, "--model-class", "GPT2LMHeadModel", "-o", out)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertFalse(os.path.exists(out))
        error = [line for line in proc.stderr.splitlines() if "error" in line]
        self.assertEqual(len(error), 1, proc.stderr)
        self.assertIn(f"{snapshot}: input type huggingface needs the transformers package", error[0])
        self.assertIn("No module named 'transformers'", error[0])


@unittest.skipUnless(HAS_TRANSFORMERS, "this interpreter has no transformers")
class WithTransformers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import transformers
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folders = {}
        configs = {
            "gpt2": transformers.GPT2Config(vocab_size=100, n_positions=32, n_embd=32, n_layer=2, n_head=2),
            "bert": transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                            num_attention_heads=2, intermediate_size=64,
                                            max_position_embeddings=32),
            "vit": transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=64, image_size=16, patch_size=8),
            # its config turns use_cache into use_mems_eval when it is built
            "xlnet": transformers.XLNetConfig(vocab_size=100, d_model=32, n_layer=2, n_head=2, d_inner=64),
            # a leaf module built from the config itself: the kernel file rebuilds the config
            "prophetnet": transformers.ProphetNetConfig(
                vocab_size=100, hidden_size=32, encoder_ffn_dim=64, decoder_ffn_dim=64, num_encoder_layers=1,
                num_decoder_layers=1, num_encoder_attention_heads=2, num_decoder_attention_heads=2,
                max_position_embeddings=64, ngram=2, num_buckets=8, relative_max_distance=16),
        }
        for name, config in configs.items():
            cls.folders[name] = os.path.join(cls.tmp.name, name)
            config.save_pretrained(cls.folders[name])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def decompose(self, name, *args):
        out = os.path.join(self.tmp.name, "out_" + name + "_".join(a for a in args if a.isidentifier()))
        proc = run(self.folders[name], *args, "-o", out, "--num-trials", "2", "--json")
        return proc, out

    def test_a_gpt2_snapshot_by_its_auto_class(self):
        proc, out = self.decompose("gpt2", "--model-class", "AutoModelForCausalLM",
                                   "--config", '{"n_layer": 3}')
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        result = json.loads(proc.stdout)
        self.assertEqual(result["status"], "PASS")
        with open(os.path.join(out, "level_3_model", "gpt2.py")) as f:
            wrapper = f.read()
        # the concrete class, the config written out with the change, no cache, tuples
        # built as transformers builds it from the id: the Auto class's from_config
        self.assertIn("config = changed(transformers.GPT2Config.from_dict(CONFIG), CHANGES)\n"
                      "        self.model = transformers.AutoModelForCausalLM.from_config(config)", wrapper)
        self.assertIn("transformers' GPT2LMHeadModel (AutoModelForCausalLM)", wrapper)
        self.assertIn("'n_layer': 2,", wrapper)  # config.json's, changed after it is built
        # return_dict stays on in the config: newer transformers' GPT2LMHeadModel reads
        # .last_hidden_state off its inner model's output, which that would make a tuple
        self.assertIn("CHANGES = {'use_cache': False, 'n_layer': 3}", wrapper)
        self.assertIn("def forward(self, input_ids):\n        return self.model(input_ids=input_ids).to_tuple()\n",
                      wrapper)
        with open(os.path.join(out, "decomposition_tree.json")) as f:
            tree = json.load(f)
        layers = [n for n in tree["nodes"].values() if n["level"] == "layer"]
        self.assertEqual([(n["name"], n["instance_count"]) for n in layers], [("gpt2_block_16x32_fp32", 3)])
        prep = tree["metadata"]["preparation"]
        self.assertEqual(prep["status"], "PASS")
        self.assertEqual(prep["inputs"], {"input_ids": {"shape": [1, 16], "dtype": "int64", "high": 100}})
        # Phase 0's check runs on its own, and `check` runs it again
        verify = subprocess.run([sys.executable, "verify_wrapper.py"], capture_output=True, text=True,
                                cwd=os.path.join(out, "steps", "step_0_preparation"), timeout=300)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertTrue(verify.stdout.strip().endswith("PASS"))
        check = run("check", out, "--num-trials", "1")
        self.assertEqual(check.returncode, 0, check.stderr[-2000:])

    def test_bert_and_vit_by_their_classes_with_default_inputs(self):
        for name, cls, layer in (("bert", "BertModel", "bert_layer"), ("vit", "ViTForImageClassification",
                                                                          "vit_layer")):
            with self.subTest(name):
                proc, out = self.decompose(name, "--model-class", cls)
                self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
                with open(os.path.join(out, "decomposition_tree.json")) as f:
                    nodes = json.load(f)["nodes"].values()
                self.assertTrue(any(n["name"].startswith(layer) and n["instance_count"] == 2 for n in nodes),
                                [n["name"] for n in nodes])

    def test_xlnet_gets_its_changes_after_its_config_is_built(self):
        proc, out = self.decompose("xlnet", "--model-class", "XLNetModel")
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])

    def test_a_leaf_module_built_from_the_config_rebuilds_the_config(self):
        proc, out = self.decompose("prophetnet", "--model-class", "ProphetNetModel")
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        kernels = os.path.join(out, "level_0_kernel")
        found = []
        for name in sorted(os.listdir(kernels)):
            with open(os.path.join(kernels, name)) as f:
                if "ProphetNetPositionalEmbeddings(transformers.ProphetNetConfig.from_dict(PROPHET_NET_CONFIG))" \
                        in f.read():
                    found.append(name)
        self.assertTrue(found)
        for name in found:
            run_alone = subprocess.run([sys.executable, os.path.join(kernels, name)], capture_output=True, text=True)
            self.assertEqual(run_alone.returncode, 0, run_alone.stdout + run_alone.stderr)

    def test_inputs_given_by_name(self):
        proc, out = self.decompose("bert", "--model-class", "BertModel", "--inputs",
                                   '{"input_ids": {"shape": [2, 8], "dtype": "int64", "high": 100}, '
                                   '"attention_mask": {"shape": [2, 8], "dtype": "int64", "high": 2}}')
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        with open(os.path.join(out, "level_3_model", "bert.py")) as f:
            self.assertIn("def forward(self, input_ids, attention_mask):", f.read())

    def test_bad_input_is_one_line_and_writes_nothing(self):
        cases = [
            (("--model-class", "NoSuchModel"), "has no model class 'NoSuchModel'"),
            (("--model-class", "GPT2Model", "--config", '{"n_layers": 1}'), "config has no field 'n_layers'"),
            (("--model-class", "AutoModelForImageClassification"), "has no model for a GPT2Config"),
            (("--model-class", "GPT2Model", "--inputs", '{"pixel_values": {"shape": [1, 3]}}'),
             "GPT2Model.forward takes no argument 'pixel_values'"),
        ]
        for args, message in cases:
            with self.subTest(message):
                proc, out = self.decompose("gpt2", *args)
                self.assertEqual(proc.returncode, 2, proc.stderr[-2000:])
                self.assertIn(message, json.loads(proc.stdout)["error"])
                self.assertFalse(os.path.exists(out))
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "config.json"), "w") as f:
                json.dump({"model_type": "no-such-model-type"}, f)
            proc = run(tmp, "--model-class", "AutoModel", "-o", os.path.join(tmp, "o"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("cannot read its config.json", proc.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            proc = run("no-such-org/no-such-model", "--model-class", "AutoModel", "-o", os.path.join(tmp, "o"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("nor a model id in the local Hugging Face cache", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 3, proc.stderr)  # two progress lines and it


if __name__ == "__main__":
    unittest.main()
