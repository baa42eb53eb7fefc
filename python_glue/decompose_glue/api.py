"""The only functions the C host calls: one JSON text in, one JSON text out.

See docs/GLUE_API.md. Every reply has "ok"; bad input is a one-line message
naming the file, never a traceback on the user's screen.
"""

import gc
import json
import math
import traceback

from . import coverage, repl, repo, verify, verify_tree
from .plan import make_plan
from .loader import BadInput

# What is alive now, torch and its submodules (~100k objects), lives until
# the host exits. A full collection walks every tracked object: ~60 ms here,
# and _call collects after most calls. Frozen, they are left out of every
# later collection.
gc.freeze()


def _safe(value):
    """JSON has no inf or nan (jansson rejects them): write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else "nan"
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _call(fn, request_text, collect=True):
    try:
        request = json.loads(request_text)
        reply = fn(request)
        reply.setdefault("ok", True)
    except BadInput as e:
        reply = {"ok": False, "kind": "bad_input", "file": e.path, "message": e.message}
    except Exception as e:  # a bug of ours: keep the trace for whoever reports it
        reply = {"ok": False, "kind": "internal", "file": "",
                 "message": " ".join(f"{type(e).__name__}: {e}".split()),
                 "traceback": traceback.format_exc()}
    # Models and graphs hold reference cycles: free them now, before the next
    # call builds the next pair of models, or peak memory doubles. A full
    # collection costs 4-40 ms with a model's worth of objects alive: not
    # after each component's self-test, whose model refcounting frees, nor
    # after each step's op count (extract_ops).
    if collect:
        gc.collect()
    return json.dumps(_safe(reply))


def plan_request(request):
    return make_plan(request)


def verify_request(request):
    """One step on its own: the same gate as a step of a whole run, on the
    inputs of the original's get_inputs()."""
    result = verify_tree.verify_steps([request], request.get("rtol"), request.get("atol"),
                                      request.get("num_trials") or verify.NUM_TRIALS)[0]
    return {"status": result["status"], "result": result}


def verify_steps_request(request):
    results = verify_tree.verify_steps(request["steps"], request.get("rtol"), request.get("atol"),
                                       request.get("num_trials") or verify.NUM_TRIALS,
                                       keep_outputs=bool(request.get("keep_outputs")),
                                       recorded=bool(request.get("recorded")),
                                       stop_when_root_fails=bool(request.get("stop_when_root_fails")))
    return {"results": [{"status": r["status"], "result": r} for r in results]}


def extract_request(request):
    result = coverage.extract_ops(request["model"], request.get("decomp_dir"), request.get("children"))
    return {"status": result["status"], "result": result}


def component_request(request):
    return verify.run_component(request["path"], on_meta=bool(request.get("on_meta")))


def composition_request(request):
    return verify.run_composition(request["path"])


def preparation_request(request):
    result = repo.check_file(request["path"])
    return {"status": result["status"], "result": result}


def repl_request(request):
    return repl.interact(request["model_path"], request["output_dir"])


def plan(request_text):
    return _call(plan_request, request_text)


def verify_step(request_text):
    return _call(verify_request, request_text)


def verify_steps(request_text):
    return _call(verify_steps_request, request_text)


def extract_ops(request_text):
    # Called once per step (DenseNet121: 40 times), where a collection costs
    # 4 ms: the graphs it leaves in cycles hold meta tensors and weights never
    # drawn, and coverage._trace_counts frees the one count that drew them.
    return _call(extract_request, request_text, collect=False)


def run_component(request_text):
    return _call(component_request, request_text, collect=False)


def run_composition(request_text):
    return _call(composition_request, request_text)


def check_preparation(request_text):
    return _call(preparation_request, request_text)


def run_repl(request_text):
    return _call(repl_request, request_text)
