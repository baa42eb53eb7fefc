"""Phase 0 of a Hugging Face model (input type `huggingface`): one
self-contained KernelBench file for it, and the check that it equals the
model transformers builds from the model's own config.

The model is given by a model id, read from the local Hugging Face cache, or
a snapshot folder that holds its config.json; it is built from that config
with random weights, never from the network (HF_HUB_OFFLINE). The wrapper
writes the config out as a dict (CONFIG) and the changes the run makes to it
(CHANGES: the job's, a smaller model's {"num_hidden_layers": 2}, and
use_cache off), so that it needs neither the cache nor the folder; the
model's code stays the installed transformers'. Its forward keeps no cache
and returns the model's output as a tuple of tensors, which is what a
kernel engineer runs.
"""

import copy
import inspect
import json
import logging
import os
import textwrap

import torch

from . import modsrc
from .loader import BadInput, _one_line
from .repo import COMPARE, MAIN, input_source

# Set in both the run and the files it writes: transformers must not try the
# network for a config or a class that is not in the cache.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

# What every wrapper runs with, where its config has the field, unless the
# job's changes say otherwise. Not return_dict: newer transformers read
# `.last_hidden_state` off their inner model's output whatever the config
# says (GPT2LMHeadModel), so the wrapper turns the outer output into a tuple
# itself (wrapper_source).
RUN_WITH = {"use_cache": False}

# How the changes apply to a config, in the run, in the wrapper and in
# verify_wrapper.py alike, after the config is built (as transformers'
# from_pretrained applies its keyword arguments): a nested mapping changes a
# sub-config (a VLM's text_config), and a field the config does not have is
# refused, not added unread.
CHANGED = '''
def changed(config, changes, where="config"):
    """`config` with `changes` applied: a field the config does not have is
    an error, not a new field that nothing reads."""
    for key, value in changes.items():
        if not hasattr(config, key):
            raise KeyError(f"{where} has no field {key!r}")
        current = getattr(config, key, None)
        if isinstance(value, dict) and hasattr(current, "to_dict"):
            changed(current, value, f"{where}.{key}")
        else:
            setattr(config, key, value)
    return config
'''


def _namespace():
    found = {}
    exec(CHANGED, found)
    return found


def import_transformers(where, python):
    """transformers, imported offline, or BadInput naming the package."""
    os.environ.update(OFFLINE)
    try:
        import transformers
    except ImportError as e:
        raise BadInput(where, f"input type huggingface needs the transformers package, which {python} "
                       f"cannot import ({_one_line(e)})") from None
    return transformers


def refuse_remote_code(ref, cls_name, where):
    """Stop where a snapshot folder's config.json names code of its own
    (auto_map), which transformers runs only with trust_remote_code, and
    say how to give the folder as input type repo instead."""
    try:
        with open(os.path.join(ref, "config.json"), encoding="utf-8") as f:
            auto_map = json.load(f).get("auto_map")
    except (OSError, ValueError, AttributeError):
        return
    if not isinstance(auto_map, dict) or not auto_map:
        return
    models = {k: v for k, v in auto_map.items() if k != "AutoConfig"} or auto_map
    target = models.get(cls_name, next(iter(models.values())))
    target = target[0] if isinstance(target, list) and target else target
    if not isinstance(target, str) or "." not in target:
        return
    module, _, cls = target.rpartition(".")
    module = module.split("--")[-1]  # "org/repo--modeling_x" names another repo's file
    raise BadInput(where, f"its code is in the folder ({module}.py, class {cls}), which transformers runs only "
                   f"with trust_remote_code: give the folder as input type repo (--entry-file {module}.py "
                   f"--entry-class {cls} --init-args ... --inputs ...)")


