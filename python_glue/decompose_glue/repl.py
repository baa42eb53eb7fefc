"""`decompose MODEL.py --repl`: a Python prompt inside the host once the run
is over (shared/SPEC.md §8), to look at what the run saw and wrote.

The model is built and traced again, as the run did (same seed, same
inputs): the run's own objects are gone by then, and a fresh trace is what
a person debugging a failed step wants to poke at anyway.
"""

import code
import json
import os

import torch
import torch.fx as fx

from . import capture, coverage, verify
from .loader import import_file, load_model_file

BANNER = """decompose --repl: {model_path}
  model         the Model, built as the run built it (eval mode)
  args, kwargs  its inputs for seed {seed}, the first trial's
  output        model(*args, **kwargs)
  gm            the traced graph ({method}): print(gm.code), print(gm.graph)
  tree          decomposition_tree.json of {output_dir}{missing}
  node(id)      a node of the tree, e.g. node("{example}")
  load(path)    import a file the run wrote (relative to the output folder)
  torch, nn, F, fx
Ctrl-D leaves the prompt; the run's exit code stands."""


def namespace(model_path, output_dir):
    """(names for the prompt, banner)."""
    model_file = load_model_file(model_path)
    model = model_file.build()
    inputs = verify.LentInputs(model_file, capture.FORWARD_SEED)
    gm, method, _, output = capture.trace_model(model_file, model, inputs, check=coverage.run_checked(output_dir),
                                                 trial_seeds=verify.trial_seeds(verify.NUM_TRIALS))
    args, kwargs = inputs.lend()
    tree_path = os.path.join(output_dir, "decomposition_tree.json")
    tree = None
    if os.path.exists(tree_path):
        with open(tree_path, encoding="utf-8") as f:
            tree = json.load(f)
    nodes = (tree or {}).get("nodes", {})

    def node(node_id):
        """The tree's node `node_id` (KeyError names the ones there are)."""
        if node_id not in nodes:
            raise KeyError(f"{node_id!r}: the tree has {', '.join(sorted(nodes)) or 'no nodes'}")
        return nodes[node_id]

    def load(path):
        """Import a file the run wrote (a path relative to the output folder)."""
        return import_file(path if os.path.isabs(path) else os.path.join(output_dir, path))

    names = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "fx": fx,
             "model": model, "args": args, "kwargs": kwargs, "output": output, "gm": gm,
             "tree": tree, "node": node, "load": load, "out": output_dir}
    banner = BANNER.format(model_path=model_path, seed=capture.FORWARD_SEED, method=method,
                           output_dir=output_dir,
                           missing="" if tree is not None else " (not written: the run ended early)",
                           example=next(iter(nodes), "..."))
    return names, banner


def interact(model_path, output_dir):
    names, banner = namespace(model_path, output_dir)
    try:
        code.interact(banner=banner, local=names, exitmsg="")
    except SystemExit:  # exit() at the prompt ends the prompt, not the host
        pass
    return {"status": "DONE"}
