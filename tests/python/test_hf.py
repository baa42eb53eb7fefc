"""Phase 0 of a Hugging Face model, the parts that need no transformers: how
the job's config changes apply, and which inputs a forward gets by default.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/python -t .
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python_glue"))

from decompose_glue import hf  # noqa: E402
from decompose_glue.loader import BadInput  # noqa: E402


class Config:
    """A config as transformers' are: fields as attributes, sub-configs with to_dict."""

    def __init__(self, **fields):
        vars(self).update(fields)

    def to_dict(self):
        return dict(vars(self))


class CausalLM:
    def forward(self, input_ids=None, attention_mask=None, labels=None):
        pass


class Seq2Seq:
    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None):
        pass


class Vision:
    def forward(self, pixel_values=None, labels=None):
        pass


class Speech:
    def forward(self, input_features=None):
        pass


class ChangesTest(unittest.TestCase):
    def test_a_change_sets_the_field_and_reaches_into_a_sub_config(self):
        config = Config(num_hidden_layers=12, text_config=Config(hidden_size=768, vocab_size=10))
        hf._namespace()["changed"](config, {"num_hidden_layers": 2, "text_config": {"hidden_size": 64}})
        self.assertEqual(config.num_hidden_layers, 2)
        self.assertEqual(config.text_config.hidden_size, 64)
        self.assertEqual(config.text_config.vocab_size, 10)

    def test_a_field_the_config_lacks_is_refused_by_its_path(self):
        config = Config(text_config=Config(hidden_size=768))
        with self.assertRaisesRegex(KeyError, "config.text_config has no field 'hiden_size'"):
            hf._namespace()["changed"](config, {"text_config": {"hiden_size": 64}})

    def test_the_run_settings_apply_where_the_config_has_them_and_the_job_wins(self):
        # a ViT config has no use_cache; XLNet's turns use_cache into
        # use_mems_eval when built, so the changes apply after it is built
        self.assertEqual(hf.run_changes(Config(return_dict=True), {}), {})
        self.assertEqual(hf.run_changes(Config(return_dict=True, use_cache=True), {}), {"use_cache": False})
        self.assertEqual(hf.run_changes(Config(return_dict=True, use_cache=True), {"use_cache": True}),
                         {"use_cache": True})


class TextAndImages:
    def forward(self, input_ids=None, pixel_values=None, attention_mask=None):
        pass


class Tensors:
    def forward(self, x):
        pass


class DefaultInputsTest(unittest.TestCase):
    def test_speech_features_are_30_seconds_of_whisper_frames_or_128_of_speech2text(self):
        self.assertEqual(hf.default_inputs(Speech, Config(num_mel_bins=80, max_source_positions=1500), "m"),
                         {"input_features": {"shape": [1, 80, 3000], "dtype": "float32"}})
        self.assertEqual(hf.default_inputs(Speech, Config(input_feat_per_channel=20, input_channels=1), "m"),
                         {"input_features": {"shape": [1, 128, 20], "dtype": "float32"}})

    def test_token_ids_are_one_row_of_up_to_128_positions_below_the_vocabulary(self):
        self.assertEqual(hf.default_inputs(CausalLM, Config(vocab_size=50, max_position_embeddings=2048), "m"),
                         {"input_ids": {"shape": [1, 128], "dtype": "int64", "high": 50}})
        # half a small config's positions (RoBERTa counts from past its padding index)
        self.assertEqual(hf.default_inputs(CausalLM, Config(vocab_size=50, n_positions=32), "m")["input_ids"]["shape"],
                         [1, 16])
        # XLNet's -1: no limit
        self.assertEqual(hf.default_inputs(CausalLM, Config(vocab_size=50, max_position_embeddings=-1), "m")
                         ["input_ids"]["shape"], [1, 128])

    def test_an_encoder_decoder_also_gets_decoder_ids(self):
        inputs = hf.default_inputs(Seq2Seq, Config(vocab_size=50, is_encoder_decoder=True), "m")
        self.assertEqual(sorted(inputs), ["decoder_input_ids", "input_ids"])

    def test_images_take_the_config_size_and_channels(self):
        self.assertEqual(hf.default_inputs(Vision, Config(image_size=224, num_channels=3), "m"),
                         {"pixel_values": {"shape": [1, 3, 224, 224], "dtype": "float32"}})

    def test_a_model_of_text_and_images_gets_both_from_its_sub_configs(self):
        config = Config(text_config=Config(vocab_size=49408, max_position_embeddings=77),
                        vision_config=Config(image_size=224, num_channels=3))
        self.assertEqual(hf.default_inputs(TextAndImages, config, "m"),
                         {"input_ids": {"shape": [1, 38], "dtype": "int64", "high": 49408},
                          "pixel_values": {"shape": [1, 3, 224, 224], "dtype": "float32"}})

    def test_what_cannot_be_told_asks_for_the_inputs(self):
        with self.assertRaisesRegex(BadInput, "cannot tell the shape of its input_features: give the inputs"):
            hf.default_inputs(Speech, Config(), "m")
        with self.assertRaisesRegex(BadInput, "cannot tell the shape of the forward's first argument 'x'"):
            hf.default_inputs(Tensors, Config(), "m")
        with self.assertRaisesRegex(BadInput, "no vocab_size"):
            hf.default_inputs(CausalLM, Config(), "m")


if __name__ == "__main__":
    unittest.main()


class RemoteCodeTest(unittest.TestCase):
    def test_a_snapshot_with_code_of_its_own_is_sent_to_input_type_repo(self):
        import json
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump({"model_type": "tiny", "auto_map": {
                    "AutoConfig": "configuration_tiny.TinyConfig",
                    "AutoModelForCausalLM": "modeling_tiny.TinyForCausalLM",
                    "AutoModel": "modeling_tiny.TinyModel"}}, f)
            with self.assertRaisesRegex(BadInput, r"its code is in the folder \(modeling_tiny.py, class "
                                                  r"TinyForCausalLM\), which transformers runs only with "
                                                  r"trust_remote_code: give the folder as input type repo"):
                hf.refuse_remote_code(folder, "AutoModelForCausalLM", folder)
            with self.assertRaisesRegex(BadInput, "--entry-file modeling_tiny.py --entry-class TinyModel"):
                hf.refuse_remote_code(folder, "AutoModel", folder)
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump({"model_type": "gpt2"}, f)
            hf.refuse_remote_code(folder, "AutoModel", folder)  # transformers' own code: let be


class CachedRemoteCodeTest(unittest.TestCase):
    def test_a_cached_model_with_code_of_its_own_is_sent_to_input_type_repo(self):
        # transformers refuses such a config without trust_remote_code; what it
        # raises is all the run sees of a model id in the cache
        class Logs:
            level = 30

            def get_verbosity(self):
                return self.level

            def set_verbosity(self, level):
                self.level = level

        class AutoConfig:
            @staticmethod
            def from_pretrained(ref, local_files_only):
                raise ValueError("The repository for org/model contains custom code which must be executed to "
                                 "correctly load the model. Please pass the argument `trust_remote_code=True`")

        transformers = type("Transformers", (), {"logging": Logs(), "AutoConfig": AutoConfig, "__version__": "x"})
        with self.assertRaisesRegex(BadInput, "its code is in the model's own files, which transformers runs "
                                              "only with trust_remote_code: give its snapshot folder as input "
                                              "type repo"):
            hf.load_config(transformers, "org/model", {}, "org/model")