def load_config(transformers, ref, changes, where):
    """The model's config from its folder or the local cache; the changes
    that make the model the job's (RUN_WITH where the config has those
    fields, then the job's); and the config with them."""
    logs = transformers.logging  # its own log of the failure would be a second, longer message
    verbosity = logs.get_verbosity()
    logs.set_verbosity(logging.CRITICAL)
    try:
        config = transformers.AutoConfig.from_pretrained(ref, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        if "trust_remote_code" in str(e):  # a cached model whose config is code of its own
            raise BadInput(where, "its code is in the model's own files, which transformers runs only with "
                           "trust_remote_code: give its snapshot folder as input type repo (--entry-file, "
                           "--entry-class, --init-args, --inputs)") from None
        if os.path.isfile(os.path.join(ref, "config.json")):
            # there, but of a model_type this transformers does not know
            raise BadInput(where, f"transformers {transformers.__version__} cannot read its config.json "
                           f"({_one_line(e)})") from None
        raise BadInput(where, "no config for it: it is neither a folder with a config.json nor a model id "
                       "in the local Hugging Face cache (a run never downloads)") from None
    finally:
        logs.set_verbosity(verbosity)
    if not isinstance(changes, dict):
        raise BadInput(where, "config changes must be a mapping of config fields ({\"num_hidden_layers\": 2})")
    effective = run_changes(config, changes)
    try:
        return config, effective, _namespace()["changed"](copy.deepcopy(config), effective)
    except KeyError as e:
        raise BadInput(where, f"the config change is wrong: {e.args[0]}") from None


def run_changes(config, changes):
    """The job's changes after RUN_WITH, of the fields the config has."""
    return {**{k: v for k, v in RUN_WITH.items() if hasattr(config, k)}, **changes}


def model_class(transformers, name, config, where):
    """(the class the user named, the concrete class it builds for config)."""
    cls = getattr(transformers, name, None) if name.isidentifier() else None
    if not isinstance(cls, type):
        raise BadInput(where, f"transformers {transformers.__version__} has no model class {name!r}")
    if issubclass(cls, torch.nn.Module):
        return cls, cls
    mapping = getattr(cls, "_model_mapping", None)  # an Auto class: the class it picks for this config
    try:
        return cls, mapping[type(config)]
    except (KeyError, TypeError):
        raise BadInput(where, f"{name} has no model for a {type(config).__name__}") from None


def _part(config, field, part):
    """The config, or its sub-config `part` (a CLIP's or VLM's text_config,
    vision_config), that has `field`; None where neither has it."""
    if getattr(config, field, None) is not None:
        return config
    sub = getattr(config, part, None)
    return sub if getattr(sub, field, None) is not None else None


def _token_ids(config, where, keys=("max_position_embeddings", "n_positions", "n_ctx")):
    config = _part(config, "vocab_size", "text_config")
    vocab = getattr(config, "vocab_size", None)
    if not isinstance(vocab, int):
        raise BadInput(where, "its config has no vocab_size: give the inputs")
    # half the positions a small config has: some models count theirs from
    # an offset (RoBERTa's start after its padding index); -1 is none
    positions = [getattr(config, k) // 2 for k in keys
                 if isinstance(getattr(config, k, None), int) and getattr(config, k) > 0]
    return {"shape": [1, min([128] + positions)], "dtype": "int64", "high": vocab}


def _images(config, where):
    config = _part(config, "image_size", "vision_config")
    size = getattr(config, "image_size", None)
    size = [size, size] if isinstance(size, int) else size
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        raise BadInput(where, "its config has no image_size: give the inputs")
    return {"shape": [1, getattr(config, "num_channels", 3), *size], "dtype": "float32"}


def _speech_features(config, where):
    """Log-mel features: Whisper's are [mel bins, 30 s of frames], Speech2Text's
    [frames, features per frame]."""
    mels, positions = getattr(config, "num_mel_bins", None), getattr(config, "max_source_positions", None)
    if isinstance(mels, int) and isinstance(positions, int):
        return [1, mels, 2 * positions]
    per_channel = getattr(config, "input_feat_per_channel", None)
    if isinstance(per_channel, int):
        return [1, 128, per_channel * getattr(config, "input_channels", 1)]
    raise BadInput(where, "cannot tell the shape of its input_features: give the inputs")


def default_inputs(concrete, config, where):
    """The forward's inputs by name where its first argument says what they
    are: token ids (batch 1, up to 128 positions), images, audio or speech
    features; a model of text and images gets both, and an
    encoder-decoder's decoder token ids too."""
    params = [p for p in inspect.signature(concrete.forward).parameters if p != "self"]
    first = params[0] if params else None
    if first == "input_ids":
        found = {"input_ids": _token_ids(config, where)}
    elif first == "pixel_values":
        found = {"pixel_values": _images(config, where)}
    elif first == "input_values":
        found = {"input_values": {"shape": [1, 16000], "dtype": "float32"}}
    elif first == "input_features":
        shape = _speech_features(config, where)
        found = {"input_features": {"shape": shape, "dtype": "float32"}}
        if "attention_mask" in params and shape[1] != getattr(config, "num_mel_bins", None):
            # Speech2Text's frames are all real: without a mask its encoder
            # builds a padding mask of the wrong rank (transformers 4.9)
            found["attention_mask"] = {"shape": shape[:2], "dtype": "int64", "low": 1, "high": 2}
    else:
        raise BadInput(where, f"cannot tell the shape of the forward's first argument {first!r}: give the inputs")
    if first == "input_ids" and "pixel_values" in params and _part(config, "image_size", "vision_config"):
        found["pixel_values"] = _images(config, where)  # text and images (CLIP)
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" in params:
        found["decoder_input_ids"] = _token_ids(config, where, ("max_target_positions", "max_position_embeddings",
                                                                "n_positions"))
    return found


def wrapper_source(ref, name, cls_name, config, changes, concrete, inputs, transformers):
    """The text of level_3_model/<name>.py (before the tool's own header and
    contract), and the input names in the forward's order. `config` is the
    config as loaded: the wrapper applies `changes` to it as the check
    applies them to the config it loads."""
    where = ref
    if not isinstance(inputs, dict) or not inputs:
        raise BadInput(where, "inputs of a huggingface model are a mapping of the forward's arguments by name")
    params = [p for p in inspect.signature(concrete.forward).parameters if p != "self"]
    unknown = [k for k in inputs if k not in params]
    if unknown:
        raise BadInput(where, f"{concrete.__name__}.forward takes no argument {unknown[0]!r}")
    names = sorted(inputs, key=params.index)  # the forward's own order
    # what differs from the defaults of transformers' own config class: the
    # model's fields, not a hundred lines of generation settings
    config_dict = config.to_diff_dict()
    # an attention implementation the config names (not transformers' pick
    # at build time, which it makes again for the wrapper): the same kernels
    attention = getattr(config, "_attn_implementation_internal", None)
    if isinstance(attention, str) and "attn_implementation" not in config_dict:
        config_dict["attn_implementation"] = attention
    about = textwrap.fill(
        f"Phase 0 of the decomposition: CONFIG is the model's config ({ref}'s config.json), written "
        "out so that this file needs neither the network nor the model's files (fields left out have "
        "the config class's defaults), and CHANGES what the run changes in it; the model's code is "
        f"the installed transformers' ({transformers.__version__} made this file). Weights are random. "
        "use_cache is off where the config has it, and the forward returns the model's output as a "
        "tuple of tensors (those return_dict=False gives) and keeps no cache. "
        "steps/step_0_preparation/verify_wrapper.py proves this file equal to the model transformers "
        f"builds from {ref} itself.", 76)
    made = ", ".join(input_source(inputs[k], where) for k in names)
    # built as the check builds the model from the id: an Auto class's
    # from_config may pick what a constructor does not (newer transformers
    # build in the config's torch_dtype there)
    build = (f"transformers.{cls_name}.from_config(config)" if cls_name != concrete.__name__
             else f"transformers.{cls_name}(config)")
    named = concrete.__name__ if cls_name == concrete.__name__ else f"{concrete.__name__} ({cls_name})"
    # a ModelOutput's fields that are not None, as return_dict=False gives
    # them; where the job's changes turn return_dict off, the model's own
    as_tuple = "" if changes.get("return_dict", True) is False else ".to_tuple()"
    text = f'''"""
{name}: transformers' {named} of {ref}, as one self-contained file.

{about}
"""

import torch
import torch.nn as nn
import transformers

CONFIG = {modsrc.dict_literal(config_dict)}
CHANGES = {changes!r}

{CHANGED}

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        config = changed(transformers.{type(config).__name__}.from_dict(CONFIG), CHANGES)
        self.model = {build}

    def forward(self, {", ".join(names)}):
        return self.model({", ".join(f"{k}={k}" for k in names)}){as_tuple}


def get_inputs():
    return [{made}]


def get_init_inputs():
    return []
'''
    return text, names


VERIFY = '''"""
Phase 0 check: {wrapper_rel}, the self-contained wrapper, equals transformers'
{cls_name} built from {ref} itself: its config.json, from the folder or the
local Hugging Face cache, never the network, with CHANGES applied. For each of
SEEDS both are built with the same seed and run on the same inputs; their
outputs must agree within RTOL and ATOL. Writes verification_result.json
beside this file.

Run: {python} verify_wrapper.py   (prints PASS or FAIL; exit code 0 or 1)
"""

import importlib.util
import json
import os
import sys

os.environ.update({offline!r})
try:
    import torch
    import transformers
except ImportError as e:
    sys.exit(f"This file needs PyTorch and transformers ({{e}}). Run it with {python}.")

HERE = os.path.dirname(os.path.abspath(__file__))
WRAPPER = os.path.join(HERE, {wrapper_rel_here!r})
REF = {ref!r}
MODEL_CLASS = {cls_name!r}
CHANGES = {changes!r}
INPUT_NAMES = {input_names!r}
SEEDS = {seeds}
RTOL = {rtol}
ATOL = {atol}

{changed}

def original():
    """The model as transformers builds it from REF, with random weights."""
    config = changed(transformers.AutoConfig.from_pretrained(REF, local_files_only=True), CHANGES)
    cls = getattr(transformers, MODEL_CLASS)
    return cls(config) if issubclass(cls, torch.nn.Module) else cls.from_config(config)


{compare}

def outputs(wrapper, build, by_name):
    """The outputs for each seed of the model `build` makes: the original is
    called with the inputs by name, the wrapper as its forward lists them."""
    found = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        model = build().eval()
        torch.manual_seed(seed)
        inputs = wrapper.get_inputs()
        with torch.no_grad():
            out = model(**dict(zip(INPUT_NAMES, inputs))) if by_name else model(*inputs)
        found.append(tensors(out))
    return found


def verify():
    spec = importlib.util.spec_from_file_location("decompose_wrapper", WRAPPER)
    wrapper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wrapper)
    reference = outputs(wrapper, original, True)
    bundled = outputs(wrapper, wrapper.Model, False)
    found = trials(reference, bundled)
    return {{"status": "PASS" if all(t["pass"] for t in found) else "FAIL", "wrapper": WRAPPER, "model": REF,
            "model_class": MODEL_CLASS, "transformers": transformers.__version__, "rtol": RTOL, "atol": ATOL,
            "trials": found}}
{main}'''


def verify_source(ref, cls_name, changes, input_names, wrapper_rel, python, seeds, rtol, atol):
    """The text of steps/step_0_preparation/verify_wrapper.py."""
    return VERIFY.format(wrapper_rel=wrapper_rel, wrapper_rel_here=os.path.join("..", "..", wrapper_rel),
                         ref=ref, cls_name=cls_name, python=python, offline=OFFLINE,
                         changes=changes, input_names=input_names, seeds=seeds, rtol=rtol, atol=atol,
                         changed=CHANGED, compare=COMPARE, main=MAIN)
